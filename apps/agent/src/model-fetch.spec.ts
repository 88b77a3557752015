import { describe, expect, it } from 'vitest';
import { ModelFetchError } from '@benchfarm/messaging';
import { retryTransientFetch } from './model-fetch';

const digest = 'a'.repeat(64);

/** A fetch that fails with the given errors in turn, then returns 'model'. */
function failing(errors: Error[]): { fetch: () => Promise<string>; calls: () => number } {
  let calls = 0;
  return {
    fetch: async () => {
      const err = errors[calls];
      calls += 1;
      if (err) throw err;
      return 'model';
    },
    calls: () => calls,
  };
}

describe('retryTransientFetch', () => {
  it('tries again after transient failures (a timeout while the stream elects a leader) and returns the model', async () => {
    const f = failing([new ModelFetchError('timeout', digest, { transient: true }), new ModelFetchError('no responders', digest, { transient: true })]);
    const waits: number[] = [];
    await expect(retryTransientFetch(f.fetch, 10_000, new AbortController().signal, (_e, w) => waits.push(w))).resolves.toBe('model');
    expect(f.calls()).toBe(3);
    expect(waits).toEqual([500, 1000]);
  });

  it('throws a missing or corrupt model at once', async () => {
    const f = failing([new ModelFetchError('model digest mismatch', digest)]);
    await expect(retryTransientFetch(f.fetch, 10_000, new AbortController().signal, () => undefined)).rejects.toThrow(/digest mismatch/);
    expect(f.calls()).toBe(1);
  });

  it('throws a local failure (an unusable cache folder) at once: the job goes back to the queue', async () => {
    const f = failing([Object.assign(new Error('ENOTDIR: not a directory, mkdir'), { code: 'ENOTDIR' })]);
    await expect(retryTransientFetch(f.fetch, 10_000, new AbortController().signal, () => undefined)).rejects.toThrow(/ENOTDIR/);
    expect(f.calls()).toBe(1);
  });

  it('gives up when the budget is spent, throwing the last error', async () => {
    const f = failing(Array.from({ length: 10 }, (_, i) => new ModelFetchError(`timeout ${i}`, digest, { transient: true })));
    await expect(retryTransientFetch(f.fetch, 1_200, new AbortController().signal, () => undefined)).rejects.toThrow(/timeout 1/);
    expect(f.calls()).toBe(2);
  });

  it('stops when the job is aborted', async () => {
    const abort = new AbortController();
    abort.abort();
    const f = failing([new ModelFetchError('timeout', digest, { transient: true })]);
    await expect(retryTransientFetch(f.fetch, 10_000, abort.signal, () => undefined)).rejects.toThrow(/timeout/);
    expect(f.calls()).toBe(1);
  });
});
