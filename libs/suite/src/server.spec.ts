import { describe, expect, it } from 'vitest';
import { judgeServerRun, poissonArrivalsMs, searchPeakQps, serverQueryCount, type ServerRunOutcome } from './server';

/**
 * FAKE (pure logic, labelled): a single server with a fixed service time fed by the same
 * seeded Poisson arrivals the real scenario issues: an M/D/1 queue simulated exactly with
 * Lindley's recursion (completion_i = max(arrival_i, completion_{i-1}) + service). Its
 * capacity is known: 1000 / serviceMs queries per second.
 */
function fixedServiceQueue(serviceMs: number, boundMs: number, queries: number) {
  return (qps: number): Promise<ServerRunOutcome> => {
    const arrivals = poissonArrivalsMs(qps, queries, 42);
    const latencies = new Float64Array(queries);
    let free = 0;
    for (let i = 0; i < queries; i++) {
      const arrival = arrivals[i]!;
      const done = Math.max(arrival, free) + serviceMs;
      latencies[i] = done - arrival;
      free = done;
    }
    return Promise.resolve(judgeServerRun(qps, latencies, free, boundMs));
  };
}

describe('poissonArrivalsMs', () => {
  it('has exponential gaps with mean 1000 / qps and replays from its seed', () => {
    const arrivals = poissonArrivalsMs(200, 20_000, 3);
    const meanGapMs = arrivals[arrivals.length - 1]! / arrivals.length;
    expect(meanGapMs).toBeGreaterThan(5 * 0.97);
    expect(meanGapMs).toBeLessThan(5 * 1.03);
    // An exponential's share of gaps above its mean is 1/e = 0.368.
    let above = 0;
    for (let i = 1; i < arrivals.length; i++) if (arrivals[i]! - arrivals[i - 1]! > 5) above++;
    expect(above / arrivals.length).toBeCloseTo(Math.exp(-1), 1);
    expect(poissonArrivalsMs(200, 5, 3)).toEqual(arrivals.subarray(0, 5));
    expect(poissonArrivalsMs(200, 5, 4)).not.toEqual(arrivals.subarray(0, 5));
  });

  it.each([0, -1, Number.NaN, Infinity])('refuses qps %s', (qps) => {
    expect(() => poissonArrivalsMs(qps, 1, 0)).toThrow(/qps must be/);
  });
});

describe('serverQueryCount', () => {
  it.each([
    { targetQps: 100, minQueries: 662, minDurationMs: 1000, maxDurationMs: 60_000, count: 662 },
    { targetQps: 100, minQueries: 662, minDurationMs: 10_000, maxDurationMs: 60_000, count: 1000 },
    { targetQps: 100, minQueries: 662, minDurationMs: 0, maxDurationMs: 5000, count: 500 },
  ])('$targetQps qps, min $minQueries q / $minDurationMs ms, max $maxDurationMs ms -> $count', ({ count, ...options }) => {
    expect(serverQueryCount(options)).toBe(count);
  });
});

describe('judgeServerRun', () => {
  it('reports no p99 and no verdict below 662 samples', () => {
    const run = judgeServerRun(10, new Float64Array(661).fill(1), 1000, 5);
    expect(run.p99Ms).toBeUndefined();
    expect(run.meetsBound).toBe(false);
  });

  it('takes LoadGen p99 (sorted[floor(n * 0.99)]) against the bound', () => {
    const latencies = Float64Array.from({ length: 1000 }, (_, i) => i + 1); // p99 = the 991st = 991
    expect(judgeServerRun(10, latencies, 2000, 991)).toMatchObject({ p99Ms: 991, meetsBound: true, achievedQps: 500 });
    expect(judgeServerRun(10, latencies, 2000, 990).meetsBound).toBe(false);
  });
});

describe('searchPeakQps against a fixed-service-time queue', () => {
  const serviceMs = 10; // capacity 100 qps
  const boundMs = 50;
  const measure = fixedServiceQueue(serviceMs, boundMs, 3000);

  /** The threshold the search should find, by brute force on a 0.5 qps grid of the same queue. */
  async function gridThreshold(): Promise<number> {
    let best = 0;
    for (let qps = 1; qps < 100; qps += 0.5) if ((await measure(qps)).meetsBound) best = qps;
    return best;
  }

  it.each([
    { startQps: 10, why: 'doubling up from below' },
    { startQps: 400, why: 'halving down from above capacity' },
  ])('finds the peak $why, below the known capacity', async ({ startQps }) => {
    const search = await searchPeakQps(measure, { startQps, maxSteps: 20, relativePrecision: 0.01 });
    const threshold = await gridThreshold();
    expect(threshold).toBeGreaterThan(50); // an M/D/1 at half load is far inside a 5x service-time bound
    expect(search.peakQps).toBeDefined();
    expect(search.peakQps!).toBeLessThan(1000 / serviceMs);
    expect(Math.abs(search.peakQps! - threshold) / threshold).toBeLessThan(0.02);
    expect(search.failedQps! / search.peakQps!).toBeLessThanOrEqual(1.01);
    expect(search.runs.find((r) => r.targetQps === search.peakQps)?.meetsBound).toBe(true);
    expect(search.runs.find((r) => r.targetQps === search.failedQps)?.meetsBound).toBe(false);
  });

  it('says so when no rate meets the bound', async () => {
    const impossible = fixedServiceQueue(serviceMs, serviceMs / 2, 1000);
    const search = await searchPeakQps(impossible, { startQps: 50, maxSteps: 4 });
    expect(search.peakQps).toBeUndefined();
    expect(search.runs.map((r) => r.targetQps)).toEqual([50, 25, 12.5, 6.25]);
    expect(search.note).toMatch(/no measured rate met the bound/);
  });

  it('says so when the steps run out before any rate fails', async () => {
    const search = await searchPeakQps(measure, { startQps: 1, maxSteps: 3 });
    expect(search).toMatchObject({ peakQps: 4, failedQps: undefined });
    expect(search.note).toMatch(/above 4 qps/);
  });
});

describe('runServer', () => {
  it('never issues a query before its arrival: every latency is >= 0 even for an instant session', async () => {
    // FAKE session (labelled): resolves at once, the case where an early issue shows as a negative latency.
    const instant = { run: (): Promise<void> => Promise.resolve() };
    const { runServer } = await import('./server');
    const run = await runServer(instant, {}, { targetQps: 2000, latencyBoundMs: 1, minQueries: 300, minDurationMs: 0, maxDurationMs: 10_000, seed: 1 });
    expect(run.queries).toBe(300);
    expect(Math.min(...run.latenciesMs)).toBeGreaterThanOrEqual(0);
  });
});
