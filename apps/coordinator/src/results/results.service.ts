import { Inject, Injectable, Logger } from '@nestjs/common';
import { JOB_MAX_DELIVER } from '@benchfarm/messaging';
import { errorCodeToJSON, UploadOutcome, type ResultEvent, type UploadAck, type UploadHeader } from '@benchfarm/protocol';
import { Clock } from '../common/clock';
import { DomainError, DomainErrorCode, assertNever } from '../common/domain-error';
import { IdGenerator } from '../common/ids';
import { MetricsService } from '../metrics/metrics.service';
import { LeaseRefusedError, LeaseRepository } from '../storage/lease.repository';
import { ResultRepository } from '../storage/result.repository';
import { UploadParking } from './upload-parking';
import { ProgressTracker } from './progress-tracker';
import { UploadAccumulator, type CompletedUpload } from './upload-accumulator';
import type { JobContext } from '../storage/records';

/** `ERROR_CODE_MODEL_LOAD` -> `model_load`. */
export function runErrorCodeName(code: number): string {
  return errorCodeToJSON(code).replace(/^ERROR_CODE_/, '').toLowerCase();
}

/**
 * Whether a failed attempt is the job's last: JetStream will not redeliver past
 * {@link JOB_MAX_DELIVER}, and a non-retryable error would fail again.
 */
export function isFinalAttempt(attempt: number, retryable: boolean, maxDeliver = JOB_MAX_DELIVER): boolean {
  return !retryable || attempt >= maxDeliver;
}

/** One result upload in progress: fed the stream's events, then finished once the stream ends. */
export class UploadSession {
  private accumulator = new UploadAccumulator();
  private job: JobContext | undefined;
  private settled = false;

  constructor(
    private readonly leases: LeaseRepository,
    private readonly parking: UploadParking,
    private readonly results: ResultRepository,
    private readonly progress: ProgressTracker,
    private readonly metrics: MetricsService,
    private readonly clock: Clock,
    private readonly ids: IdGenerator,
    private readonly log: Logger,
  ) {}

  /**
   * Checks and applies one event: the first one proves the job exists and is this agent's,
   * `started` marks the job running, `progress` updates the live status. Thrown:
   * {@link DomainError} `invalid_upload`; the caller ends the call with it. The caller hands
   * events over one at a time, each once the previous one's promise settled.
   */
  async accept(event: ResultEvent): Promise<void> {
    try {
      if (this.accumulator.uploadHeader === undefined && (event.header?.resumeFromEvent ?? 0) > 0) await this.resume(event);
      for (const live of this.accumulator.add(event)) {
        switch (live.kind) {
          case 'first':
            this.job = await this.checkJob(live.header);
            break;
          case 'started':
            await this.markRunning(live.started.startedAtUnixMs);
            break;
          case 'progress':
            if (this.job && !this.job.hasResult) this.progress.set(this.job.id, live.progress);
            break;
          default:
            assertNever(live);
        }
      }
    } catch (err) {
      this.reject();
      throw err;
    }
  }

  /** Validates the whole upload, commits it (one transaction) and returns the ack. */
  async finish(): Promise<UploadAck> {
    try {
      // grpc-js delivers a stream cut by the network (connection reset, agent killed) as a
      // half-close before its cancellation: an upload that ends without its terminal event is
      // kept for its agent to resume, exactly as a cancelled one.
      const header = this.accumulator.uploadHeader;
      if (!this.accumulator.complete && header && this.job) {
        const held = this.accumulator.eventCount;
        this.abort();
        throw new DomainError(DomainErrorCode.InvalidUpload, `the upload ended without a summary or an error; its ${held} events are kept for upload ${header.uploadId} to resume`);
      }
      const upload = this.accumulator.finish();
      // finish() succeeds only after a first event, which set the job (or threw).
      const job = this.job;
      if (!job) throw new DomainError(DomainErrorCode.InvalidUpload, 'the upload has no events');
      // Checked again inside the write's transaction (the lease may have been superseded or
      // cancelled while the stream was open), which also releases it.
      const ack = await this.refusedLeaseAsDomainError(upload.kind === 'summary' ? this.commit(job, upload) : this.recordError(job, upload));
      this.settle();
      return ack;
    } catch (err) {
      this.reject();
      throw err;
    }
  }

  /**
   * The stream broke before it ended: nothing is committed. What arrived is kept for a while
   * under the upload id, so the agent can resume after the last event received.
   */
  abort(): void {
    const header = this.accumulator.uploadHeader;
    if (!this.settled && header && this.job && !this.accumulator.complete) this.parking.park(header.uploadId, { accumulator: this.accumulator, job: this.job });
    this.settle();
  }

  private async resume(event: ResultEvent): Promise<void> {
    const header = event.header;
    if (!header) return;
    const parked = this.parking.take(header.uploadId);
    const held = parked?.accumulator.eventCount ?? 0;
    if (!parked || held !== header.resumeFromEvent) {
      if (parked) this.parking.park(header.uploadId, parked);
      throw new DomainError(DomainErrorCode.ResumeMismatch, `header.resume_from_event is ${header.resumeFromEvent} but the coordinator holds ${held} events of upload ${header.uploadId}; ask UploadStatus and resume from there`);
    }
    // Checked before the parked upload is handed over: a caller that names someone else's
    // upload id (another agent, job or lease) must not be able to take it, nor to drop it.
    try {
      const original = parked.accumulator.uploadHeader;
      for (const field of ['jobId', 'sweepId', 'agentId'] as const) {
        if (original && original[field] !== header[field]) {
          throw new DomainError(DomainErrorCode.InvalidUpload, `header.${snake(field)} ${JSON.stringify(header[field])} does not match upload ${header.uploadId} (it belongs to ${snake(field)} ${JSON.stringify(original[field])})`, { field: `header.${snake(field)}` });
        }
      }
      await this.checkLease(parked.job.id, header.leaseToken);
    } catch (err) {
      this.parking.park(header.uploadId, parked);
      throw err;
    }
    this.accumulator = parked.accumulator;
    this.job = parked.job;
  }

  private async checkLease(jobId: string, token: string): Promise<void> {
    const check = await this.leases.check(jobId, token);
    if (!check.ok) throw staleLease(check.reason);
  }

  /** A lease refused inside the write's transaction is the same refusal as {@link checkLease}'s. */
  private async refusedLeaseAsDomainError<T>(write: Promise<T>): Promise<T> {
    try {
      return await write;
    } catch (err) {
      throw err instanceof LeaseRefusedError ? staleLease(err.reason, err) : err;
    }
  }

  private reject(): void {
    if (this.settled) return;
    this.metrics.countUpload('rejected');
    this.settle();
  }

  private settle(): void {
    this.settled = true;
    if (this.job) this.progress.delete(this.job.id);
  }

  private async checkJob(header: UploadHeader): Promise<JobContext> {
    const job = await this.results.getJobContext(header.jobId);
    if (!job) throw new DomainError(DomainErrorCode.InvalidUpload, `job ${header.jobId} does not exist`);
    if (job.sweepId !== header.sweepId) throw new DomainError(DomainErrorCode.InvalidUpload, `job ${header.jobId} belongs to sweep ${job.sweepId}, not ${header.sweepId}`);
    if (job.agentId !== header.agentId) throw new DomainError(DomainErrorCode.InvalidUpload, `job ${header.jobId} is assigned to agent ${job.agentId}, not ${header.agentId}`);
    await this.checkLease(job.id, header.leaseToken);
    return job;
  }

  private async markRunning(startedAtMs: number): Promise<void> {
    const job = this.job;
    const header = this.accumulator.uploadHeader;
    if (!job || !header) return;
    const nowMs = this.clock.nowMs();
    await this.results.markJobRunning({ jobId: job.id, attempt: header.attempt, uploadId: header.uploadId, agentId: header.agentId, startedAtMs: startedAtMs || nowMs, nowMs });
  }

  private async commit(job: JobContext, upload: Extract<CompletedUpload, { kind: 'summary' }>): Promise<UploadAck> {
    const { header, summary } = upload;
    const manifestDigest = summary.manifest?.variantSha256 ?? '';
    if (manifestDigest !== '' && manifestDigest !== job.variantSha256) {
      throw new DomainError(DomainErrorCode.InvalidUpload, `summary.manifest.variant_sha256 ${manifestDigest} is not the job's variant ${job.variantSha256}`);
    }
    const outcome = await this.results.commitResult({
      resultId: this.ids.newId('result'),
      jobId: job.id,
      attempt: header.attempt,
      uploadId: header.uploadId,
      agentId: header.agentId,
      summary,
      latencyMs: upload.latencyMs,
      nowMs: this.clock.nowMs(),
      leaseToken: header.leaseToken,
    });
    if (outcome.outcome === 'committed') {
      const provider = summary.manifest?.executionProvider || job.executionProvider;
      if (job.isComparison) this.metrics.recordComparison({ model: job.modelName, device: job.agentName, provider }, summary.report?.comparison, summary.report?.evaluation);
      else if (job.isConfigSearch) this.metrics.recordConfigSearch({ model: job.modelName, device: job.agentName }, summary.report?.configSearch);
      else this.metrics.recordCommitted({ model: job.modelName, variant: job.variant, device: job.agentName, provider }, summary, summary.modelFileSizeBytes || job.variantSizeBytes);
      this.metrics.countUpload('committed');
      // One line per job: debug, as the lease's (a sweep's progress is in its state and /metrics).
      this.log.debug(`result ${outcome.resultId} committed for job ${job.id} (attempt ${header.attempt}, ${summary.count} samples)`);
    } else {
      this.metrics.countUpload('duplicate');
      this.log.log(`duplicate result for job ${job.id} (upload ${header.uploadId}); kept ${outcome.resultId}`);
    }
    return {
      jobId: job.id,
      outcome: outcome.outcome === 'committed' ? UploadOutcome.UPLOAD_OUTCOME_COMMITTED : UploadOutcome.UPLOAD_OUTCOME_DUPLICATE,
      resultId: outcome.resultId,
      jobFinal: true,
    };
  }

  private async recordError(job: JobContext, upload: Extract<CompletedUpload, { kind: 'error' }>): Promise<UploadAck> {
    const { header, error } = upload;
    const final = isFinalAttempt(header.attempt, error.retryable);
    const outcome = await this.results.recordAttemptError({
      jobId: job.id,
      attempt: header.attempt,
      uploadId: header.uploadId,
      agentId: header.agentId,
      code: runErrorCodeName(error.code),
      message: error.message,
      retryable: error.retryable,
      final,
      nowMs: this.clock.nowMs(),
      leaseToken: header.leaseToken,
    });
    this.metrics.countUpload('error_recorded');
    this.log.warn(`job ${job.id} attempt ${header.attempt} failed (${runErrorCodeName(error.code)}): ${error.message}; job is ${outcome.jobState}`);
    return { jobId: job.id, outcome: UploadOutcome.UPLOAD_OUTCOME_ERROR_RECORDED, resultId: '', jobFinal: outcome.jobFinal };
  }
}

/** Ingests result uploads from agents and serves stored samples. */
@Injectable()
export class ResultsService {
  private readonly log = new Logger('ResultsService');

  constructor(
    @Inject(LeaseRepository) private readonly leases: LeaseRepository,
    @Inject(UploadParking) private readonly parking: UploadParking,
    @Inject(ResultRepository) private readonly results: ResultRepository,
    @Inject(ProgressTracker) private readonly progress: ProgressTracker,
    @Inject(MetricsService) private readonly metrics: MetricsService,
    @Inject(Clock) private readonly clock: Clock,
    @Inject(IdGenerator) private readonly ids: IdGenerator,
  ) {}

  /** Starts ingesting one upload stream. */
  openUpload(): UploadSession {
    return new UploadSession(this.leases, this.parking, this.results, this.progress, this.metrics, this.clock, this.ids, this.log);
  }

  /** How many events of an upload the coordinator holds, and whether it was committed. */
  async uploadStatus(jobId: string, uploadId: string): Promise<{ eventsReceived: number; committed: boolean }> {
    const committed = (await this.results.getJobContext(jobId))?.hasResult === true && (await this.results.resultUploadId(jobId)) === uploadId;
    return { eventsReceived: committed ? 0 : this.parking.heldEvents(uploadId), committed };
  }

  /**
   * The raw latencies of a job's result. Thrown ({@link DomainError}): `job_not_found` when
   * the sweep has no such job, `result_not_found` when the job has no result yet.
   */
  async samples(sweepId: string, jobId: string): Promise<{ latencyMs: number[] }> {
    const job = await this.results.getJobContext(jobId);
    if (!job || job.sweepId !== sweepId) throw new DomainError(DomainErrorCode.JobNotFound, `sweep ${sweepId} has no job ${jobId}`, { field: 'jobId' });
    const latencyMs = await this.results.getSamples(jobId);
    if (!latencyMs) throw new DomainError(DomainErrorCode.ResultNotFound, `job ${jobId} has no result yet (it is ${job.state})`, { field: 'jobId' });
    return { latencyMs };
  }
}

function staleLease(reason: string, cause?: unknown): DomainError {
  return new DomainError(DomainErrorCode.StaleLease, `result refused: ${reason}`, { field: 'header.lease_token', ...(cause === undefined ? {} : { cause }) });
}

function snake(field: string): string {
  return field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
