/**
 * Fidelity metrics: how closely a variant's outputs match the reference variant's on the same
 * inputs, measured on the device with its own execution provider during the interleaved
 * comparison (issues 3 and 4). One number per series: the worst output's value, so a detector
 * whose box head drifted is not hidden by a class head that did not.
 */
import { Gauge, type Registry } from 'prom-client';
import { SERIES_LABEL_NAMES, boundedSeries, type SeriesLabelName, type SeriesLabels } from './index';

/** Typed handles on the fidelity metrics. */
export interface FidelityMetrics {
  /** `benchfarm_fidelity_cosine_similarity{model,variant,device,provider}`: lowest cosine over the variant's outputs. */
  readonly cosineSimilarity: Gauge<SeriesLabelName>;
  /** `benchfarm_fidelity_snr_decibels{...}`: lowest SNR over the outputs; absent when every output is identical. */
  readonly snrDecibels: Gauge<SeriesLabelName>;
  /** `benchfarm_fidelity_max_abs_error{...}`: largest absolute error over the outputs. */
  readonly maxAbsError: Gauge<SeriesLabelName>;
}

function gauge(registry: Registry, name: string, help: string): Gauge<SeriesLabelName> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Gauge<SeriesLabelName>;
  return new Gauge({ name, help, labelNames: SERIES_LABEL_NAMES, registers: [registry] });
}

/** Registers the fidelity metrics on `registry` (or returns those already there). */
export function createFidelityMetrics(registry: Registry): FidelityMetrics {
  return {
    cosineSimilarity: gauge(
      registry,
      'benchfarm_fidelity_cosine_similarity',
      "Lowest cosine similarity over a variant's outputs against the reference variant's outputs on the same inputs, measured on the device (1 = identical). The reference variant itself is 1.",
    ),
    snrDecibels: gauge(registry, 'benchfarm_fidelity_snr_decibels', "Lowest signal-to-noise ratio over a variant's outputs against the reference's, in dB; absent when the outputs are identical."),
    maxAbsError: gauge(registry, 'benchfarm_fidelity_max_abs_error', "Largest absolute error over a variant's outputs against the reference's."),
  };
}

/** One output's fidelity, as the suite reports it. */
export interface OutputFidelityInput {
  cosine: number;
  snrDb?: number | undefined;
  maxAbsError: number;
}

/**
 * Sets a series' fidelity gauges from the variant's per-output figures; `reference` marks the
 * variant the others were compared with (identical to itself by definition). A variant with
 * no figures (not compared) has its gauges removed rather than set to a made-up value.
 */
export function recordFidelity(metrics: FidelityMetrics, series: SeriesLabels, outputs: readonly OutputFidelityInput[], reference: boolean): void {
  const labels = boundedSeries(series);
  if (reference) {
    metrics.cosineSimilarity.set(labels, 1);
    metrics.maxAbsError.set(labels, 0);
    metrics.snrDecibels.remove(labels);
    return;
  }
  const finite = outputs.filter((o) => Number.isFinite(o.cosine) && Number.isFinite(o.maxAbsError));
  if (finite.length === 0) {
    metrics.cosineSimilarity.remove(labels);
    metrics.maxAbsError.remove(labels);
    metrics.snrDecibels.remove(labels);
    return;
  }
  metrics.cosineSimilarity.set(labels, Math.min(...finite.map((o) => o.cosine)));
  metrics.maxAbsError.set(labels, Math.max(...finite.map((o) => o.maxAbsError)));
  const snrs = finite.map((o) => o.snrDb).filter((v): v is number => v !== undefined && Number.isFinite(v));
  if (snrs.length > 0) metrics.snrDecibels.set(labels, Math.min(...snrs));
  else metrics.snrDecibels.remove(labels);
}
