import type { JetStreamClient } from '@nats-io/jetstream';
import { jobSubject } from '@benchfarm/messaging';
import { BenchJob } from '@benchfarm/protocol';
import { DomainError, DomainErrorCode, errorMessage } from '../common/domain-error';
import { CONFIG_ENV_VARS } from '../config';
import type { LeaseRepository } from '../storage/lease.repository';

/** Where jobs are published for agents. */
export abstract class JobBus {
  /**
   * Publishes a job to its agent and waits for the server to store it; `duplicate` when it
   * already had. `msgId` (default: the job id) names the publication for deduplication; a
   * reassignment uses a new one. `seq` is where the stream stored it, when known.
   */
  abstract publish(job: BenchJob, options?: { msgId?: string }): Promise<{ duplicate: boolean; seq?: number }>;
}

/**
 * A {@link JobBus} that remembers every job it published (payload and stream sequence) in
 * the lease store, so that a job can later be reassigned to another agent or deleted from
 * the stream when its sweep is cancelled.
 */
export class RecordingJobBus extends JobBus {
  constructor(
    private readonly inner: JobBus,
    private readonly ledger: Pick<LeaseRepository, 'recordPublished'>,
    private readonly nowMs: () => number = Date.now,
  ) {
    super();
  }

  async publish(job: BenchJob, options: { msgId?: string } = {}): Promise<{ duplicate: boolean; seq?: number }> {
    const outcome = await this.inner.publish(job, options);
    await this.ledger.recordPublished({ jobId: job.jobId, agentId: job.agentId, payload: BenchJob.encode(job).finish(), streamSeq: outcome.seq, nowMs: this.nowMs() });
    return outcome;
  }
}

/** {@link JobBus} on the JetStream job stream: `bench.jobs.<agentId>`, `Nats-Msg-Id` = job id. */
export class JetStreamJobBus extends JobBus {
  constructor(private readonly js: JetStreamClient) {
    super();
  }

  async publish(job: BenchJob, options: { msgId?: string } = {}): Promise<{ duplicate: boolean; seq?: number }> {
    try {
      const ack = await this.js.publish(jobSubject(job.agentId), BenchJob.encode(job).finish(), { msgID: options.msgId ?? job.jobId });
      return { duplicate: ack.duplicate, seq: ack.seq };
    } catch (err) {
      throw new DomainError(DomainErrorCode.MessagingUnavailable, `cannot publish job ${job.jobId} to agent ${job.agentId}: ${errorMessage(err)}${streamLimitHint(errorMessage(err))}`, { cause: err });
    }
  }
}

/** Says which job stream limit refused a publish, or nothing. Pure. */
export function streamLimitHint(message: string): string {
  if (/maximum messages per subject exceeded/i.test(message)) return ` (the agent's job queue is full: ${CONFIG_ENV_VARS.jobQueueMaxPerAgent} limits the jobs queued for one agent)`;
  if (/maximum (bytes|messages) exceeded/i.test(message)) return ` (the job stream is full: ${CONFIG_ENV_VARS.jobStreamMaxBytes} limits the bytes of all queued jobs)`;
  return '';
}
