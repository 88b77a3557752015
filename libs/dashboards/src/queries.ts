/**
 * The PromQL the dashboards run, in one place, so the dashboards, the tests and the
 * operations guide agree on metric names. Template variables are Grafana's (`$model`,
 * `$device`, `$__rate_interval`); {@link expandTemplateVariables} makes a query runnable
 * against Prometheus directly.
 */

/** The provisioned Prometheus datasource every panel uses (uid fixed in deploy/grafana/provisioning). */
export const DATASOURCE = { type: 'prometheus', uid: 'benchfarm-prometheus' } as const;

/** The Prometheus job name of the coordinator in deploy/prometheus.yml. */
export const COORDINATOR_JOB = 'benchfarm-coordinator';

/** Metric names the dashboards read. */
export const METRIC = {
  latencySeconds: 'benchfarm_inference_latency_seconds',
  throughputQps: 'benchfarm_throughput_queries_per_second',
  peakMemoryBytes: 'benchfarm_peak_memory_bytes',
  modelSizeBytes: 'benchfarm_model_size_bytes',
  resultsTotal: 'benchfarm_results_total',
  resultsIngestedTotal: 'benchfarm_results_ingested_total',
  jobs: 'benchfarm_jobs',
  agents: 'benchfarm_agents',
  resultTimestampSeconds: 'benchfarm_result_timestamp_seconds',
  regressionFlagged: 'benchfarm_regression_flagged',
  latencyMedianRatio: 'benchfarm_latency_median_ratio',
  regressionPValue: 'benchfarm_regression_p_value',
  seriesRetiredTotal: 'benchfarm_series_retired_total',
  // Filled by results that carry them: power by agents with a power sensor,
  // fidelity by sweeps that measure it against the fp32 reference, accuracy by
  // sweeps with an evaluation dataset.
  energyPerInferenceJoules: 'benchfarm_energy_per_inference_joules',
  powerWatts: 'benchfarm_power_watts',
  fidelityCosineSimilarity: 'benchfarm_fidelity_cosine_similarity',
  accuracy: 'benchfarm_accuracy',
  accuracyImages: 'benchfarm_accuracy_images',
  // Filled by sweeps with a runtime-settings search (dimensions): the best configuration per
  // variant x device against onnxruntime's defaults, and the settings of each configuration id.
  configBestRatio: 'benchfarm_config_best_ratio',
  configBestRatioCiLow: 'benchfarm_config_best_ratio_ci_low',
  configBestRatioCiHigh: 'benchfarm_config_best_ratio_ci_high',
  configBestP50Seconds: 'benchfarm_config_best_p50_seconds',
  runConfigInfo: 'benchfarm_run_config_info',
} as const;

/** The settings labels of benchfarm_run_config_info that a panel copies onto a best configuration's series. */
export const RUN_CONFIG_SETTINGS = 'provider_options, intra_op_threads, inter_op_threads, execution_mode, graph_optimization_level, batch_size, concurrency';

/** The accuracy metrics that compare a variant with fp32 on the same device: one per task, so at most one per series. */
export const AGREEMENT_METRICS = 'map50_agreement|top1_agreement';

/**
 * Metrics that legitimately have no series on a farm without the hardware or the
 * measurement behind them, with the reason. A panel reading one of these shows "No data"
 * there; the tests check such queries are valid PromQL instead of checking they return data.
 */
export const CONDITIONAL_METRICS: Readonly<Record<string, string>> = {
  [METRIC.energyPerInferenceJoules]: 'present only for results of agents with a power sensor (RAPL, INA3221, nvidia-smi, ...)',
  [METRIC.powerWatts]: 'present only for results of agents with a power sensor (RAPL, INA3221, nvidia-smi, ...)',
  [METRIC.fidelityCosineSimilarity]: 'present only for results whose sweep measured fidelity against the fp32 reference (the panels read inputs="real_images": a sweep with an evaluation dataset)',
  [METRIC.accuracy]: 'present only for sweeps with an evaluation dataset (real images): never set from random inputs',
  [METRIC.accuracyImages]: 'present only for sweeps with an evaluation dataset (real images)',
  [METRIC.configBestRatio]: 'present only for sweeps with a runtime-settings search (dimensions) whose result is stored',
  [METRIC.configBestRatioCiLow]: 'present only for sweeps with a runtime-settings search (dimensions) whose result is stored',
  [METRIC.configBestRatioCiHigh]: 'present only for sweeps with a runtime-settings search (dimensions) whose result is stored',
  [METRIC.configBestP50Seconds]: 'present only for sweeps with a runtime-settings search (dimensions) whose result is stored',
  [METRIC.runConfigInfo]: 'present only for configurations a stored best of a runtime-settings search names',
};

/** The metrics of {@link CONDITIONAL_METRICS} that a query reads; empty when it reads none. */
export function conditionalMetricsOf(expr: string): string[] {
  return Object.keys(CONDITIONAL_METRICS).filter((name) => new RegExp(`\\b${name}\\b`).test(expr));
}

/** Series selector of the benchmark series filtered by the dashboard's variables. */
export const SERIES_FILTER = 'model=~"$model", variant=~"$variant", device=~"$device"';

/**
 * Replaces Grafana's template variables with values Prometheus accepts: `$model`-style
 * multi-value variables with `.*` (what "All" means), `$__rate_interval` with `rateInterval`.
 */
export function expandTemplateVariables(expr: string, rateInterval = '1m'): string {
  return expr
    .replace(/\$__rate_interval|\$__interval|\$\{__rate_interval\}/g, rateInterval)
    .replace(/\$\{?(model|variant|device|provider|quantile)\}?/g, '.*');
}
