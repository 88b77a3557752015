/**
 * @benchfarm/numerics: the farm's one definition of each number that is computed in more than
 * one place. Pure functions, no I/O, no dependency on another benchfarm lib:
 * - descriptive statistics and the percentile (MLPerf LoadGen's `sorted[floor(n * q)]`; the
 *   median is its p50, so the suite's reported p50, `compare`'s effect size and every
 *   bootstrap statistic agree);
 * - the seeded generator (mulberry32) behind every seeded input, schedule and resample;
 * - bootstrap resampling and percentile-method intervals, paired ratios, stability;
 * - the Mann-Whitney U test and the latency comparison built on it;
 * - output fidelity (cosine, SNR, max abs error), SNR absent for identical outputs.
 */
export { mean, sampleStd, min, max, median, percentileOfSorted, earlyStoppingMinSamples, binomialCdf, type EarlyStoppingOptions, type Samples } from './descriptive';
export { mulberry32, seededRandomFloats } from './random';
export {
  bootstrapCounts,
  bootstrapLatencyIntervals,
  coefficientOfVariation,
  pairedRatio,
  percentileInterval,
  stabilityOf,
  type BootstrapOptions,
  type Interval,
  type LatencyIntervals,
  type RatioEstimate,
  type StabilityVerdict,
} from './confidence';
export {
  DEFAULT_REGRESSION_POLICY,
  InvalidSamplesError,
  compareLatencies,
  erfc,
  mannWhitneyU,
  type LatencyComparison,
  type LatencyVerdict,
  type MannWhitneyResult,
  type RegressionPolicy,
} from './regression';
export { OutputFidelityAccumulator, type PooledFidelity } from './fidelity';
