import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startNatsServer, type NatsServerHandle } from '@benchfarm/messaging';
import { paddleOcrModelPath } from '@benchfarm/onnx';
import { startPostgres, type PostgresServerHandle } from '@benchfarm/testing';
import { CoordinatorClient, type SweepView } from '../client';
import { createDerived, QUICK_SWEEP } from '../testing/farm.fixture';
import { startAgentProcess, waitFor, type TestProcess } from './harness';
import { coordinatorLogLines, firstResultAcceptedAt, readSweepLedgerPg, startHaCoordinator, type HaCoordinator } from './failover-harness';

// Two coordinators against one PostgreSQL database and one nats-server (RELIABILITY.md, promise
// 16): one leads, the other stands by (leader lease in NATS KV). The leader is killed (-9) while
// a sweep runs on two real agents (onnxruntime-node in their suite child) that were given both
// gRPC addresses; the standby takes over, resumes from the store and NATS, and the sweep
// completes: every job done, exactly one result row per job counted in PostgreSQL itself.
// BENCHFARM_FAILOVER_KILLS (default 1) repeats it: the killed coordinator comes back as the new
// standby and the next sweep's leader is killed in turn. `npx tsx scripts/bench-failover.ts`
// runs that and reads the `[figures]` lines. Then the leader is frozen (SIGSTOP) past its lease
// instead: resumed after the standby took over, it must exit (75) without acting again.
const KILLS = Math.max(1, Number(process.env.BENCHFARM_FAILOVER_KILLS ?? 1));
/** The leader lease TTL (BENCHFARM_HA_LEASE_TTL_MS); the reference default, 6 s, unless the figures script asks for another. */
const LEASE_TTL_MS = Number(process.env.BENCHFARM_FAILOVER_TTL_MS ?? 6_000);
/** What a takeover may take beyond the TTL: the poll (500 ms) and the standby's start-up, with slack for 2 loaded cores. */
const START_SLACK_MS = 10_000;
const MODEL = paddleOcrModelPath('cls');
const AGENTS = ['fo-a', 'fo-b'];
const SWEEP = { ...QUICK_SWEEP, variants: 'fp32,ort-basic,ort-extended', targets: AGENTS.join(','), minDurationMs: 1_500 };

/** Log lines of a coordinator acting on the farm: a lease granted or expired, a job moved, a result or an error stored. */
const ACTING = /^(lease granted|lease of job .* expired|job \S+ moved|result \S+ committed|duplicate result|job \S+ attempt \d+ failed)/;

describe('two coordinators, one PostgreSQL and one NATS: the leader killed (-9) or frozen mid-sweep', () => {
  let dir: string;
  let nats: NatsServerHandle;
  let postgres: PostgresServerHandle;
  const coordinators: HaCoordinator[] = [];
  const agents: TestProcess[] = [];
  let slots: Array<{ base: string; grpcPort: number; httpPort: number; generation: number }>;
  let leader: HaCoordinator;
  let standby: HaCoordinator;

  const start = async (slot: (typeof slots)[number]): Promise<HaCoordinator> => {
    const name = slot.generation === 0 ? slot.base : `${slot.base}.${slot.generation}`;
    slot.generation += 1;
    const c = await startHaCoordinator({ name, natsUrl: nats.url, store: { databaseUrl: postgres.url }, dir, leaseTtlMs: LEASE_TTL_MS, grpcPort: slot.grpcPort, httpPort: slot.httpPort });
    coordinators.push(c);
    return c;
  };
  /** The gone leader's slot gets a new process (a supervisor's restart), which stands by behind the new leader. */
  const replaceGoneLeader = async (): Promise<void> => {
    const slot = slots.find((s) => leader.grpcAddress === `127.0.0.1:${s.grpcPort}`)!;
    const back = await start(slot);
    expect((await back.waitForEvent('standby')).fields).toMatchObject({ leader: { instanceId: standby.name, state: 'serving' } });
    leader = standby;
    standby = back;
  };
  /** A sweep on both agents, once one of its results is stored and other jobs are open. */
  const sweepMidway = async (client: CoordinatorClient): Promise<{ id: string; before: SweepView }> => {
    const sweep = await createDerived(client, MODEL, SWEEP);
    expect(sweep.jobs).toHaveLength(AGENTS.length * 3);
    const before = await waitFor(
      'one job done and others open',
      async () => {
        const s = await client.getSweep(sweep.id);
        return s.jobs.some((j) => j.state === 'done') && s.jobs.some((j) => j.state !== 'done') ? s : undefined;
      },
      90_000,
      100,
    );
    return { id: sweep.id, before };
  };
  /** Waits for the sweep to settle on `on`, then checks it in the view and in PostgreSQL; returns the ledger. */
  const completedOnce = async (on: HaCoordinator, id: string, before: SweepView): Promise<Awaited<ReturnType<typeof readSweepLedgerPg>>> => {
    const client = new CoordinatorClient(on.httpUrl);
    const done: SweepView = await waitFor(
      `sweep ${id} settled on ${on.name}`,
      async () => {
        const s = await client.getSweep(id);
        return s.state === 'running' ? undefined : s;
      },
      120_000,
      200,
    );
    expect(done.state).toBe('completed');
    expect(done.jobs.map((j) => j.state)).toEqual(done.jobs.map(() => 'done'));
    // Results stored before the fault are the same rows after it.
    for (const j of before.jobs.filter((x) => x.state === 'done')) expect(done.jobs.find((x) => x.id === j.id)?.result?.id).toBe(j.result?.id);
    const counts = await readSweepLedgerPg(postgres.url, id);
    expect(counts).toMatchObject({ jobs: AGENTS.length * 3, open: 0, failed: 0, lost: 0, duplicated: 0, results: AGENTS.length * 3 });
    return counts;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bf-failover-'));
    nats = await startNatsServer({ storeDir: join(dir, 'nats') });
    postgres = await startPostgres();
    slots = [
      { base: 'coord-a', grpcPort: await freePort(), httpPort: await freePort(), generation: 0 },
      { base: 'coord-b', grpcPort: await freePort(), httpPort: await freePort(), generation: 0 },
    ];
    leader = await start(slots[0]!);
    await leader.waitForEvent('ready');
    standby = await start(slots[1]!);
    expect((await standby.waitForEvent('standby')).fields).toMatchObject({ instanceId: 'coord-b', leader: { instanceId: 'coord-a', state: 'serving', grpcAddress: leader.grpcAddress, httpUrl: leader.httpUrl } });
    // Agents are given both coordinators' addresses; the standby serves nothing (UNAVAILABLE there).
    const grpcAddresses = slots.map((s) => `127.0.0.1:${s.grpcPort}`).join(',');
    const client = new CoordinatorClient(leader.httpUrl);
    for (const agentId of AGENTS) {
      agents.push(await startAgentProcess({ agentId, natsUrl: nats.url, grpcAddress: grpcAddresses, dir }));
      await waitFor(`${agentId} registered`, async () => ((await client.listAgents()).some((x) => x.agentId === agentId && !x.stale) ? true : undefined));
    }
  }, 180_000);

  afterAll(async () => {
    for (const a of agents) await a.stop(3_000);
    for (const c of coordinators) await c.stop(5_000);
    await nats?.stop();
    await postgres?.stop();
    if (!process.env.BENCHFARM_KEEP_FAULT_LOGS) rmSync(dir, { recursive: true, force: true });
    else console.log(`[failover] logs kept in ${dir}/logs`);
  }, 60_000);

  it('the standby refuses connections while it waits', async () => {
    await expect(fetch(`${standby.httpUrl}/healthz`)).rejects.toThrow();
    expect((await fetch(`${leader.httpUrl}/healthz`)).status).toBe(200);
  });

  it('leader killed (-9): the standby serves within TTL + 10 s, the sweep completes: every job done once, none failed, lost or duplicated', async () => {
    for (let kill = 0; kill < KILLS; kill += 1) {
      const { id, before } = await sweepMidway(new CoordinatorClient(leader.httpUrl));
      const killedAtMs = Date.now();
      leader.signal('SIGKILL');
      expect(await leader.exited).toEqual({ code: null, signal: 'SIGKILL' });
      const leading = await standby.waitForEvent('leading', LEASE_TTL_MS + START_SLACK_MS);
      const ready = await standby.waitForEvent('ready', LEASE_TTL_MS + START_SLACK_MS);
      expect(leading.atMs).toBeGreaterThanOrEqual(killedAtMs);
      expect(ready.fields).toMatchObject({ instanceId: standby.name, grpcAddress: standby.grpcAddress, httpUrl: standby.httpUrl });
      const readyMs = ready.atMs - killedAtMs;
      expect(readyMs).toBeLessThanOrEqual(LEASE_TTL_MS + START_SLACK_MS);
      const counts = await completedOnce(standby, id, before);
      const firstResultAtMs = firstResultAcceptedAt(standby.logFile, killedAtMs);
      expect(firstResultAtMs).toBeDefined();
      console.log(
        `[figures] ${JSON.stringify({ promise: '16 leader coordinator killed -9 mid-sweep', leaseTtlMs: LEASE_TTL_MS, leadingMs: leading.atMs - killedAtMs, readyMs, firstResultMs: (firstResultAtMs ?? Number.NaN) - killedAtMs, jobsOpenAtKill: before.jobs.filter((j) => j.state !== 'done').length, lost: counts.lost, duplicated: counts.duplicated, failed: counts.failed, redelivered: counts.redelivered })}`,
      );
      await replaceGoneLeader();
    }
  }, 60_000 + KILLS * 150_000);

  it('leader frozen (SIGSTOP) past its lease, resumed after the standby took over: it exits (75) without acting again; the sweep completes once', async () => {
    const frozen = leader;
    const { id, before } = await sweepMidway(new CoordinatorClient(frozen.httpUrl));
    const frozenAtMs = Date.now();
    frozen.signal('SIGSTOP');
    const ready = await standby.waitForEvent('ready', LEASE_TTL_MS + START_SLACK_MS);
    // Agents time out on the frozen one (deadline 5 s, keepalive 15 s) and carry on with the new leader.
    await waitFor('a result accepted by the new leader', () => firstResultAcceptedAt(standby.logFile, frozenAtMs), 60_000, 200);
    const resumedAtMs = Date.now();
    frozen.signal('SIGCONT');
    expect(await frozen.exited).toEqual({ code: 75, signal: null });
    expect(frozen.events().find((e) => e.event === 'leadership_lost')?.fields.reason).toMatch(/fence|renewal|held by/);
    // Whatever waited while it was frozen (agents' calls, its timers) found it deposed: nothing done.
    const actedAfterResume = coordinatorLogLines(frozen.logFile).filter((l) => l.timeMs >= resumedAtMs && ACTING.test(l.message));
    expect(actedAfterResume).toEqual([]);
    const counts = await completedOnce(standby, id, before);
    console.log(
      `[figures] ${JSON.stringify({ promise: '16 leader coordinator frozen past its lease', leaseTtlMs: LEASE_TTL_MS, readyMs: ready.atMs - frozenAtMs, frozenMs: resumedAtMs - frozenAtMs, lost: counts.lost, duplicated: counts.duplicated, failed: counts.failed, redelivered: counts.redelivered })}`,
    );
    await replaceGoneLeader();
  }, 240_000);
});
