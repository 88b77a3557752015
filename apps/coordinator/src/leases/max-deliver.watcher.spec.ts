// Unit test with fakes of the job stream, the lease repository and the clock (pure logic of the
// watcher's later looks; the real-server behaviour is in max-deliver.int-spec and faults.int-spec).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BenchJob } from '@benchfarm/protocol';
import { JOB_STREAM, agentConsumerName, jobSubject } from '@benchfarm/messaging';
import type { FarmStore } from '@benchfarm/messaging';
import type { Clock } from '../common/clock';
import type { LeaseRepository } from '../storage/lease.repository';
import type { JobConsumerState, JobStream, StoredJobMessage } from './job-stream';
import { MaxDeliverWatcher } from './max-deliver.watcher';

const AGENT = 'agent-1';
const message: StoredJobMessage = { seq: 7, subject: jobSubject(AGENT), data: BenchJob.encode({ ...BenchJob.fromPartial({}), jobId: 'job-1', sweepId: 's', agentId: AGENT }).finish() };
const consumerWith = (numAckPending: number): JobConsumerState => ({ name: agentConsumerName(AGENT), filterSubject: jobSubject(AGENT), maxDeliver: 3, maxAckPending: 1, deliveredStreamSeq: 7, numAckPending });

function watcherOver(pendingReads: number) {
  let reads = 0;
  const deleted: number[] = [];
  const failed: string[] = [];
  const stream = {
    get: async (seq: number) => (seq === 7 && !deleted.includes(7) ? message : undefined),
    delete: async (seq: number) => (deleted.push(seq), true),
    consumer: async () => consumerWith(reads++ < pendingReads ? 1 : 0),
  } as unknown as JobStream;
  const leases = { view: () => ({ agentId: AGENT }), failJob: (jobId: string) => (failed.push(jobId), true) } as unknown as LeaseRepository;
  const clock = { nowMs: () => 0 } as unknown as Clock;
  const watcher = new MaxDeliverWatcher({} as FarmStore, leases, stream, clock, { leaseTtlMs: 30_000 });
  return { watcher, deleted, failed, reads: () => reads };
}

const advisory = { stream: JOB_STREAM, consumer: agentConsumerName(AGENT), streamSeq: 7, deliveries: 3 };

describe('MaxDeliverWatcher later looks', () => {
  afterEach(() => vi.useRealTimers());

  it('an advisory whose message the server drops from pending only after the first second is borne out later: the job fails, the message is deleted', async () => {
    vi.useFakeTimers();
    const { watcher, deleted, failed } = watcherOver(7);
    const handled = watcher.handle(advisory);
    await vi.advanceTimersByTimeAsync(60_000);
    await expect(handled).resolves.toBe('job-1');
    expect(failed).toEqual(['job-1']);
    expect(deleted).toEqual([7]);
  });

  it('one still pending at every look (a forged advisory for a message in flight) fails nothing', async () => {
    vi.useFakeTimers();
    const { watcher, deleted, failed, reads } = watcherOver(1_000);
    const handled = watcher.handle(advisory);
    await vi.advanceTimersByTimeAsync(120_000);
    await expect(handled).resolves.toBeUndefined();
    expect(failed).toEqual([]);
    expect(deleted).toEqual([]);
    expect(reads()).toBe(11);
  });

  it('shutdown ends the later looks at once', async () => {
    vi.useFakeTimers();
    const { watcher, failed } = watcherOver(1_000);
    const handled = watcher.handle(advisory);
    await vi.advanceTimersByTimeAsync(1_500);
    await watcher.onApplicationShutdown();
    await expect(handled).resolves.toBeUndefined();
    expect(failed).toEqual([]);
  });
});

describe('MaxDeliverWatcher reconcile pass (fakes of the store and the stream)', () => {
  /** A queued job-1 whose message 7 the consumer shows as `state`; the message is stored while `stored()`. */
  function reconcilerOver(state: () => Partial<JobConsumerState>, stored: () => boolean = () => true) {
    const deleted: number[] = [];
    const failed: Array<{ jobId: string; reason: string }> = [];
    const stream = {
      get: async (seq: number) => (seq === 7 && stored() && !deleted.includes(7) ? message : undefined),
      delete: async (seq: number) => (deleted.push(seq), true),
      consumers: async () => new Map([[agentConsumerName(AGENT), { ...consumerWith(0), ...state() }]]),
    } as unknown as JobStream;
    const leases = {
      queuedStreamSeqs: async () => (failed.length > 0 ? [] : [{ jobId: 'job-1', agentId: AGENT, streamSeq: 7 }]),
      view: async () => ({ agentId: AGENT, state: 'queued' }),
      failJob: async (jobId: string, reason: string) => (failed.push({ jobId, reason }), true),
    } as unknown as LeaseRepository;
    const watcher = new MaxDeliverWatcher({} as FarmStore, leases, stream, { nowMs: () => 0 } as unknown as Clock, { leaseTtlMs: 30_000 });
    return { watcher, deleted, failed };
  }

  it('a message delivered, no longer pending and still stored at two passes in a row: the job fails as an advisory would fail it, the message is deleted', async () => {
    const { watcher, deleted, failed } = reconcilerOver(() => ({}));
    await expect(watcher.reconcile()).resolves.toEqual([]);
    expect(failed).toEqual([]);
    await expect(watcher.reconcile()).resolves.toEqual(['job-1']);
    expect(failed).toEqual([{ jobId: 'job-1', reason: `no result after 3 deliveries to agent ${AGENT} (MaxDeliver)` }]);
    expect(deleted).toEqual([7]);
  });

  it('a message acked between the passes (gone from the stream) fails nothing', async () => {
    let passes = 0;
    const { watcher, deleted, failed } = reconcilerOver(() => ({}), () => passes < 1);
    await watcher.reconcile();
    passes += 1;
    await expect(watcher.reconcile()).resolves.toEqual([]);
    expect(failed).toEqual([]);
    expect(deleted).toEqual([]);
  });

  it.each([
    ['in flight or due again (pending, the last delivered)', { numAckPending: 1, deliveredStreamSeq: 7 }],
    ['not delivered yet (or the cursor moved back, nats-server #5305)', { numAckPending: 0, deliveredStreamSeq: 6 }],
    ['on a consumer without MaxDeliver', { maxDeliver: -1 }],
  ])('a message %s is never failed', async (_what, state) => {
    const { watcher, failed, deleted } = reconcilerOver(() => state);
    for (let i = 0; i < 3; i += 1) await watcher.reconcile();
    expect(failed).toEqual([]);
    expect(deleted).toEqual([]);
  });

  it('a message found past MaxDeliver, then pending again, then past it again needs two passes in a row again', async () => {
    const states = [{}, { numAckPending: 1 }, {}, {}];
    let pass = 0;
    const { watcher, failed } = reconcilerOver(() => states[pass]!);
    for (; pass < 3; pass += 1) await watcher.reconcile();
    expect(failed).toEqual([]);
    await watcher.reconcile();
    expect(failed.map((f) => f.jobId)).toEqual(['job-1']);
  });
});
