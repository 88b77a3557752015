import { Server, ServerCredentials, credentials, status, type ServerReadableStream, type sendUnaryData } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '@benchfarm/messaging';
import { LeaseDecision, LeaseStatus, LeasesService, ResultsService, Summary, UploadOutcome, type LeasesServer, type ResultEvent, type UploadAck, type UploadHeader } from '@benchfarm/protocol';
import { CoordinatorChannels } from './coordinator-channels';
import { acquireLease, JobLease } from './lease';
import { JobUpload } from './upload';

// The agent's coordinator channels against real grpc-js servers on loopback, one per coordinator
// address: a standby that does not listen, a leader killed mid-upload (forceShutdown resets its
// connections, as kill -9 does) and another taking over at its own address. What the servers do
// with a call is a FAKE of the coordinator's logic (labelled): one shared map stands for the
// shared database, storing one result per job (the real store's unique job id), so a repeat
// after a lost answer reads DUPLICATE.

/** The shared store of the fake coordinators: job id -> result id. */
type FakeStore = Map<string, string>;

interface FakeCoordinator {
  readonly address: string;
  /** Events each upload stream carried, in arrival order. */
  readonly streams: ResultEvent[][];
  /** Kills the server: every connection reset at once. */
  kill(): void;
}

async function startFakeCoordinator(port: number, store: FakeStore, options: { dieAfterCommit?: boolean } = {}): Promise<FakeCoordinator> {
  const server = new Server();
  const streams: ResultEvent[][] = [];
  const leases: LeasesServer = {
    acquire: (call, cb) => cb(null, { decision: LeaseDecision.LEASE_DECISION_GRANTED, leaseToken: `lease-${call.request.jobId}`, attempt: 1, leaseTtlMs: 30_000, reason: '' }),
    renew: (_call, cb) => cb(null, { status: LeaseStatus.LEASE_STATUS_ACTIVE, reason: '' }),
    uploadStatus: (call, cb) => cb(null, { eventsReceived: 0, committed: store.has(call.request.jobId) }),
  };
  server.addService(LeasesService, leases);
  server.addService(ResultsService, {
    upload: (call: ServerReadableStream<ResultEvent, UploadAck>, cb: sendUnaryData<UploadAck>) => {
      const events: ResultEvent[] = [];
      streams.push(events);
      call.on('data', (e: ResultEvent) => events.push(e));
      call.on('error', () => undefined);
      call.on('end', () => {
        const jobId = events[0]?.header?.jobId ?? '';
        if (events.at(-1)?.event?.$case !== 'summary') return cb({ code: status.INVALID_ARGUMENT, details: 'no summary' });
        const existing = store.get(jobId);
        if (!existing) store.set(jobId, `result-${store.size + 1}`);
        // Committed, then killed before the answer left: the agent sees only a dropped stream.
        if (options.dieAfterCommit) return server.forceShutdown();
        cb(null, { jobId, outcome: existing ? UploadOutcome.UPLOAD_OUTCOME_DUPLICATE : UploadOutcome.UPLOAD_OUTCOME_COMMITTED, resultId: store.get(jobId) ?? '', jobFinal: true });
      });
    },
  });
  await new Promise<number>((resolve, reject) => server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  return { address: `127.0.0.1:${port}`, streams, kill: () => server.forceShutdown() };
}

const header = (jobId: string): UploadHeader => ({ jobId, sweepId: 's1', agentId: 'a1', attempt: 1, uploadId: `${jobId}.1.u`, leaseToken: `lease-${jobId}`, resumeFromEvent: 0 });
const summary = Summary.fromPartial({ count: 10, meanMs: 1 });

describe('agent coordinator channels (real gRPC, fake coordinator logic)', () => {
  const cleanup: Array<() => void> = [];
  afterEach(() => {
    for (const c of cleanup.splice(0)) c();
  });
  const channelsTo = (addresses: string[], moves: unknown[] = []): CoordinatorChannels => {
    const channels = new CoordinatorChannels(addresses, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }, (_level, _message, fields) => moves.push(fields));
    cleanup.push(() => channels.close());
    return channels;
  };

  it('a standby listed first (not listening) is skipped: the lease comes from the leader, and later calls stay there', async () => {
    const store: FakeStore = new Map();
    const standbyPort = await freePort();
    const leader = await startFakeCoordinator(await freePort(), store);
    cleanup.push(() => leader.kill());
    const moves: unknown[] = [];
    const channels = channelsTo([`127.0.0.1:${standbyPort}`, leader.address], moves);
    const outcome = await acquireLease(channels.leases, { jobId: 'j1', sweepId: 's1', agentId: 'a1', deliveryCount: 1 }, 10_000, new AbortController().signal);
    expect(outcome).toMatchObject({ kind: 'granted', lease: { token: 'lease-j1' } });
    expect(channels.currentAddress).toBe(leader.address);
    expect(moves).toEqual([expect.objectContaining({ from: `127.0.0.1:${standbyPort}`, to: leader.address, code: 'UNAVAILABLE' })]);
    expect(await new JobLease('j1', 'a1', 'lease-j1', 1).renew(channels.leases)).toBeUndefined();
    expect(moves).toHaveLength(1);
  });

  it('the leader killed mid-upload, the other coordinator serving 1 s later: the upload is sent whole to it and stored once', async () => {
    const store: FakeStore = new Map();
    const [portA, portB] = [await freePort(), await freePort()];
    const a = await startFakeCoordinator(portA, store);
    cleanup.push(() => a.kill());
    const channels = channelsTo([a.address, `127.0.0.1:${portB}`]);
    const lease = new JobLease('j2', 'a1', 'lease-j2', 1);
    const upload = new JobUpload(channels.results, header('j2'), { attempts: 20, backoffMs: 100, maxBackoffMs: 300 }, (h) => lease.heldEvents(channels.leases, h.uploadId));
    await upload.send({ $case: 'started', value: { startedAtUnixMs: Date.now(), onnxruntimeVersion: 'x', childPid: 1 } });
    await upload.send({ $case: 'samples', value: { offset: 0, latencyMs: [1, 2, 3] } });
    await new Promise((r) => setTimeout(r, 200));
    expect(a.streams.flat()).toHaveLength(2);
    a.kill();
    const b = new Promise<FakeCoordinator>((resolve) => setTimeout(() => resolve(startFakeCoordinator(portB, store)), 1_000));
    cleanup.push(() => void b.then((s) => s.kill()));
    await upload.send({ $case: 'summary', value: summary });
    const ack = await upload.finish();
    const next = await b;
    expect(ack).toMatchObject({ jobId: 'j2', outcome: UploadOutcome.UPLOAD_OUTCOME_COMMITTED, resultId: 'result-1' });
    expect(channels.currentAddress).toBe(next.address);
    // The new leader holds nothing of the upload (UploadStatus 0): every event again, on one stream.
    const complete = next.streams.filter((s) => s.at(-1)?.event?.$case === 'summary');
    expect(complete).toHaveLength(1);
    expect(complete[0]?.map((e) => e.event?.$case)).toEqual(['started', 'samples', 'summary']);
    expect(upload.resumedFromEvent).toBe(0);
    expect([...store]).toEqual([['j2', 'result-1']]);
  });

  it('the leader committed but died before answering: the new leader answers DUPLICATE with the same result; one result stored', async () => {
    const store: FakeStore = new Map();
    const [portA, portB] = [await freePort(), await freePort()];
    const a = await startFakeCoordinator(portA, store, { dieAfterCommit: true });
    cleanup.push(() => a.kill());
    const b = await startFakeCoordinator(portB, store);
    cleanup.push(() => b.kill());
    const channels = channelsTo([a.address, b.address]);
    const upload = new JobUpload(channels.results, header('j3'), { attempts: 5, backoffMs: 100 });
    await upload.send({ $case: 'summary', value: summary });
    const ack = await upload.finish();
    expect(ack).toMatchObject({ outcome: UploadOutcome.UPLOAD_OUTCOME_DUPLICATE, resultId: 'result-1' });
    expect(store.size).toBe(1);
  });

  it('with one address nothing moves: an unreachable coordinator is retried at the same address', async () => {
    const port = await freePort();
    const moves: unknown[] = [];
    const channels = channelsTo([`127.0.0.1:${port}`], moves);
    await expect(new JobLease('j4', 'a1', 't', 1).renew(channels.leases)).rejects.toMatchObject({ code: status.UNAVAILABLE });
    expect(channels.currentAddress).toBe(`127.0.0.1:${port}`);
    expect(moves).toEqual([]);
  });
});
