import type { Percentile } from '@benchfarm/protocol';
import { PercentileStatus } from '@benchfarm/protocol';
import { earlyStoppingMinSamples, mean, percentileOfSorted, sampleStd, type Samples } from '@benchfarm/numerics';

/** The latency percentiles every single-stream result reports. */
export const REPORTED_QUANTILES: readonly number[] = [0.5, 0.9, 0.95, 0.99];

/** Descriptive statistics of one run's latencies, in the contract's shape. */
export interface LatencyStats {
  count: number;
  meanMs: number;
  /** Sample standard deviation; NaN with fewer than two samples. */
  stdMs: number;
  minMs: number;
  maxMs: number;
  percentiles: Percentile[];
}

/**
 * Summarises latencies for a result. Each quantile is reported only when the sample holds
 * at least its early-stopping minimum; otherwise it is marked INSUFFICIENT_SAMPLES and has
 * no value, so a thin run can never pass off a guess as its p99.
 */
export function summarizeLatencies(latenciesMs: Samples, quantiles: readonly number[] = REPORTED_QUANTILES): LatencyStats {
  const sorted = Float64Array.from(latenciesMs).sort();
  const count = sorted.length;
  const percentiles = quantiles.map((quantile): Percentile => {
    const minSamples = earlyStoppingMinSamples(quantile);
    if (count < minSamples) {
      return { quantile, status: PercentileStatus.PERCENTILE_STATUS_INSUFFICIENT_SAMPLES, minSamples };
    }
    return { quantile, valueMs: percentileOfSorted(sorted, quantile), status: PercentileStatus.PERCENTILE_STATUS_OK, minSamples };
  });
  return {
    count,
    meanMs: mean(sorted),
    stdMs: sampleStd(sorted),
    minMs: sorted[0] ?? Number.NaN,
    maxMs: sorted[count - 1] ?? Number.NaN,
    percentiles,
  };
}
