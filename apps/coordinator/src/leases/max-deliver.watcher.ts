import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { FarmStore } from '@benchfarm/messaging';
import { JOB_STREAM, JOB_SUBJECT_PREFIX, agentConsumerName, jobSubject } from '@benchfarm/messaging';
import { BenchJob } from '@benchfarm/protocol';
import type { Subscription } from '@nats-io/transport-node';
import { startBackgroundLoop, type BackgroundLoop } from '../common/background-loop';
import { Clock } from '../common/clock';
import { errorMessage } from '../common/domain-error';
import { truncateUntrusted } from '../common/untrusted-text';
import { COORDINATOR_CONFIG, FARM_STORE } from '../common/tokens';
import { LeaseRepository } from '../storage/lease.repository';
import { JobStream, type JobConsumerState, type StoredJobMessage } from './job-stream';
import type { CoordinatorConfig } from '../config';

/** The advisory subject nats-server publishes when a job message reached MaxDeliver on any agent's consumer. */
export const MAX_DELIVERIES_SUBJECT = `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${JOB_STREAM}.*`;

/**
 * Later looks at an advisory refused as "still pending" (delays between them, ms): about 45 s
 * in all, past the agent's AckWait (30 s) so that a message the server has not yet dropped
 * from pending is seen once it has.
 */
const RECHECK_AFTER_MS = [2_000, 3_000, 5_000, 5_000, 10_000, 20_000];

function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

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
    if (typeof stream !== 'string' || typeof consumer !== 'string' || !Number.isSafeInteger(seq) || !Number.isSafeInteger(deliveries)) return undefined;
    if ((seq as number) < 1 || (deliveries as number) < 1) return undefined;
    return { stream, consumer, streamSeq: seq as number, deliveries: deliveries as number };
  } catch {
    return undefined;
  }
}

/** Whether the server's own state bears out an advisory, and if not, why. */
export type AdvisoryVerdict = { genuine: true } | { genuine: false; reason: string };

/** The agent a job message is addressed to, from its subject `bench.jobs.<agentId>`; undefined for another subject. */
export function agentOfJobSubject(subject: string): string | undefined {
  const prefix = `${JOB_SUBJECT_PREFIX}.`;
  if (!subject.startsWith(prefix)) return undefined;
  const agentId = subject.slice(prefix.length);
  try {
    agentConsumerName(agentId);
    return agentId;
  } catch {
    return undefined;
  }
}

/**
 * Checks a MaxDeliver advisory against what only the server can say. Anyone allowed to publish
 * in the farm's account can publish on the advisory subject (in the embedded default, anyone who
 * reaches the loopback port), so the advisory's own words prove nothing. It is genuine only when
 * the message it names is on the subject of the consumer it names, that consumer's MaxDeliver is
 * the advisory's delivery count, the consumer has delivered the message, and the message is no
 * longer pending there. With MaxAckPending 1 (every agent consumer) a message past MaxDeliver is
 * dropped from pending and the next one may be delivered; one in flight, or due for redelivery,
 * is the only pending message and the last one delivered (checked against nats-server 2.9.10).
 * Pure.
 */
export function verifyMaxDeliveries(advisory: MaxDeliveriesAdvisory, message: StoredJobMessage, consumer: JobConsumerState | undefined): AdvisoryVerdict {
  const refuse = (reason: string): AdvisoryVerdict => ({ genuine: false, reason });
  if (advisory.stream !== JOB_STREAM) return refuse(`it names stream ${JSON.stringify(advisory.stream.slice(0, 64))}, not ${JOB_STREAM}`);
  const agentId = agentOfJobSubject(message.subject);
  if (agentId === undefined) return refuse(`message ${message.seq} is on ${JSON.stringify(message.subject.slice(0, 160))}, not an agent's job subject`);
  const expected = agentConsumerName(agentId);
  if (advisory.consumer !== expected) return refuse(`it names consumer ${JSON.stringify(advisory.consumer.slice(0, 64))} but message ${message.seq} is for ${expected}`);
  if (!consumer) return refuse(`consumer ${expected} does not exist`);
  if (consumer.filterSubject !== message.subject) return refuse(`consumer ${expected} reads ${consumer.filterSubject ?? 'every subject'}, not ${message.subject}`);
  if (consumer.maxDeliver <= 0) return refuse(`consumer ${expected} has no MaxDeliver`);
  if (advisory.deliveries !== consumer.maxDeliver) return refuse(`it claims ${advisory.deliveries} deliveries but the MaxDeliver of consumer ${expected} is ${consumer.maxDeliver}`);
  if (consumer.deliveredStreamSeq < message.seq) return refuse(`message ${message.seq} was never delivered (consumer ${expected} has delivered up to stream sequence ${consumer.deliveredStreamSeq})`);
  if (consumer.numAckPending > 0 && (consumer.deliveredStreamSeq === message.seq || consumer.maxAckPending !== 1)) {
    return refuse(`message ${message.seq} is still pending on consumer ${expected} (${consumer.numAckPending} unacknowledged, last delivered stream sequence ${consumer.deliveredStreamSeq})`);
  }
  return { genuine: true };
}

/**
 * The advisory nats-server would have published for a queued job's message, from its consumer's
 * state: the consumer's name and MaxDeliver; undefined when the agent has no consumer, its
 * consumer has no MaxDeliver, or the message was not delivered yet. Pure.
 */
export function advisoryFromState(job: { agentId: string; streamSeq: number }, consumers: ReadonlyMap<string, JobConsumerState>): MaxDeliveriesAdvisory | undefined {
  let name: string;
  try {
    name = agentConsumerName(job.agentId);
  } catch {
    return undefined;
  }
  const consumer = consumers.get(name);
  if (!consumer || consumer.maxDeliver <= 0 || consumer.deliveredStreamSeq < job.streamSeq) return undefined;
  return { stream: JOB_STREAM, consumer: name, streamSeq: job.streamSeq, deliveries: consumer.maxDeliver };
}

/**
 * The interval of the reconcile pass ({@link MaxDeliverWatcher.reconcile}): the job consumers'
 * AckWait (the lease TTL, which the coordinator gives agent consumers as their AckWait), at least
 * 250 ms. A message found past MaxDeliver is failed at the next pass, so within two of these.
 * Pure.
 */
export function reconcileIntervalMs(leaseTtlMs: number): number {
  return Math.max(250, leaseTtlMs);
}

/**
 * A message past MaxDeliver stays in the work-queue stream and is never delivered again.
 * This watcher handles the server's advisory once the server's state bears it out
 * ({@link verifyMaxDeliveries}; a hand-published one is refused and logged): the job (when it
 * is still assigned to that consumer's agent) is marked failed with its last recorded error,
 * and the message is deleted, so nothing is left in the stream.
 *
 * Advisories are not enough on their own, so a reconcile pass also runs at start-up (a new
 * leader, a restarted coordinator) and every {@link reconcileIntervalMs}: an advisory published
 * while no coordinator ran is lost (core NATS), and nats-server before 2.10.14 can publish a
 * genuine one while its consumer state says the message was never delivered (a redelivery
 * handed to a pull request whose requester had gone moves the consumer's cursor back, nats-server
 * #5305: the message comes again with delivery count 1, and once past MaxDeliver a second time
 * it is dropped without another advisory), so the advisory is refused and the job would wait
 * for the job max age.
 */
@Injectable()
export class MaxDeliverWatcher implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('MaxDeliverWatcher');
  private subscription: Subscription | undefined;
  private readonly pending = new Set<Promise<void>>();
  private readonly stopping = new AbortController();
  /** Queued jobs the last reconcile pass found past MaxDeliver: job id -> stream sequence (failed if found so again). */
  private suspects = new Map<string, number>();
  private reconcileLoop: BackgroundLoop | undefined;

  constructor(
    @Inject(FARM_STORE) private readonly farm: FarmStore,
    @Inject(LeaseRepository) private readonly leases: LeaseRepository,
    @Inject(JobStream) private readonly stream: JobStream,
    @Inject(Clock) private readonly clock: Clock,
    @Inject(COORDINATOR_CONFIG) private readonly config: Pick<CoordinatorConfig, 'leaseTtlMs'>,
  ) {}

  onApplicationBootstrap(): void {
    // The first pass at once: advisories of the time no coordinator ran were lost.
    this.reconcileLoop = startBackgroundLoop(() => this.reconcile(), { everyMs: reconcileIntervalMs(this.config.leaseTtlMs), log: this.log, failure: 'MaxDeliver reconcile pass failed', runAtOnce: true });
    this.subscription = this.farm.nc.subscribe(MAX_DELIVERIES_SUBJECT, {
      callback: (err, msg) => {
        if (err) {
          this.log.warn(`advisory subscription failed: ${errorMessage(err)}`);
          return;
        }
        const advisory = parseMaxDeliveriesAdvisory(msg.data);
        if (!advisory) {
          this.log.warn(`ignored a MaxDeliver advisory that does not parse on ${truncateUntrusted(msg.subject)}`);
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
    const reconciled = this.reconcileLoop?.stop();
    this.stopping.abort();
    await Promise.all([...this.pending, reconciled]);
  }

  /**
   * One reconcile pass; returns the ids of the jobs it failed. A queued job whose recorded message
   * the server's state shows past MaxDeliver ({@link verifyMaxDeliveries} with the consumer's own
   * MaxDeliver: delivered, no longer pending, still stored) is failed as an advisory would fail it,
   * but only when the previous pass found the same message so too: a message acked a moment ago
   * can still be stored (the work queue removes it after the ack), never a pass later. Reads the
   * queued jobs' stream sequences (no payloads) and lists the job stream's consumers once.
   */
  async reconcile(): Promise<string[]> {
    const queued = await this.leases.queuedStreamSeqs();
    const suspects = new Map<string, number>();
    const failed: string[] = [];
    if (queued.length > 0) {
      const consumers = await this.stream.consumers();
      for (const job of queued) {
        if (this.stopping.signal.aborted) break;
        const advisory = advisoryFromState(job, consumers);
        if (!advisory) continue;
        const subject = jobSubject(job.agentId);
        if (!verifyMaxDeliveries(advisory, { seq: job.streamSeq, subject, data: new Uint8Array() }, consumers.get(advisory.consumer)).genuine) continue;
        if (this.suspects.get(job.jobId) !== job.streamSeq) {
          suspects.set(job.jobId, job.streamSeq);
          continue;
        }
        const message = await this.stream.get(job.streamSeq);
        if (!message) continue;
        if (!verifyMaxDeliveries(advisory, message, consumers.get(advisory.consumer)).genuine) continue;
        this.log.warn(`message ${job.streamSeq} of job ${job.jobId} is past MaxDeliver on consumer ${advisory.consumer} with no advisory handled (found at two reconcile passes)`);
        const outcome = await this.fail(advisory, message);
        if (outcome?.failed) failed.push(outcome.jobId);
      }
    }
    this.suspects = suspects;
    return failed;
  }

  /**
   * Fails the job of the advisory's message and deletes the message, when the server's state
   * bears the advisory out; returns the job id, or undefined when nothing was done.
   */
  async handle(advisory: MaxDeliveriesAdvisory): Promise<string | undefined> {
    const first = await this.check(advisory, [0, 250, 250, 250, 250]);
    if (first === undefined) return undefined;
    if (!first.verdict.genuine) {
      this.log.warn(`refused a MaxDeliver advisory for message ${advisory.streamSeq} (not published by the server, or stale): ${truncateUntrusted(first.verdict.reason, 500)}`);
      if (!first.verdict.reason.includes('is still pending')) return undefined;
      // nats-server 2.9 drops a message past MaxDeliver from the consumer's pending set only
      // when it next looks for a message to deliver, which waits for the agent's next pull: on
      // a loaded machine that came later than the second above, the advisory was refused and
      // the job never failed (two clean-clone CI runs). A forged advisory for a message in
      // flight stays refused at every later look; a genuine one is borne out at one of them.
      const later = await this.check(advisory, RECHECK_AFTER_MS);
      if (later === undefined || !later.verdict.genuine) return undefined;
      this.log.warn(`MaxDeliver advisory for message ${advisory.streamSeq} borne out on a later look (${later.afterMs} ms after it arrived)`);
      return (await this.fail(advisory, later.message))?.jobId;
    }
    return (await this.fail(advisory, first.message))?.jobId;
  }

  /**
   * Reads the message and its consumer after each delay in turn until the verdict is genuine or
   * is something other than "still pending"; undefined when the message is gone or the
   * watcher is stopping.
   */
  private async check(advisory: MaxDeliveriesAdvisory, delaysMs: readonly number[]): Promise<{ verdict: AdvisoryVerdict; message: StoredJobMessage; afterMs: number } | undefined> {
    const startedAt = Date.now();
    let result: { verdict: AdvisoryVerdict; message: StoredJobMessage; afterMs: number } | undefined;
    for (const delayMs of delaysMs) {
      if (delayMs > 0 && !(await sleepUnlessAborted(delayMs, this.stopping.signal))) return undefined;
      const message = await this.stream.get(advisory.streamSeq);
      if (!message) return undefined;
      const agentId = agentOfJobSubject(message.subject);
      const consumer = agentId === undefined ? undefined : await this.stream.consumer(agentConsumerName(agentId));
      result = { verdict: verifyMaxDeliveries(advisory, message, consumer), message, afterMs: Date.now() - startedAt };
      if (result.verdict.genuine || !result.verdict.reason.includes('is still pending')) break;
    }
    return result;
  }

  /** Fails the message's job (when still assigned to the message's agent) and deletes the message. */
  private async fail(advisory: MaxDeliveriesAdvisory, message: StoredJobMessage): Promise<{ jobId: string; failed: boolean } | undefined> {
    let job: BenchJob;
    try {
      job = BenchJob.decode(message.data);
    } catch {
      this.log.warn(`message ${advisory.streamSeq} past MaxDeliver is not a BenchJob; deleting it`);
      await this.stream.delete(advisory.streamSeq);
      return undefined;
    }
    const current = await this.leases.view(job.jobId);
    let failed = false;
    // A message of an agent the job was moved away from says nothing about the job.
    if (current && current.agentId === job.agentId) {
      failed = await this.leases.failJob(job.jobId, `no result after ${advisory.deliveries} deliveries to agent ${job.agentId} (MaxDeliver)`, this.clock.nowMs());
      if (failed) this.log.warn(`job ${job.jobId} failed: MaxDeliver (${advisory.deliveries}) reached on consumer ${advisory.consumer}`);
    }
    await this.stream.delete(advisory.streamSeq);
    return { jobId: job.jobId, failed };
  }
}
