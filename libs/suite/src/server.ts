import { setImmediate as setImmediatePromise, setTimeout as sleep } from 'node:timers/promises';
import { InferenceRunError } from './errors';
import { earlyStoppingMinSamples, mean, mulberry32, percentileOfSorted } from '@benchfarm/numerics';
import type { InferenceRunner } from './single-stream';

/**
 * Arrival times of a Poisson process at `qps` queries per second, as offsets in
 * milliseconds from the start, seeded (mulberry32) so a run's schedule can be replayed:
 * exponential gaps `-ln(1 - u) / qps`. Pure.
 *
 * Thrown errors: RangeError when qps is not > 0 or count is negative.
 */
export function poissonArrivalsMs(qps: number, count: number, seed: number): Float64Array {
  if (!(qps > 0) || !Number.isFinite(qps)) throw new RangeError(`qps must be a finite number > 0, got ${qps}`);
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`count must be a whole number >= 0, got ${count}`);
  const random = mulberry32(seed);
  const arrivals = new Float64Array(count);
  let t = 0;
  for (let i = 0; i < count; i++) {
    t += (-Math.log(1 - random()) / qps) * 1000;
    arrivals[i] = t;
  }
  return arrivals;
}

/** What one server run measured at one arrival rate. */
export interface ServerRunOutcome {
  targetQps: number;
  /** Completed queries over the wall time from the start to the last completion. */
  achievedQps: number;
  queries: number;
  /** Latencies from each query's scheduled arrival to its completion, in issue order. */
  latenciesMs: Float64Array;
  /** LoadGen p99; undefined when the sample is below its early-stopping minimum (662). */
  p99Ms: number | undefined;
  meanMs: number;
  /** p99 is known and within the bound. */
  meetsBound: boolean;
}

/** Options of one server run. Durations in milliseconds. */
export interface ServerRunOptions {
  targetQps: number;
  latencyBoundMs: number;
  minQueries: number;
  minDurationMs: number;
  maxDurationMs: number;
  seed: number;
}

/**
 * Judges a server run's latencies against the bound: p99 as LoadGen defines it, reported
 * only with at least 662 samples (MLPerf early stopping), and the bound met only when p99 is
 * known and <= the bound. Pure.
 */
export function judgeServerRun(targetQps: number, latenciesMs: Float64Array, wallMs: number, latencyBoundMs: number): ServerRunOutcome {
  const sorted = Float64Array.from(latenciesMs).sort();
  const p99Ms = sorted.length >= earlyStoppingMinSamples(0.99) ? percentileOfSorted(sorted, 0.99) : undefined;
  return {
    targetQps,
    achievedQps: wallMs > 0 ? (latenciesMs.length / wallMs) * 1000 : Number.NaN,
    queries: latenciesMs.length,
    latenciesMs,
    p99Ms,
    meanMs: mean(sorted),
    meetsBound: p99Ms !== undefined && p99Ms <= latencyBoundMs,
  };
}

/** Queries a server run issues: enough for both minimums, none scheduled after the max duration. */
export function serverQueryCount(options: Pick<ServerRunOptions, 'targetQps' | 'minQueries' | 'minDurationMs' | 'maxDurationMs'>): number {
  const forDuration = Math.ceil((options.minDurationMs / 1000) * options.targetQps);
  const wanted = Math.max(options.minQueries, forDuration, 1);
  const fit = Math.max(1, Math.floor((options.maxDurationMs / 1000) * options.targetQps));
  return Math.min(wanted, fit);
}

const now = process.hrtime.bigint;

/**
 * MLPerf server: issues queries at Poisson arrival times without waiting for earlier ones
 * (an open loop, so a slow model builds a queue as a real service would), and measures each
 * latency from the query's scheduled arrival, so lateness of the issuer or of onnxruntime's
 * queue counts against the model, never for it.
 *
 * Thrown errors: InferenceRunError when a run rejects.
 */
export async function runServer<F>(session: InferenceRunner<F>, feeds: F, options: ServerRunOptions): Promise<ServerRunOutcome> {
  const arrivals = poissonArrivalsMs(options.targetQps, serverQueryCount(options), options.seed);
  const latencies = new Float64Array(arrivals.length);
  const inFlight: Promise<void>[] = [];
  let failure: unknown;
  let lastEndNs = 0;
  const start = now();
  for (let i = 0; i < arrivals.length && failure === undefined; i++) {
    const dueNs = (arrivals[i] ?? 0) * 1e6;
    const waitMs = (dueNs - Number(now() - start)) / 1e6;
    // Timers fire late by up to ~1 ms, so sleep the whole milliseconds and yield for the rest:
    // a query must never be issued before its arrival, or it could finish "before" it arrived.
    if (waitMs >= 1) await sleep(Math.floor(waitMs));
    while (Number(now() - start) < dueNs) await setImmediatePromise();
    inFlight.push(
      session.run(feeds).then(
        () => {
          const endNs = Number(now() - start);
          latencies[i] = (endNs - dueNs) / 1e6;
          if (endNs > lastEndNs) lastEndNs = endNs;
        },
        (err: unknown) => {
          failure ??= new InferenceRunError('measure', i, { cause: err });
        },
      ),
    );
  }
  await Promise.all(inFlight);
  if (failure !== undefined) throw failure;
  return judgeServerRun(options.targetQps, latencies, lastEndNs / 1e6, options.latencyBoundMs);
}

/** The peak-QPS search's outcome. */
export interface PeakQpsSearch<R extends { targetQps: number; meetsBound: boolean }> {
  /** Every measured rate, in the order measured. */
  runs: R[];
  /** Highest measured rate that met the bound; undefined when none did. */
  peakQps: number | undefined;
  /** Lowest measured rate that missed it; undefined when none did. */
  failedQps: number | undefined;
  note: string;
}

/**
 * Searches the highest arrival rate whose p99 meets the bound: from `startQps`, doubles
 * while the bound holds (or halves while it does not) until the threshold is bracketed,
 * then bisects until the bracket is within `relativePrecision` or `maxSteps` rates have
 * been measured. Pure over `measure`, so the search is tested against a queue whose
 * service time is known.
 *
 * Thrown errors: RangeError for a startQps not > 0 or maxSteps < 1.
 */
export async function searchPeakQps<R extends { targetQps: number; meetsBound: boolean }>(
  measure: (qps: number) => Promise<R>,
  options: { startQps: number; maxSteps: number; relativePrecision?: number },
): Promise<PeakQpsSearch<R>> {
  if (!(options.startQps > 0)) throw new RangeError(`startQps must be > 0, got ${options.startQps}`);
  if (!Number.isInteger(options.maxSteps) || options.maxSteps < 1) throw new RangeError(`maxSteps must be a whole number >= 1, got ${options.maxSteps}`);
  const precision = options.relativePrecision ?? 0.02;
  const runs: R[] = [];
  let good: number | undefined;
  let bad: number | undefined;
  let qps = options.startQps;
  for (let step = 0; step < options.maxSteps; step++) {
    const run = await measure(qps);
    runs.push(run);
    if (run.meetsBound) good = Math.max(good ?? 0, qps);
    else bad = Math.min(bad ?? Infinity, qps);
    if (bad === undefined) qps *= 2;
    else if (good === undefined) qps /= 2;
    else if ((bad - good) / good <= precision) break;
    else qps = (good + bad) / 2;
  }
  const note =
    good === undefined
      ? `no measured rate met the bound (lowest tried ${Math.min(...runs.map((r) => r.targetQps))} qps)`
      : bad === undefined
        ? `every measured rate met the bound: the peak is above ${good} qps (raise search steps)`
        : `peak between ${good} and ${bad} qps (${(((bad - good) / good) * 100).toFixed(1)}% bracket after ${runs.length} rates)`;
  return { runs, peakQps: good, failedQps: bad, note };
}
