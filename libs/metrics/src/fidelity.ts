/**
 * Fidelity metrics: how closely a variant's outputs match the reference variant's on the same
 * inputs, measured on the device with its own execution provider during the interleaved
 * comparison. One number per series: the worst output's value, so a detector
 * whose box head drifted is not hidden by a class head that did not. The `inputs` label says
 * what the outputs were computed on: `real_images` of an evaluation dataset, or the
 * suite's `random_inputs`, on which a good int8 variant can look broken: not accuracy.
 */
import type { Gauge, Registry } from 'prom-client';
import { SERIES_LABEL_NAMES, boundedSeries, registeredGauge, type SeriesLabelName, type SeriesLabels } from './farm';

/** Values of the fidelity gauges' `inputs` label. */
export const FIDELITY_INPUTS = ['real_images', 'random_inputs'] as const;
/** One of {@link FIDELITY_INPUTS}. */
export type FidelityInputsLabel = (typeof FIDELITY_INPUTS)[number];

type FidelityLabelName = SeriesLabelName | 'inputs';

/** Typed handles on the fidelity metrics. */
export interface FidelityMetrics {
  /** `benchfarm_fidelity_cosine_similarity{model,variant,device,provider,inputs}`: lowest cosine over the variant's outputs. */
  readonly cosineSimilarity: Gauge<FidelityLabelName>;
  /** `benchfarm_fidelity_snr_decibels{...}`: lowest SNR over the outputs; absent when every output is identical. */
  readonly snrDecibels: Gauge<FidelityLabelName>;
  /** `benchfarm_fidelity_max_abs_error{...}`: largest absolute error over the outputs. */
  readonly maxAbsError: Gauge<FidelityLabelName>;
  /** `benchfarm_fidelity_images{...}`: real images the figures pool (0 for random inputs). */
  readonly images: Gauge<FidelityLabelName>;
}

/** Registers the fidelity metrics on `registry` (or returns those already there). */
export function createFidelityMetrics(registry: Registry): FidelityMetrics {
  const labelNames = [...SERIES_LABEL_NAMES, 'inputs'] as const;
  return {
    cosineSimilarity: registeredGauge(
      registry,
      'benchfarm_fidelity_cosine_similarity',
      "Lowest cosine similarity over a variant's outputs against the reference variant's outputs on the same inputs, measured on the device (1 = identical). The reference variant itself is 1.",
      labelNames,
    ),
    snrDecibels: registeredGauge(registry, 'benchfarm_fidelity_snr_decibels', "Lowest signal-to-noise ratio over a variant's outputs against the reference's, in dB; absent when the outputs are identical.", labelNames),
    maxAbsError: registeredGauge(registry, 'benchfarm_fidelity_max_abs_error', "Largest absolute error over a variant's outputs against the reference's.", labelNames),
    images: registeredGauge(registry, 'benchfarm_fidelity_images', 'Real images the fidelity figures of the same labels pool; 0 for inputs="random_inputs".', labelNames),
  };
}

/** One output's fidelity, as the suite reports it. */
export interface OutputFidelityInput {
  cosine: number;
  snrDb?: number | undefined;
  maxAbsError: number;
  /** Real images pooled (0 for random inputs). */
  images?: number | undefined;
}

/**
 * Sets a series' fidelity gauges from the variant's per-output figures on `inputs`; `reference`
 * marks the variant the others were compared with (identical to itself by definition). The
 * series' gauges on the other kind of inputs are removed: the latest comparison is either on a
 * dataset or on random inputs, and an older figure must not read as current. A variant with
 * no figures (not compared) has its gauges removed rather than set to a made-up value.
 */
export function recordFidelity(metrics: FidelityMetrics, series: SeriesLabels, outputs: readonly OutputFidelityInput[], reference: boolean, inputs: FidelityInputsLabel = 'random_inputs'): void {
  const base = boundedSeries(series);
  for (const other of FIDELITY_INPUTS) if (other !== inputs) removeFidelityOn(metrics, { ...base, inputs: other });
  const labels = { ...base, inputs };
  const images = Math.max(0, ...outputs.map((o) => o.images ?? 0));
  if (reference) {
    metrics.cosineSimilarity.set(labels, 1);
    metrics.maxAbsError.set(labels, 0);
    metrics.snrDecibels.remove(labels);
    metrics.images.set(labels, images);
    return;
  }
  const finite = outputs.filter((o) => Number.isFinite(o.cosine) && Number.isFinite(o.maxAbsError));
  if (finite.length === 0) {
    removeFidelityOn(metrics, labels);
    return;
  }
  metrics.cosineSimilarity.set(labels, Math.min(...finite.map((o) => o.cosine)));
  metrics.maxAbsError.set(labels, Math.max(...finite.map((o) => o.maxAbsError)));
  metrics.images.set(labels, images);
  const snrs = finite.map((o) => o.snrDb).filter((v): v is number => v !== undefined && Number.isFinite(v));
  if (snrs.length > 0) metrics.snrDecibels.set(labels, Math.min(...snrs));
  else metrics.snrDecibels.remove(labels);
}

function removeFidelityOn(metrics: FidelityMetrics, labels: SeriesLabels & { inputs: string }): void {
  metrics.cosineSimilarity.remove(labels);
  metrics.maxAbsError.remove(labels);
  metrics.snrDecibels.remove(labels);
  metrics.images.remove(labels);
}

/** Removes a series' fidelity gauges on every kind of inputs (the series retired). */
export function removeFidelity(metrics: FidelityMetrics, series: SeriesLabels): void {
  const base = boundedSeries(series);
  for (const inputs of FIDELITY_INPUTS) removeFidelityOn(metrics, { ...base, inputs });
}
