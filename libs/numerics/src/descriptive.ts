/**
 * Descriptive statistics and percentiles: the one definition of a median and a percentile in
 * benchfarm. A percentile is MLPerf LoadGen's (`sorted[floor(n * q)]`, a value of the sample),
 * so a median is the upper middle value of an even-length sample, never the mean of the two:
 * the suite's reported p50, `benchfarm compare`'s effect size and every bootstrap statistic
 * are the same number for the same sample. Pure functions.
 */

/** A sample of numbers: a plain array or a typed array such as the suite's Float64Array of latencies. */
export type Samples = ArrayLike<number> & Iterable<number>;

/** Arithmetic mean; NaN for an empty sample. */
export function mean(values: Samples): number {
  if (values.length === 0) return Number.NaN;
  let sum = 0;
  for (const value of values) sum += value;
  return sum / values.length;
}

/**
 * Sample standard deviation (Bessel's n - 1 denominator, as the latencies are a sample of
 * the model's latency distribution); NaN below two values. Two-pass, because the one-pass
 * sum-of-squares form loses most digits when the spread is tiny next to the mean, which
 * is exactly the shape of steady inference latencies.
 */
export function sampleStd(values: Samples): number {
  if (values.length < 2) return Number.NaN;
  const m = mean(values);
  let squares = 0;
  for (const value of values) squares += (value - m) * (value - m);
  return Math.sqrt(squares / (values.length - 1));
}

/** Smallest value; NaN for an empty sample. */
export function min(values: Samples): number {
  if (values.length === 0) return Number.NaN;
  let lowest = Infinity;
  for (const value of values) if (value < lowest) lowest = value;
  return lowest;
}

/** Largest value; NaN for an empty sample. */
export function max(values: Samples): number {
  if (values.length === 0) return Number.NaN;
  let highest = -Infinity;
  for (const value of values) if (value > highest) highest = value;
  return highest;
}

/**
 * The `quantile` percentile of an ascending sample, defined exactly as MLPerf LoadGen
 * computes it (`sorted[floor(n * q)]`, 0-based): a value of the sample, never an
 * interpolation, so a reported p99 is a latency some query really had. It is the
 * nearest-rank percentile except when n * q is a whole number, where LoadGen (and this)
 * takes the next value up: for 100 samples p90 is the 91st. For 0.5, 0.9, 0.95 and 0.99,
 * `n * q` rounds to the exact product for every n below 2 million, so there is no float
 * drift to correct. NaN for an empty sample.
 */
export function percentileOfSorted(sortedAscending: ArrayLike<number>, quantile: number): number {
  assertQuantile(quantile);
  const n = sortedAscending.length;
  return sortedAscending[Math.min(n - 1, Math.floor(n * quantile))] ?? Number.NaN;
}

/** Options of the MLPerf early-stopping test; the defaults are MLPerf's. */
export interface EarlyStoppingOptions {
  /** Confidence that the true percentile is not above the reported one (default 0.99). */
  confidence?: number;
  /** Queries allowed above the reported percentile beyond the expected share (default 1). */
  toleratedOverLatencyQueries?: number;
}

/**
 * The fewest samples for which the `quantile` percentile passes MLPerf's early-stopping
 * test: the smallest n with P(Binomial(n, 1 - quantile) <= tolerated) <= 1 - confidence.
 * With the defaults (0.99 confidence, one over-latency query) this is 11 for p50, 64 for
 * p90, 130 for p95 and 662 for p99. Below it, a percentile is too likely to be an
 * underestimate to report.
 */
export function earlyStoppingMinSamples(quantile: number, options: EarlyStoppingOptions = {}): number {
  assertQuantile(quantile);
  const confidence = options.confidence ?? 0.99;
  const tolerated = options.toleratedOverLatencyQueries ?? 1;
  if (!(confidence > 0 && confidence < 1)) throw new RangeError(`confidence must be in (0, 1), got ${confidence}`);
  if (!Number.isInteger(tolerated) || tolerated < 0) {
    throw new RangeError(`toleratedOverLatencyQueries must be a whole number >= 0, got ${tolerated}`);
  }
  const alpha = 1 - confidence;
  const passes = (n: number): boolean => binomialCdf(tolerated, n, 1 - quantile) <= alpha;
  // The CDF at a fixed k falls as n grows, so double to bracket the answer, then bisect.
  let high = tolerated + 1;
  while (!passes(high)) high *= 2;
  let low = Math.floor(high / 2);
  while (high - low > 1) {
    const mid = Math.floor((low + high) / 2);
    if (passes(mid)) high = mid;
    else low = mid;
  }
  return passes(low) && low > tolerated ? low : high;
}

/** P(X <= k) for X ~ Binomial(n, p), summed term by term from P(X = 0) = (1 - p)^n. */
export function binomialCdf(k: number, n: number, p: number): number {
  if (k >= n) return 1;
  const q = 1 - p;
  let term = Math.pow(q, n);
  let sum = term;
  for (let i = 0; i < k; i++) {
    term *= ((n - i) / (i + 1)) * (p / q);
    sum += term;
  }
  return Math.min(1, sum);
}

/**
 * The median as LoadGen defines p50: {@link percentileOfSorted} at 0.5 of the sorted sample,
 * i.e. `sorted[floor(n / 2)]` (for an even count, the upper of the two middle values). NaN
 * when empty.
 */
export function median(values: ArrayLike<number>): number {
  return percentileOfSorted(Float64Array.from(values).sort(), 0.5);
}

function assertQuantile(quantile: number): void {
  if (!(quantile > 0 && quantile < 1)) throw new RangeError(`quantile must be in (0, 1), got ${quantile}`);
}
