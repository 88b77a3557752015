import { tensorDataTypeToJSON, type Progress } from '@benchfarm/protocol';
import type { StoredResultSensors } from '../storage/result-sensors';
import type { JobState, JobWithResult, PercentileRecord, ResultRecord, SweepListItem, SweepRecord, SweepSettings, SweepState } from '../storage/records';

/** A result as the REST API shows it. */
export interface ResultView {
  id: string;
  count: number;
  meanMs: number;
  stdMs: number;
  minMs: number;
  maxMs: number;
  percentiles: Array<{ quantile: number; valueMs?: number; status: PercentileRecord['status']; minSamples: number }>;
  throughputQps: number;
  measuredDurationMs: number;
  warmupQueries: number;
  warmupDurationMs: number;
  sessionCreationMs: number;
  firstInferenceMs: number;
  peakRssBytes?: number;
  rssBeforeSessionBytes?: number;
  rssAfterSessionBytes?: number;
  modelFileSizeBytes: number;
  stopReason: string;
  manifest: Record<string, unknown>;
  unmeasured: Array<{ field: string; reason: string }>;
  /** The agent's name. */
  device: string;
  provider: string;
  attempt: number;
  committedAt: string;
  /** Power and energy of the measured window (issue 6); absent when the device has no power sensor (see unmeasured). */
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
  progress?: { phase: string; queriesDone: number; elapsedMs: number };
  result?: ResultView;
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
  agents: string[];
  jobs: JobView[];
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

/** Builds the REST view of a sweep; `progressOf` gives the live progress of running jobs. */
export function toSweepView(sweep: SweepRecord, progressOf: (jobId: string) => Progress | undefined): SweepView {
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
        ...(progress ? { progress: { phase: progress.phase, queriesDone: progress.queriesDone, elapsedMs: progress.elapsedMs } } : {}),
        ...(job.result ? { result: resultView(job.result, job) } : {}),
      };
    }),
  };
}

/** Builds a line of the sweep list. */
export function toSweepListView(item: SweepListItem): SweepListView {
  return { id: item.id, name: item.name, state: item.state, createdAt: new Date(item.createdAtMs).toISOString() };
}
