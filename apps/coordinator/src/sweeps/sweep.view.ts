import {
  tensorDataTypeToJSON,
  type ConfigAxis,
  type ConfigSearchResult,
  type ConfigSkip,
  type EvaluationResult,
  type OutputFidelity,
  type Progress,
  type SuiteReport,
  type TaskMetric,
  type VariantComparison,
} from '@benchfarm/protocol';
import { SESSION_ALLOWANCE_MS } from '@benchfarm/suite';
import type { StoredResultSensors } from '../storage/result-sensors';
import type { JobState, JobWithResult, PercentileRecord, ResultFigures, ResultRecord, SweepListItem, SweepRecord, SweepSettings, SweepState, VariantDerivationRecord, VariantDerivationState } from '../storage/records';

/** A result as the REST API shows it. */
export interface ResultView extends ResultFigures {
  id: string;
  percentiles: Array<{ quantile: number; valueMs?: number; status: PercentileRecord['status']; minSamples: number }>;
  manifest: Record<string, unknown>;
  unmeasured: Array<{ field: string; reason: string }>;
  /** The agent's name. */
  device: string;
  provider: string;
  attempt: number;
  committedAt: string;
  /** Power and energy of the measured window; absent when the device has no power sensor (see unmeasured). */
  power?: PowerView;
  /** Set when the result has thermal data: whether clocks dropped or a trip point was crossed. */
  throttled?: boolean;
  /** The external tool that produced the figures (runtime, version, precision, device, command); absent for onnxruntime-node. */
  externalRuntime?: Record<string, unknown>;
}

/** A result's power figures as the REST API shows them; a figure not measured is absent, never 0. */
export interface PowerView {
  sensor: string;
  domain: string;
  averagePowerWatts?: number;
  idlePowerWatts?: number;
  energyJoules?: number;
  energyPerInferenceJoules?: number;
  energyPerInferenceAboveIdleJoules?: number;
}

function sensorsView(sensors: StoredResultSensors | undefined): Pick<ResultView, 'power' | 'throttled' | 'externalRuntime'> {
  if (!sensors) return {};
  const figures = {
    averagePowerWatts: sensors.averagePowerWatts,
    idlePowerWatts: sensors.idlePowerWatts,
    energyJoules: sensors.energyJoules,
    energyPerInferenceJoules: sensors.energyPerInferenceJoules,
    energyPerInferenceAboveIdleJoules: sensors.energyPerInferenceAboveIdleJoules,
  };
  const power: PowerView | undefined =
    sensors.powerSensor === null ? undefined : { sensor: sensors.powerSensor, domain: sensors.powerDomain ?? 'unspecified', ...Object.fromEntries(Object.entries(figures).filter(([, v]) => v !== null)) };
  return {
    ...(power ? { power } : {}),
    ...(sensors.thermal !== null ? { throttled: sensors.throttled } : {}),
    ...(sensors.externalRuntime !== null && typeof sensors.externalRuntime === 'object' ? { externalRuntime: sensors.externalRuntime as Record<string, unknown> } : {}),
  };
}

/** A job as the REST API shows it. */
export interface JobView {
  id: string;
  variant: string;
  agentId: string;
  state: JobState;
  attempts: number;
  error?: string;
  progress?: ProgressView;
  result?: ResultView;
}

/**
 * A running job's latest progress, as the agent reported it; a configuration search adds its
 * point (in words: `fp32 cpu t2 basic`), counts and rate (of the current window; 0 when not measuring).
 */
export type ProgressView = Progress;

/** One device's configuration search: what the coordinator planned for it and, once stored, the agent's result. */
export interface ConfigSearchDeviceView {
  agentId: string;
  agentName: string;
  /** The device's search job; empty when no point of the space can run there (state `skipped`). */
  jobId: string;
  /** The job's state, or `skipped` for a device without a search job. */
  state: JobState | 'skipped';
  /** Values (and points) the coordinator left out for this device, with why. */
  skipped: ConfigSkip[];
  notes: string[];
  /** The estimate the budget was checked against (a quick search: its worst case); 0 without a job. */
  estimatedMs: number;
  /** The job's report (SuiteReport.configSearch) once its result is stored. */
  result?: ConfigSearchResult;
}

/** A sweep's runtime-settings search: the request and each device's search. */
export interface ConfigSearchView {
  strategy: string;
  objective: string;
  budgetMs: number;
  latencyBoundMs?: number;
  /** The axes as requested (before narrowing per device). */
  axes: ConfigAxis[];
  devices: ConfigSearchDeviceView[];
}

/** A 95% confidence interval as the REST API shows it (bootstrap over images, or over rounds for a ratio). */
export interface IntervalView {
  low: number;
  high: number;
  level: number;
  /** Bootstrap resamples, when the suite reported them. */
  resamples?: number;
}

/** What a figure of accuracy was measured on: a dataset's real images, or the suite's generated inputs. */
export type MeasuredOn = 'real_images' | 'random_inputs';

/** One task metric of a variant; `value` absent with `reason` when it could not be computed. */
export interface TaskMetricView {
  /** map50_agreement, map50, map50_95, top1_agreement, top1 or top5. */
  metric: string;
  value?: number;
  /** Bootstrap 95% CI over images; absent below 2 images. */
  ci?: IntervalView;
  /** Images the figure is computed on (labelled images for `against: labels`). */
  images: number;
  /** `reference` (agreement with the fp32 variant on this device) or `labels` (ground truth). */
  against: string;
  reason?: string;
}

/** One output's fidelity against the reference variant on the same inputs, on the device. */
export interface OutputFidelityView {
  output: string;
  cosine: number;
  cosineCi?: IntervalView;
  snrDb?: number;
  snrDbCi?: IntervalView;
  maxAbsError: number;
  /** Real images the figures pool; 0 for random inputs. */
  images: number;
  measuredOn: MeasuredOn;
  /** The suite's own words on the inputs, e.g. "random inputs: the suite's seeded inputs (seed 0, 1 run)". */
  inputs: string;
}

/**
 * A variant's accuracy on one device: task metrics and fidelity on a dataset's real
 * images when the sweep has one, else only fidelity on random inputs (which is not accuracy:
 * `measuredOn` says so, and `metrics` is empty).
 */
export interface AccuracyView {
  measuredOn: MeasuredOn;
  /** e.g. "real images: dataset coco-val (9 of 13, every 3rd held out), 9 images" or "random inputs: ...". */
  inputs: string;
  /** Images evaluated (0 for random inputs). */
  images: number;
  dataset?: { id: string; name: string };
  /** detection, classification or fidelity (outputs only); absent for random inputs. */
  task?: string;
  metrics: TaskMetricView[];
  /** Per output, against the reference; empty for the reference itself. */
  fidelity: OutputFidelityView[];
  /** Set when this variant could not be evaluated on the device; the figures are then absent. */
  error?: string;
}

/** One variant in a device's interleaved comparison job, with its accuracy on that device. */
export interface ComparedVariantView {
  variant: string;
  reference: boolean;
  /** Median of every sample of the variant in the interleaved rounds. */
  medianMs: number;
  /** Median over rounds of (variant round median / reference round median); 1 for the reference. */
  ratioToReference: number;
  /** Bootstrap 95% CI of the ratio over rounds; absent below 2 rounds. */
  ratioCi?: IntervalView;
  /** Absent when the device measured none (see the comparison's `unmeasured`). */
  accuracy?: AccuracyView;
}

/**
 * A device's interleaved comparison job (one per device, every variant in one process)
 * and what it measured: latency ratios to the reference with CIs, and accuracy.
 */
export interface DeviceComparisonView {
  jobId: string;
  agentId: string;
  /** The agent's name, as `result.device` of the variant jobs. */
  device: string;
  state: JobState;
  provider?: string;
  referenceVariant?: string;
  rounds?: number;
  /** interleaved or sequential */
  order?: string;
  /** The evaluation phase on real images, when the sweep has an evaluation dataset; `detectionLayout` only for detection. */
  evaluation?: Pick<EvaluationResult, 'datasetId' | 'datasetName' | 'task' | 'images' | 'labelledImages' | 'inputs' | 'split' | 'durationMs' | 'peakRssBytes'> & { detectionLayout?: string };
  variants: ComparedVariantView[];
  /** Why a figure is absent, e.g. `accuracy: no evaluation dataset in this sweep`. */
  unmeasured: Array<{ field: string; reason: string }>;
}

/** One variant's progress in a sweep's derivation step. */
export interface VariantDerivationView {
  variant: string;
  state: VariantDerivationState;
  error?: string;
  startedAt?: string;
  finishedAt?: string;
  durationMs?: number;
}

/** A sweep as the REST API shows it. */
export interface SweepView {
  id: string;
  name: string;
  state: SweepState;
  createdAt: string;
  error?: string;
  model: { name: string; sha256: string; sizeBytes: number };
  inputs: Array<{ name: string; dataType: string; shape: number[] }>;
  settings: SweepSettings;
  targets: string[];
  variants: Array<{ name: string; sha256: string; sizeBytes: number; recipe: Record<string, string> }>;
  /** Each variant's progress in the derivation step; absent for sweeps made before it existed. */
  derivation?: VariantDerivationView[];
  agents: string[];
  jobs: JobView[];
  /** Per device: the interleaved comparison and accuracy of every variant; empty when the sweep has no comparison job. */
  comparisons: DeviceComparisonView[];
  /** The runtime-settings search, when the sweep has dimensions. */
  configSearch?: ConfigSearchView;
  /** Estimated time left, ms ({@link estimateTimeLeftMs}); absent when the sweep is not running or nothing is left to estimate. */
  etaMs?: number;
}

/** One line of `GET /sweeps`. */
export interface SweepListView {
  id: string;
  name: string;
  state: SweepState;
  createdAt: string;
}

/** `TENSOR_DATA_TYPE_FLOAT32` -> `float32`. */
export function dataTypeName(dataType: number): string {
  return tensorDataTypeToJSON(dataType).replace(/^TENSOR_DATA_TYPE_/, '').toLowerCase();
}

function resultView(result: ResultRecord, job: JobWithResult): ResultView {
  return {
    id: result.id,
    count: result.count,
    meanMs: result.meanMs,
    stdMs: result.stdMs,
    minMs: result.minMs,
    maxMs: result.maxMs,
    percentiles: result.percentiles.map((p) => ({ quantile: p.quantile, ...(p.valueMs === undefined ? {} : { valueMs: p.valueMs }), status: p.status, minSamples: p.minSamples })),
    throughputQps: result.throughputQps,
    measuredDurationMs: result.measuredDurationMs,
    warmupQueries: result.warmupQueries,
    warmupDurationMs: result.warmupDurationMs,
    sessionCreationMs: result.sessionCreationMs,
    firstInferenceMs: result.firstInferenceMs,
    ...(result.peakRssBytes === undefined ? {} : { peakRssBytes: result.peakRssBytes }),
    ...(result.rssBeforeSessionBytes === undefined ? {} : { rssBeforeSessionBytes: result.rssBeforeSessionBytes }),
    ...(result.rssAfterSessionBytes === undefined ? {} : { rssAfterSessionBytes: result.rssAfterSessionBytes }),
    modelFileSizeBytes: result.modelFileSizeBytes,
    stopReason: result.stopReason,
    manifest: result.manifest,
    unmeasured: result.unmeasured,
    device: job.agentName,
    provider: result.provider,
    attempt: result.attempt,
    committedAt: new Date(result.committedAtMs).toISOString(),
    ...sensorsView(result.sensors),
  };
}

function intervalView(ci: { low: number; high: number; level: number; resamples?: number } | undefined): IntervalView | undefined {
  if (!ci || !Number.isFinite(ci.low) || !Number.isFinite(ci.high)) return undefined;
  return { low: ci.low, high: ci.high, level: ci.level, ...(ci.resamples ? { resamples: ci.resamples } : {}) };
}

function fidelityView(f: OutputFidelity): OutputFidelityView {
  const cosineCi = intervalView(f.cosineCi);
  const snrDbCi = intervalView(f.snrDbCi);
  // Older agents did not set random_inputs; their fidelity was always on the suite's generated inputs.
  const random = f.randomInputs || f.images === 0;
  return {
    output: f.output,
    cosine: f.cosine,
    ...(cosineCi ? { cosineCi } : {}),
    ...(f.snrDb === undefined ? {} : { snrDb: f.snrDb }),
    ...(snrDbCi ? { snrDbCi } : {}),
    maxAbsError: f.maxAbsError,
    images: f.images,
    measuredOn: random ? 'random_inputs' : 'real_images',
    inputs: f.inputs || (random ? 'random inputs' : 'real images'),
  };
}

function metricView(m: TaskMetric): TaskMetricView {
  const ci = intervalView(m.ci);
  return {
    metric: m.metric,
    ...(m.value === undefined || !Number.isFinite(m.value) ? {} : { value: m.value }),
    ...(ci ? { ci } : {}),
    images: m.images,
    against: m.against,
    ...(m.reason ? { reason: m.reason } : m.value === undefined ? { reason: 'not reported' } : {}),
  };
}

/** Accuracy of one compared variant: the evaluation on real images when there is one, else random-input fidelity. */
function accuracyView(variant: VariantComparison | undefined, name: string, evaluation: EvaluationResult | undefined): AccuracyView | undefined {
  if (evaluation) {
    const e = evaluation.variants.find((v) => v.variant === name);
    if (!e) return undefined;
    return {
      measuredOn: 'real_images',
      inputs: evaluation.inputs || `real images: dataset ${evaluation.datasetName || evaluation.datasetId}`,
      images: e.images,
      dataset: { id: evaluation.datasetId, name: evaluation.datasetName },
      task: evaluation.task,
      metrics: e.error ? [] : e.metrics.map(metricView),
      fidelity: e.error ? [] : e.fidelity.map(fidelityView),
      ...(e.error ? { error: e.error } : {}),
    };
  }
  if (!variant || (variant.fidelity.length === 0 && !variant.reference)) return undefined;
  const fidelity = variant.fidelity.map(fidelityView);
  return { measuredOn: 'random_inputs', inputs: fidelity[0]?.inputs ?? 'random inputs', images: 0, metrics: [], fidelity };
}

/** The view of a device's comparison job; its report (if stored) gives ratios and accuracy. */
function comparisonView(job: JobWithResult, variants: readonly string[]): DeviceComparisonView {
  const report: SuiteReport | undefined = job.result?.report;
  const comparison = report?.comparison;
  const evaluation = report?.evaluation;
  const unmeasured: Array<{ field: string; reason: string }> = [];
  if (!job.result) unmeasured.push({ field: 'comparison', reason: `job ${job.state}${job.error ? `: ${job.error}` : ''}` });
  else if (!comparison) unmeasured.push({ field: 'comparison', reason: 'the result carries no comparison report' });
  const anyRandomFidelity = comparison?.variants.some((v) => v.fidelity.length > 0) ?? false;
  if (job.result && !evaluation) {
    unmeasured.push({ field: 'accuracy', reason: anyRandomFidelity ? 'no evaluation dataset in this sweep: fidelity only, on random inputs (not accuracy)' : 'no evaluation dataset in this sweep' });
  }
  const names = comparison ? comparison.variants.map((v) => v.variant) : [...variants];
  return {
    jobId: job.id,
    agentId: job.agentId,
    device: job.agentName,
    state: job.state,
    ...(job.result ? { provider: job.result.provider } : {}),
    ...(comparison ? { referenceVariant: comparison.referenceVariant, rounds: comparison.rounds, order: comparison.order } : {}),
    ...(evaluation
      ? {
          evaluation: {
            datasetId: evaluation.datasetId,
            datasetName: evaluation.datasetName,
            task: evaluation.task,
            images: evaluation.images,
            labelledImages: evaluation.labelledImages,
            inputs: evaluation.inputs,
            split: evaluation.split,
            ...(evaluation.detectionLayout ? { detectionLayout: evaluation.detectionLayout } : {}),
            durationMs: evaluation.durationMs,
            ...(evaluation.peakRssBytes === undefined ? {} : { peakRssBytes: Number(evaluation.peakRssBytes) }),
          },
        }
      : {}),
    variants: comparison
      ? names.map((name): ComparedVariantView => {
          const v = comparison.variants.find((x) => x.variant === name) as VariantComparison;
          const ratioCi = intervalView(v.ratioCi);
          const accuracy = accuracyView(v, name, evaluation);
          return {
            variant: name,
            reference: v.reference,
            medianMs: v.medianMs,
            ratioToReference: v.ratioToReference,
            ...(ratioCi ? { ratioCi } : {}),
            ...(accuracy ? { accuracy } : {}),
          };
        })
      : [],
    unmeasured,
  };
}

function progressView(p: Progress): ProgressView {
  return {
    phase: p.phase,
    queriesDone: p.queriesDone,
    elapsedMs: p.elapsedMs,
    ...(p.point === undefined ? {} : { point: p.point }),
    ...(p.pointsDone === undefined ? {} : { pointsDone: p.pointsDone }),
    ...(p.pointsTotal === undefined ? {} : { pointsTotal: p.pointsTotal }),
    ...(p.queriesPerSecond === undefined ? {} : { queriesPerSecond: p.queriesPerSecond }),
  };
}

/** The configuration search of a sweep as recorded in its settings, with each device's job state and, once stored, its report. */
function configSearchView(sweep: SweepRecord): ConfigSearchView | undefined {
  const search = sweep.settings.configSearch;
  if (!search) return undefined;
  return {
    strategy: search.strategy,
    objective: search.objective,
    budgetMs: search.budgetMs,
    ...(search.latencyBoundMs === undefined ? {} : { latencyBoundMs: search.latencyBoundMs }),
    axes: search.axes.map((a) => ({ name: a.name, values: [...a.values] })),
    devices: search.devices.map((d): ConfigSearchDeviceView => {
      const job = d.jobId === undefined ? undefined : sweep.jobs.find((j) => j.id === d.jobId);
      const result = job?.result?.report?.configSearch;
      return {
        agentId: d.agentId,
        agentName: d.agentName,
        jobId: d.jobId ?? '',
        state: job ? job.state : 'skipped',
        skipped: d.skipped.map((k) => ({ ...k })),
        notes: [...d.notes],
        estimatedMs: d.estimatedMs,
        ...(result ? { result } : {}),
      };
    }),
  };
}

/**
 * The estimated time left of a running sweep, in ms: per agent, the remaining estimated time
 * of its unfinished (queued or running) jobs, summed, since an agent runs one job at a time;
 * the sweep's estimate is the largest over agents, since agents run side by side.
 *
 * - A configuration-search job: the planner's estimate for its device (a quick search: its
 *   worst case), scaled by the share of points not yet done (1 - pointsDone / pointsTotal)
 *   once the agent reports its counts, but never below one variant's confirmation rounds
 *   while it runs (each variant's best is confirmed after its points, so the last
 *   confirmation is still ahead when every point is done); the whole estimate before that.
 * - Any other job: its sweep's warm-up + min duration (`warmupMinDurationMs + minDurationMs`,
 *   the least a run takes; session creation and a longer run are not foreseen); while running,
 *   what is left of them after the reported phase's elapsed time (warm-up, then measure).
 *
 * Returns undefined when the sweep is not running or has no unfinished job. Pure.
 */
export function estimateTimeLeftMs(sweep: Pick<SweepRecord, 'state' | 'settings' | 'jobs' | 'variants'>, progressOf: (jobId: string) => Progress | undefined): number | undefined {
  if (sweep.state !== 'running') return undefined;
  const { warmupMinDurationMs, minDurationMs } = sweep.settings;
  const search = sweep.settings.configSearch;
  const searchEstimate = new Map<string, { totalMs: number; confirmOneMs: number }>();
  if (search) {
    // The planner's estimate is measurements x per-point time + variants x confirmation (estimateSearch).
    const pointMs = SESSION_ALLOWANCE_MS + search.pointWarmupMs + search.pointDurationMs;
    const variants = Math.max(1, sweep.variants.length);
    for (const d of search.devices) {
      if (d.jobId !== undefined) searchEstimate.set(d.jobId, { totalMs: d.estimatedMs, confirmOneMs: Math.max(0, (d.estimatedMs - d.measurements * pointMs) / variants) });
    }
  }
  const perAgent = new Map<string, number>();
  for (const job of sweep.jobs) {
    if (job.state !== 'queued' && job.state !== 'running') continue;
    const progress = job.state === 'running' ? progressOf(job.id) : undefined;
    let left: number;
    const estimate = searchEstimate.get(job.id);
    if (estimate !== undefined) {
      const total = progress?.pointsTotal ?? 0;
      const done = Math.min(total, progress?.pointsDone ?? 0);
      left = total > 0 ? Math.max(estimate.totalMs * (1 - done / total), estimate.confirmOneMs) : estimate.totalMs;
    } else if (progress?.phase === 'measure') {
      left = Math.max(0, minDurationMs - progress.elapsedMs);
    } else if (progress?.phase === 'warmup') {
      left = Math.max(0, warmupMinDurationMs - progress.elapsedMs) + minDurationMs;
    } else {
      left = warmupMinDurationMs + minDurationMs;
    }
    perAgent.set(job.agentId, (perAgent.get(job.agentId) ?? 0) + left);
  }
  if (perAgent.size === 0) return undefined;
  return Math.round(Math.max(...perAgent.values()));
}

/** One variant's progress in the derivation step, as the sweep view shows it. */
function derivationView(d: VariantDerivationRecord): VariantDerivationView {
  const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
  const startedAt = iso(d.startedAtMs);
  const finishedAt = iso(d.finishedAtMs);
  return {
    variant: d.name,
    state: d.state,
    ...(d.error === undefined ? {} : { error: d.error }),
    ...(startedAt === undefined ? {} : { startedAt }),
    ...(finishedAt === undefined ? {} : { finishedAt }),
    ...(d.startedAtMs !== undefined && d.finishedAtMs !== undefined ? { durationMs: Math.max(0, Math.round(d.finishedAtMs - d.startedAtMs)) } : {}),
  };
}

/** Builds the REST view of a sweep; `progressOf` gives the live progress of running jobs. */
export function toSweepView(sweep: SweepRecord, progressOf: (jobId: string) => Progress | undefined): SweepView {
  const configSearch = configSearchView(sweep);
  const etaMs = estimateTimeLeftMs(sweep, progressOf);
  return {
    id: sweep.id,
    name: sweep.name,
    state: sweep.state,
    createdAt: new Date(sweep.createdAtMs).toISOString(),
    ...(sweep.error === undefined ? {} : { error: sweep.error }),
    model: { ...sweep.model },
    inputs: sweep.inputs.map((i) => ({ name: i.name, dataType: dataTypeName(i.dataType), shape: [...i.shape] })),
    settings: { ...sweep.settings },
    targets: [...sweep.targets],
    variants: sweep.variants.map((v) => ({ name: v.name, sha256: v.sha256, sizeBytes: v.sizeBytes, recipe: { ...v.recipe } })),
    ...(sweep.derivation ? { derivation: sweep.derivation.map(derivationView) } : {}),
    agents: [...sweep.agentIds],
    jobs: sweep.jobs.map((job): JobView => {
      const progress = job.state === 'running' ? progressOf(job.id) : undefined;
      return {
        id: job.id,
        variant: job.variant,
        agentId: job.agentId,
        state: job.state,
        attempts: job.attempts,
        ...(job.error === undefined ? {} : { error: job.error }),
        ...(progress ? { progress: progressView(progress) } : {}),
        ...(job.result ? { result: resultView(job.result, job) } : {}),
      };
    }),
    comparisons: (sweep.settings.comparisonJobs ?? []).flatMap((c) => {
      const job = sweep.jobs.find((j) => j.id === c.jobId);
      return job ? [comparisonView(job, c.variants)] : [];
    }),
    ...(configSearch ? { configSearch } : {}),
    ...(etaMs === undefined ? {} : { etaMs }),
  };
}

/** Builds a line of the sweep list. */
export function toSweepListView(item: SweepListItem): SweepListView {
  return { id: item.id, name: item.name, state: item.state, createdAt: new Date(item.createdAtMs).toISOString() };
}
