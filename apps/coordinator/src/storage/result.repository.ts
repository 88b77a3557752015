import { Inject, Injectable } from '@nestjs/common';
import { PercentileStatus, type SuiteReport } from '@benchfarm/protocol';
import { SQL_DATABASE } from './storage.tokens';
import { INSERT_RESULT_SENSORS, resultSensorsRow } from './result-sensors';
import { INSERT_RESULT_REPORT, reportsOfJobs, resultReportRow } from './result-reports';
import { decodeSamples, encodeSamples } from './samples-codec';
import { refreshSweepState } from './sweep-state';
import { jobFromRow, type JobRow } from './sweep.repository';
import { LeaseRefusedError, checkLeaseIn, releaseLeaseIn } from './lease.repository';
import { greatest, jobKindConditions, type JobKindConditions } from './sql-dialect';
import type { SqlDatabase, SqlExecutor } from './sql';
import type { AttemptError, AttemptErrorOutcome, CommitOutcome, JobContext, JobState, NewResult, PercentileRecord, SeriesResult } from './records';

/** Stores job attempts and results; every write also brings the sweep's state up to date. */
export abstract class ResultRepository {
  /** The job with its sweep's model name and its variant's size, or undefined when there is no such job. */
  abstract getJobContext(jobId: string): Promise<JobContext | undefined>;
  /**
   * Records that an attempt started and marks the job running, unless the job is already
   * done or failed, or a later attempt has started. Returns whether the job is running now.
   */
  abstract markJobRunning(input: { jobId: string; attempt: number; uploadId: string; agentId: string; startedAtMs: number; nowMs: number }): Promise<boolean>;
  /**
   * Stores a job's result and raw samples, marks the job done and updates the sweep, in one
   * transaction; a job that already has a result is left as it is (`duplicate`). With
   * `leaseToken`, the lease is checked and released in that transaction. Thrown:
   * {@link LeaseRefusedError} when the lease may not change the job (nothing written).
   */
  abstract commitResult(result: NewResult): Promise<CommitOutcome>;
  /**
   * Records an attempt's error; the job is failed when the error is final, else queued for
   * redelivery. Lease as in {@link commitResult}; thrown: {@link LeaseRefusedError}.
   */
  abstract recordAttemptError(error: AttemptError): Promise<AttemptErrorOutcome>;
  /** The raw latencies of the job's result, or undefined when it has none. */
  abstract getSamples(jobId: string): Promise<number[] | undefined>;
  /** The upload id of the job's stored result, or undefined when it has none. */
  abstract resultUploadId(jobId: string): Promise<string | undefined>;
  /** Every stored result as metric input, oldest commit first (so the last of a series is its latest). */
  abstract resultsForMetrics(): Promise<SeriesResult[]>;
  /**
   * The stored suite reports of interleaved comparison jobs (fidelity, accuracy on real images),
   * oldest commit first, so a restarted coordinator shows the same accuracy gauges.
   */
  abstract comparisonReportsForMetrics(): Promise<Array<{ series: Omit<SeriesResult['series'], 'variant'>; report: SuiteReport }>>;
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

/** Checks an upload's lease inside the writing transaction; see {@link NewResult.leaseToken}. */
async function requireLease(tx: SqlExecutor, jobId: string, leaseToken: string | undefined): Promise<void> {
  if (leaseToken === undefined) return;
  const check = await checkLeaseIn(tx, jobId, leaseToken);
  if (!check.ok) throw new LeaseRefusedError(check.reason);
}

/** {@link ResultRepository} on a {@link SqlDatabase} (SQLite or PostgreSQL). */
@Injectable()
export class SqlResultRepository extends ResultRepository {
  private readonly jobKind: JobKindConditions;

  constructor(@Inject(SQL_DATABASE) private readonly db: SqlDatabase) {
    super();
    this.jobKind = jobKindConditions(db.dialect);
  }

  async getJobContext(jobId: string): Promise<JobContext | undefined> {
    const row = await this.db.get<JobRow & { model_name: string; variant_size_bytes: number; variant_sha256: string; has_result: number; is_comparison: number; is_config_search: number }>(
      `SELECT j.*, s.model_name, v.size_bytes AS variant_size_bytes, v.sha256 AS variant_sha256,
              CASE WHEN EXISTS (SELECT 1 FROM results r WHERE r.job_id = j.id) THEN 1 ELSE 0 END AS has_result,
              CASE WHEN ${this.jobKind.isComparison} THEN 1 ELSE 0 END AS is_comparison,
              CASE WHEN ${this.jobKind.isConfigSearch} THEN 1 ELSE 0 END AS is_config_search
       FROM jobs j
       JOIN sweeps s ON s.id = j.sweep_id
       JOIN variants v ON v.sweep_id = j.sweep_id AND v.name = j.variant
       WHERE j.id = ?`,
      [jobId],
    );
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

  markJobRunning(input: { jobId: string; attempt: number; uploadId: string; agentId: string; startedAtMs: number; nowMs: number }): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      await this.upsertAttempt(tx, input.jobId, input.attempt, input.agentId, input.uploadId, input.nowMs, input.startedAtMs);
      const changed = await tx.run(
        `UPDATE jobs SET state = 'running', attempts = ${greatest(tx.dialect, 'attempts', '@attempt')}, updated_at_ms = @nowMs
         WHERE id = @jobId AND state IN ('queued', 'running') AND attempts <= @attempt
           AND NOT EXISTS (SELECT 1 FROM results r WHERE r.job_id = @jobId)`,
        { jobId: input.jobId, attempt: input.attempt, nowMs: input.nowMs },
      );
      return changed.changes > 0;
    });
  }

  commitResult(result: NewResult): Promise<CommitOutcome> {
    const { summary } = result;
    const percentiles: PercentileRecord[] = summary.percentiles.map((p) => ({
      quantile: p.quantile,
      ...(p.valueMs === undefined ? {} : { valueMs: p.valueMs }),
      status: percentileStatus(p.status),
      minSamples: p.minSamples,
    }));
    const samples = encodeSamples(result.latencyMs);
    const sensorsRow = summary.power || summary.thermal || summary.externalRuntime ? resultSensorsRow(result.resultId, summary) : undefined;
    const reportRow = resultReportRow(result.resultId, summary);
    return this.db.transaction(async (tx): Promise<CommitOutcome> => {
      await requireLease(tx, result.jobId, result.leaseToken);
      const outcome = await this.insertResult(tx, result, percentiles, samples, sensorsRow, reportRow);
      if (result.leaseToken) await releaseLeaseIn(tx, result.leaseToken, result.nowMs);
      return outcome;
    });
  }

  /** The writes of a commit, in the caller's transaction; a job that has a result already is left as it is. */
  private async insertResult(
    tx: SqlExecutor,
    result: NewResult,
    percentiles: PercentileRecord[],
    samples: Uint8Array,
    sensorsRow: Record<string, string | number | null> | undefined,
    reportRow: ReturnType<typeof resultReportRow>,
  ): Promise<CommitOutcome> {
    const { summary } = result;
    const existing = await tx.get<{ id: string }>('SELECT id FROM results WHERE job_id = ?', [result.jobId]);
    if (existing) return { outcome: 'duplicate', resultId: existing.id };
    const job = await tx.get<{ sweep_id: string; execution_provider: string }>('SELECT sweep_id, execution_provider FROM jobs WHERE id = ?', [result.jobId]);
    if (!job) throw new Error(`job ${result.jobId} does not exist`);
    const inserted = await tx.run(
      `INSERT INTO results (id, job_id, attempt, upload_id, count, mean_ms, std_ms, min_ms, max_ms, percentiles_json, throughput_qps,
                            measured_duration_ms, warmup_queries, warmup_duration_ms, session_creation_ms, first_inference_ms,
                            peak_rss_bytes, rss_before_session_bytes, rss_after_session_bytes, model_file_size_bytes, stop_reason,
                            provider, manifest_json, unmeasured_json, committed_at_ms)
       VALUES (@id, @jobId, @attempt, @uploadId, @count, @meanMs, @stdMs, @minMs, @maxMs, @percentilesJson, @throughputQps,
               @measuredDurationMs, @warmupQueries, @warmupDurationMs, @sessionCreationMs, @firstInferenceMs,
               @peakRssBytes, @rssBeforeSessionBytes, @rssAfterSessionBytes, @modelFileSizeBytes, @stopReason,
               @provider, @manifestJson, @unmeasuredJson, @nowMs)
       ON CONFLICT (job_id) DO NOTHING`,
      {
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
      },
    );
    if (inserted.changes === 0) {
      const winner = await tx.get<{ id: string }>('SELECT id FROM results WHERE job_id = ?', [result.jobId]);
      if (!winner) throw new Error(`job ${result.jobId}: the result insert conflicted but no result is stored`);
      return { outcome: 'duplicate', resultId: winner.id };
    }
    await tx.run('INSERT INTO result_samples (result_id, count, latency_ms_f64le) VALUES (?, ?, ?)', [result.resultId, result.latencyMs.length, samples]);
    if (sensorsRow) await tx.run(INSERT_RESULT_SENSORS, sensorsRow);
    if (reportRow) await tx.run(INSERT_RESULT_REPORT, reportRow);
    await this.upsertAttempt(tx, result.jobId, result.attempt, result.agentId, result.uploadId, result.nowMs);
    await tx.run(`UPDATE jobs SET state = 'done', attempts = ${greatest(tx.dialect, 'attempts', '@attempt')}, error = NULL, updated_at_ms = @nowMs WHERE id = @jobId`, {
      jobId: result.jobId,
      attempt: result.attempt,
      nowMs: result.nowMs,
    });
    await refreshSweepState(tx, job.sweep_id, result.nowMs);
    return { outcome: 'committed', resultId: result.resultId };
  }

  recordAttemptError(error: AttemptError): Promise<AttemptErrorOutcome> {
    return this.db.transaction(async (tx): Promise<AttemptErrorOutcome> => {
      await requireLease(tx, error.jobId, error.leaseToken);
      const outcome = await this.insertAttemptError(tx, error);
      if (error.leaseToken) await releaseLeaseIn(tx, error.leaseToken, error.nowMs);
      return outcome;
    });
  }

  /** The writes of an attempt error, in the caller's transaction. */
  private async insertAttemptError(tx: SqlExecutor, error: AttemptError): Promise<AttemptErrorOutcome> {
    const job = await tx.get<{ sweep_id: string; state: JobState }>('SELECT sweep_id, state FROM jobs WHERE id = ?', [error.jobId]);
    if (!job) throw new Error(`job ${error.jobId} does not exist`);
    await this.upsertAttempt(tx, error.jobId, error.attempt, error.agentId, error.uploadId, error.nowMs);
    await tx.run(`UPDATE job_attempts SET error_code = @code, error_message = @message, retryable = @retryable, updated_at_ms = @nowMs WHERE job_id = @jobId AND attempt = @attempt`, {
      jobId: error.jobId,
      attempt: error.attempt,
      code: error.code,
      message: error.message,
      retryable: error.retryable ? 1 : 0,
      nowMs: error.nowMs,
    });
    const hasResult = (await tx.get('SELECT 1 AS one FROM results WHERE job_id = ?', [error.jobId])) !== undefined;
    // A late error of an old attempt never undoes a result or a final failure.
    if (hasResult || job.state === 'done' || job.state === 'failed') {
      await tx.run(`UPDATE jobs SET attempts = ${greatest(tx.dialect, 'attempts', '@attempt')}, updated_at_ms = @nowMs WHERE id = @jobId`, { jobId: error.jobId, attempt: error.attempt, nowMs: error.nowMs });
      return { jobFinal: true, jobState: hasResult ? 'done' : job.state };
    }
    const jobState: JobState = error.final ? 'failed' : 'queued';
    await tx.run(`UPDATE jobs SET state = @state, error = @message, attempts = ${greatest(tx.dialect, 'attempts', '@attempt')}, updated_at_ms = @nowMs WHERE id = @jobId`, {
      jobId: error.jobId,
      state: jobState,
      message: `${error.code}: ${error.message}`,
      attempt: error.attempt,
      nowMs: error.nowMs,
    });
    await refreshSweepState(tx, job.sweep_id, error.nowMs);
    return { jobFinal: error.final, jobState };
  }

  async resultUploadId(jobId: string): Promise<string | undefined> {
    return (await this.db.get<{ upload_id: string }>('SELECT upload_id FROM results WHERE job_id = ?', [jobId]))?.upload_id;
  }

  async getSamples(jobId: string): Promise<number[] | undefined> {
    const row = await this.db.get<{ blob: Buffer }>('SELECT s.latency_ms_f64le AS blob FROM results r JOIN result_samples s ON s.result_id = r.id WHERE r.job_id = ?', [jobId]);
    return row ? decodeSamples(row.blob) : undefined;
  }

  async resultsForMetrics(): Promise<SeriesResult[]> {
    const rows = await this.db.all<{ model_name: string; variant: string; agent_name: string; provider: string; percentiles_json: string; throughput_qps: number; peak_rss_bytes: number | null; model_file_size_bytes: number; variant_size_bytes: number }>(
      `SELECT s.model_name, j.variant, j.agent_name, r.provider, r.percentiles_json, r.throughput_qps, r.peak_rss_bytes,
              r.model_file_size_bytes, v.size_bytes AS variant_size_bytes
       FROM results r
       JOIN jobs j ON j.id = r.job_id
       JOIN sweeps s ON s.id = j.sweep_id
       JOIN variants v ON v.sweep_id = j.sweep_id AND v.name = j.variant
       WHERE NOT ${this.jobKind.isComparison}
         AND NOT ${this.jobKind.isConfigSearch}
       ORDER BY r.committed_at_ms, r.commit_seq`,
    );
    return rows.map((r) => ({
      series: { model: r.model_name, variant: r.variant, device: r.agent_name, provider: r.provider },
      percentiles: JSON.parse(r.percentiles_json) as PercentileRecord[],
      throughputQps: r.throughput_qps,
      ...(r.peak_rss_bytes === null ? {} : { peakRssBytes: r.peak_rss_bytes }),
      modelSizeBytes: r.model_file_size_bytes || r.variant_size_bytes,
    }));
  }

  async comparisonReportsForMetrics(): Promise<Array<{ series: Omit<SeriesResult['series'], 'variant'>; report: SuiteReport }>> {
    const stored = await reportsOfJobs(this.db, this.jobKind.isComparison);
    return stored.map(({ model, device, provider, report }) => ({ series: { model, device, provider }, report }));
  }

  private async upsertAttempt(tx: SqlExecutor, jobId: string, attempt: number, agentId: string, uploadId: string, nowMs: number, startedAtMs: number | null = null): Promise<void> {
    await tx.run(
      `INSERT INTO job_attempts (job_id, attempt, agent_id, upload_id, started_at_ms, updated_at_ms)
       VALUES (@jobId, @attempt, @agentId, @uploadId, @startedAtMs, @nowMs)
       ON CONFLICT (job_id, attempt) DO UPDATE SET upload_id = excluded.upload_id,
         started_at_ms = COALESCE(job_attempts.started_at_ms, excluded.started_at_ms), updated_at_ms = excluded.updated_at_ms`,
      { jobId, attempt, agentId, uploadId, startedAtMs, nowMs },
    );
  }
}
