import { Inject, Injectable } from '@nestjs/common';
import type { SeriesLabels } from '@benchfarm/metrics';
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
  /** The latest two results of the series, newest first, with their samples (fewer when the series has fewer). */
  abstract latestTwo(series: SeriesLabels): SeriesResultSamples[];
  /** Every series with the commit time of its latest result. */
  abstract lastResultTimes(): Array<{ series: SeriesLabels; lastResultMs: number }>;
}

/** {@link SeriesHistoryRepository} on the coordinator's SQLite store (read-only). */
@Injectable()
export class SqliteSeriesHistoryRepository extends SeriesHistoryRepository {
  constructor(@Inject(SQLITE_DATABASE) private readonly db: SqliteDatabase) {
    super();
  }

  latestTwo(series: SeriesLabels): SeriesResultSamples[] {
    const rows = this.db
      .prepare(
        `SELECT r.id, r.committed_at_ms, rs.latency_ms_f64le
         FROM results r
         JOIN jobs j ON j.id = r.job_id
         JOIN sweeps s ON s.id = j.sweep_id
         JOIN result_samples rs ON rs.result_id = r.id
         WHERE s.model_name = @model AND j.variant = @variant AND j.agent_name = @device AND r.provider = @provider
         ORDER BY r.committed_at_ms DESC, r.rowid DESC
         LIMIT 2`,
      )
      .all(series) as Array<{ id: string; committed_at_ms: number; latency_ms_f64le: Buffer }>;
    return rows.map((r) => ({ resultId: r.id, committedAtMs: r.committed_at_ms, latencyMs: decodeSamples(r.latency_ms_f64le) }));
  }

  lastResultTimes(): Array<{ series: SeriesLabels; lastResultMs: number }> {
    const rows = this.db
      .prepare(
        `SELECT s.model_name, j.variant, j.agent_name, r.provider, MAX(r.committed_at_ms) AS last_ms
         FROM results r
         JOIN jobs j ON j.id = r.job_id
         JOIN sweeps s ON s.id = j.sweep_id
         GROUP BY s.model_name, j.variant, j.agent_name, r.provider`,
      )
      .all() as Array<{ model_name: string; variant: string; agent_name: string; provider: string; last_ms: number }>;
    return rows.map((r) => ({ series: { model: r.model_name, variant: r.variant, device: r.agent_name, provider: r.provider }, lastResultMs: r.last_ms }));
  }
}
