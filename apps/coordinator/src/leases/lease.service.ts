import { randomBytes } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { Clock } from '../common/clock';
import { DomainError, DomainErrorCode, errorMessage } from '../common/domain-error';
import { COORDINATOR_CONFIG } from '../common/tokens';
import { LeaseRepository, type LeaseGrant, type LeaseRenewal } from '../storage/lease.repository';
import { JobStream } from './job-stream';
import type { CoordinatorConfig } from '../config';

const ID = /^[A-Za-z0-9_.-]{1,128}$/;

function requireId(field: string, value: string): void {
  if (!ID.test(value)) throw new DomainError(DomainErrorCode.InvalidArgument, `${field} ${JSON.stringify(value.slice(0, 140))} is not an id ([A-Za-z0-9_.-]{1,128})`, { field });
}

/**
 * Grants and renews per-attempt leases, and cancels sweeps down to their running jobs.
 * An agent runs a job only under a lease; a result under a lease that is no longer the
 * job's current one is refused at ingest (results.service.ts).
 */
@Injectable()
export class LeaseService {
  private readonly log = new Logger('Leases');
  /**
   * Moves announced by the fleet monitor and not yet recorded: job id -> the move. The peer may
   * ask for a lease on the new message before the publish ack is back here; such a request
   * completes the move instead of being told the job is not its own.
   */
  private readonly moves = new Map<string, { fromAgentId: string; toAgentId: string; toAgentName: string }>();

  constructor(
    @Inject(LeaseRepository) private readonly leases: LeaseRepository,
    @Inject(JobStream) private readonly stream: JobStream,
    @Inject(Clock) private readonly clock: Clock,
    @Inject(COORDINATOR_CONFIG) private readonly config: CoordinatorConfig,
  ) {}

  /** The lease time-to-live agents must renew within. */
  get leaseTtlMs(): number {
    return this.config.leaseTtlMs;
  }

  /** Asks for a lease on a pulled job. Thrown: {@link DomainError} `invalid_argument` naming the field. */
  async acquire(request: { jobId: string; sweepId: string; agentId: string }): Promise<LeaseGrant> {
    requireId('job_id', request.jobId);
    requireId('sweep_id', request.sweepId);
    requireId('agent_id', request.agentId);
    const move = this.moves.get(request.jobId);
    if (move && move.toAgentId === request.agentId) {
      await this.leases.reassign({ jobId: request.jobId, fromAgentId: move.fromAgentId, toAgentId: move.toAgentId, toAgentName: move.toAgentName, nowMs: this.clock.nowMs() });
    }
    const token = `lease_${randomBytes(16).toString('hex')}`;
    const grant = await this.leases.acquire({ ...request, token, maxAttempts: this.config.maxAttempts, nowMs: this.clock.nowMs() });
    // One line per job: debug (a 1,000-agent sweep would write thousands at info; 5% of the thread).
    if (grant.decision === 'granted') this.log.debug(`lease granted: job ${request.jobId} attempt ${grant.attempt} to agent ${request.agentId}`);
    else this.log.warn(`lease refused (${grant.decision}) to agent ${request.agentId}: ${grant.reason}`);
    return grant;
  }

  /**
   * Records that a queued job is about to be published to `toAgentId`; until {@link settleMove},
   * that agent's lease request moves the job (when it is still queued on `fromAgentId`).
   */
  announceMove(move: { jobId: string; fromAgentId: string; toAgentId: string; toAgentName: string }): void {
    this.moves.set(move.jobId, { fromAgentId: move.fromAgentId, toAgentId: move.toAgentId, toAgentName: move.toAgentName });
  }

  /** Forgets an announced move (recorded, or its publish failed). */
  settleMove(jobId: string): void {
    this.moves.delete(jobId);
  }

  /** Renews a lease. Thrown: {@link DomainError} `invalid_argument` naming the field. */
  async renew(request: { jobId: string; agentId: string; leaseToken: string }): Promise<LeaseRenewal> {
    requireId('job_id', request.jobId);
    requireId('agent_id', request.agentId);
    requireId('lease_token', request.leaseToken);
    const renewal = await this.leases.renew({ jobId: request.jobId, agentId: request.agentId, token: request.leaseToken, nowMs: this.clock.nowMs() });
    if (renewal.status !== 'active') this.log.warn(`lease renewal of job ${request.jobId} by agent ${request.agentId}: ${renewal.status} (${renewal.reason})`);
    return renewal;
  }

  /**
   * Cancels a sweep: open jobs fail as cancelled, their queued messages are deleted from the
   * stream, and running attempts stop at their next renewal. Thrown ({@link DomainError}):
   * `sweep_not_found`; `already_finished` when no job was open.
   */
  async cancelSweep(sweepId: string, reason: string): Promise<{ cancelledJobs: number; deletedMessages: number }> {
    const cancelled = await this.leases.cancelSweep(sweepId, reason, this.clock.nowMs());
    if (cancelled === undefined) throw new DomainError(DomainErrorCode.SweepNotFound, `no sweep with id ${sweepId}`, { field: 'id' });
    const { jobs, messages, deriving } = cancelled;
    if (deriving) {
      this.log.log(`sweep ${sweepId} cancelled while deriving its variants`);
      return { cancelledJobs: 0, deletedMessages: 0 };
    }
    if (jobs === 0) {
      throw new DomainError(DomainErrorCode.AlreadyFinished, `sweep ${sweepId} has no queued or running job to cancel`, { field: 'id' });
    }
    let deleted = 0;
    for (const message of messages) {
      if (message.streamSeq === undefined) continue;
      // A running job's message is in flight; deleting it is harmless (its agent terms it after
      // the cancelled renewal). Best effort: an agent that pulls a surviving one is refused a lease.
      if (await this.stream.delete(message.streamSeq).catch((err: unknown) => this.log.warn(`could not delete job message ${message.streamSeq}: ${errorMessage(err)}`))) deleted += 1;
    }
    this.log.log(`sweep ${sweepId} cancelled: ${jobs} open job(s), ${deleted} queued message(s) deleted`);
    return { cancelledJobs: jobs, deletedMessages: deleted };
  }
}
