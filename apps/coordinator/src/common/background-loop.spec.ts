import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { startBackgroundLoop } from './background-loop';

/** A pass the test finishes by hand. */
function gatedPass(): { pass: () => Promise<void>; started: () => number; finish: (err?: Error) => void } {
  let started = 0;
  let settle: ((err?: Error) => void) | undefined;
  return {
    pass: () => {
      started += 1;
      return new Promise<void>((resolve, reject) => {
        settle = (err) => (err ? reject(err) : resolve());
      });
    },
    started: () => started,
    finish: (err) => settle?.(err),
  };
}

describe('startBackgroundLoop', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('runs the first pass after one interval, or at once with runAtOnce', async () => {
    const warn = vi.fn();
    const pass = vi.fn(() => Promise.resolve());
    const later = startBackgroundLoop(pass, { everyMs: 100, log: { warn }, failure: 'x failed' });
    expect(pass).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(100);
    expect(pass).toHaveBeenCalledTimes(1);
    await later.stop();

    const now = vi.fn(() => Promise.resolve());
    const atOnce = startBackgroundLoop(now, { everyMs: 100, log: { warn }, failure: 'x failed', runAtOnce: true });
    expect(now).toHaveBeenCalledTimes(1);
    await atOnce.stop();
    expect(warn).not.toHaveBeenCalled();
  });

  it('skips the ticks that find a pass still running', async () => {
    const gate = gatedPass();
    const loop = startBackgroundLoop(gate.pass, { everyMs: 100, log: { warn: vi.fn() }, failure: 'x failed' });
    await vi.advanceTimersByTimeAsync(500);
    expect(gate.started()).toBe(1);
    gate.finish();
    await vi.advanceTimersByTimeAsync(100);
    expect(gate.started()).toBe(2);
    gate.finish();
    await loop.stop();
  });

  it('logs a failed pass with its named message and goes on', async () => {
    const warn = vi.fn();
    let calls = 0;
    const loop = startBackgroundLoop(
      () => {
        calls += 1;
        return calls === 1 ? Promise.reject(new Error('store down')) : Promise.resolve();
      },
      { everyMs: 100, log: { warn }, failure: 'expiry pass failed' },
    );
    await vi.advanceTimersByTimeAsync(100);
    expect(warn).toHaveBeenCalledWith('expiry pass failed: store down');
    await vi.advanceTimersByTimeAsync(100);
    expect(calls).toBe(2);
    expect(warn).toHaveBeenCalledTimes(1);
    await loop.stop();
  });

  it('stop starts no more passes and resolves once the pass in flight settled, even a failing one', async () => {
    const warn = vi.fn();
    const gate = gatedPass();
    const loop = startBackgroundLoop(gate.pass, { everyMs: 100, log: { warn }, failure: 'x failed' });
    await vi.advanceTimersByTimeAsync(100);
    let stopped = false;
    const stopping = loop.stop().then(() => {
      stopped = true;
    });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(stopped).toBe(false);
    gate.finish(new Error('late'));
    await stopping;
    expect(warn).toHaveBeenCalledWith('x failed: late');
    expect(gate.started()).toBe(1);
  });

  it('stop resolves at once when no pass runs', async () => {
    const pass = vi.fn(() => Promise.resolve());
    const loop = startBackgroundLoop(pass, { everyMs: 100, log: { warn: vi.fn() }, failure: 'x failed' });
    await loop.stop();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(pass).not.toHaveBeenCalled();
  });
});
