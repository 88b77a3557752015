// What a coordinator that has just started (a restart, or a standby taking over as leader: both
// run the same start-up) knows of the fleet it did not see: agents whose registry entry expired
// before it started, and leases nobody could renew while no coordinator ran. Real nats-server with
// JetStream, the coordinator in-process twice on one SQLite file (the second starts after the
// first closed), real gRPC; the agents are registry entries the test writes (FAKE agents: no
// process, no onnxruntime; the coordinator cannot tell).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Metadata, credentials } from '@grpc/grpc-js';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JOB_STREAM, ensureAgentConsumer, ensureFarmStore, jobSubject, startNatsServer, type FarmStore, type NatsServerHandle } from '@benchfarm/messaging';
import { paddleOcrModelPath } from '@benchfarm/onnx';
import { AgentRecord, LeaseDecision, LeaseStatus, type LeasesClient, type RenewLeaseResponse } from '@benchfarm/protocol';
import { startCoordinator, type RunningCoordinator } from '../app';
import { JsonLogger } from '../common/json-logger';
import { fakeAgentRecord } from '../testing/fake-agent';
import { LogLines, acquireLease, leasesClient } from '../testing/leases';
import { AGENT_POOL_BUCKET } from './agent-pools';
import type { SweepView } from '../sweeps/sweep.view';
import { untilDerived } from '../testing/derived';

const MONITOR = 'FleetMonitor';
/** The fault tests' fast timings (apps/cli/src/faults/harness.ts). */
const TIMINGS = { agentStaleAfterMs: 1_500, leaseTtlMs: 2_000, monitorIntervalMs: 250 };
const POOL = 'fm-pool';
const POOL_B = 'fm-pool-b';

function renew(client: LeasesClient, request: { jobId: string; agentId: string; leaseToken: string }): Promise<RenewLeaseResponse> {
  return new Promise((resolve, reject) => client.renew(request, new Metadata(), { deadline: Date.now() + 10_000 }, (err, res) => (err ? reject(err) : resolve(res))));
}

describe('a coordinator that starts after another: agents gone before it started, leases nobody could renew', () => {
  let nats: NatsServerHandle;
  let dir: string;
  let coordinator: RunningCoordinator | undefined;
  let nc: NatsConnection;
  let farm: FarmStore;
  let heartbeat: NodeJS.Timeout;
  const logs = new LogLines();
  /** Agents that heartbeat now, with their labels. */
  const beating = new Map<string, Record<string, string>>();
  // fm-gone and fm-back each have a peer in their pool, so either job would move if its agent counted as gone.
  const AGENTS: Record<string, Record<string, string>> = { 'fm-gone': { pool: POOL }, 'fm-peer': { pool: POOL }, 'fm-back': { pool: POOL_B }, 'fm-peer-b': { pool: POOL_B }, 'fm-runner': {} };

  const start = (): Promise<RunningCoordinator> =>
    startCoordinator(
      { natsUrl: nats.url, httpPort: 0, grpcPort: 0, dbPath: join(dir, 'coordinator.db'), dataDir: join(dir, 'data'), logLevel: 'info', ...TIMINGS },
      { logger: new JsonLogger('info', logs.write) },
    );
  const beat = (): Promise<unknown> => Promise.all([...beating].map(([id, labels]) => farm.agents.put(id, AgentRecord.encode(fakeAgentRecord(id, { labels })).finish())));
  const sweepFor = async (targets: string[]): Promise<SweepView> => {
    const response = await fetch(`${coordinator!.httpUrl}/sweeps`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ modelPath: paddleOcrModelPath('cls'), variants: ['fp32'], targets, shapes: { x: [1, 3, 48, 192] }, compare: 'none', minQueries: 10, minDurationMs: 100, maxDurationMs: 5_000 }),
    });
    const created = await untilDerived(coordinator!.httpUrl, (await response.json()) as SweepView);
    expect(response.status, JSON.stringify(created)).toBe(201);
    return created;
  };
  const sweep = async (on: RunningCoordinator, id: string): Promise<SweepView> => (await (await fetch(`${on.httpUrl}/sweeps/${id}`)).json()) as SweepView;
  const messagesFor = async (agentId: string): Promise<number> => {
    const info = await farm.jsm.streams.info(JOB_STREAM, { subjects_filter: jobSubject(agentId) });
    return info.state.subjects?.[jobSubject(agentId)] ?? 0;
  };
  const expiryLines = (jobId: string): string[] => logs.of(MONITOR).map((l) => l.message).filter((m) => m.startsWith(`lease of job ${jobId} `));

  beforeAll(async () => {
    nats = await startNatsServer();
    dir = mkdtempSync(join(tmpdir(), 'bf-fleet-monitor-'));
    coordinator = await start();
    nc = await connect({ servers: nats.url });
    farm = await ensureFarmStore(nc);
    for (const [id, labels] of Object.entries(AGENTS)) {
      beating.set(id, labels);
      await ensureAgentConsumer(farm.jsm, id);
    }
    await beat();
    heartbeat = setInterval(() => void beat().catch(() => undefined), 400);
  }, 60_000);

  afterAll(async () => {
    clearInterval(heartbeat);
    await nc?.close();
    await coordinator?.close();
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('agents whose registry entry was gone before the start: after the stale window their queued jobs move to a peer of the pool recorded for them; one back within the window keeps its job', async () => {
    const created = await sweepFor(['fm-gone', 'fm-back']);
    const jobOf = (s: SweepView, agentId: string) => s.jobs.find((j) => j.id === created.jobs.find((c) => c.agentId === agentId)!.id)!;
    // The running coordinator records the pools it sees, beyond the registry entries' life.
    const pools = await new Kvm(farm.js).open(AGENT_POOL_BUCKET);
    await expect.poll(async () => (await pools.get('fm-gone'))?.string(), { timeout: 10_000 }).toBe(POOL);
    await expect.poll(async () => (await pools.get('fm-back'))?.string(), { timeout: 10_000 }).toBe(POOL_B);

    // Both agents stop and their entries go (as after their TTL) while no coordinator runs.
    await coordinator!.close();
    coordinator = undefined;
    for (const id of ['fm-gone', 'fm-back']) {
      beating.delete(id);
      await farm.agents.delete(id);
    }
    const startedAt = Date.now();
    coordinator = await start();
    const on = coordinator;
    // fm-back comes back within the stale window after the start; fm-gone does not.
    setTimeout(() => beating.set('fm-back', AGENTS['fm-back']!), 300);

    const moved = await expect
      .poll(async () => jobOf(await sweep(on, created.id), 'fm-gone').agentId, { timeout: 20_000, interval: 50 })
      .toBe('fm-peer')
      .then(() => Date.now() - startedAt);
    expect(moved).toBeGreaterThanOrEqual(TIMINGS.agentStaleAfterMs);
    const after = await sweep(on, created.id);
    expect(jobOf(after, 'fm-gone')).toMatchObject({ agentId: 'fm-peer', state: 'queued' });
    expect(jobOf(after, 'fm-back')).toMatchObject({ agentId: 'fm-back', state: 'queued' });
    // The gone agent's message went with the move; the peer has the job's new one.
    await expect.poll(() => messagesFor('fm-gone'), { timeout: 5_000 }).toBe(0);
    expect(await messagesFor('fm-peer')).toBe(1);
    expect(await messagesFor('fm-back')).toBe(1);
    expect(await messagesFor('fm-peer-b')).toBe(0);
    const said = logs.of(MONITOR).map((l) => l.message);
    expect(said).toContainEqual(expect.stringMatching(/^agents with open jobs absent from the registry at start-up, .*fm-back \(pool fm-pool-b\).*fm-gone \(pool fm-pool\)/));
    expect(said).toContainEqual(expect.stringMatching(/^job \S+ moved from agent fm-gone to fm-peer \(pool fm-pool/));
    expect(said.filter((m) => m.includes('moved from agent fm-back'))).toEqual([]);
  }, 60_000);

  it('a lease nobody could renew while no coordinator ran is not expired by the new one for one lease TTL; the agent renews it and keeps its attempt; without renewals it expires after that', async () => {
    const created = await sweepFor(['fm-runner']);
    const jobId = created.jobs[0]!.id;
    const first = leasesClient(coordinator!.grpcAddress, credentials.createInsecure());
    let leaseToken: string;
    try {
      const grant = await acquireLease(first, { jobId, sweepId: created.id, agentId: 'fm-runner' });
      expect(grant.decision).toBe(LeaseDecision.LEASE_DECISION_GRANTED);
      leaseToken = grant.leaseToken;
      expect((await renew(first, { jobId, agentId: 'fm-runner', leaseToken })).status).toBe(LeaseStatus.LEASE_STATUS_ACTIVE);
    } finally {
      first.close();
    }
    // No coordinator for longer than the lease TTL: the agent's renewals have nowhere to go.
    await coordinator!.close();
    coordinator = undefined;
    await new Promise((resolve) => setTimeout(resolve, TIMINGS.leaseTtlMs + 500));
    const seen = logs.of(MONITOR).length;
    const startedAt = Date.now();
    coordinator = await start();
    const on = coordinator;
    const second = leasesClient(on.grpcAddress, credentials.createInsecure());
    try {
      // Several monitor passes (every 250 ms) run before the agent reaches the new coordinator.
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, startedAt + TIMINGS.leaseTtlMs / 2 - Date.now())));
      expect(expiryLines(jobId)).toEqual([]);
      expect((await sweep(on, created.id)).jobs[0]).toMatchObject({ state: 'running', attempts: 1 });
      const renewed = await renew(second, { jobId, agentId: 'fm-runner', leaseToken });
      expect(Date.now() - startedAt).toBeLessThan(TIMINGS.leaseTtlMs);
      expect(renewed.status).toBe(LeaseStatus.LEASE_STATUS_ACTIVE);
      // Past the grace the renewed lease is as good as any: still running, nothing expired.
      await new Promise((resolve) => setTimeout(resolve, TIMINGS.leaseTtlMs / 2));
      expect((await renew(second, { jobId, agentId: 'fm-runner', leaseToken })).status).toBe(LeaseStatus.LEASE_STATUS_ACTIVE);
      expect(expiryLines(jobId)).toEqual([]);
      // The agent stops renewing: the lease expires one TTL after its last renewal, as before.
      const lastRenewalAt = Date.now();
      await expect.poll(() => expiryLines(jobId).length, { timeout: TIMINGS.leaseTtlMs + 5_000, interval: 50 }).toBe(1);
      expect(Date.now() - lastRenewalAt).toBeGreaterThanOrEqual(TIMINGS.leaseTtlMs);
      expect(expiryLines(jobId)[0]).toMatch(/^lease of job \S+ attempt 1 on agent fm-runner expired/);
      expect((await sweep(on, created.id)).jobs[0]).toMatchObject({ state: 'queued', attempts: 1 });
      expect(logs.of(MONITOR).slice(seen).map((l) => l.message).filter((m) => m.startsWith('lease of job '))).toHaveLength(1);
    } finally {
      second.close();
    }
  }, 60_000);
});
