import { InferenceRunError } from './errors';
import type { InferenceRunner } from './single-stream';

/** How long and how much one offline level measures. Durations in milliseconds. */
export interface OfflineLevelOptions {
  /** Queries kept in flight at once (>= 1). */
  concurrency: number;
  /** Queries run before measuring, not counted (at least `concurrency`, so every worker is warm). */
  warmupQueries: number;
  minQueries: number;
  minDurationMs: number;
  maxDurationMs: number;
}

/** The raw outcome of one offline level. */
export interface OfflineLevelRun {
  /** Per-query latency (issue to completion), in completion order. */
  latenciesMs: Float64Array;
  count: number;
  /** Wall time from the first measured issue to the last completion. */
  durationMs: number;
  /** count / durationMs, per second. */
  queriesPerSecond: number;
}

const now = process.hrtime.bigint;

/**
 * MLPerf offline, as a closed loop: `concurrency` workers each issue the next query as soon
 * as their previous one completes, so the session always has that many queries in flight.
 * Measurement stops when BOTH minQueries and minDurationMs are reached, or at maxDurationMs;
 * queries still in flight then complete and are counted, so the throughput is completed
 * work over the wall time it took.
 *
 * Thrown errors: InferenceRunError when a run rejects.
 */
export async function runOfflineLevel<F>(session: InferenceRunner<F>, feeds: F, options: OfflineLevelOptions): Promise<OfflineLevelRun> {
  const concurrency = Math.max(1, Math.floor(options.concurrency));
  const warmup = Math.max(concurrency, options.warmupQueries);
  let warmed = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (warmed < warmup) {
        warmed++;
        try {
          await session.run(feeds);
        } catch (err) {
          throw new InferenceRunError('warmup', warmed, { cause: err });
        }
      }
    }),
  );

  const minDurationNs = options.minDurationMs * 1e6;
  const maxDurationNs = options.maxDurationMs * 1e6;
  let latencies = new Float64Array(Math.max(1024, options.minQueries));
  let count = 0;
  let stop = false;
  let lastEnd = 0n;
  const start = now();
  const worker = async (): Promise<void> => {
    while (!stop) {
      const t0 = now();
      try {
        await session.run(feeds);
      } catch (err) {
        stop = true;
        throw new InferenceRunError('measure', count, { cause: err });
      }
      const t1 = now();
      lastEnd = t1;
      if (count === latencies.length) {
        const bigger = new Float64Array(latencies.length * 2);
        bigger.set(latencies);
        latencies = bigger;
      }
      latencies[count++] = Number(t1 - t0) / 1e6;
      const elapsedNs = Number(t1 - start);
      if ((count >= options.minQueries && elapsedNs >= minDurationNs) || elapsedNs >= maxDurationNs) stop = true;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const durationMs = Number(lastEnd - start) / 1e6;
  return { latenciesMs: latencies.subarray(0, count), count, durationMs, queriesPerSecond: durationMs > 0 ? (count / durationMs) * 1000 : Number.NaN };
}
