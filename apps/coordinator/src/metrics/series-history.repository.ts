import { Inject, Injectable } from '@nestjs/common';
import type { SeriesLabels } from '@benchfarm/metrics';
import type { ConfigSearchResult, SuiteReport } from '@benchfarm/protocol';
import { decodeSamples } from '../storage/samples-codec';
import { SQLITE_DATABASE } from '../storage/storage.tokens';
import type { SqliteDatabase } from '../storage/database';

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
  abstract latestTwo(series: SeriesLabels): SeriesResultSamples[];
  /** Every series with the commit time of its latest result (configuration-search jobs left out: they are no series' result). */
  abstract lastResultTimes(): Array<{ series: SeriesLabels; lastResultMs: number }>;
  /** The stored reports of configuration-search jobs, oldest first, with their model and device: what the best-configuration gauges are rebuilt from. */
  abstract configSearchReports(): Array<{ model: string; device: string; report: ConfigSearchResult }>;
}

/** {@link SeriesHistoryRepository} on the coordinator's SQLite store (read-only). */
@Injectable()
export class SqliteSeriesHistoryRepository extends SeriesHistoryRepository {
  constructor(@Inject(SQLITE_DATABASE) private readonly db: SqliteDatabase) {
    super();
  }

  latestTwo(series: SeriesLabels): SeriesResultSamples[] {
    // How a result was measured; results measured differently are not compared.
    const rows = this.db
      .prepare(
        `SELECT r.id, r.committed_at_ms,
                json_extract(s.settings_json, '$.scenario') || '/' || json_extract(s.settings_json, '$.batch') || '/' ||
                json_extract(s.settings_json, '$.intraOpThreads') AS method
         FROM results r
         JOIN jobs j ON j.id = r.job_id
         JOIN sweeps s ON s.id = j.sweep_id
         WHERE s.model_name = @model AND j.variant = @variant AND j.agent_name = @device AND r.provider = @provider
           AND NOT EXISTS (SELECT 1 FROM json_each(s.settings_json, '$.comparisonJobs') c WHERE json_extract(c.value, '$.jobId') = j.id)
           AND NOT EXISTS (SELECT 1 FROM json_each(s.settings_json, '$.configSearch.devices') d WHERE json_extract(d.value, '$.jobId') = j.id)
         ORDER BY r.committed_at_ms DESC, r.rowid DESC
         LIMIT 50`,
      )
      .all(series) as Array<{ id: string; committed_at_ms: number; method: string | null }>;
    const [latest, ...earlier] = rows;
    if (!latest) return [];
    const previous = earlier.find((r) => r.method === latest.method);
    const samples = this.db.prepare('SELECT latency_ms_f64le FROM result_samples WHERE result_id = ?');
    return [latest, ...(previous ? [previous] : [])].flatMap((r) => {
      const blob = samples.get(r.id) as { latency_ms_f64le: Buffer } | undefined;
      return blob ? [{ resultId: r.id, committedAtMs: r.committed_at_ms, latencyMs: decodeSamples(blob.latency_ms_f64le) }] : [];
    });
  }

  lastResultTimes(): Array<{ series: SeriesLabels; lastResultMs: number }> {
    const rows = this.db
      .prepare(
        `SELECT s.model_name, j.variant, j.agent_name, r.provider, MAX(r.committed_at_ms) AS last_ms
         FROM results r
         JOIN jobs j ON j.id = r.job_id
         JOIN sweeps s ON s.id = j.sweep_id
         WHERE NOT EXISTS (SELECT 1 FROM json_each(s.settings_json, '$.configSearch.devices') d WHERE json_extract(d.value, '$.jobId') = j.id)
         GROUP BY s.model_name, j.variant, j.agent_name, r.provider`,
      )
      .all() as Array<{ model_name: string; variant: string; agent_name: string; provider: string; last_ms: number }>;
    return rows.map((r) => ({ series: { model: r.model_name, variant: r.variant, device: r.agent_name, provider: r.provider }, lastResultMs: r.last_ms }));
  }

  configSearchReports(): Array<{ model: string; device: string; report: ConfigSearchResult }> {
    const rows = this.db
      .prepare(
        `SELECT s.model_name, j.agent_name, rr.report_json
         FROM results r
         JOIN result_reports rr ON rr.result_id = r.id
         JOIN jobs j ON j.id = r.job_id
         JOIN sweeps s ON s.id = j.sweep_id
         WHERE EXISTS (SELECT 1 FROM json_each(s.settings_json, '$.configSearch.devices') d WHERE json_extract(d.value, '$.jobId') = j.id)
         ORDER BY r.committed_at_ms, r.rowid`,
      )
      .all() as Array<{ model_name: string; agent_name: string; report_json: string }>;
    return rows.flatMap((r) => {
      const search = (JSON.parse(r.report_json) as SuiteReport).configSearch;
      return search ? [{ model: r.model_name, device: r.agent_name, report: search }] : [];
    });
  }
}
