import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { boundedLabelValue, countUpload, recordResult, setAgentCounts, setJobCounts, type FarmMetrics, type SeriesLabels, type UploadOutcomeLabel } from '@benchfarm/metrics';
import type { Summary } from '@benchfarm/protocol';
import { AgentsService } from '../agents/agents.service';
import { errorMessage } from '../common/domain-error';
import { ResultRepository } from '../storage/result.repository';
import { SweepRepository } from '../storage/sweep.repository';

/** Injection token of the coordinator's {@link FarmMetrics} (on its own registry). */
export const FARM_METRICS = Symbol('FARM_METRICS');

/** Keeps the coordinator's Prometheus metrics and renders them for a scrape. */
@Injectable()
export class MetricsService implements OnApplicationBootstrap {
  private readonly log = new Logger('MetricsService');

  constructor(
    @Inject(FARM_METRICS) private readonly metrics: FarmMetrics,
    @Inject(SweepRepository) private readonly sweeps: SweepRepository,
    @Inject(ResultRepository) private readonly results: ResultRepository,
    @Inject(AgentsService) private readonly agents: AgentsService,
  ) {}

  /** Rebuilds the series gauges from the stored results, so a restart does not empty the dashboards. */
  onApplicationBootstrap(): void {
    const stored = this.results.resultsForMetrics();
    for (const result of stored) recordResult(this.metrics, result.series, result);
    if (stored.length > 0) this.log.log(`metrics rebuilt from ${stored.length} stored result(s)`);
  }

  /** Sets the model size gauge of a variant (known as soon as the variant is stored). */
  recordVariantSize(model: string, variant: string, sizeBytes: number): void {
    this.metrics.modelSizeBytes.set({ model: boundedLabelValue(model), variant: boundedLabelValue(variant) }, sizeBytes);
  }

  /** Sets the series gauges from a committed result. */
  recordCommitted(series: SeriesLabels, summary: Summary, modelSizeBytes: number): void {
    recordResult(this.metrics, series, {
      percentiles: summary.percentiles,
      throughputQps: summary.throughputQps,
      peakRssBytes: summary.peakRssBytes,
      modelSizeBytes,
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
    setJobCounts(this.metrics, this.sweeps.countJobsByState());
    try {
      setAgentCounts(this.metrics, await this.agents.countByState());
    } catch (err) {
      this.log.warn(`agent gauge not refreshed: ${errorMessage(err)}`);
    }
    return { contentType: this.metrics.registry.contentType, text: await this.metrics.registry.metrics() };
  }
}

