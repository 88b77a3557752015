/**
 * Metrics that turn stored results into something to watch and alert on: when each series
 * last got a result, whether its latest result is a significant latency regression against
 * the one before, and the retirement of series that stopped reporting. They live on the same
 * explicit registry as {@link createFarmMetrics}'s, with the same bounded series labels.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { LATENCY_QUANTILES, SERIES_LABEL_NAMES, boundedSeries, type FarmMetrics, type SeriesLabelName, type SeriesLabels } from './farm';
import type { LatencyComparison } from '@benchfarm/numerics';

/** Typed handles on the insight metrics. */
export interface InsightMetrics {
  /** `benchfarm_result_timestamp_seconds{model,variant,device,provider}`: commit time of the series' latest result (Unix seconds). */
  readonly resultTimestampSeconds: Gauge<SeriesLabelName>;
  /** `benchfarm_regression_flagged{model,variant,device,provider}`: 1 when the latest result is a significant latency regression against the previous one, else 0; absent without a previous result. */
  readonly regressionFlagged: Gauge<SeriesLabelName>;
  /** `benchfarm_latency_median_ratio{model,variant,device,provider}`: median latency of the latest result / the previous one's; absent without a previous result. */
  readonly latencyMedianRatio: Gauge<SeriesLabelName>;
  /** `benchfarm_regression_p_value{model,variant,device,provider}`: two-sided Mann-Whitney p-value of that comparison. */
  readonly regressionPValue: Gauge<SeriesLabelName>;
  /** `benchfarm_series_retired_total`: series removed because they had no result within the retention (no labels, so retiring never adds a series). */
  readonly seriesRetiredTotal: Counter<never>;
}

/** Registers the insight metrics on `registry`; call once per registry. */
export function createInsightMetrics(registry: Registry): InsightMetrics {
  const registers = [registry];
  return {
    resultTimestampSeconds: new Gauge({
      name: 'benchfarm_result_timestamp_seconds',
      help: 'Commit time of the latest result of a series, in Unix seconds (the result age is time() minus this).',
      labelNames: SERIES_LABEL_NAMES,
      registers,
    }),
    regressionFlagged: new Gauge({
      name: 'benchfarm_regression_flagged',
      help: '1 when the latest result of a series is a significant latency regression against the previous result of the same series (Mann-Whitney U on the raw samples, p < 0.01, median >= 5% slower), else 0. Absent without a previous result.',
      labelNames: SERIES_LABEL_NAMES,
      registers,
    }),
    latencyMedianRatio: new Gauge({
      name: 'benchfarm_latency_median_ratio',
      help: 'Median latency of the latest result of a series divided by that of the previous result (1.1 = 10% slower). Absent without a previous result.',
      labelNames: SERIES_LABEL_NAMES,
      registers,
    }),
    regressionPValue: new Gauge({
      name: 'benchfarm_regression_p_value',
      help: 'Two-sided Mann-Whitney U p-value of the latest result of a series against the previous one. Absent without a previous result.',
      labelNames: SERIES_LABEL_NAMES,
      registers,
    }),
    seriesRetiredTotal: new Counter<never>({
      name: 'benchfarm_series_retired_total',
      help: 'Series removed from /metrics since start because they had no result within the retention window.',
      registers,
    }),
  };
}

/** Sets the commit time of a series' latest result. */
export function recordResultTime(insight: InsightMetrics, series: SeriesLabels, committedAtMs: number): void {
  insight.resultTimestampSeconds.set(boundedSeries(series), committedAtMs / 1000);
}

/**
 * Sets the regression gauges of a series from the comparison of its latest result with the
 * previous one; `undefined` (no previous result, or samples missing) removes them, so the
 * alert never fires on a stale comparison.
 */
export function recordRegression(insight: InsightMetrics, series: SeriesLabels, comparison: LatencyComparison | undefined): void {
  const labels = boundedSeries(series);
  if (!comparison) {
    insight.regressionFlagged.remove(labels);
    insight.latencyMedianRatio.remove(labels);
    insight.regressionPValue.remove(labels);
    return;
  }
  insight.regressionFlagged.set(labels, comparison.verdict === 'regression' ? 1 : 0);
  insight.latencyMedianRatio.set(labels, comparison.medianRatio);
  insight.regressionPValue.set(labels, comparison.pValue);
}

/**
 * Removes every series gauge of one series (latency quantiles, throughput, peak memory,
 * result time, regression) from both metric sets. The model size gauge is keyed by model and
 * variant only; it is removed when `lastOfVariant` says no other device still reports it.
 */
export function retireSeries(metrics: FarmMetrics, insight: InsightMetrics, series: SeriesLabels, lastOfVariant: boolean): void {
  const labels = boundedSeries(series);
  for (const q of LATENCY_QUANTILES) metrics.inferenceLatencySeconds.remove({ ...labels, quantile: String(q) });
  metrics.throughputQueriesPerSecond.remove(labels);
  metrics.peakMemoryBytes.remove(labels);
  insight.resultTimestampSeconds.remove(labels);
  recordRegression(insight, series, undefined);
  if (lastOfVariant) metrics.modelSizeBytes.remove({ model: labels.model, variant: labels.variant });
  insight.seriesRetiredTotal.inc();
}

/** A series with the time of its latest result. */
export interface SeriesAge {
  series: SeriesLabels;
  lastResultMs: number;
}

/**
 * The series to retire: those whose latest result is older than `retentionMs` at `nowMs`,
 * each with whether it is the last series of its model variant (then the size goes too).
 */
export function seriesToRetire(all: readonly SeriesAge[], nowMs: number, retentionMs: number): Array<{ series: SeriesLabels; lastOfVariant: boolean }> {
  const variantKey = (s: SeriesLabels): string => JSON.stringify([s.model, s.variant]);
  const alive = new Set<string>();
  const old: SeriesAge[] = [];
  for (const entry of all) {
    if (nowMs - entry.lastResultMs > retentionMs) old.push(entry);
    else alive.add(variantKey(entry.series));
  }
  return old.map((entry) => ({ series: entry.series, lastOfVariant: !alive.has(variantKey(entry.series)) }));
}
