/**
 * Accuracy metrics: a variant's task metrics on a dataset's real images, measured on
 * the device with its own execution provider by the interleaved comparison job. Labels are the
 * series labels plus `metric`, one of a fixed set, so the series count stays bounded.
 */
import type { Gauge, Registry } from 'prom-client';
import { SERIES_LABEL_NAMES, boundedSeries, registeredGauge, type SeriesLabelName, type SeriesLabels } from './farm';

/** Values of the `metric` label (proto TaskMetric.metric); any other name is dropped. */
export const ACCURACY_METRIC_NAMES = ['map50_agreement', 'map50', 'map50_95', 'top1_agreement', 'top1', 'top5'] as const;
/** One of {@link ACCURACY_METRIC_NAMES}. */
export type AccuracyMetricLabel = (typeof ACCURACY_METRIC_NAMES)[number];

type AccuracyLabelName = SeriesLabelName | 'metric';

/** Typed handles on the accuracy metrics. */
export interface AccuracyMetrics {
  /** `benchfarm_accuracy{model,variant,device,provider,metric}`: the metric's value (0..1) on real images. */
  readonly accuracy: Gauge<AccuracyLabelName>;
  /** `benchfarm_accuracy_images{...,metric}`: images the value is computed on. */
  readonly images: Gauge<AccuracyLabelName>;
  /** `benchfarm_accuracy_ci_low{...,metric}` / `_ci_high`: bootstrap 95% CI over images; absent below 2 images. */
  readonly ciLow: Gauge<AccuracyLabelName>;
  readonly ciHigh: Gauge<AccuracyLabelName>;
}

/** Registers the accuracy metrics on `registry` (or returns those already there). */
export function createAccuracyMetrics(registry: Registry): AccuracyMetrics {
  const labelNames = [...SERIES_LABEL_NAMES, 'metric'] as const;
  return {
    accuracy: registeredGauge(
      registry,
      'benchfarm_accuracy',
      'Accuracy of the latest evaluation of a variant on a device, on real images of the sweep\'s dataset: map50_agreement / top1_agreement against the fp32 reference on the same device, map50 / map50_95 / top1 / top5 against the labels. Never set from random inputs.',
      labelNames,
    ),
    images: registeredGauge(registry, 'benchfarm_accuracy_images', 'Real images the benchfarm_accuracy value of the same labels is computed on (labelled images for metrics against labels).', labelNames),
    ciLow: registeredGauge(registry, 'benchfarm_accuracy_ci_low', 'Lower bound of the bootstrap 95% confidence interval (over images) of benchfarm_accuracy.', labelNames),
    ciHigh: registeredGauge(registry, 'benchfarm_accuracy_ci_high', 'Upper bound of the bootstrap 95% confidence interval (over images) of benchfarm_accuracy.', labelNames),
  };
}

/** One task metric as the suite reports it; `value` absent when it could not be computed. */
export interface AccuracyInput {
  metric: string;
  value?: number | undefined;
  images: number;
  ci?: { low: number; high: number } | undefined;
}

function all(metrics: AccuracyMetrics): Array<Gauge<AccuracyLabelName>> {
  return [metrics.accuracy, metrics.images, metrics.ciLow, metrics.ciHigh];
}

/**
 * Sets a series' accuracy gauges from its latest evaluation. A metric of the fixed set that
 * the evaluation did not compute (no labels, not this task, failed) is removed, never 0; a
 * metric outside the set is ignored.
 */
export function recordAccuracy(metrics: AccuracyMetrics, series: SeriesLabels, inputs: readonly AccuracyInput[]): void {
  const labels = boundedSeries(series);
  for (const metric of ACCURACY_METRIC_NAMES) {
    const at = { ...labels, metric };
    const m = inputs.find((x) => x.metric === metric);
    if (!m || m.value === undefined || !Number.isFinite(m.value)) {
      for (const g of all(metrics)) g.remove(at);
      continue;
    }
    metrics.accuracy.set(at, m.value);
    metrics.images.set(at, m.images);
    if (m.ci && Number.isFinite(m.ci.low) && Number.isFinite(m.ci.high)) {
      metrics.ciLow.set(at, m.ci.low);
      metrics.ciHigh.set(at, m.ci.high);
    } else {
      metrics.ciLow.remove(at);
      metrics.ciHigh.remove(at);
    }
  }
}

/** Removes every accuracy gauge of a series (its latest result measured none, or the series retired). */
export function removeAccuracy(metrics: AccuracyMetrics, series: SeriesLabels): void {
  recordAccuracy(metrics, series, []);
}
