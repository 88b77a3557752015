import { describe, expect, it } from 'vitest';
import { InferenceRunError } from './errors';
import { estimateCapacity, runSingleStream, type InferenceRunner, type SingleStreamOptions } from './single-stream';

/** A session whose runs take `delayMs` (0: resolve at once) and that can fail on call `failAt`. */
function fakeSession(delayMs = 0, failAt = -1): InferenceRunner<string> & { calls: number; feedsSeen: Set<string> } {
  const session = {
    calls: 0,
    feedsSeen: new Set<string>(),
    run(feeds: string): Promise<unknown> {
      session.feedsSeen.add(feeds);
      const call = session.calls++;
      if (call === failAt) return Promise.reject(new Error('boom from onnxruntime'));
      return delayMs === 0 ? Promise.resolve({}) : new Promise((resolve) => setTimeout(resolve, delayMs));
    },
  };
  return session;
}

const quick: SingleStreamOptions = { warmupMinQueries: 0, warmupMinDurationMs: 0, minQueries: 0, minDurationMs: 0, maxDurationMs: 1000 };

describe('runSingleStream', () => {
  it('always takes one cold warm-up query and at least one measured query', async () => {
    const session = fakeSession();
    const result = await runSingleStream(session, 'feeds', quick);
    expect(result.warmupQueries).toBe(1);
    expect(result.count).toBe(1);
    expect(result.stopReason).toBe('min_reached');
    expect(session.calls).toBe(2);
    expect(session.feedsSeen).toEqual(new Set(['feeds']));
  });

  it.each([
    { name: 'count binds', warmupMinQueries: 50, warmupMinDurationMs: 0, minQueries: 300, minDurationMs: 0 },
    { name: 'duration binds', warmupMinQueries: 1, warmupMinDurationMs: 20, minQueries: 1, minDurationMs: 40 },
    { name: 'both', warmupMinQueries: 10, warmupMinDurationMs: 10, minQueries: 10, minDurationMs: 30 },
  ])('stops when BOTH minimums are met ($name)', async (settings) => {
    const session = fakeSession();
    const result = await runSingleStream(session, 'f', { ...quick, ...settings, maxDurationMs: 10_000 });
    expect(result.stopReason).toBe('min_reached');
    expect(result.warmupQueries).toBeGreaterThanOrEqual(Math.max(1, settings.warmupMinQueries));
    expect(result.warmupDurationMs).toBeGreaterThanOrEqual(settings.warmupMinDurationMs);
    expect(result.count).toBeGreaterThanOrEqual(Math.max(1, settings.minQueries));
    expect(result.measuredDurationMs).toBeGreaterThanOrEqual(settings.minDurationMs);
    expect(session.calls).toBe(result.warmupQueries + result.count);
    expect(result.latenciesMs.length).toBe(result.count);
  });

  it('stops at the max duration when the minimum count is out of reach', async () => {
    const result = await runSingleStream(fakeSession(1), 'f', { ...quick, minQueries: 1_000_000, maxDurationMs: 60 });
    expect(result.stopReason).toBe('max_duration');
    expect(result.measuredDurationMs).toBeGreaterThanOrEqual(60);
    expect(result.measuredDurationMs).toBeLessThan(1000);
  });

  it('times each run: a 5 ms run is reported as about 5 ms', async () => {
    const result = await runSingleStream(fakeSession(5), 'f', { ...quick, minQueries: 5 });
    expect(result.count).toBe(5);
    for (const latencyMs of result.latenciesMs) {
      expect(latencyMs).toBeGreaterThanOrEqual(4);
      expect(latencyMs).toBeLessThan(200);
    }
    expect(result.firstInferenceMs).toBeGreaterThanOrEqual(4);
  });

  it('grows the sample buffer without losing samples', async () => {
    const result = await runSingleStream(fakeSession(), 'f', { ...quick, minQueries: 5000, initialCapacity: 3 });
    expect(result.count).toBe(5000);
    expect(result.latenciesMs.length).toBe(5000);
    expect(result.latenciesMs.every((x) => x > 0 && Number.isFinite(x))).toBe(true);
  });

  it('reports progress about once per interval, and once as each phase starts and the run ends', async () => {
    const events: [string, number, number][] = [];
    await runSingleStream(fakeSession(), 'f', {
      ...quick,
      warmupMinDurationMs: 50,
      minDurationMs: 100,
      progressIntervalMs: 20,
      onProgress: (phase, queriesDone, elapsedMs) => events.push([phase, queriesDone, elapsedMs]),
    });
    const warmup = events.filter(([phase]) => phase === 'warmup');
    const measure = events.filter(([phase]) => phase === 'measure');
    expect(warmup[0]).toEqual(['warmup', 0, 0]);
    expect(measure[0]).toEqual(['measure', 0, 0]);
    expect(warmup.length).toBeGreaterThanOrEqual(2);
    expect(warmup.length).toBeLessThanOrEqual(1 + 50 / 20 + 1);
    expect(measure.length).toBeGreaterThanOrEqual(1 + 3);
    expect(measure.length).toBeLessThanOrEqual(2 + 100 / 20 + 1);
    const last = measure.at(-1)!;
    expect(last[2]).toBeGreaterThanOrEqual(100);
  });

  it.each([
    { failAt: 0, phase: 'warmup', queriesDone: 0 },
    { failAt: 3, phase: 'warmup', queriesDone: 3 },
    { failAt: 12, phase: 'measure', queriesDone: 2 },
  ])('wraps a failing run (call $failAt) as InferenceRunError in $phase', async ({ failAt, phase, queriesDone }) => {
    const attempt = runSingleStream(fakeSession(0, failAt), 'f', { ...quick, warmupMinQueries: 10, minQueries: 100 });
    await expect(attempt).rejects.toThrow(InferenceRunError);
    const err = (await attempt.catch((e: unknown) => e)) as InferenceRunError;
    expect(err.phase).toBe(phase);
    expect(err.queriesDone).toBe(queriesDone);
    expect((err.cause as Error).message).toBe('boom from onnxruntime');
    expect(err.message).toMatch(/boom from onnxruntime/);
  });
});

describe('estimateCapacity', () => {
  const ms = 1e6;
  it.each([
    { minQueries: 0, minDurationMs: 0, maxDurationMs: 1000, latencyMs: 1, expected: 1024 }, // floor
    { minQueries: 10_000, minDurationMs: 0, maxDurationMs: 60_000, latencyMs: 1, expected: 12_500 },
    { minQueries: 100, minDurationMs: 10_000, maxDurationMs: 60_000, latencyMs: 1, expected: 12_500 },
    { minQueries: 1_000_000, minDurationMs: 0, maxDurationMs: 10_000, latencyMs: 1, expected: 12_500 }, // max binds
    { minQueries: 0, minDurationMs: 10_000, maxDurationMs: 10_000, latencyMs: 0, expected: 12_500_000 }, // 1 µs floor per query
  ])('$expected', ({ minQueries, minDurationMs, maxDurationMs, latencyMs, expected }) => {
    expect(estimateCapacity(minQueries, minDurationMs * ms, maxDurationMs * ms, latencyMs * ms)).toBe(expected);
  });
});
