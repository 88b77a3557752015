import type { SuiteSettings } from '@benchfarm/protocol';
import { InferenceRunError } from './errors';

/** The part of an onnxruntime InferenceSession the runner uses; a fake in unit tests. */
export interface InferenceRunner<F> {
  run(feeds: F): Promise<unknown>;
}

/** When the measured phase ended. */
export type StopReason = 'min_reached' | 'max_duration';

/** Options of one single-stream run. Durations are in milliseconds. */
export interface SingleStreamOptions extends Pick<
  SuiteSettings,
  'warmupMinQueries' | 'warmupMinDurationMs' | 'minQueries' | 'minDurationMs' | 'maxDurationMs'
> {
  /** Called at most about this often while a phase runs (default 1000 ms). */
  progressIntervalMs?: number;
  /** Reports progress; called from inside the loop, so it must return fast and never throw. */
  onProgress?: (phase: 'warmup' | 'measure', queriesDone: number, elapsedMs: number) => void;
  /** Latencies the sample buffer holds before it first grows (default: estimated from warm-up). */
  initialCapacity?: number;
}

/** The raw outcome of a single-stream run, before statistics. */
export interface SingleStreamResult {
  /** One latency per measured query, in milliseconds, in query order; exactly `count` long. */
  latenciesMs: Float64Array;
  count: number;
  /** Wall time from the first measured query's start to the last one's end. */
  measuredDurationMs: number;
  /** Warm-up queries, the first (cold) inference included. */
  warmupQueries: number;
  warmupDurationMs: number;
  /** Latency of the very first run of the session, which pays for lazy initialisation. */
  firstInferenceMs: number;
  stopReason: StopReason;
}

const NS_PER_MS = 1e6;
const now = process.hrtime.bigint;

/**
 * MLPerf single-stream: one query at a time, the next issued as soon as the previous one
 * completes. The very first run is always a warm-up query, timed on its own as the
 * first-inference latency, so a cold run can never land in the measured samples even with
 * zero warm-up settings. Warm-up then continues until BOTH warmupMinQueries and
 * warmupMinDurationMs are reached; measurement until BOTH minQueries and minDurationMs are
 * reached (at least one query), or until maxDurationMs has passed.
 *
 * Each latency covers `session.run` only: the same feeds are reused, outputs are dropped
 * untouched, and the loop does no allocation besides the two hrtime BigInts, so the
 * harness costs next to nothing against a bare `await session.run()` loop.
 *
 * Thrown errors: InferenceRunError (with the onnxruntime error as cause) when a run rejects.
 */
export async function runSingleStream<F>(session: InferenceRunner<F>, feeds: F, options: SingleStreamOptions): Promise<SingleStreamResult> {
  const progressIntervalNs = (options.progressIntervalMs ?? 1000) * NS_PER_MS;
  const onProgress = options.onProgress;

  const warmupMinQueries = options.warmupMinQueries;
  const warmupMinDurationNs = options.warmupMinDurationMs * NS_PER_MS;
  onProgress?.('warmup', 0, 0);
  const warmupStart = now();
  await runOnce(session, feeds, 'warmup', 0);
  let warmupElapsedNs = Number(now() - warmupStart);
  const firstInferenceMs = warmupElapsedNs / NS_PER_MS;
  let warmupQueries = 1;
  let nextProgressNs = progressIntervalNs;
  while (warmupQueries < warmupMinQueries || warmupElapsedNs < warmupMinDurationNs) {
    await runOnce(session, feeds, 'warmup', warmupQueries);
    warmupQueries++;
    warmupElapsedNs = Number(now() - warmupStart);
    if (warmupElapsedNs >= nextProgressNs) {
      onProgress?.('warmup', warmupQueries, warmupElapsedNs / NS_PER_MS);
      nextProgressNs = warmupElapsedNs + progressIntervalNs;
    }
  }

  // Measurement. Everything the loop touches is a local number; the buffer is sized from
  // the warm-up rate so that it rarely has to grow mid-run.
  const minQueries = options.minQueries;
  const minDurationNs = options.minDurationMs * NS_PER_MS;
  const maxDurationNs = options.maxDurationMs * NS_PER_MS;
  const warmupLatencyNs = warmupElapsedNs / warmupQueries;
  let latencies: Float64Array = new Float64Array(options.initialCapacity ?? estimateCapacity(minQueries, minDurationNs, maxDurationNs, warmupLatencyNs));
  let count = 0;
  let elapsedNs = 0;
  let stopReason: StopReason;
  nextProgressNs = progressIntervalNs;
  onProgress?.('measure', 0, 0);
  const measureStart = now();
  for (;;) {
    const t0 = now();
    try {
      await session.run(feeds);
    } catch (err) {
      throw new InferenceRunError('measure', count, { cause: err });
    }
    const t1 = now();
    if (count === latencies.length) latencies = grow(latencies);
    latencies[count++] = Number(t1 - t0) / NS_PER_MS;
    elapsedNs = Number(t1 - measureStart);
    // Minimums first: a run that met them on the query that also crossed the deadline is complete.
    if (count >= minQueries && elapsedNs >= minDurationNs) {
      stopReason = 'min_reached';
      break;
    }
    if (elapsedNs >= maxDurationNs) {
      stopReason = 'max_duration';
      break;
    }
    if (elapsedNs >= nextProgressNs) {
      onProgress?.('measure', count, elapsedNs / NS_PER_MS);
      nextProgressNs = elapsedNs + progressIntervalNs;
    }
  }
  onProgress?.('measure', count, elapsedNs / NS_PER_MS);

  return {
    latenciesMs: latencies.subarray(0, count),
    count,
    measuredDurationMs: elapsedNs / NS_PER_MS,
    warmupQueries,
    warmupDurationMs: warmupElapsedNs / NS_PER_MS,
    firstInferenceMs,
    stopReason,
  };
}

async function runOnce<F>(session: InferenceRunner<F>, feeds: F, phase: 'warmup' | 'measure', queriesDone: number): Promise<void> {
  try {
    await session.run(feeds);
  } catch (err) {
    throw new InferenceRunError(phase, queriesDone, { cause: err });
  }
}

/**
 * Samples the run is likely to take: the larger of the two minimums (a run mostly stops at
 * them), capped by what fits before the max duration, plus a margin. Over-allocating would
 * inflate the peak RSS the suite reports, so this aims close and lets `grow` cover misses.
 */
export function estimateCapacity(minQueries: number, minDurationNs: number, maxDurationNs: number, latencyNs: number): number {
  const perQueryNs = Math.max(latencyNs, 1_000);
  const likely = Math.max(minQueries, minDurationNs / perQueryNs);
  const bounded = Math.min(likely, maxDurationNs / perQueryNs);
  return Math.max(1024, Math.ceil(bounded * 1.25));
}

function grow(latencies: Float64Array): Float64Array {
  const bigger = new Float64Array(latencies.length * 2);
  bigger.set(latencies);
  return bigger;
}
