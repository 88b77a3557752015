import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { boundedLabelValue, countUpload, recordResult, setAgentCounts, setJobCounts, type FarmMetrics, type SeriesLabels, type UploadOutcomeLabel } from '@benchfarm/metrics';
import { compareLatencies } from '@benchfarm/numerics';
import { createInsightMetrics, recordRegression, recordResultTime, retireSeries, seriesToRetire, type InsightMetrics } from '@benchfarm/metrics';
import { createPowerMetrics, recordPowerResult, type PowerDomainLabel, type PowerMetrics } from '@benchfarm/metrics';
import { createAccuracyMetrics, createFidelityMetrics, recordAccuracy, recordFidelity, removeAccuracy, removeFidelity, type AccuracyMetrics, type FidelityMetrics } from '@benchfarm/metrics';
import type { Comparison, ConfigSearchResult, EvaluationResult } from '@benchfarm/protocol';
import { ConfigSearchGauges, createConfigSearchMetrics } from './config-search.metrics';
import type { Summary } from '@benchfarm/protocol';
import { powerDomainName } from '../storage/result-sensors';
import { AgentsService } from '../agents/agents.service';
import { Clock } from '../common/clock';
import { errorMessage } from '../common/domain-error';
import { ResultRepository } from '../storage/result.repository';
import { SweepRepository } from '../storage/sweep.repository';
import { SeriesHistoryRepository } from './series-history.repository';

/** Injection token of the coordinator's {@link FarmMetrics} (on its own registry). */
export const FARM_METRICS = Symbol('FARM_METRICS');

/**
 * A series whose latest result is older than this is removed from `/metrics` (30 days): a
 * retired device or variant must not keep showing its last figures as if they were current.
 */
export const SERIES_RETENTION_MS = 30 * 24 * 3600 * 1000;

function seriesKey(series: SeriesLabels): string {
  return JSON.stringify([series.model, series.variant, series.device, series.provider]);
}

/** Keeps the coordinator's Prometheus metrics and renders them for a scrape. */
@Injectable()
export class MetricsService implements OnApplicationBootstrap {
  private readonly log = new Logger('MetricsService');
  private powerMetrics: PowerMetrics | undefined;
  private fidelityMetrics: FidelityMetrics | undefined;
  private accuracyMetrics: AccuracyMetrics | undefined;
  private configSearchGauges: ConfigSearchGauges | undefined;
  private readonly insight: InsightMetrics;
  /** Series already retired, so a scrape does not retire (and count) them again. */
  private readonly retired = new Set<string>();
  /**
   * Series whose regression verdict is to be refreshed, keyed by series: checks run one after the
   * other off the upload path (an upload's ack does not wait for one), and many commits to one
   * series before its check runs need one check, since it reads the series' newest two results.
   */
  private readonly regressionPending = new Map<string, SeriesLabels>();
  /** The loop running the pending checks, while there are any. */
  private regressionDrain: Promise<void> | undefined;

  constructor(
    @Inject(FARM_METRICS) private readonly metrics: FarmMetrics,
    @Inject(SweepRepository) private readonly sweeps: SweepRepository,
    @Inject(ResultRepository) private readonly results: ResultRepository,
    @Inject(AgentsService) private readonly agents: AgentsService,
    @Inject(SeriesHistoryRepository) private readonly history: SeriesHistoryRepository,
    @Inject(Clock) private readonly clock: Clock,
  ) {
    this.insight = createInsightMetrics(metrics.registry);
  }

  /** Rebuilds the series gauges from the stored results, so a restart does not empty the dashboards. */
  async onApplicationBootstrap(): Promise<void> {
    const stored = await this.results.resultsForMetrics();
    for (const result of stored) recordResult(this.metrics, result.series, result);
    if (stored.length > 0) this.log.log(`metrics rebuilt from ${stored.length} stored result(s)`);
    for (const { series, report } of await this.results.comparisonReportsForMetrics()) this.recordComparison(series, report.comparison, report.evaluation);
    for (const { model, device, report } of await this.history.configSearchReports()) this.recordConfigSearch({ model, device }, report);
    for (const { series, lastResultMs } of await this.history.lastResultTimes()) {
      recordResultTime(this.insight, series, lastResultMs);
      this.refreshRegression(series);
    }
    await this.regressionsSettled();
  }

  /** Sets the model size gauge of a variant (known as soon as the variant is stored). */
  recordVariantSize(model: string, variant: string, sizeBytes: number): void {
    this.metrics.modelSizeBytes.set({ model: boundedLabelValue(model), variant: boundedLabelValue(variant) }, sizeBytes);
  }

  /**
   * Sets the series gauges from a committed result and asks for the series' regression check,
   * which runs after (see {@link regressionsSettled}); a scrape waits for it.
   */
  recordCommitted(series: SeriesLabels, summary: Summary, modelSizeBytes: number): void {
    recordResult(this.metrics, series, {
      percentiles: summary.percentiles,
      throughputQps: summary.throughputQps,
      peakRssBytes: summary.peakRssBytes,
      modelSizeBytes,
    });
    this.recordPower(series, summary);
    this.retired.delete(seriesKey(series));
    recordResultTime(this.insight, series, this.clock.nowMs());
    this.refreshRegression(series);
  }

  /** Resolves once every regression check asked for so far has run (never rejects). */
  async regressionsSettled(): Promise<void> {
    while (this.regressionDrain) await this.regressionDrain;
  }

  /**
   * Sets the fidelity and accuracy gauges from an interleaved comparison job:
   * each variant's outputs against the reference's, on the device with its own provider. With
   * an evaluation on real images, fidelity is labelled inputs="real_images" and the task metrics
   * go to benchfarm_accuracy; without one, only the random-input fidelity is set (labelled so),
   * and any accuracy of an older comparison is removed rather than shown as current. Its latency
   * figures stay out of the per-variant series (they ran interleaved, not as that variant's job).
   */
  recordComparison(series: Omit<SeriesLabels, 'variant'>, comparison: Comparison | undefined, evaluation?: EvaluationResult): void {
    this.fidelityMetrics ??= createFidelityMetrics(this.metrics.registry);
    this.accuracyMetrics ??= createAccuracyMetrics(this.metrics.registry);
    const fidelity = this.fidelityMetrics;
    const accuracy = this.accuracyMetrics;
    if (evaluation) {
      for (const v of evaluation.variants) {
        const labels = { ...series, variant: v.variant };
        if (v.error) {
          removeAccuracy(accuracy, labels);
          removeFidelity(fidelity, labels);
          continue;
        }
        recordAccuracy(accuracy, labels, v.metrics.map((m) => ({ metric: m.metric, value: m.value, images: m.images, ci: m.ci })));
        recordFidelity(fidelity, labels, v.fidelity.map((f) => ({ cosine: f.cosine, snrDb: f.snrDb, maxAbsError: f.maxAbsError, images: f.images })), v.reference, 'real_images');
      }
      return;
    }
    if (!comparison) return;
    const measured = comparison.variants.some((v) => v.fidelity.length > 0);
    for (const variant of comparison.variants) {
      const labels = { ...series, variant: variant.variant };
      removeAccuracy(accuracy, labels);
      // Without any fidelity figure in the comparison, not even the reference gets a value.
      if (!measured) {
        removeFidelity(fidelity, labels);
        continue;
      }
      recordFidelity(fidelity, labels, variant.fidelity.map((f) => ({ cosine: f.cosine, snrDb: f.snrDb, maxAbsError: f.maxAbsError, images: 0 })), variant.reference, 'random_inputs');
    }
  }

  /**
   * Sets the best-configuration gauges from a device's configuration-search job: per variant,
   * the best configuration's ratio to onnxruntime's defaults with its CI and its p50, labelled
   * with the configuration's id, and one info series per id with its settings. The job's own
   * summary stays out of the per-variant series (it measured many settings, not one run).
   */
  recordConfigSearch(series: { model: string; device: string }, search: ConfigSearchResult | undefined): void {
    this.configSearchGauges ??= new ConfigSearchGauges(createConfigSearchMetrics(this.metrics.registry));
    this.configSearchGauges.record(series, search);
  }

  /**
   * Compares the series' latest result with its previous one on the raw samples and sets the
   * regression gauges. Runs after the commit, so it must never fail the upload: a failure
   * removes the gauges (no stale verdict) and is logged.
   */
  private refreshRegression(series: SeriesLabels): void {
    this.regressionPending.set(seriesKey(series), series);
    this.regressionDrain ??= this.drainRegressions();
  }

  /** Runs the pending checks one at a time until none is left; clears itself in the same turn as its last look. */
  private async drainRegressions(): Promise<void> {
    for (let next = this.regressionPending.entries().next(); !next.done; next = this.regressionPending.entries().next()) {
      const [key, series] = next.value;
      this.regressionPending.delete(key);
      try {
        const [latest, previous] = await this.history.latestTwo(series);
        recordRegression(this.insight, series, latest && previous ? compareLatencies(previous.latencyMs, latest.latencyMs) : undefined);
      } catch (err) {
        recordRegression(this.insight, series, undefined);
        this.log.warn(`regression check of ${key} failed: ${errorMessage(err)}`);
      }
    }
    this.regressionDrain = undefined;
  }

  /** Removes the series whose latest result is older than {@link SERIES_RETENTION_MS}. */
  private async retireOldSeries(): Promise<void> {
    const all = await this.history.lastResultTimes();
    for (const { series, lastOfVariant } of seriesToRetire(all, this.clock.nowMs(), SERIES_RETENTION_MS)) {
      const key = seriesKey(series);
      if (this.retired.has(key)) continue;
      retireSeries(this.metrics, this.insight, series, lastOfVariant);
      // The comparison job's figures of the series go with it.
      if (this.accuracyMetrics) removeAccuracy(this.accuracyMetrics, series);
      if (this.fidelityMetrics) removeFidelity(this.fidelityMetrics, series);
      this.retired.add(key);
    }
  }

  /** Power, energy per inference and throttling of a committed result (device reach); unmeasured ones are removed. */
  private recordPower(series: SeriesLabels, summary: Summary): void {
    this.powerMetrics ??= createPowerMetrics(this.metrics.registry);
    const p = summary.power;
    recordPowerResult(this.powerMetrics, series, {
      domain: p?.sensor ? (powerDomainName(p.sensor.domain) as PowerDomainLabel) : undefined,
      averagePowerWatts: p?.averagePowerWatts,
      idlePowerWatts: p?.idlePowerWatts,
      energyPerInferenceJoules: p?.energyPerInferenceJoules,
      energyPerInferenceAboveIdleJoules: p?.energyPerInferenceAboveIdleJoules,
      throttled: summary.thermal?.throttled,
    });
  }

  /** Counts one result upload by outcome. */
  countUpload(outcome: UploadOutcomeLabel): void {
    countUpload(this.metrics, outcome);
  }

  /**
   * Refreshes the job and agent gauges from the store and the registry, then renders every
   * metric in the Prometheus text format. When the registry cannot be read, the agent gauge
   * keeps its previous values (and a warning is logged) rather than failing the scrape.
   */
  async render(): Promise<{ contentType: string; text: string }> {
    // The verdicts of every result committed before the scrape, as when the upload waited for them.
    await this.regressionsSettled();
    setJobCounts(this.metrics, await this.sweeps.countJobsByState());
    await this.retireOldSeries();
    try {
      setAgentCounts(this.metrics, await this.agents.countByState());
    } catch (err) {
      this.log.warn(`agent gauge not refreshed: ${errorMessage(err)}`);
    }
    return { contentType: this.metrics.registry.contentType, text: await this.metrics.registry.metrics() };
  }
}

