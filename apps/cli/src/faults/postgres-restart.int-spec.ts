import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startNatsServer, type NatsServerHandle } from '@benchfarm/messaging';
import { paddleOcrModelPath } from '@benchfarm/onnx';
import { startPostgres, type PostgresServerHandle } from '@benchfarm/testing';
import { CoordinatorClient, type SweepView } from '../client';
import { createDerived, QUICK_SWEEP } from '../testing/farm.fixture';
import { readSweepLedgerPg } from './failover-harness';
import { startAgentProcess, startCoordinatorProcess, waitFor, type TestProcess } from './harness';

// The coordinator on PostgreSQL (BENCHFARM_DATABASE_URL), as a lab runs it: real nats-server,
// coordinator and agent processes (onnxruntime-node in the agents' suite child), a private
// PostgreSQL server. A sweep runs end to end; a second sweep is interrupted by killing the
// coordinator (-9), and a new coordinator process with an empty data dir ("another host") on the
// same database and NATS resumes it: every job done, one result row per job, counted in
// PostgreSQL itself; nothing was written to a SQLite file.
const MODEL = paddleOcrModelPath('cls');
const AGENTS = ['pg-a', 'pg-b'];

describe('coordinator on PostgreSQL: a real sweep, then a restart on another data dir resumes one', () => {
  let dir: string;
  let nats: NatsServerHandle;
  let postgres: PostgresServerHandle;
  let grpcPort: number;
  let coordinator: TestProcess | undefined;
  const agents: TestProcess[] = [];

  const startOn = async (name: string): Promise<{ process: TestProcess; client: CoordinatorClient; dataDir: string }> => {
    const dataDir = join(dir, name);
    coordinator = await startCoordinatorProcess({ natsUrl: nats.url, dir: dataDir, grpcPort, httpPort: 0, env: { BENCHFARM_DATABASE_URL: postgres.url } });
    return { process: coordinator, client: new CoordinatorClient(String(coordinator.ready.httpUrl)), dataDir };
  };
  const settled = (client: CoordinatorClient, sweepId: string, timeoutMs = 120_000): Promise<SweepView> =>
    waitFor(
      `sweep ${sweepId} settled`,
      async () => {
        const s = await client.getSweep(sweepId);
        return s.state === 'running' ? undefined : s;
      },
      timeoutMs,
      200,
    );

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bf-pg-restart-'));
    nats = await startNatsServer({ storeDir: join(dir, 'nats') });
    postgres = await startPostgres();
    grpcPort = await freePort();
  }, 120_000);

  afterAll(async () => {
    for (const a of agents) await a.stop(3_000);
    await coordinator?.stop(5_000);
    await nats?.stop();
    await postgres?.stop();
    if (!process.env.BENCHFARM_KEEP_FAULT_LOGS) rmSync(dir, { recursive: true, force: true });
    else console.log(`[pg-restart] logs kept in ${dir}`);
  }, 60_000);

  it('runs a sweep on PostgreSQL, and a coordinator started elsewhere on the same database finishes the one its predecessor was killed in', async () => {
    const first = await startOn('coordinator-1');
    for (const agentId of AGENTS) {
      agents.push(await startAgentProcess({ agentId, natsUrl: nats.url, grpcAddress: `127.0.0.1:${grpcPort}`, dir }));
      await waitFor(`${agentId} registered`, async () => ((await first.client.listAgents()).some((a) => a.agentId === agentId && !a.stale) ? true : undefined));
    }

    // End to end on the first coordinator.
    const whole = await createDerived(first.client, MODEL, { ...QUICK_SWEEP, variants: 'fp32,ort-basic', targets: AGENTS.join(',') });
    const wholeDone = await settled(first.client, whole.id);
    expect(wholeDone.state).toBe('completed');
    expect(wholeDone.jobs.map((j) => j.state)).toEqual(['done', 'done', 'done', 'done']);
    expect(await readSweepLedgerPg(postgres.url, whole.id)).toMatchObject({ jobs: 4, open: 0, failed: 0, lost: 0, duplicated: 0, results: 4 });

    // Killed mid-sweep: one result stored, other jobs open.
    const interrupted = await createDerived(first.client, MODEL, { ...QUICK_SWEEP, variants: 'fp32,ort-basic,ort-extended', targets: AGENTS.join(','), minDurationMs: 1_500 });
    expect(interrupted.jobs).toHaveLength(6);
    const before = await waitFor(
      'one job done and others open',
      async () => {
        const s = await first.client.getSweep(interrupted.id);
        return s.jobs.some((j) => j.state === 'done') && s.jobs.some((j) => j.state !== 'done') ? s : undefined;
      },
      90_000,
      100,
    );
    const doneBefore = new Map(before.jobs.filter((j) => j.state === 'done').map((j) => [j.id, j.result?.id]));
    const killedAtMs = Date.now();
    first.process.signal('SIGKILL');
    await first.process.exited;

    // Another data dir: only PostgreSQL and NATS carry the farm's state across.
    const second = await startOn('coordinator-2');
    const readyMs = Date.now() - killedAtMs;
    const resumed = await settled(second.client, interrupted.id);
    const settledMs = Date.now() - killedAtMs;
    expect(resumed.state).toBe('completed');
    expect(resumed.jobs.map((j) => j.state)).toEqual(resumed.jobs.map(() => 'done'));
    for (const [jobId, resultId] of doneBefore) expect(resumed.jobs.find((j) => j.id === jobId)?.result?.id).toBe(resultId);
    const counts = await readSweepLedgerPg(postgres.url, interrupted.id);
    expect(counts).toMatchObject({ jobs: 6, open: 0, failed: 0, lost: 0, duplicated: 0, results: 6 });
    console.log(`[pg-restart] ${JSON.stringify({ jobsOpenAtKill: 6 - doneBefore.size, readyMs, settledMs, redelivered: counts.redelivered })}`);
    // The first sweep is served by the new coordinator from the same rows.
    const wholeAfter = await second.client.getSweep(whole.id);
    expect(wholeAfter.jobs.map((j) => j.result?.id)).toEqual(wholeDone.jobs.map((j) => j.result?.id));
    // Both said where they stored (without the password), and BENCHFARM_DB (a file under each
    // data dir) was never created: the store is PostgreSQL.
    for (const { process: coordinatorProcess } of [first, second]) {
      expect(readFileSync(coordinatorProcess.logFile, 'utf8')).toContain(`database ${postgres.url}`);
    }
    expect(existsSync(join(first.dataDir, 'coordinator.db'))).toBe(false);
    expect(existsSync(join(second.dataDir, 'coordinator.db'))).toBe(false);
  }, 300_000);
});
