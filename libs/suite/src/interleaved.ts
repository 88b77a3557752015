import type { Comparison, VariantComparison } from '@benchfarm/protocol';
import { mean, median, pairedRatio, type BootstrapOptions } from '@benchfarm/numerics';
import { InferenceRunError } from './errors';
import type { InferenceRunner } from './single-stream';

/** One variant of a comparison: its open session and its feeds. */
export interface ComparedVariant<F> {
  name: string;
  sha256: string;
  session: InferenceRunner<F>;
  feeds: F;
}

/** How a comparison runs. */
export interface InterleaveOptions {
  rounds: number;
  /** Single-stream queries per variant per round (>= 1). */
  roundMinQueries: number;
  /** Unmeasured queries per variant before the first round. */
  warmupQueries: number;
  /**
   * "interleaved" runs A B C, A B C, ... so that drift hits every variant alike;
   * "sequential" runs every round of A, then of B, ...: the baseline it is measured against.
   */
  order: 'interleaved' | 'sequential';
}

/** Raw outcome: per variant, the latencies of each round. */
export interface InterleavedRun {
  /** [variant][round] -> latencies in query order. */
  roundLatenciesMs: number[][][];
}

const now = process.hrtime.bigint;

/**
 * Runs several variants' sessions, all open in this one process, in rounds of
 * `roundMinQueries` single-stream queries each. Latency is `session.run` alone, as in the
 * single-stream scenario.
 *
 * Thrown errors: InferenceRunError when a run rejects; RangeError for bad options.
 */
export async function runInterleaved<F>(variants: readonly ComparedVariant<F>[], options: InterleaveOptions): Promise<InterleavedRun> {
  if (variants.length < 1) throw new RangeError('a comparison needs at least one variant');
  if (!Number.isInteger(options.rounds) || options.rounds < 1) throw new RangeError(`rounds must be a whole number >= 1, got ${options.rounds}`);
  if (!Number.isInteger(options.roundMinQueries) || options.roundMinQueries < 1) {
    throw new RangeError(`roundMinQueries must be a whole number >= 1, got ${options.roundMinQueries}`);
  }
  for (const variant of variants) {
    for (let i = 0; i < options.warmupQueries; i++) await timedRun(variant, 'warmup', i);
  }
  const rounds: number[][][] = variants.map(() => []);
  const runRound = async (v: number): Promise<void> => {
    const variant = variants[v];
    const own = rounds[v];
    if (!variant || !own) return;
    const latencies: number[] = [];
    for (let q = 0; q < options.roundMinQueries; q++) latencies.push(await timedRun(variant, 'measure', q));
    own.push(latencies);
  };
  if (options.order === 'interleaved') {
    for (let r = 0; r < options.rounds; r++) for (let v = 0; v < variants.length; v++) await runRound(v);
  } else {
    for (let v = 0; v < variants.length; v++) for (let r = 0; r < options.rounds; r++) await runRound(v);
  }
  return { roundLatenciesMs: rounds };
}

async function timedRun<F>(variant: ComparedVariant<F>, phase: 'warmup' | 'measure', index: number): Promise<number> {
  const t0 = now();
  try {
    await variant.session.run(variant.feeds);
  } catch (err) {
    throw new InferenceRunError(phase, index, { cause: err });
  }
  return Number(now() - t0) / 1e6;
}

/**
 * The comparison of a finished run: each variant's median and mean over all its samples,
 * its per-round medians, and its ratio to the first variant (the reference) as the median
 * of per-round ratios with a bootstrap CI over rounds. Pure.
 */
export function buildComparison(
  variants: readonly Pick<ComparedVariant<unknown>, 'name' | 'sha256'>[],
  run: InterleavedRun,
  options: Pick<InterleaveOptions, 'order' | 'roundMinQueries'> & BootstrapOptions,
): Comparison {
  const roundMedians = run.roundLatenciesMs.map((rounds) => rounds.map((latencies) => median(latencies)));
  const reference = roundMedians[0] ?? [];
  const bootstrap: BootstrapOptions = {
    ...(options.resamples !== undefined && { resamples: options.resamples }),
    ...(options.seed !== undefined && { seed: options.seed }),
  };
  return {
    referenceVariant: variants[0]?.name ?? '',
    rounds: reference.length,
    order: options.order,
    roundMinQueries: options.roundMinQueries,
    variants: variants.map((variant, v): VariantComparison => {
      const all = (run.roundLatenciesMs[v] ?? []).flat();
      const estimate = pairedRatio(reference, roundMedians[v] ?? [], bootstrap);
      return {
        variant: variant.name,
        sha256: variant.sha256,
        reference: v === 0,
        queries: all.length,
        medianMs: round3(median(all)),
        meanMs: round3(mean(all)),
        roundMedianMs: (roundMedians[v] ?? []).map(round3),
        ratioToReference: round4(estimate.ratio),
        // Filled by the comparison scenario after the timed rounds (fidelity on the agent).
        fidelity: [],
        ...(estimate.interval && { ratioCi: { low: round4(estimate.interval.low), high: round4(estimate.interval.high), level: estimate.interval.level } }),
      };
    }),
  };
}

const round3 = (value: number): number => Math.round(value * 1000) / 1000;
const round4 = (value: number): number => Math.round(value * 10_000) / 10_000;
