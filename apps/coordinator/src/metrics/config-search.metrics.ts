/**
 * Prometheus series of configuration searches: the best configuration found per variant on a
 * device, against onnxruntime's defaults. A configuration is one `config` label (its short
 * stable id, "c" + 10 hex); its settings are in one info series per id
 * (`benchfarm_run_config_info`), never one label per setting on the result series, so the
 * series count stays bounded: one best per (model, variant, device) and one info series per id
 * a current best (or its baseline) names.
 */
import type { Gauge, Registry } from 'prom-client';
import { SERIES_LABEL_NAMES, boundedLabelValue, boundedSeries, registeredGauge, type SeriesLabelName } from '@benchfarm/metrics';
import type { ConfigSearchResult, RunConfig } from '@benchfarm/protocol';

/** Labels of the info series: the id and every setting of a configuration. */
export const RUN_CONFIG_INFO_LABELS = [
  'config',
  'provider',
  'provider_options',
  'intra_op_threads',
  'inter_op_threads',
  'execution_mode',
  'graph_optimization_level',
  'batch_size',
  'concurrency',
] as const;
type InfoLabel = (typeof RUN_CONFIG_INFO_LABELS)[number];
type BestLabel = SeriesLabelName | 'config';

/** Typed handles on the configuration-search metrics. */
export interface ConfigSearchMetrics {
  /** `benchfarm_run_config_info{config, provider, provider_options, ...} 1`: the settings of a configuration id. */
  readonly info: Gauge<InfoLabel>;
  /** `benchfarm_config_best_ratio{model,variant,device,provider,config}`: best / defaults (below 1: faster than onnxruntime's defaults). */
  readonly ratio: Gauge<BestLabel>;
  /** `benchfarm_config_best_ratio_ci_low` / `_ci_high`: the ratio's bootstrap 95% CI over the confirmation rounds; absent below 2 rounds. */
  readonly ratioCiLow: Gauge<BestLabel>;
  readonly ratioCiHigh: Gauge<BestLabel>;
  /** `benchfarm_config_best_p50_seconds{...,config}`: the best configuration's median in the confirmation rounds. */
  readonly bestP50Seconds: Gauge<BestLabel>;
}

/** Registers the configuration-search metrics on `registry` (or returns those already there). */
export function createConfigSearchMetrics(registry: Registry): ConfigSearchMetrics {
  const best = [...SERIES_LABEL_NAMES, 'config'] as const;
  return {
    info: registeredGauge(
      registry,
      'benchfarm_run_config_info',
      'The settings of a run configuration id (always 1): execution provider with its options, intra/inter-op threads (0 = onnxruntime default), execution mode, graph optimization level, batch size (0 = the model\'s), concurrency (0 = 1). One series per id a current best configuration or its baseline names; join on config.',
      RUN_CONFIG_INFO_LABELS,
    ),
    ratio: registeredGauge(
      registry,
      'benchfarm_config_best_ratio',
      "Latest configuration search: the best configuration of a variant on a device against onnxruntime's defaults, confirmed in interleaved rounds (best / defaults of p50 latency, or of time per sample for the throughput objective; below 1 is faster). provider is the best configuration's; its settings are in benchfarm_run_config_info{config=...}.",
      best,
    ),
    ratioCiLow: registeredGauge(registry, 'benchfarm_config_best_ratio_ci_low', 'Lower bound of the bootstrap 95% confidence interval (over confirmation rounds) of benchfarm_config_best_ratio; absent below 2 rounds.', best),
    ratioCiHigh: registeredGauge(registry, 'benchfarm_config_best_ratio_ci_high', 'Upper bound of the bootstrap 95% confidence interval (over confirmation rounds) of benchfarm_config_best_ratio; absent below 2 rounds.', best),
    bestP50Seconds: registeredGauge(registry, 'benchfarm_config_best_p50_seconds', 'Median latency of the best configuration of a variant on a device in the confirmation rounds of its latest configuration search, in seconds.', best),
  };
}

/** The info labels of a configuration. */
export function runConfigInfoLabels(config: RunConfig): Record<InfoLabel, string> {
  const options = Object.keys(config.providerOptions)
    .sort()
    .map((k) => `${k}=${config.providerOptions[k]}`)
    .join(',');
  return {
    config: boundedLabelValue(config.id),
    provider: boundedLabelValue(config.executionProvider),
    provider_options: options === '' ? 'none' : boundedLabelValue(options),
    intra_op_threads: String(config.intraOpThreads),
    inter_op_threads: String(config.interOpThreads),
    execution_mode: boundedLabelValue(config.executionMode),
    graph_optimization_level: boundedLabelValue(config.graphOptimizationLevel),
    batch_size: String(config.batchSize),
    concurrency: String(config.concurrency),
  };
}

/**
 * Keeps the best-configuration gauges: one best per (model, variant, device), replaced (old
 * labels removed) by a newer search of the same series, and one info series per configuration
 * id a current best names (its own and its baseline's), removed once no best names it.
 */
export class ConfigSearchGauges {
  /** (model, variant, device) -> the labels its best was set with. */
  private readonly bests = new Map<string, Record<BestLabel, string>>();
  /** (model, variant, device) -> the config ids it names (best and baseline). */
  private readonly named = new Map<string, string[]>();
  /** config id -> its info labels, while some best names it. */
  private readonly infos = new Map<string, Record<InfoLabel, string>>();

  constructor(private readonly metrics: ConfigSearchMetrics) {}

  /**
   * Sets the gauges from a device's search report. A variant whose best is missing, names a
   * configuration the report does not list, or has no finite ratio, loses its old gauges
   * (no stale best stands for the new search). Variants the report does not cover keep theirs.
   */
  record(series: { model: string; device: string }, search: ConfigSearchResult | undefined): void {
    if (!search) return;
    const configs = new Map(search.configs.map((c) => [c.id, c]));
    const variants = new Set([...search.points.map((p) => p.variant), ...search.best.map((b) => b.variant)]);
    for (const variant of variants) {
      const key = JSON.stringify([series.model, variant, series.device]);
      this.remove(key);
      const best = search.best.find((b) => b.variant === variant);
      const config = best ? configs.get(best.configId) : undefined;
      if (!best || !config || !Number.isFinite(best.ratioToBaseline)) continue;
      const labels: Record<BestLabel, string> = { ...boundedSeries({ model: series.model, variant, device: series.device, provider: config.executionProvider }), config: boundedLabelValue(config.id) };
      this.metrics.ratio.set(labels, best.ratioToBaseline);
      if (best.ratioCi && Number.isFinite(best.ratioCi.low) && Number.isFinite(best.ratioCi.high)) {
        this.metrics.ratioCiLow.set(labels, best.ratioCi.low);
        this.metrics.ratioCiHigh.set(labels, best.ratioCi.high);
      }
      if (Number.isFinite(best.bestMedianMs) && best.bestMedianMs > 0) this.metrics.bestP50Seconds.set(labels, best.bestMedianMs / 1000);
      this.bests.set(key, labels);
      const ids = [config.id];
      const baseline = configs.get(best.baselineConfigId);
      if (baseline && baseline.id !== config.id) ids.push(baseline.id);
      this.named.set(key, ids);
      for (const id of ids) {
        const c = configs.get(id) as RunConfig;
        if (this.infos.has(id)) continue;
        const info = runConfigInfoLabels(c);
        this.metrics.info.set(info, 1);
        this.infos.set(id, info);
      }
    }
  }

  private remove(key: string): void {
    const labels = this.bests.get(key);
    if (labels) {
      for (const g of [this.metrics.ratio, this.metrics.ratioCiLow, this.metrics.ratioCiHigh, this.metrics.bestP50Seconds]) g.remove(labels);
      this.bests.delete(key);
    }
    const ids = this.named.get(key) ?? [];
    this.named.delete(key);
    const stillNamed = new Set([...this.named.values()].flat());
    for (const id of ids) {
      if (stillNamed.has(id)) continue;
      const info = this.infos.get(id);
      if (info) this.metrics.info.remove(info);
      this.infos.delete(id);
    }
  }
}
