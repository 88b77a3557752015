import { mean, median, percentileOfSorted, sampleStd, type Samples } from './descriptive';
import { mulberry32 } from './random';

/** A two-sided confidence interval of a statistic. */
export interface Interval {
  low: number;
  high: number;
  /** Coverage, e.g. 0.95. */
  level: number;
}

/** Options of the bootstrap; the defaults are what results report. */
export interface BootstrapOptions {
  /** Resamples drawn (default 1000). */
  resamples?: number;
  /** Seed of the mulberry32 stream that draws them (default 1), so a CI can be recomputed exactly. */
  seed?: number;
  /** Coverage (default 0.95). */
  level?: number;
}

/** Bootstrap CIs of a latency sample's median (LoadGen's p50) and mean, from the same resamples. */
export interface LatencyIntervals {
  p50: Interval;
  mean: Interval;
  resamples: number;
  seed: number;
}

/** Coefficient of variation: sample std / mean. NaN below two values or for a zero mean. */
export function coefficientOfVariation(values: Samples): number {
  const m = mean(values);
  if (values.length < 2 || m === 0) return Number.NaN;
  return sampleStd(values) / m;
}

/**
 * Percentile-method bounds of a sorted bootstrap distribution: for B statistics and
 * alpha = 1 - level, `low = sorted[floor(B * alpha / 2)]` and
 * `high = sorted[ceil(B * (1 - alpha / 2)) - 1]` (for B = 1000 and 95%: the 26th and the
 * 975th value), so both tails hold at most alpha / 2 of the resamples.
 */
export function percentileInterval(sortedStatistics: ArrayLike<number>, level: number): Interval {
  const count = sortedStatistics.length;
  if (count === 0) return { low: Number.NaN, high: Number.NaN, level };
  const alpha = 1 - level;
  const lowIndex = Math.min(count - 1, Math.floor(count * (alpha / 2)));
  const highIndex = Math.max(lowIndex, Math.min(count - 1, Math.ceil(count * (1 - alpha / 2)) - 1));
  return { low: sortedStatistics[lowIndex] ?? Number.NaN, high: sortedStatistics[highIndex] ?? Number.NaN, level };
}

/**
 * Per-item multiplicities of `resamples` bootstrap resamples of `n` items (each draws n items
 * with replacement; the evaluation's items are images). The same (n, resamples, seed) always
 * gives the same counts, so every figure of one evaluation is resampled over the same sets.
 */
export function bootstrapCounts(n: number, resamples: number, seed: number): Uint32Array[] {
  if (!Number.isInteger(resamples) || resamples < 1) throw new RangeError(`resamples must be a whole number >= 1, got ${resamples}`);
  const random = mulberry32(seed);
  const out: Uint32Array[] = [];
  for (let r = 0; r < resamples; r++) {
    const counts = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const at = Math.floor(random() * n);
      counts[at] = (counts[at] ?? 0) + 1;
    }
    out.push(counts);
  }
  return out;
}

function checkOptions(options: BootstrapOptions): Required<BootstrapOptions> {
  const resamples = options.resamples ?? 1000;
  const seed = options.seed ?? 1;
  const level = options.level ?? 0.95;
  if (!Number.isInteger(resamples) || resamples < 1) throw new RangeError(`resamples must be a whole number >= 1, got ${resamples}`);
  if (!(level > 0 && level < 1)) throw new RangeError(`level must be in (0, 1), got ${level}`);
  return { resamples, seed: seed >>> 0, level };
}

/**
 * Seeded bootstrap 95% CIs for the p50 (LoadGen's definition, `sorted[floor(n / 2)]`) and
 * the mean of a latency sample. Each resample draws n indices with replacement into the
 * sorted sample and counts them, so its median is found by walking the counts: O(n) per
 * resample instead of a sort, which keeps 1000 resamples of 100k latencies well under a
 * second. Pure: the same values and options always give the same intervals.
 *
 * Thrown errors: RangeError for an empty sample or bad options.
 */
export function bootstrapLatencyIntervals(values: Samples, options: BootstrapOptions = {}): LatencyIntervals {
  const { resamples, seed, level } = checkOptions(options);
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  if (n === 0) throw new RangeError('bootstrap needs at least one value');
  const random = mulberry32(seed);
  const counts = new Uint32Array(n);
  const medians = new Float64Array(resamples);
  const means = new Float64Array(resamples);
  const medianRank = Math.floor(n * 0.5); // 0-based rank of LoadGen's p50
  for (let r = 0; r < resamples; r++) {
    counts.fill(0);
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const index = Math.floor(random() * n);
      counts[index] = (counts[index] ?? 0) + 1;
      sum += sorted[index] ?? 0;
    }
    means[r] = sum / n;
    let seen = 0;
    for (let i = 0; i < n; i++) {
      seen += counts[i] ?? 0;
      if (seen > medianRank) {
        medians[r] = sorted[i] ?? Number.NaN;
        break;
      }
    }
  }
  medians.sort();
  means.sort();
  return { p50: percentileInterval(medians, level), mean: percentileInterval(means, level), resamples, seed };
}

/** A variant's ratio to the reference over paired rounds, with its bootstrap CI. */
export interface RatioEstimate {
  /** Median over rounds of variant / reference (LoadGen p50 of the per-round ratios). */
  ratio: number;
  /** Absent below two rounds: one ratio says nothing about its spread. */
  interval?: Interval;
  rounds: number;
}

/**
 * The ratio of a variant's per-round statistic to the reference's from the same rounds, as
 * the median of the per-round ratios, with a seeded bootstrap CI that resamples whole rounds
 * (so the pairing, which is what cancels drift, is kept). Pure.
 *
 * Thrown errors: RangeError when the two lists differ in length, are empty, or a reference
 * value is not > 0.
 */
export function pairedRatio(referencePerRound: readonly number[], variantPerRound: readonly number[], options: BootstrapOptions = {}): RatioEstimate {
  const { resamples, seed, level } = checkOptions(options);
  if (referencePerRound.length !== variantPerRound.length) {
    throw new RangeError(`paired rounds differ in length: ${referencePerRound.length} reference vs ${variantPerRound.length} variant`);
  }
  const rounds = referencePerRound.length;
  if (rounds === 0) throw new RangeError('a paired ratio needs at least one round');
  const ratios = referencePerRound.map((reference, i) => {
    if (!(reference > 0)) throw new RangeError(`reference value of round ${i} is ${reference}; it must be > 0`);
    return (variantPerRound[i] ?? Number.NaN) / reference;
  });
  const ratio = median(ratios);
  if (rounds < 2) return { ratio, rounds };
  const random = mulberry32(seed);
  const statistics = new Float64Array(resamples);
  const draw = new Float64Array(rounds);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < rounds; i++) draw[i] = ratios[Math.floor(random() * rounds)] ?? Number.NaN;
    draw.sort();
    statistics[r] = percentileOfSorted(draw, 0.5);
  }
  statistics.sort();
  return { ratio, interval: percentileInterval(statistics, level), rounds };
}

/** Outcome of the stability rule. */
export interface StabilityVerdict {
  windowCount: number;
  windowQueries: number;
  windowMeanMs: number[];
  tolerancePct: number;
  /** (max - min) / mean of the last 3 windows' means, in percent; undefined below 3 windows. */
  lastWindowsSpreadPct?: number;
  stable: boolean;
}

/**
 * perf_analyzer's stability rule on a run's latencies in query order: cut them into
 * `windowCount` equal windows (the remainder goes to the last), take each window's mean,
 * and call the run stable when the last 3 means lie within `tolerancePct` of their own
 * mean ((max - min) / mean * 100 <= tolerance). Fewer than 3 windows (too few samples)
 * is never stable. Pure.
 */
export function stabilityOf(latenciesMs: ArrayLike<number>, windowCount: number, tolerancePct: number): StabilityVerdict {
  if (!Number.isInteger(windowCount) || windowCount < 1) throw new RangeError(`windowCount must be a whole number >= 1, got ${windowCount}`);
  if (!(tolerancePct > 0)) throw new RangeError(`tolerancePct must be > 0, got ${tolerancePct}`);
  const n = latenciesMs.length;
  const windows = Math.min(windowCount, n);
  const size = windows === 0 ? 0 : Math.floor(n / windows);
  const windowMeanMs: number[] = [];
  for (let w = 0; w < windows; w++) {
    const end = w === windows - 1 ? n : (w + 1) * size;
    let sum = 0;
    for (let i = w * size; i < end; i++) sum += latenciesMs[i] ?? 0;
    windowMeanMs.push(sum / (end - w * size));
  }
  const verdict: StabilityVerdict = { windowCount: windows, windowQueries: size, windowMeanMs, tolerancePct, stable: false };
  if (windows < 3) return verdict;
  const last = windowMeanMs.slice(-3);
  const spreadPct = ((Math.max(...last) - Math.min(...last)) / mean(last)) * 100;
  return { ...verdict, lastWindowsSpreadPct: spreadPct, stable: spreadPct <= tolerancePct };
}
