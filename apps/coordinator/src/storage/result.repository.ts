import { Inject, Injectable } from '@nestjs/common';
import { PercentileStatus, type SuiteReport } from '@benchfarm/protocol';
import { SQLITE_DATABASE } from './storage.tokens';
import { INSERT_RESULT_SENSORS, resultSensorsRow } from './result-sensors';
import { INSERT_RESULT_REPORT, resultReportRow } from './result-reports';
import { decodeSamples, encodeSamples } from './samples-codec';
import { deriveSweepState } from './sweep-state';
import { jobFromRow, type JobRow } from './sweep.repository';
import type { SqliteDatabase } from './database';
import type { AttemptError, AttemptErrorOutcome, CommitOutcome, JobContext, JobState, NewResult, PercentileRecord, SeriesResult } from './records';

/** Stores job attempts and results; every write also brings the sweep's state up to date. */
export abstract class ResultRepository {
  /** The job with its sweep's model name and its variant's size, or undefined when there is no such job. */
  abstract getJobContext(jobId: string): JobContext | undefined;
  /**
   * Records that an attempt started and marks the job running, unless the job is already
   * done or failed, or a later attempt has started. Returns whether the job is running now.
   */
  abstract markJobRunning(input: { jobId: string; attempt: number; uploadId: string; agentId: string; startedAtMs: number; nowMs: number }): boolean;
  /**
   * Stores a job's result and raw samples, marks the job done and updates the sweep, in one
   * transaction; a job that already has a result is left as it is (`duplicate`).
   */
  abstract commitResult(result: NewResult): CommitOutcome;
  /** Records an attempt's error; the job is failed when the error is final, else queued for redelivery. */
  abstract recordAttemptError(error: AttemptError): AttemptErrorOutcome;
  /** The raw latencies of the job's result, or undefined when it has none. */
  abstract getSamples(jobId: string): number[] | undefined;
  /** The upload id of the job's stored result, or undefined when it has none. */
  abstract resultUploadId(jobId: string): string | undefined;
  /** Every stored result as metric input, oldest commit first (so the last of a series is its latest). */
  abstract resultsForMetrics(): SeriesResult[];
  /**
   * The stored suite reports of interleaved comparison jobs (fidelity, accuracy on real images),
   * oldest commit first, so a restarted coordinator shows the same accuracy gauges.
   */
  abstract comparisonReportsForMetrics(): Array<{ series: Omit<SeriesResult['series'], 'variant'>; report: SuiteReport }>;
}

function percentileStatus(status: PercentileStatus): PercentileRecord['status'] {
  switch (status) {
    case PercentileStatus.PERCENTILE_STATUS_OK:
      return 'ok';
    case PercentileStatus.PERCENTILE_STATUS_INSUFFICIENT_SAMPLES:
      return 'insufficient_samples';
    default:
      return 'unspecified';
  }
}

/** {@link ResultRepository} on SQLite. */
@Injectable()
export class SqliteResultRepository extends ResultRepository {
  constructor(@Inject(SQLITE_DATABASE) private readonly db: SqliteDatabase) {
    super();
  }

  getJobContext(jobId: string): JobContext | undefined {
    const row = this.db
      .prepare(
        `SELECT j.*, s.model_name, v.size_bytes AS variant_size_bytes, v.sha256 AS variant_sha256,
                EXISTS (SELECT 1 FROM results r WHERE r.job_id = j.id) AS has_result,
                EXISTS (SELECT 1 FROM json_each(s.settings_json, '$.comparisonJobs') c WHERE json_extract(c.value, '$.jobId') = j.id) AS is_comparison,
                EXISTS (SELECT 1 FROM json_each(s.settings_json, '$.configSearch.devices') d WHERE json_extract(d.value, '$.jobId') = j.id) AS is_config_search
         FROM jobs j
         JOIN sweeps s ON s.id = j.sweep_id
         JOIN variants v ON v.sweep_id = j.sweep_id AND v.name = j.variant
         WHERE j.id = ?`,
      )
      .get(jobId) as (JobRow & { model_name: string; variant_size_bytes: number; variant_sha256: string; has_result: number; is_comparison: number; is_config_search: number }) | undefined;
    if (!row) return undefined;
    return {
      ...jobFromRow(row),
      modelName: row.model_name,
      variantSizeBytes: row.variant_size_bytes,
      variantSha256: row.variant_sha256,
      hasResult: row.has_result === 1,
      isComparison: row.is_comparison === 1,
      isConfigSearch: row.is_config_search === 1,
    };
  }

  markJobRunning(input: { jobId: string; attempt: number; uploadId: string; agentId: string; startedAtMs: number; nowMs: number }): boolean {
    return this.db.transaction(() => {
      this.upsertAttempt(input.jobId, input.attempt, input.agentId, input.uploadId, input.nowMs, input.startedAtMs);
      const changed = this.db
        .prepare(
          `UPDATE jobs SET state = 'running', attempts = MAX(attempts, @attempt), updated_at_ms = @nowMs
           WHERE id = @jobId AND state IN ('queued', 'running') AND attempts <= @attempt
             AND NOT EXISTS (SELECT 1 FROM results r WHERE r.job_id = @jobId)`,
        )
        .run({ jobId: input.jobId, attempt: input.attempt, nowMs: input.nowMs });
      return changed.changes > 0;
    })();
  }

  commitResult(result: NewResult): CommitOutcome {
    const { summary } = result;
    return this.db.transaction((): CommitOutcome => {
      const existing = this.db.prepare('SELECT id FROM results WHERE job_id = ?').get(result.jobId) as { id: string } | undefined;
      if (existing) return { outcome: 'duplicate', resultId: existing.id };
      const job = this.db.prepare('SELECT sweep_id, execution_provider FROM jobs WHERE id = ?').get(result.jobId) as { sweep_id: string; execution_provider: string } | undefined;
      if (!job) throw new Error(`job ${result.jobId} does not exist`);
      const percentiles: PercentileRecord[] = summary.percentiles.map((p) => ({
        quantile: p.quantile,
        ...(p.valueMs === undefined ? {} : { valueMs: p.valueMs }),
        status: percentileStatus(p.status),
        minSamples: p.minSamples,
      }));
      const inserted = this.db
        .prepare(
          `INSERT INTO results (id, job_id, attempt, upload_id, count, mean_ms, std_ms, min_ms, max_ms, percentiles_json, throughput_qps,
                                measured_duration_ms, warmup_queries, warmup_duration_ms, session_creation_ms, first_inference_ms,
                                peak_rss_bytes, rss_before_session_bytes, rss_after_session_bytes, model_file_size_bytes, stop_reason,
                                provider, manifest_json, unmeasured_json, committed_at_ms)
           VALUES (@id, @jobId, @attempt, @uploadId, @count, @meanMs, @stdMs, @minMs, @maxMs, @percentilesJson, @throughputQps,
                   @measuredDurationMs, @warmupQueries, @warmupDurationMs, @sessionCreationMs, @firstInferenceMs,
                   @peakRssBytes, @rssBeforeSessionBytes, @rssAfterSessionBytes, @modelFileSizeBytes, @stopReason,
                   @provider, @manifestJson, @unmeasuredJson, @nowMs)
           ON CONFLICT (job_id) DO NOTHING`,
        )
        .run({
          id: result.resultId,
          jobId: result.jobId,
          attempt: result.attempt,
          uploadId: result.uploadId,
          count: summary.count,
          meanMs: summary.meanMs,
          stdMs: summary.stdMs,
          minMs: summary.minMs,
          maxMs: summary.maxMs,
          percentilesJson: JSON.stringify(percentiles),
          throughputQps: summary.throughputQps,
          measuredDurationMs: summary.measuredDurationMs,
          warmupQueries: summary.warmupQueries,
          warmupDurationMs: summary.warmupDurationMs,
          sessionCreationMs: summary.sessionCreationMs,
          firstInferenceMs: summary.firstInferenceMs,
          peakRssBytes: summary.peakRssBytes ?? null,
          rssBeforeSessionBytes: summary.rssBeforeSessionBytes ?? null,
          rssAfterSessionBytes: summary.rssAfterSessionBytes ?? null,
          modelFileSizeBytes: summary.modelFileSizeBytes,
          stopReason: summary.stopReason,
          provider: summary.manifest?.executionProvider || job.execution_provider,
          manifestJson: JSON.stringify(summary.manifest ?? {}),
          unmeasuredJson: JSON.stringify(summary.unmeasured.map((u) => ({ field: u.field, reason: u.reason }))),
          nowMs: result.nowMs,
        });
      if (inserted.changes === 0) {
        const winner = this.db.prepare('SELECT id FROM results WHERE job_id = ?').get(result.jobId) as { id: string };
        return { outcome: 'duplicate', resultId: winner.id };
      }
      this.db.prepare('INSERT INTO result_samples (result_id, count, latency_ms_f64le) VALUES (?, ?, ?)').run(result.resultId, result.latencyMs.length, encodeSamples(result.latencyMs));
      if (summary.power || summary.thermal || summary.externalRuntime) this.db.prepare(INSERT_RESULT_SENSORS).run(resultSensorsRow(result.resultId, summary));
      const reportRow = resultReportRow(result.resultId, summary);
      if (reportRow) this.db.prepare(INSERT_RESULT_REPORT).run(reportRow);
      this.upsertAttempt(result.jobId, result.attempt, result.agentId, result.uploadId, result.nowMs);
      this.db
        .prepare(`UPDATE jobs SET state = 'done', attempts = MAX(attempts, @attempt), error = NULL, updated_at_ms = @nowMs WHERE id = @jobId`)
        .run({ jobId: result.jobId, attempt: result.attempt, nowMs: result.nowMs });
      this.refreshSweepState(job.sweep_id, result.nowMs);
      return { outcome: 'committed', resultId: result.resultId };
    })();
  }

  recordAttemptError(error: AttemptError): AttemptErrorOutcome {
    return this.db.transaction((): AttemptErrorOutcome => {
      const job = this.db.prepare('SELECT sweep_id, state FROM jobs WHERE id = ?').get(error.jobId) as { sweep_id: string; state: JobState } | undefined;
      if (!job) throw new Error(`job ${error.jobId} does not exist`);
      this.upsertAttempt(error.jobId, error.attempt, error.agentId, error.uploadId, error.nowMs);
      this.db
        .prepare(`UPDATE job_attempts SET error_code = @code, error_message = @message, retryable = @retryable, updated_at_ms = @nowMs WHERE job_id = @jobId AND attempt = @attempt`)
        .run({ jobId: error.jobId, attempt: error.attempt, code: error.code, message: error.message, retryable: error.retryable ? 1 : 0, nowMs: error.nowMs });
      const hasResult = this.db.prepare('SELECT 1 FROM results WHERE job_id = ?').get(error.jobId) !== undefined;
      // A late error of an old attempt never undoes a result or a final failure.
      if (hasResult || job.state === 'done' || job.state === 'failed') {
        this.db.prepare('UPDATE jobs SET attempts = MAX(attempts, @attempt), updated_at_ms = @nowMs WHERE id = @jobId').run({ jobId: error.jobId, attempt: error.attempt, nowMs: error.nowMs });
        return { jobFinal: true, jobState: hasResult ? 'done' : job.state };
      }
      const jobState: JobState = error.final ? 'failed' : 'queued';
      this.db
        .prepare(`UPDATE jobs SET state = @state, error = @message, attempts = MAX(attempts, @attempt), updated_at_ms = @nowMs WHERE id = @jobId`)
        .run({ jobId: error.jobId, state: jobState, message: `${error.code}: ${error.message}`, attempt: error.attempt, nowMs: error.nowMs });
      this.refreshSweepState(job.sweep_id, error.nowMs);
      return { jobFinal: error.final, jobState };
    })();
  }

  resultUploadId(jobId: string): string | undefined {
    return (this.db.prepare('SELECT upload_id FROM results WHERE job_id = ?').get(jobId) as { upload_id: string } | undefined)?.upload_id;
  }

  getSamples(jobId: string): number[] | undefined {
    const row = this.db.prepare('SELECT s.latency_ms_f64le AS blob FROM results r JOIN result_samples s ON s.result_id = r.id WHERE r.job_id = ?').get(jobId) as { blob: Buffer } | undefined;
    return row ? decodeSamples(row.blob) : undefined;
  }

  resultsForMetrics(): SeriesResult[] {
    const rows = this.db
      .prepare(
        `SELECT s.model_name, j.variant, j.agent_name, r.provider, r.percentiles_json, r.throughput_qps, r.peak_rss_bytes,
                r.model_file_size_bytes, v.size_bytes AS variant_size_bytes
         FROM results r
         JOIN jobs j ON j.id = r.job_id
         JOIN sweeps s ON s.id = j.sweep_id
         JOIN variants v ON v.sweep_id = j.sweep_id AND v.name = j.variant
         WHERE NOT EXISTS (SELECT 1 FROM json_each(s.settings_json, '$.comparisonJobs') c WHERE json_extract(c.value, '$.jobId') = j.id)
           AND NOT EXISTS (SELECT 1 FROM json_each(s.settings_json, '$.configSearch.devices') d WHERE json_extract(d.value, '$.jobId') = j.id)
         ORDER BY r.committed_at_ms, r.rowid`,
      )
      .all() as Array<{ model_name: string; variant: string; agent_name: string; provider: string; percentiles_json: string; throughput_qps: number; peak_rss_bytes: number | null; model_file_size_bytes: number; variant_size_bytes: number }>;
    return rows.map((r) => ({
      series: { model: r.model_name, variant: r.variant, device: r.agent_name, provider: r.provider },
      percentiles: JSON.parse(r.percentiles_json) as PercentileRecord[],
      throughputQps: r.throughput_qps,
      ...(r.peak_rss_bytes === null ? {} : { peakRssBytes: r.peak_rss_bytes }),
      modelSizeBytes: r.model_file_size_bytes || r.variant_size_bytes,
    }));
  }

  comparisonReportsForMetrics(): Array<{ series: Omit<SeriesResult['series'], 'variant'>; report: SuiteReport }> {
    const rows = this.db
      .prepare(
        `SELECT s.model_name, j.agent_name, r.provider, rr.report_json
         FROM results r
         JOIN result_reports rr ON rr.result_id = r.id
         JOIN jobs j ON j.id = r.job_id
         JOIN sweeps s ON s.id = j.sweep_id
         WHERE EXISTS (SELECT 1 FROM json_each(s.settings_json, '$.comparisonJobs') c WHERE json_extract(c.value, '$.jobId') = j.id)
         ORDER BY r.committed_at_ms, r.rowid`,
      )
      .all() as Array<{ model_name: string; agent_name: string; provider: string; report_json: string }>;
    return rows.map((r) => ({ series: { model: r.model_name, device: r.agent_name, provider: r.provider }, report: JSON.parse(r.report_json) as SuiteReport }));
  }

  private upsertAttempt(jobId: string, attempt: number, agentId: string, uploadId: string, nowMs: number, startedAtMs: number | null = null): void {
    this.db
      .prepare(
        `INSERT INTO job_attempts (job_id, attempt, agent_id, upload_id, started_at_ms, updated_at_ms)
         VALUES (@jobId, @attempt, @agentId, @uploadId, @startedAtMs, @nowMs)
         ON CONFLICT (job_id, attempt) DO UPDATE SET upload_id = excluded.upload_id,
           started_at_ms = COALESCE(job_attempts.started_at_ms, excluded.started_at_ms), updated_at_ms = excluded.updated_at_ms`,
      )
      .run({ jobId, attempt, agentId, uploadId, startedAtMs, nowMs });
  }

  /** Sets the sweep's state from its jobs'; a sweep failed with its own error (publishing) stays failed. */
  private refreshSweepState(sweepId: string, nowMs: number): void {
    const states = (this.db.prepare('SELECT state FROM jobs WHERE sweep_id = ?').all(sweepId) as Array<{ state: JobState }>).map((r) => r.state);
    this.db
      .prepare(`UPDATE sweeps SET state = @state, updated_at_ms = @nowMs WHERE id = @sweepId AND error IS NULL AND state <> @state`)
      .run({ sweepId, state: deriveSweepState(states), nowMs });
  }
}
