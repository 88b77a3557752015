// The types the report's sections share: the variant rows buildReport makes (the int8-auto
// summary reads them) and a variant's standing under the accuracy floor (the configuration
// search ranks by it). Apart from report.model.ts so that the sections need not import the
// model that imports them.
import type { AccuracyMetricLabel } from '@benchfarm/metrics';
import type { MeasuredOn, TaskMetricView } from '../client';

/** One of the task metrics the agents report (report.model.ts ACCURACY_METRICS). */
export type AccuracyMetric = AccuracyMetricLabel;
/** What an accuracy floor may be stated on: a task metric, or the worst output's cosine on real images (models without a task). */
export type FloorMetric = AccuracyMetric | 'cosine';

/** A row's accuracy on its device: every figure with its image count and bootstrap 95% CI. */
export interface RowAccuracy {
  /** real_images: a dataset's evaluation images; random_inputs: fidelity on generated inputs only (not accuracy). */
  measuredOn: MeasuredOn;
  /** What it was measured on, in words: "real images: dataset coco-val (9 of 13, ...)" or "random inputs: ...". */
  inputs: string;
  /** Images each variant ran (0 for random inputs). */
  images: number;
  task?: string;
  /** The metric the row is ranked and floored on (the floor's, else the task's default); absent for random inputs. */
  metric?: FloorMetric;
  value?: number;
  ci?: { low: number; high: number };
  /** Images behind `value` (labelled images for metrics against labels). */
  valueImages?: number;
  /** Why `value` is absent. */
  reason?: string;
  /** Every task metric the agent reported. */
  metrics: TaskMetricView[];
}

/** One variant on one device, every figure in its unit; a figure not measured is undefined with the reason in `unmeasured`. */
export interface ReportRow {
  variant: string;
  device: string;
  provider: string;
  state: string;
  count?: number;
  p50Ms?: number;
  p90Ms?: number;
  p99Ms?: number;
  meanMs?: number;
  throughputQps?: number;
  peakRssBytes?: number;
  sizeBytes?: number;
  /** Worst output's cosine similarity to the fp32 reference on this device, when the sweep measured it. */
  fidelity?: number;
  /** Bootstrap 95% CI of `fidelity` over images (real images only). */
  fidelityCi?: { low: number; high: number };
  /** Images behind `fidelity` (0 for random inputs). */
  fidelityImages?: number;
  /** What `fidelity` was measured on. */
  fidelityOn?: MeasuredOn;
  /** Interleaved comparison on this device: median over rounds of this variant's round median / the reference's. */
  ratioToReference?: number;
  /** Bootstrap 95% CI of the ratio over rounds. */
  ratioCi?: { low: number; high: number };
  referenceVariant?: string;
  /** Accuracy on this device; absent when not measured (see `unmeasured`). */
  accuracy?: RowAccuracy;
  energyPerInferenceJoules?: number;
  /** Average power over the measured window, when the device has a power sensor. */
  averagePowerWatts?: number;
  /** Why figures are missing: `field: reason`. */
  unmeasured: string[];
  /** Set when the row's measured accuracy is below the accuracy floor: then it is neither on the Pareto front nor recommended. */
  belowAccuracyFloor?: string;
  /** Not dominated on (latency, size, accuracy) by another variant on the same device that meets the accuracy floor. */
  pareto: boolean;
}

/**
 * A variant's accuracy on one device as the report's accuracy floor sees it: for sections that
 * rank something other than the variant rows (the configuration search), so they apply the same
 * floor with the same rules as the recommendation (report.model.ts recommend).
 */
export interface AccuracyStanding {
  /** Whether the variant may be chosen under the floor (true when no floor applies). */
  eligible: boolean;
  /** Its accuracy in words (`map50_agreement 0.970 [0.930, 1.000] on 9 real images`), or why it was not measured. */
  text: string;
  /** The floor metric's value on real images; absent when not measured there. */
  value?: number;
  /** Why it is not eligible. */
  excluded?: string;
  /** A condition that could not be checked (the default floor on a device without accuracy). */
  note?: string;
}

/** The {@link AccuracyStanding} of a variant on an agent's device. */
export type AccuracyStandingOf = (agentId: string, variant: string) => AccuracyStanding;
