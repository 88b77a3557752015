import { Inject, Injectable } from '@nestjs/common';
import type { SeriesLabels } from '@benchfarm/metrics';
import type { ConfigSearchResult } from '@benchfarm/protocol';
import { reportsOfJobs } from '../storage/result-reports';
import { decodeSamples } from '../storage/samples-codec';
import { jobKindConditions, jsonText, type JobKindConditions } from '../storage/sql-dialect';
import { SQL_DATABASE } from '../storage/storage.tokens';
import type { SqlDatabase } from '../storage/sql';

/** One stored result of a series, with its raw latencies. */
export interface SeriesResultSamples {
  resultId: string;
  committedAtMs: number;
  latencyMs: number[];
}

/** Reads the history of a benchmark series (model x variant x device x provider) for the regression gauges. */
export abstract class SeriesHistoryRepository {
  /**
   * The series' latest result and the most recent earlier one measured the same way (same
   * scenario, batch and threads), newest first, with their samples; fewer when there are
   * none. Interleaved comparison and configuration-search jobs are left out: their result is
   * filed under the first variant but measures every variant in one process.
   */
  abstract latestTwo(series: SeriesLabels): Promise<SeriesResultSamples[]>;
  /** Every series with the commit time of its latest result (configuration-search jobs left out: they are no series' result). */
  abstract lastResultTimes(): Promise<Array<{ series: SeriesLabels; lastResultMs: number }>>;
  /** The stored reports of configuration-search jobs, oldest first, with their model and device: what the best-configuration gauges are rebuilt from. */
  abstract configSearchReports(): Promise<Array<{ model: string; device: string; report: ConfigSearchResult }>>;
}

/** {@link SeriesHistoryRepository} on a {@link SqlDatabase} (read-only). */
@Injectable()
export class SqlSeriesHistoryRepository extends SeriesHistoryRepository {
  private readonly jobKind: JobKindConditions;
  /** How a result was measured (scenario/batch/threads); NULL when the settings lack one of them. */
  private readonly method: string;

  constructor(@Inject(SQL_DATABASE) private readonly db: SqlDatabase) {
    super();
    this.jobKind = jobKindConditions(db.dialect);
    const field = (key: string): string => jsonText(db.dialect, 's.settings_json', key);
    this.method = `${field('scenario')} || '/' || ${field('batch')} || '/' || ${field('intraOpThreads')}`;
  }

  latestTwo(series: SeriesLabels): Promise<SeriesResultSamples[]> {
    return this.db.transaction(async (tx) => {
      // How a result was measured; results measured differently are not compared.
      const rows = await tx.all<{ id: string; committed_at_ms: number; method: string | null }>(
        `SELECT r.id, r.committed_at_ms, ${this.method} AS method
         FROM results r
         JOIN jobs j ON j.id = r.job_id
         JOIN sweeps s ON s.id = j.sweep_id
         WHERE s.model_name = @model AND j.variant = @variant AND j.agent_name = @device AND r.provider = @provider
           AND NOT ${this.jobKind.isComparison}
           AND NOT ${this.jobKind.isConfigSearch}
         ORDER BY r.committed_at_ms DESC, r.commit_seq DESC
         LIMIT 50`,
        { model: series.model, variant: series.variant, device: series.device, provider: series.provider },
      );
      const [latest, ...earlier] = rows;
      if (!latest) return [];
      const previous = earlier.find((r) => r.method === latest.method);
      const found: SeriesResultSamples[] = [];
      for (const r of [latest, ...(previous ? [previous] : [])]) {
        const blob = await tx.get<{ latency_ms_f64le: Buffer }>('SELECT latency_ms_f64le FROM result_samples WHERE result_id = ?', [r.id]);
        if (blob) found.push({ resultId: r.id, committedAtMs: r.committed_at_ms, latencyMs: decodeSamples(blob.latency_ms_f64le) });
      }
      return found;
    });
  }

  async lastResultTimes(): Promise<Array<{ series: SeriesLabels; lastResultMs: number }>> {
    const rows = await this.db.all<{ model_name: string; variant: string; agent_name: string; provider: string; last_ms: number }>(
      `SELECT s.model_name, j.variant, j.agent_name, r.provider, MAX(r.committed_at_ms) AS last_ms
       FROM results r
       JOIN jobs j ON j.id = r.job_id
       JOIN sweeps s ON s.id = j.sweep_id
       WHERE NOT ${this.jobKind.isConfigSearch}
       GROUP BY s.model_name, j.variant, j.agent_name, r.provider`,
    );
    return rows.map((r) => ({ series: { model: r.model_name, variant: r.variant, device: r.agent_name, provider: r.provider }, lastResultMs: r.last_ms }));
  }

  async configSearchReports(): Promise<Array<{ model: string; device: string; report: ConfigSearchResult }>> {
    const stored = await reportsOfJobs(this.db, this.jobKind.isConfigSearch);
    return stored.flatMap(({ model, device, report }) => (report.configSearch ? [{ model, device, report: report.configSearch }] : []));
  }
}
