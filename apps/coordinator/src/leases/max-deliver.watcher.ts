import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { FarmStore } from '@benchfarm/messaging';
import { JOB_STREAM } from '@benchfarm/messaging';
import { BenchJob } from '@benchfarm/protocol';
import type { Subscription } from '@nats-io/transport-node';
import { Clock } from '../common/clock';
import { errorMessage } from '../common/domain-error';
import { FARM_STORE } from '../common/tokens';
import { LeaseRepository } from '../storage/lease.repository';
import { JobStream } from './job-stream';

/** The advisory subject nats-server publishes when a job message reached MaxDeliver on any agent's consumer. */
export const MAX_DELIVERIES_SUBJECT = `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${JOB_STREAM}.*`;

/** The fields of a MaxDeliver advisory this watcher reads. */
export interface MaxDeliveriesAdvisory {
  stream: string;
  consumer: string;
  streamSeq: number;
  deliveries: number;
}

/** Parses a MaxDeliver advisory; undefined when the payload is not one. Pure. */
export function parseMaxDeliveriesAdvisory(data: Uint8Array): MaxDeliveriesAdvisory | undefined {
  try {
    const json = JSON.parse(new TextDecoder().decode(data)) as Record<string, unknown>;
    const { stream, consumer, stream_seq: seq, deliveries } = json;
    if (typeof stream !== 'string' || typeof consumer !== 'string' || typeof seq !== 'number' || typeof deliveries !== 'number') return undefined;
    return { stream, consumer, streamSeq: seq, deliveries };
  } catch {
    return undefined;
  }
}

/**
 * A message past MaxDeliver stays in the work-queue stream and is never delivered again.
 * This watcher handles the server's advisory: the job (when it is still assigned to that
 * consumer's agent) is marked failed with its last recorded error, and the message is
 * deleted, so nothing is left in the stream.
 */
@Injectable()
export class MaxDeliverWatcher implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('MaxDeliverWatcher');
  private subscription: Subscription | undefined;
  private readonly pending = new Set<Promise<void>>();

  constructor(
    @Inject(FARM_STORE) private readonly farm: FarmStore,
    @Inject(LeaseRepository) private readonly leases: LeaseRepository,
    @Inject(JobStream) private readonly stream: JobStream,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  onApplicationBootstrap(): void {
    this.subscription = this.farm.nc.subscribe(MAX_DELIVERIES_SUBJECT, {
      callback: (err, msg) => {
        if (err) {
          this.log.warn(`advisory subscription failed: ${errorMessage(err)}`);
          return;
        }
        const advisory = parseMaxDeliveriesAdvisory(msg.data);
        if (!advisory) {
          this.log.warn(`ignored a MaxDeliver advisory that does not parse on ${msg.subject}`);
          return;
        }
        const work = this.handle(advisory).then(
          () => undefined,
          (e: unknown) => this.log.error(`MaxDeliver advisory for seq ${advisory.streamSeq} failed: ${errorMessage(e)}`),
        );
        this.pending.add(work);
        void work.finally(() => this.pending.delete(work));
      },
    });
  }

  async onApplicationShutdown(): Promise<void> {
    this.subscription?.unsubscribe();
    await Promise.all(this.pending);
  }

  /** Fails the job of the advisory's message and deletes the message; exposed for tests. */
  async handle(advisory: MaxDeliveriesAdvisory): Promise<string | undefined> {
    const data = await this.stream.get(advisory.streamSeq);
    if (!data) return undefined;
    let job: BenchJob;
    try {
      job = BenchJob.decode(data);
    } catch {
      this.log.warn(`message ${advisory.streamSeq} past MaxDeliver is not a BenchJob; deleting it`);
      await this.stream.delete(advisory.streamSeq);
      return undefined;
    }
    const current = this.leases.view(job.jobId);
    // A message of an agent the job was moved away from says nothing about the job.
    if (current && current.agentId === job.agentId) {
      const failed = this.leases.failJob(job.jobId, `no result after ${advisory.deliveries} deliveries to agent ${job.agentId} (MaxDeliver)`, this.clock.nowMs());
      if (failed) this.log.warn(`job ${job.jobId} failed: MaxDeliver (${advisory.deliveries}) reached on consumer ${advisory.consumer}`);
    }
    await this.stream.delete(advisory.streamSeq);
    return job.jobId;
  }
}
