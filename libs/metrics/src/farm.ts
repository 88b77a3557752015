/**
 * Prometheus metric definitions of benchfarm. Every metric is registered on an explicit
 * {@link Registry} handed in by the caller (never prom-client's global registry), and every
 * label name is a literal type. Labels are bounded: model, variant, device, provider, and
 * small enums (quantile, outcome, state). No job, sweep or run id and no timestamp ever
 * becomes a label value, so the number of series does not grow with the number of results.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

/** Labels that name one benchmark series: which model variant ran where, on which provider. */
export const SERIES_LABEL_NAMES = ['model', 'variant', 'device', 'provider'] as const;
/** One of {@link SERIES_LABEL_NAMES}. */
export type SeriesLabelName = (typeof SERIES_LABEL_NAMES)[number];
/** The label values of one benchmark series. */
export type SeriesLabels = Record<SeriesLabelName, string>;

/** Quantiles that may appear in the `quantile` label; others are dropped to keep the label bounded. */
export const LATENCY_QUANTILES = [0.5, 0.75, 0.9, 0.95, 0.99, 0.999] as const;

/** Job states counted by `benchfarm_jobs{state}`. */
export const JOB_STATES = ['queued', 'running', 'done', 'failed'] as const;
/** A job state. */
export type JobStateLabel = (typeof JOB_STATES)[number];

/**
 * Agent states counted by `benchfarm_agents{state}`: the states an agent reports, plus
 * `stale` for an entry whose heartbeat is too old and `unknown` for an unset state.
 */
export const AGENT_STATES = ['idle', 'busy', 'checking', 'unhealthy', 'draining', 'offline', 'stale', 'unknown'] as const;
/** An agent state label value. */
export type AgentStateLabel = (typeof AGENT_STATES)[number];

/** Outcomes of one result upload, counted by `benchfarm_results_total{outcome}`. */
export const UPLOAD_OUTCOMES = ['committed', 'duplicate', 'error_recorded', 'rejected'] as const;
/** An upload outcome label value. */
export type UploadOutcomeLabel = (typeof UPLOAD_OUTCOMES)[number];

/** Longest label value kept; longer values are cut so one bad name cannot bloat every scrape. */
export const MAX_LABEL_VALUE_LENGTH = 128;

/** Typed handles on benchfarm's metrics, all registered on one registry. */
export interface FarmMetrics {
  readonly registry: Registry;
  /** `benchfarm_inference_latency_seconds{model,variant,device,provider,quantile}`: percentiles of the latest result. */
  readonly inferenceLatencySeconds: Gauge<SeriesLabelName | 'quantile'>;
  /** `benchfarm_throughput_queries_per_second{model,variant,device,provider}` of the latest result. */
  readonly throughputQueriesPerSecond: Gauge<SeriesLabelName>;
  /** `benchfarm_peak_memory_bytes{model,variant,device,provider}`: peak RSS of the latest result's run, when measured. */
  readonly peakMemoryBytes: Gauge<SeriesLabelName>;
  /** `benchfarm_model_size_bytes{model,variant}`: size of the variant's model file. */
  readonly modelSizeBytes: Gauge<'model' | 'variant'>;
  /** `benchfarm_results_total{outcome}`: result uploads by outcome. */
  readonly resultsTotal: Counter<'outcome'>;
  /** `benchfarm_results_ingested_total`: results committed to the store. */
  readonly resultsIngestedTotal: Counter<never>;
  /** `benchfarm_jobs{state}`: jobs in the store by state. */
  readonly jobs: Gauge<'state'>;
  /** `benchfarm_agents{state}`: agents in the registry by state. */
  readonly agents: Gauge<'state'>;
}

/**
 * Registers benchfarm's metrics on `registry` and returns typed handles. Call it once per
 * registry: prom-client refuses a second metric of the same name on one registry.
 */
export function createFarmMetrics(registry: Registry): FarmMetrics {
  const registers = [registry];
  const metrics: FarmMetrics = {
    registry,
    inferenceLatencySeconds: new Gauge({
      name: 'benchfarm_inference_latency_seconds',
      help: 'Inference latency percentile of the latest result of a series (single-stream), in seconds. Only percentiles the result reported as ok are present.',
      labelNames: [...SERIES_LABEL_NAMES, 'quantile'] as const,
      registers,
    }),
    throughputQueriesPerSecond: new Gauge({
      name: 'benchfarm_throughput_queries_per_second',
      help: 'Throughput of the latest result of a series: queries / measured wall time.',
      labelNames: SERIES_LABEL_NAMES,
      registers,
    }),
    peakMemoryBytes: new Gauge({
      name: 'benchfarm_peak_memory_bytes',
      help: 'Peak resident memory (VmHWM) of the suite process of the latest result of a series, in bytes; absent when not measured.',
      labelNames: SERIES_LABEL_NAMES,
      registers,
    }),
    modelSizeBytes: new Gauge({
      name: 'benchfarm_model_size_bytes',
      help: 'Size of the model file of a variant, in bytes.',
      labelNames: ['model', 'variant'] as const,
      registers,
    }),
    resultsTotal: new Counter({
      name: 'benchfarm_results_total',
      help: 'Result uploads received, by outcome (committed, duplicate, error_recorded, rejected).',
      labelNames: ['outcome'] as const,
      registers,
    }),
    resultsIngestedTotal: new Counter<never>({
      name: 'benchfarm_results_ingested_total',
      help: 'Results committed to the results store.',
      registers,
    }),
    jobs: new Gauge({
      name: 'benchfarm_jobs',
      help: 'Jobs in the results store, by state.',
      labelNames: ['state'] as const,
      registers,
    }),
    agents: new Gauge({
      name: 'benchfarm_agents',
      help: 'Agents in the registry, by state (stale: heartbeat older than the stale limit).',
      labelNames: ['state'] as const,
      registers,
    }),
  };
  for (const outcome of UPLOAD_OUTCOMES) metrics.resultsTotal.inc({ outcome }, 0);
  setJobCounts(metrics, {});
  setAgentCounts(metrics, {});
  return metrics;
}

/**
 * The gauge `name` on `registry`: registered there with these labels, or the one already there.
 * One registry per coordinator, but a second service on it (tests) must not register twice.
 */
export function registeredGauge<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[]): Gauge<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Gauge<L>;
  return new Gauge({ name, help, labelNames, registers: [registry] });
}

/** Cuts a label value to {@link MAX_LABEL_VALUE_LENGTH} characters; an empty value becomes `unknown`. */
export function boundedLabelValue(value: string): string {
  if (value === '') return 'unknown';
  return value.length > MAX_LABEL_VALUE_LENGTH ? value.slice(0, MAX_LABEL_VALUE_LENGTH) : value;
}

/**
 * The `quantile` label value of a quantile (`0.5` -> `"0.5"`), or undefined when it is not
 * one of {@link LATENCY_QUANTILES}.
 */
export function quantileLabel(quantile: number): string | undefined {
  const known = LATENCY_QUANTILES.find((q) => Math.abs(q - quantile) < 1e-9);
  return known === undefined ? undefined : String(known);
}

/** What {@link recordResult} needs from one committed result. */
export interface ResultMetricsInput {
  /** Percentiles of the result; those without a value (insufficient samples) are left out. */
  percentiles: ReadonlyArray<{ quantile: number; valueMs?: number | undefined }>;
  throughputQps: number;
  /** Peak RSS of the run; absent when it could not be measured. */
  peakRssBytes?: number | undefined;
  modelSizeBytes: number;
}

/** A series' labels with every value cut by {@link boundedLabelValue}: what every series gauge is set with. */
export function boundedSeries(series: SeriesLabels): SeriesLabels {
  return {
    model: boundedLabelValue(series.model),
    variant: boundedLabelValue(series.variant),
    device: boundedLabelValue(series.device),
    provider: boundedLabelValue(series.provider),
  };
}

/**
 * Sets the gauges of one series from its latest result. A quantile or a peak memory the
 * latest result did not report is removed from the series, so a gauge never shows an
 * older result's value as if it were current.
 */
export function recordResult(metrics: FarmMetrics, series: SeriesLabels, result: ResultMetricsInput): void {
  const labels = boundedSeries(series);
  const reported = new Map<string, number>();
  for (const p of result.percentiles) {
    const quantile = quantileLabel(p.quantile);
    if (quantile !== undefined && p.valueMs !== undefined && Number.isFinite(p.valueMs)) reported.set(quantile, p.valueMs / 1000);
  }
  for (const q of LATENCY_QUANTILES) {
    const quantile = String(q);
    const seconds = reported.get(quantile);
    if (seconds === undefined) metrics.inferenceLatencySeconds.remove({ ...labels, quantile });
    else metrics.inferenceLatencySeconds.set({ ...labels, quantile }, seconds);
  }
  metrics.throughputQueriesPerSecond.set(labels, result.throughputQps);
  if (result.peakRssBytes === undefined) metrics.peakMemoryBytes.remove(labels);
  else metrics.peakMemoryBytes.set(labels, result.peakRssBytes);
  metrics.modelSizeBytes.set({ model: labels.model, variant: labels.variant }, result.modelSizeBytes);
}

/** Sets `benchfarm_jobs{state}` to these counts; a state not given is set to 0. */
export function setJobCounts(metrics: FarmMetrics, counts: Partial<Record<JobStateLabel, number>>): void {
  for (const state of JOB_STATES) metrics.jobs.set({ state }, counts[state] ?? 0);
}

/** Sets `benchfarm_agents{state}` to these counts; a state not given is set to 0. */
export function setAgentCounts(metrics: FarmMetrics, counts: Partial<Record<AgentStateLabel, number>>): void {
  for (const state of AGENT_STATES) metrics.agents.set({ state }, counts[state] ?? 0);
}

/** Counts one result upload by its outcome; a committed one also counts as ingested. */
export function countUpload(metrics: FarmMetrics, outcome: UploadOutcomeLabel): void {
  metrics.resultsTotal.inc({ outcome });
  if (outcome === 'committed') metrics.resultsIngestedTotal.inc();
}
