import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { JOB_STREAM, type FarmStore } from '@benchfarm/messaging';
import { startBackgroundLoop, type BackgroundLoop } from '../common/background-loop';
import { Clock } from '../common/clock';
import { COORDINATOR_CONFIG, FARM_STORE } from '../common/tokens';
import { CONFIG_ENV_VARS, type CoordinatorConfig } from '../config';
import { LeaseRepository } from '../storage/lease.repository';
import { SweepRepository } from '../storage/sweep.repository';

/** Jobs looked at per pass; the rest wait for the next one. */
const PASS_LIMIT = 500;

/** How often the expiry pass runs for a max age: a tenth of it, between 250 ms and a minute. Pure. */
export function expiryIntervalMs(jobMaxAgeMs: number): number {
  return Math.min(60_000, Math.max(250, Math.round(jobMaxAgeMs / 10)));
}

/** Says a duration the way an operator sets it. Pure. */
export function describeDuration(ms: number): string {
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000} d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms % 1_000 === 0) return `${ms / 1_000} s`;
  return `${ms} ms`;
}

/**
 * Fails queued jobs whose message the job stream's max age deleted (stream limits). NATS
 * deletes a job message no agent took within `BENCHFARM_JOB_MAX_AGE_MS` without telling anyone;
 * without this pass the job would stay `queued` and its sweep `running` for good. A job counts as
 * expired once its last publication is older than the max age AND the stream no longer holds its
 * message (the server's own expiry runs on a timer); an answer that is not "no such message"
 * (a timeout, JetStream unavailable) leaves the job for the next pass.
 *
 * It also fails the queued jobs a previous coordinator stored but never published (stopped or
 * killed while publishing a sweep, or a leader that lost its lease then): no agent will ever be
 * told of them, and their payload was never kept, so they fail naming why and the sweep settles.
 * Only jobs created before this coordinator started count: its own sweeps may be publishing.
 */
@Injectable()
export class JobExpiry implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('JobExpiry');
  private loop: BackgroundLoop | undefined;
  /** When this coordinator started (led, with two): jobs created before it by another are not being published. */
  private startedAtMs: number | undefined;

  constructor(
    @Inject(LeaseRepository) private readonly leases: LeaseRepository,
    @Inject(SweepRepository) private readonly sweeps: SweepRepository,
    @Inject(FARM_STORE) private readonly farm: FarmStore,
    @Inject(Clock) private readonly clock: Clock,
    @Inject(COORDINATOR_CONFIG) private readonly config: CoordinatorConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.startedAtMs = this.clock.nowMs();
    this.loop = startBackgroundLoop(() => this.pass(), { everyMs: expiryIntervalMs(this.config.jobMaxAgeMs), log: this.log, failure: 'job expiry pass failed' });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.loop?.stop();
  }

  /** One pass; returns the ids of the jobs it failed. Exposed for tests. */
  async pass(): Promise<string[]> {
    const nowMs = this.clock.nowMs();
    const failed: string[] = [];
    for (const message of await this.leases.queuedPublishedBefore(nowMs - this.config.jobMaxAgeMs, PASS_LIMIT)) {
      if (message.streamSeq !== undefined && (await this.stillStored(message.streamSeq))) continue;
      const reason = `expired: no agent took it within the job stream's max age (${describeDuration(this.config.jobMaxAgeMs)}, ${CONFIG_ENV_VARS.jobMaxAgeMs}); NATS deleted its message for agent ${message.agentId}`;
      if (await this.leases.failJob(message.jobId, reason, this.clock.nowMs())) {
        failed.push(message.jobId);
        this.log.warn(`job ${message.jobId} ${reason}`);
      }
    }
    if (this.startedAtMs !== undefined) {
      for (const job of await this.sweeps.queuedNeverPublished(this.startedAtMs, PASS_LIMIT)) {
        const reason = `never published: the coordinator stopped while publishing sweep ${job.sweepId} (before this coordinator started), so no agent was sent the job; run the sweep again for it`;
        if (await this.leases.failJob(job.jobId, reason, this.clock.nowMs())) {
          failed.push(job.jobId);
          this.log.warn(`job ${job.jobId} ${reason}`);
        }
      }
    }
    return failed;
  }

  private async stillStored(seq: number): Promise<boolean> {
    try {
      return (await this.farm.jsm.streams.getMessage(JOB_STREAM, { seq })) !== null;
    } catch (err) {
      if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.NoMessageFound) return false;
      throw err;
    }
  }
}
