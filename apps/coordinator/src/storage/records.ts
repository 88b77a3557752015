import type { ConfigAxis, ConfigSkip, ScenarioOptions, SuiteReport, SuiteSettings, Summary, TensorSpec } from '@benchfarm/protocol';
import type { StoredResultSensors } from './result-sensors';

/**
 * State of a sweep: deriving while its variants are derived (no job exists yet), then running
 * until every job is done or failed.
 */
export type SweepState = 'deriving' | 'running' | 'completed' | 'failed';
/** Where one variant of a sweep stands in the derivation step. */
export type VariantDerivationState = 'pending' | 'deriving' | 'done' | 'failed';

/** One variant's progress in a sweep's derivation step (table sweep_derivations). */
export interface VariantDerivationRecord {
  name: string;
  state: VariantDerivationState;
  error?: string;
  startedAtMs?: number;
  finishedAtMs?: number;
  /** The stored variant, once done. */
  variant?: VariantRecord;
}

/**
 * A sweep whose variants are still to be derived: its header (settings planned without jobs),
 * what the derivation step needs to resume (`spec`, stored as JSON), and its variants in order,
 * those already stored (bring-your-own) with their record.
 */
export interface NewDerivingSweep extends Omit<NewSweep, 'variants' | 'jobs'> {
  spec: unknown;
  variants: ReadonlyArray<{ name: string; stored?: VariantRecord }>;
}
/** State of a job. `queued` also covers a failed attempt waiting for redelivery. */
export type JobState = 'queued' | 'running' | 'done' | 'failed';

/** How long and how much every job of a sweep measures, as its suite settings carry it. */
export type MeasurementLimits = Pick<SuiteSettings, 'warmupMinQueries' | 'warmupMinDurationMs' | 'minQueries' | 'minDurationMs' | 'maxDurationMs' | 'seed'>;

/** How every job of a sweep measures. */
export interface SweepSettings extends MeasurementLimits {
  scenario: 'single_stream' | 'offline' | 'server' | 'cold_start';
  /** The scenario's options as every job of the sweep carries them; absent in sweeps stored before. */
  scenarioOptions?: ScenarioOptions;
  /** How variants are compared on each device; absent in sweeps stored before. */
  compare?: 'interleaved' | 'none';
  /** The interleaved comparison jobs among the sweep's jobs, one per device. */
  comparisonJobs?: { jobId: string; agentId: string; variants: string[] }[];
  /** Where calibration and evaluation images came from; absent when the sweep names no dataset. */
  datasets?: SweepDatasetsSummary;
  /** The external tool every job runs instead of onnxruntime-node; absent: onnxruntime-node. */
  externalRuntime?: { tool: string; precision: string; device?: string };
  /** The runtime settings searched per device, and what each device got; absent without dimensions. */
  configSearch?: ConfigSearchSettings;
  executionProvider: string;
  intraOpThreads: number;
  interOpThreads: number;
  batch: number;
}

/**
 * A sweep's configuration search as its settings record it: the request (axes before any
 * narrowing, strategy, budget, per-point settings) and, per matched device, the axes it got,
 * the values it skipped with why, and the estimate. A device where no point remains has no
 * job (`jobId` absent) and says why in `skipped` / `notes`.
 */
export interface ConfigSearchSettings {
  /** The axes as requested, canonical (`auto` not yet expanded). */
  axes: ConfigAxis[];
  strategy: 'grid' | 'quick';
  /** "p50_latency" (lower is better) or "throughput" (samples/s, higher; the offline scenario). */
  objective: 'p50_latency' | 'throughput';
  budgetMinutes: number;
  budgetMs: number;
  pointWarmupMs: number;
  pointDurationMs: number;
  pointMinQueries: number;
  confirmRounds: number;
  /** From the sweep's latencyBoundMs; absent: no bound. */
  latencyBoundMs?: number;
  devices: ConfigSearchDevicePlan[];
}

/** What one device got of a sweep's configuration search. */
export interface ConfigSearchDevicePlan {
  agentId: string;
  agentName: string;
  /** The device's search job; absent when no point of the space can run there. */
  jobId?: string;
  /** The axes narrowed to this device (what its job carries). */
  axes: ConfigAxis[];
  /** Values (and combinations) left out on this device, with why. */
  skipped: ConfigSkip[];
  notes: string[];
  /** Points of the space on this device, per variant. */
  points: number;
  /** Points measured at most over all variants (a quick search: its worst case). */
  measurements: number;
  /** The estimate the budget was checked against (a quick search: its worst case); 0 without a job. */
  estimatedMs: number;
}

/** A sweep's datasets as its settings record them; the same split is in every variant's recipe. */
export interface SweepDatasetsSummary {
  calibration?: { datasetId: string; datasetName: string; images: number };
  /** The evaluation each device's all-variants job runs after its interleaved rounds. */
  evaluation?: { datasetId: string; datasetName: string; images: number; datasetImages: number; task: string; detectionLayout?: string; labelled: boolean };
  /** How the images were chosen, in words. */
  split: string;
}

/** A variant of a sweep's model, stored in the Object Store under its digest. */
export interface VariantRecord {
  name: string;
  sha256: string;
  sizeBytes: number;
  recipe: Record<string, string>;
}

/** A job to create: one variant on one agent. */
export interface NewJob {
  id: string;
  variant: string;
  agentId: string;
  agentName: string;
}

/** What a sweep is created with and keeps for good: its model, inputs, settings, targets and variants. */
export interface SweepDefinition {
  id: string;
  name: string;
  createdAtMs: number;
  model: { name: string; sha256: string; sizeBytes: number };
  /** Model inputs with every dimension fixed. */
  inputs: TensorSpec[];
  settings: SweepSettings;
  targets: string[];
  agentIds: string[];
  variants: VariantRecord[];
}

/** Everything a sweep is created with, written in one transaction. */
export interface NewSweep extends SweepDefinition {
  jobs: NewJob[];
}

/** A percentile of a stored result. */
export interface PercentileRecord {
  quantile: number;
  valueMs?: number;
  status: 'ok' | 'insufficient_samples' | 'unspecified';
  minSamples: number;
}

/** The figures of a result's summary that a stored result keeps, and the REST view shows, as the agent sent them. */
export type ResultFigures = Pick<Summary, 'count' | 'meanMs' | 'stdMs' | 'minMs' | 'maxMs' | 'throughputQps' | 'measuredDurationMs' | 'warmupQueries' | 'warmupDurationMs' | 'sessionCreationMs' | 'firstInferenceMs' | 'peakRssBytes' | 'rssBeforeSessionBytes' | 'rssAfterSessionBytes' | 'modelFileSizeBytes' | 'stopReason'>;

/** A stored result of one job. */
export interface ResultRecord extends ResultFigures {
  id: string;
  jobId: string;
  attempt: number;
  uploadId: string;
  percentiles: PercentileRecord[];
  provider: string;
  manifest: Record<string, unknown>;
  unmeasured: Array<{ field: string; reason: string }>;
  committedAtMs: number;
  /** Power, thermal and external runtime (table result_sensors), when the result has them. */
  sensors?: StoredResultSensors;
  /** What the scenario measured beyond the summary (table result_reports): the interleaved comparison and the evaluation on real images. */
  report?: SuiteReport;
}

/** A stored job, with what the result ingest and the views need about its sweep. */
export interface JobRecord {
  id: string;
  sweepId: string;
  variant: string;
  agentId: string;
  agentName: string;
  executionProvider: string;
  state: JobState;
  attempts: number;
  error?: string;
  createdAtMs: number;
  updatedAtMs: number;
}

/** A stored job with its result, when it has one. */
export interface JobWithResult extends JobRecord {
  result?: ResultRecord;
}

/** A stored sweep with its variants and jobs. */
export interface SweepRecord extends SweepDefinition {
  state: SweepState;
  error?: string;
  updatedAtMs: number;
  jobs: JobWithResult[];
  /** Each variant's derivation progress, for a sweep created with a derivation step. */
  derivation?: VariantDerivationRecord[];
}

/** One line of the sweep list. */
export interface SweepListItem {
  id: string;
  name: string;
  state: SweepState;
  createdAtMs: number;
}

/** What the ingest needs to know about a job before it accepts an upload. */
export interface JobContext extends JobRecord {
  modelName: string;
  variantSha256: string;
  variantSizeBytes: number;
  hasResult: boolean;
  /**
   * An interleaved comparison job: filed under the reference variant but measured
   * with every variant in one process, so its figures must not stand in for that variant's series.
   */
  isComparison: boolean;
  /**
   * A configuration-search job: filed under the first variant but measuring every variant at
   * many settings, so its figures must not stand in for that variant's series either; its
   * report feeds the best-configuration gauges.
   */
  isConfigSearch?: boolean;
}

/** A result to commit. */
export interface NewResult {
  resultId: string;
  jobId: string;
  attempt: number;
  uploadId: string;
  agentId: string;
  summary: Summary;
  latencyMs: ArrayLike<number>;
  nowMs: number;
  /**
   * The upload's lease token ('' for an upload without one): when given, the lease is checked in
   * the transaction that writes, and released by it. Absent: no lease check (tools, tests).
   */
  leaseToken?: string;
}

/** What committing a result did. */
export type CommitOutcome = { outcome: 'committed'; resultId: string } | { outcome: 'duplicate'; resultId: string };

/** A failed attempt to record. */
export interface AttemptError {
  jobId: string;
  attempt: number;
  uploadId: string;
  agentId: string;
  code: string;
  message: string;
  retryable: boolean;
  /** The job will not be tried again: mark it failed (unless it already has a result). */
  final: boolean;
  nowMs: number;
  /** As {@link NewResult.leaseToken}. */
  leaseToken?: string;
}

/** What recording an attempt's error did. */
export interface AttemptErrorOutcome {
  /** True when the job will not run again (failed now, or already done). */
  jobFinal: boolean;
  jobState: JobState;
}

/** A stored result as the Prometheus gauges need it. */
export interface SeriesResult {
  series: { model: string; variant: string; device: string; provider: string };
  percentiles: PercentileRecord[];
  throughputQps: number;
  peakRssBytes?: number;
  modelSizeBytes: number;
}
