// Issue 13 item 2, the embedded default (no NATS auth, plaintext gRPC on loopback): a hand-made
// MaxDeliver advisory must not fail or delete a job; the server's own advisory still does.
// Real nats-server, the coordinator in-process (SQLite, gRPC), no agent process: the test pulls
// the job from the agent's consumer itself (the fake agent is a registry entry it writes).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, status } from '@grpc/grpc-js';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JOB_STREAM, agentConsumer, ensureAgentConsumer, ensureFarmStore, jobSubject, startNatsServer, type FarmStore, type NatsServerHandle } from '@benchfarm/messaging';
import { paddleOcrModelPath } from '@benchfarm/onnx';
import { AgentRecord, LeaseDecision, type LeasesClient } from '@benchfarm/protocol';
import { startCoordinator, type RunningCoordinator } from '../app';
import { JsonLogger } from '../common/json-logger';
import { fakeAgentRecord } from '../testing/fake-agent';
import { resultsClient, syntheticUpload, upload } from '../testing/grpc-upload';
import { LogLines, acquireLease, leasesClient, publishForgedMaxDeliveries } from '../testing/leases';
import type { SweepView } from '../sweeps/sweep.view';

const AGENT = 'md-agent';
const WATCHER = 'MaxDeliverWatcher';

describe('MaxDeliver advisories in the embedded default: only what the server says happened fails a job', () => {
  let nats: NatsServerHandle;
  let dir: string;
  let coordinator: RunningCoordinator;
  let nc: NatsConnection;
  let farm: FarmStore;
  let leases: LeasesClient;
  let heartbeat: NodeJS.Timeout;
  const logs = new LogLines();
  let sweepId: string;
  let jobId: string;
  let seq: number;

  const sweep = async (): Promise<SweepView> => (await (await fetch(`${coordinator.httpUrl}/sweeps/${sweepId}`)).json()) as SweepView;
  const stillStored = async (): Promise<boolean> => farm.jsm.streams.getMessage(JOB_STREAM, { seq }).then((m) => m !== null && m !== undefined, () => false);

  beforeAll(async () => {
    nats = await startNatsServer();
    dir = mkdtempSync(join(tmpdir(), 'bf-maxdeliver-'));
    coordinator = await startCoordinator(
      { natsUrl: nats.url, httpPort: 0, grpcPort: 0, dbPath: join(dir, 'coordinator.db'), dataDir: join(dir, 'data'), logLevel: 'info' },
      { logger: new JsonLogger('info', logs.write) },
    );
    nc = await connect({ servers: nats.url });
    farm = await ensureFarmStore(nc);
    const put = (): Promise<unknown> => farm.agents.put(AGENT, AgentRecord.encode(fakeAgentRecord(AGENT)).finish());
    await put();
    heartbeat = setInterval(() => void put().catch(() => undefined), 2_000);
    // A short AckWait so that the real MaxDeliver below takes seconds (MaxDeliver stays 3).
    await ensureAgentConsumer(farm.jsm, AGENT, { ackWaitMs: 1_000 });
    leases = leasesClient(coordinator.grpcAddress, credentials.createInsecure());
    const response = await fetch(`${coordinator.httpUrl}/sweeps`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ modelPath: paddleOcrModelPath('cls'), variants: ['fp32'], targets: [AGENT], shapes: { x: [1, 3, 48, 192] }, compare: 'none', minQueries: 10, minDurationMs: 100, maxDurationMs: 5_000 }),
    });
    const created = (await response.json()) as SweepView;
    expect(response.status, JSON.stringify(created)).toBe(201);
    sweepId = created.id;
    jobId = created.jobs[0]!.id;
    seq = (await farm.jsm.streams.getMessage(JOB_STREAM, { last_by_subj: jobSubject(AGENT) }))!.seq;
  }, 60_000);

  afterAll(async () => {
    clearInterval(heartbeat);
    leases?.close();
    await nc?.close();
    await coordinator?.close();
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a lease for another agent id than the job\'s is refused (NOT_YOURS) and is no attempt, even without auth', async () => {
    for (let i = 0; i < 4; i += 1) {
      const refused = await acquireLease(leases, { jobId, sweepId, agentId: 'someone-else' });
      expect(refused).toMatchObject({ decision: LeaseDecision.LEASE_DECISION_NOT_YOURS, leaseToken: '' });
      expect(refused.reason).toContain(`assigned to agent ${AGENT}`);
    }
    expect((await sweep()).jobs[0]).toMatchObject({ state: 'queued', attempts: 0 });
  });

  it('a forged advisory for a queued job (never delivered) is refused: the job stays queued, its message stays', async () => {
    const seen = logs.of(WATCHER).length;
    await publishForgedMaxDeliveries(nc, AGENT, seq);
    const [line] = await logs.next(WATCHER, seen);
    expect((await sweep()).jobs[0]).toMatchObject({ state: 'queued', attempts: 0 });
    expect(await stillStored()).toBe(true);
    expect(line?.message).toMatch(new RegExp(`refused a MaxDeliver advisory for message ${seq} .*never delivered`));
  });

  it('a forged advisory for the job in flight is refused and uploads without its lease token are refused: the attempt keeps its lease; the real MaxDeliver later fails the job and deletes its message', async () => {
    const consumer = await agentConsumer(farm.js, AGENT);
    const first = await consumer.next({ expires: 5_000 });
    expect(first?.seq).toBe(seq);
    const grant = await acquireLease(leases, { jobId, sweepId, agentId: AGENT, deliveryCount: first!.info.deliveryCount });
    expect(grant.decision).toBe(LeaseDecision.LEASE_DECISION_GRANTED);
    // Without auth the lease token is what protects the attempt: once the job is leased, an
    // upload without it or with another one is refused.
    const results = resultsClient(coordinator.grpcAddress);
    try {
      for (const leaseToken of ['', `lease_${'0'.repeat(32)}`]) {
        const header = { jobId, sweepId, agentId: AGENT, attempt: 1, uploadId: `forged-${leaseToken.length}`, leaseToken, resumeFromEvent: 0 };
        await expect(upload(results, syntheticUpload(header, [1, 1, 1]))).rejects.toMatchObject({ code: status.FAILED_PRECONDITION });
      }
    } finally {
      results.close();
    }

    const seen = logs.of(WATCHER).length;
    await publishForgedMaxDeliveries(nc, AGENT, seq);
    const [line] = await logs.next(WATCHER, seen);
    expect(line?.message).toMatch(new RegExp(`refused a MaxDeliver advisory for message ${seq} .*still pending`));
    expect((await sweep()).jobs[0]).toMatchObject({ state: 'running', attempts: 1 });
    expect(await stillStored()).toBe(true);

    // Now the real thing: never acked, the message comes back after each AckWait (1 s) until
    // MaxDeliver (3); the pull after that makes the server publish its advisory.
    const deliveries = [first!.info.deliveryCount];
    const deadline = Date.now() + 30_000;
    while ((await sweep()).jobs[0]!.state !== 'failed') {
      if (Date.now() > deadline) throw new Error(`job not failed after deliveries ${deliveries.join(',')}; watcher said ${JSON.stringify(logs.of(WATCHER))}`);
      const again = await consumer.next({ expires: 1_500 });
      if (again) deliveries.push(again.info.deliveryCount);
    }
    expect(deliveries).toEqual([1, 2, 3]);
    const failed = (await sweep()).jobs[0]!;
    expect(failed.error).toMatch(/no result after 3 deliveries to agent md-agent \(MaxDeliver\)/);
    await expect.poll(stillStored, { timeout: 10_000 }).toBe(false);
  }, 60_000);
});
