// Job identity, the embedded default (no NATS auth, plaintext gRPC on loopback): a hand-made
// MaxDeliver advisory must not fail or delete a job; the server's own advisory still does.
// Then the jobs no advisory fails: nats-server 2.9's delivery count going back to 1 (the CI flake
// of faults.int-spec's MaxDeliver test), and an advisory published while no coordinator ran.
// Real nats-server, the coordinator in-process (SQLite, gRPC), no agent process: the test pulls
// the job from the agent's consumer itself (the fake agent is a registry entry it writes).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, status } from '@grpc/grpc-js';
import { connect, createInbox, type NatsConnection } from '@nats-io/transport-node';
import type { Consumer } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JOB_STREAM, agentConsumer, agentConsumerName, ensureAgentConsumer, ensureFarmStore, jobSubject, startNatsServer, type FarmStore, type NatsServerHandle } from '@benchfarm/messaging';
import { paddleOcrModelPath } from '@benchfarm/onnx';
import { AgentRecord, LeaseDecision, type LeasesClient } from '@benchfarm/protocol';
import { startCoordinator, type RunningCoordinator } from '../app';
import { JsonLogger } from '../common/json-logger';
import { fakeAgentRecord } from '../testing/fake-agent';
import { resultsClient, syntheticUpload, upload } from '../testing/grpc-upload';
import { LogLines, acquireLease, leasesClient, publishForgedMaxDeliveries } from '../testing/leases';
import type { SweepView } from '../sweeps/sweep.view';
import { untilDerived } from '../testing/derived';

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
    const created = await untilDerived(coordinator.httpUrl, (await response.json()) as SweepView);
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

/** Whether nats-server has the fix of nats-server #5305 (2.10.14): a redelivery that meets a gone requester no longer moves the consumer's cursor back. */
function cursorFixed(version: string): boolean {
  const [major = 0, minor = 0, patch = 0] = version.split(/[.-]/).map(Number);
  return major > 2 || (major === 2 && (minor > 10 || (minor === 10 && patch >= 14)));
}

/**
 * A pull request whose requester goes away while the server still holds it, as when an agent's
 * client gives up on a pull (its expiry passed on a loaded machine) just before the server
 * answers. Resolves once the server has it and the requester's subscription is gone.
 */
async function abandonedPull(nc: NatsConnection, agentId: string): Promise<void> {
  const inbox = createInbox();
  const sub = nc.subscribe(inbox);
  nc.publish(`$JS.API.CONSUMER.MSG.NEXT.${JOB_STREAM}.${agentConsumerName(agentId)}`, new TextEncoder().encode(JSON.stringify({ batch: 1, expires: 30_000_000_000 })), { reply: inbox });
  await nc.flush();
  await new Promise((resolve) => setTimeout(resolve, 150));
  sub.unsubscribe();
  await nc.flush();
}

describe('jobs past MaxDeliver that no advisory fails: the reconcile pass', () => {
  let nats: NatsServerHandle;
  let dir: string;
  let coordinator: RunningCoordinator | undefined;
  let nc: NatsConnection;
  let farm: FarmStore;
  let heartbeat: NodeJS.Timeout;
  const logs = new LogLines();
  const AGENTS = ['md-race', 'md-lost'];
  /** The consumers' AckWait. */
  const ACK_WAIT_MS = 1_000;
  /**
   * The first coordinator's lease TTL, so its reconcile interval: consumer info (which the pass
   * reads) drops waiting pull requests whose requester is gone, so the pass must not run while
   * the first test reproduces the race (its first pass ran before there was a queued job).
   */
  const QUIET_RECONCILE_MS = 12_000;

  const start = async (leaseTtlMs: number): Promise<RunningCoordinator> =>
    startCoordinator(
      { natsUrl: nats.url, httpPort: 0, grpcPort: 0, dbPath: join(dir, 'coordinator.db'), dataDir: join(dir, 'data'), logLevel: 'info', leaseTtlMs, monitorIntervalMs: 250 },
      { logger: new JsonLogger('info', logs.write) },
    );
  const sweepFor = async (agentId: string): Promise<{ sweepId: string; jobId: string; seq: number }> => {
    const response = await fetch(`${coordinator!.httpUrl}/sweeps`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ modelPath: paddleOcrModelPath('cls'), variants: ['fp32'], targets: [agentId], shapes: { x: [1, 3, 48, 192] }, compare: 'none', minQueries: 10, minDurationMs: 100, maxDurationMs: 5_000 }),
    });
    const created = await untilDerived(coordinator!.httpUrl, (await response.json()) as SweepView);
    expect(response.status, JSON.stringify(created)).toBe(201);
    const seq = (await farm.jsm.streams.getMessage(JOB_STREAM, { last_by_subj: jobSubject(agentId) }))!.seq;
    return { sweepId: created.id, jobId: created.jobs[0]!.id, seq };
  };
  /** Reads the sweep from `on` (the coordinator may be a new one by then). */
  const jobOf = async (on: RunningCoordinator, sweepId: string): Promise<SweepView['jobs'][number]> => ((await (await fetch(`${on.httpUrl}/sweeps/${sweepId}`)).json()) as SweepView).jobs[0]!;
  const stored = async (seq: number): Promise<boolean> => farm.jsm.streams.getMessage(JOB_STREAM, { seq }).then((m) => m !== null && m !== undefined, () => false);
  const pull = async (consumer: Consumer, deliveries: number[]): Promise<void> => {
    const m = await consumer.next({ expires: 2_500 });
    if (m) deliveries.push(m.info.deliveryCount);
  };

  beforeAll(async () => {
    nats = await startNatsServer();
    dir = mkdtempSync(join(tmpdir(), 'bf-maxdeliver-reconcile-'));
    coordinator = await start(QUIET_RECONCILE_MS);
    nc = await connect({ servers: nats.url });
    farm = await ensureFarmStore(nc);
    const put = (): Promise<unknown> => Promise.all(AGENTS.map((a) => farm.agents.put(a, AgentRecord.encode(fakeAgentRecord(a)).finish())));
    await put();
    heartbeat = setInterval(() => void put().catch(() => undefined), 1_000);
    for (const a of AGENTS) await ensureAgentConsumer(farm.jsm, a, { ackWaitMs: ACK_WAIT_MS });
  }, 60_000);

  afterAll(async () => {
    clearInterval(heartbeat);
    await nc?.close();
    await coordinator?.close();
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("nats-server's delivery count going back to 1 at MaxDeliver (a redelivery met a pull whose requester had gone): the advisory is refused as never delivered, and the job still fails after MaxDeliver; its message is deleted", async () => {
    const { sweepId, jobId, seq } = await sweepFor('md-race');
    const consumer = await agentConsumer(farm.js, 'md-race');
    const deliveries: number[] = [];
    await pull(consumer, deliveries);
    // The redelivery after AckWait goes to a requester that is gone: nats-server 2.9 moves the
    // consumer's cursor back (nats-server #5305), and the next pull gets the message after
    // another AckWait with delivery count 3.
    await abandonedPull(nc, 'md-race');
    await new Promise((resolve) => setTimeout(resolve, ACK_WAIT_MS + 300));
    await pull(consumer, deliveries);
    // MaxDeliver is passed while again only a gone requester waits: the server publishes its
    // advisory, then loads the message anew (count 1) for that requester, fails to deliver it
    // and moves the cursor back: at the advisory the consumer says it never delivered the message.
    const seen = logs.of(WATCHER).length;
    await abandonedPull(nc, 'md-race');
    await new Promise((resolve) => setTimeout(resolve, ACK_WAIT_MS + 300));
    const deadline = Date.now() + 2 * QUIET_RECONCILE_MS + 15_000;
    while ((await jobOf(coordinator!, sweepId)).state !== 'failed') {
      if (Date.now() > deadline) throw new Error(`job not failed after deliveries ${deliveries.join(',')}; watcher said ${JSON.stringify(logs.of(WATCHER).slice(seen))}`);
      await pull(consumer, deliveries);
    }
    const said = logs.of(WATCHER).slice(seen).map((l) => l.message);
    if (!cursorFixed(nc.info?.version ?? '0')) {
      // What the CI run's agent logged (deliveries 1, 3, 1) and why no advisory failed the job.
      expect(deliveries).toEqual([1, 3, 1]);
      expect(said).toContainEqual(expect.stringMatching(new RegExp(`^refused a MaxDeliver advisory for message ${seq} .*never delivered`)));
      expect(said).toContainEqual(expect.stringMatching(new RegExp(`^message ${seq} of job ${jobId} is past MaxDeliver .*found at two reconcile passes`)));
    }
    const failed = await jobOf(coordinator!, sweepId);
    expect(failed).toMatchObject({ state: 'failed', attempts: 0 });
    expect(failed.error).toMatch(/no result after 3 deliveries to agent md-race \(MaxDeliver\)/);
    await expect.poll(() => stored(seq), { timeout: 10_000 }).toBe(false);
  }, 90_000);

  it('a MaxDeliver advisory published while no coordinator ran (a takeover, a restart) is lost; the next coordinator fails the job at its reconcile passes and deletes its message', async () => {
    const { sweepId, jobId, seq } = await sweepFor('md-lost');
    await coordinator!.close();
    coordinator = undefined;
    const advisories: string[] = [];
    const sub = nc.subscribe(`$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${JOB_STREAM}.${agentConsumerName('md-lost')}`, { callback: (_err, msg) => void advisories.push(msg.string()) });
    try {
      const consumer = await agentConsumer(farm.js, 'md-lost');
      const deliveries: number[] = [];
      // Never acked: back after each AckWait until MaxDeliver (3); the pull after that makes the
      // server drop it from pending and publish the advisory, which nobody hears.
      for (let i = 0; i < 6 && advisories.length === 0; i += 1) await pull(consumer, deliveries);
      expect(deliveries).toEqual([1, 2, 3]);
      expect(advisories).toHaveLength(1);
      expect(JSON.parse(advisories[0]!)).toMatchObject({ stream_seq: seq, deliveries: 3 });
    } finally {
      sub.unsubscribe();
    }
    const startedAt = Date.now();
    // The new coordinator with the consumers' AckWait as its lease TTL, as configured in a farm.
    coordinator = await start(ACK_WAIT_MS);
    const on = coordinator;
    await expect.poll(async () => (await jobOf(on, sweepId)).state, { timeout: 15_000, interval: 100 }).toBe('failed');
    const failedMs = Date.now() - startedAt;
    const failed = await jobOf(on, sweepId);
    expect(failed.error).toMatch(/no result after 3 deliveries to agent md-lost \(MaxDeliver\)/);
    expect(logs.of(WATCHER).map((l) => l.message)).toContainEqual(expect.stringMatching(new RegExp(`^message ${seq} of job ${jobId} is past MaxDeliver .*found at two reconcile passes`)));
    await expect.poll(() => stored(seq), { timeout: 10_000 }).toBe(false);
    // Two passes one lease TTL apart, the first at start-up; the rest is start-up and polling.
    expect(failedMs).toBeLessThan(10_000);
  }, 60_000);
});
