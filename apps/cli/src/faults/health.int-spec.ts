import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startNatsServer, type NatsServerHandle } from '@benchfarm/messaging';
import { paddleOcrModelPath } from '@benchfarm/onnx';
import { CoordinatorClient, CoordinatorRequestError, type AgentView, type SweepView } from '../client';
import { agentsTable } from '../format';
import { startAgentProcess, startCoordinatorProcess, waitFor, type TestProcess } from './harness';
import { readSweepLedger } from './ledger';
import { createDerived, QUICK_SWEEP } from '../testing/farm.fixture';

// The agent's health check: a reference model run in a fresh onnxruntime
// process before a device gets work, after joining and after a device-level failure. Real
// nats-server, coordinator and agent processes; failures are real process deaths (SIGSEGV)
// injected by the test-only hooks crash-health-check.mjs (the check's process) and
// crash-suite-child.mjs (a job's suite process).
const MODEL = paddleOcrModelPath('cls');
const job = (targets: string) => ({ ...QUICK_SWEEP, targets, minDurationMs: 200 });
const hook = (file: string): string => `--import=${pathToFileURL(join(import.meta.dirname, file)).href}`;
/** Retries of a failed check: 0.5 s doubling to 2 s, so that recovery takes seconds here (production: 5 s to 5 min). */
const FAST_HEALTH = { BENCHFARM_HEALTH_RETRY_MS: '500', BENCHFARM_HEALTH_RETRY_MAX_MS: '2000' };
const timeOf = (line: Record<string, unknown>): number => Date.parse(String(line.time));
const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

describe('health check before work', () => {
  let dir: string;
  let nats: NatsServerHandle;
  let coordinator: TestProcess;
  let client: CoordinatorClient;
  let grpcAddress: string;
  const agents: TestProcess[] = [];

  const start = async (agentId: string, options: { labels?: string; env?: NodeJS.ProcessEnv } = {}): Promise<TestProcess> => {
    const p = await startAgentProcess({ agentId, natsUrl: nats.url, grpcAddress, dir, labels: options.labels ?? '', env: { ...FAST_HEALTH, ...options.env } });
    agents.push(p);
    return p;
  };
  const view = async (agentId: string): Promise<AgentView | undefined> => (await client.listAgents()).find((a) => a.agentId === agentId && !a.stale);
  const until = (agentId: string, what: string, ok: (a: AgentView) => boolean, timeoutMs = 30_000): Promise<AgentView> =>
    waitFor(`${agentId} ${what}`, async () => {
      const a = await view(agentId);
      return a && ok(a) ? a : undefined;
    }, timeoutMs, 100);
  const verified = (agentId: string): Promise<AgentView> => until(agentId, 'idle with a verified health check', (a) => a.state === 'idle' && a.health?.status === 'verified');
  const settled = (sweepId: string, timeoutMs = 90_000): Promise<SweepView> =>
    waitFor(`sweep ${sweepId} settled`, async () => {
      const s = await client.getSweep(sweepId);
      return s.state === 'running' ? undefined : s;
    }, timeoutMs, 200);
  const refused = async (targets: string): Promise<CoordinatorRequestError> => {
    try {
      await createDerived(client, MODEL, job(targets));
    } catch (err) {
      if (err instanceof CoordinatorRequestError) return err;
      throw err;
    }
    throw new Error(`a sweep targeting ${targets} was accepted`);
  };
  const lines = (p: TestProcess, message: string): Array<Record<string, unknown>> => p.lines().filter((l) => l.message === message);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bf-health-'));
    nats = await startNatsServer({ storeDir: join(dir, 'nats') });
    // Stale after 10 s (not the fault suite's 1.5 s): scenario 1 queues a job for an agent it just killed.
    coordinator = await startCoordinatorProcess({ natsUrl: nats.url, dir, grpcPort: await freePort(), httpPort: 0, env: { BENCHFARM_AGENT_STALE_AFTER_MS: '10000' } });
    client = new CoordinatorClient(String(coordinator.ready.httpUrl));
    grpcAddress = String(coordinator.ready.grpcAddress);
  }, 90_000);

  afterAll(async () => {
    // Every health check that passed in this file, from the agents' logs: the figures of docs/RELIABILITY.md.
    const durations = agents.flatMap((a) => lines(a, 'health check passed').map((l) => Number(l.durationMs))).sort((x, y) => x - y);
    if (durations.length > 0) console.log(`[figures] ${JSON.stringify({ promise: 'health check duration', checks: durations.length, p50Ms: percentile(durations, 50), maxMs: durations.at(-1), durationsMs: durations.map(Math.round) })}`);
    for (const a of agents) await a.stop(3_000);
    await coordinator?.stop();
    await nats?.stop();
    if (!process.env.BENCHFARM_KEEP_FAULT_LOGS) rmSync(dir, { recursive: true, force: true });
    else console.log(`[health] logs kept in ${dir}/logs`);
  }, 60_000);

  it('a (re)joining agent gets no job before its check passed; a failed check is retried with backoff; then the queued job runs to one result', async () => {
    const id = 'h1';
    const first = await start(id);
    const joined = await verified(id);
    expect(joined.health).toMatchObject({ status: 'verified', passed: true, attempt: 1, trigger: 'joined' });
    // The first check ran before the agent was ready to pull: its pass precedes the ready line.
    expect(lines(first, 'health check passed')).toHaveLength(1);

    // The device dies; a job is queued for it while its registry entry is still fresh.
    first.signal('SIGKILL');
    await first.exited;
    const sweep = await createDerived(client, MODEL, job(id));
    expect(sweep.jobs[0]).toMatchObject({ agentId: id, state: 'queued' });

    // It comes back with a broken runtime: its check's process dies (SIGSEGV) until the flag goes.
    const flag = join(dir, 'h1-health.flag');
    writeFileSync(flag, 'crash\n');
    const again = await start(id, { env: { NODE_OPTIONS: hook('crash-health-check.mjs'), BENCHFARM_TEST_CRASH_HEALTH_CHECK_WHILE: flag } });
    const sick = await until(id, 'unhealthy', (a) => a.state === 'unhealthy' && a.health?.status === 'failed');
    expect(sick.health?.reason).toMatch(/^health check failed: health check process died: signal SIGSEGV/);
    expect(Date.parse(sick.health!.nextAttemptAt!)).toBeGreaterThan(Date.parse(sick.health!.ranAt!));
    // Unhealthy: no new work (422 naming why), and the queued job stays queued (no pool to move to).
    const error = await refused(id);
    expect(error).toMatchObject({ status: 422, code: 'no_matching_agent' });
    // Between retries it is unhealthy; during one it is checking: either way it is named with why.
    expect(error.message).toMatch(/agent "h1" cannot take jobs: it is (unhealthy \(health check failed: health check process died: signal SIGSEGV|checking \(its health check is running\))/);
    await waitFor('two failed checks (retried with backoff)', () => (lines(again, 'health check failed').length >= 2 ? true : undefined), 20_000);
    expect((await client.getSweep(sweep.id)).jobs[0]).toMatchObject({ state: 'queued', attempts: 0 });

    rmSync(flag);
    const done = await settled(sweep.id);
    expect(done.jobs[0]).toMatchObject({ state: 'done', agentId: id, attempts: 1 });
    const failed = lines(again, 'health check failed');
    const passed = lines(again, 'health check passed');
    const started = lines(again, 'job started');
    expect(passed).toHaveLength(1);
    expect(started).toHaveLength(1);
    // Backoff: each retry waited at least as long as the one before (0.5 s, 1 s, 2 s, 2 s...).
    const gaps = failed.slice(1).map((l, i) => timeOf(l) - timeOf(failed[i]!));
    expect(gaps[0]).toBeGreaterThanOrEqual(400);
    // The job arrived only after the check passed, and after every failed one.
    expect(timeOf(started[0]!)).toBeGreaterThanOrEqual(timeOf(passed[0]!));
    expect(timeOf(passed[0]!)).toBeGreaterThan(timeOf(failed.at(-1)!));
    expect(passed[0]!.attempt).toBe(failed.length + 1);
    expect(readSweepLedger(join(dir, 'coordinator.db'), sweep.id)).toMatchObject({ open: 0, lost: 0, duplicated: 0, results: 1 });
    expect((await verified(id)).health).toMatchObject({ passed: true, trigger: 'joined' });
  }, 180_000);

  it('an agent whose check fails after a crash is shown unhealthy, gets no work, and its queued job goes to a healthy pool peer; one result', async () => {
    const [ia, ib] = ['hp-a', 'hp-b'];
    const suiteFlag = join(dir, 'hp-suite.flag');
    const healthFlag = join(dir, 'hp-health.flag');
    writeFileSync(suiteFlag, 'crash\n');
    const a = await start(ia, {
      labels: 'pool=hp',
      env: { NODE_OPTIONS: `${hook('crash-suite-child.mjs')} ${hook('crash-health-check.mjs')}`, BENCHFARM_TEST_CRASH_SUITE_WHILE: suiteFlag, BENCHFARM_TEST_CRASH_HEALTH_CHECK_WHILE: healthFlag },
    });
    await verified(ia);
    // From now on the device's runtime is broken for its checks too.
    writeFileSync(healthFlag, 'crash\n');
    const b = await start(ib, { labels: 'pool=hp' });
    await verified(ib);
    // Two jobs for hp-a (one sweep, two variants): the first crashes its suite process, the second waits behind it.
    const sweep = await createDerived(client, MODEL, { ...job(ia), variants: 'fp32,ort-basic' });
    expect(sweep.jobs.map((j) => j.agentId)).toEqual([ia, ia]);

    const sick = await until(ia, 'unhealthy after the crash', (x) => x.state === 'unhealthy' && x.health?.status === 'failed', 60_000);
    expect(sick.health).toMatchObject({ passed: false, trigger: expect.stringMatching(/^after-failure: job .*suite process died: signal SIGSEGV/) });
    // `benchfarm agents` shows the state and the check's verdict with its reason.
    const table = agentsTable(await client.listAgents());
    expect(table).toMatch(/hp-a\s+hp-a\s+(unhealthy|checking)\s+(failed|checking) /);
    expect(table).toMatch(/hp-b\s+hp-b\s+(idle|busy)\s+passed \d\d:\d\d:\d\dZ \d+ ms/);
    const done = await settled(sweep.id);
    // hp-a ran one job (the crashing one) and nothing after its check failed; the other moved to hp-b.
    const ranOnA = lines(a, 'job started').map((l) => l.jobId);
    expect(ranOnA).toHaveLength(1);
    const crashed = done.jobs.find((j) => j.id === ranOnA[0])!;
    const moved = done.jobs.find((j) => j.id !== ranOnA[0])!;
    expect(crashed).toMatchObject({ state: 'failed', agentId: ia });
    expect(crashed.error).toMatch(/^child_crashed: suite process died: signal SIGSEGV/);
    expect(moved).toMatchObject({ state: 'done', agentId: ib, attempts: 1 });
    expect(lines(b, 'job started').map((l) => l.jobId)).toEqual([moved.id]);
    expect(readSweepLedger(join(dir, 'coordinator.db'), sweep.id)).toMatchObject({ open: 0, lost: 0, duplicated: 0, results: 1 });
    const error = await refused(ia);
    expect(error.message).toMatch(/agent "hp-a" cannot take jobs: it is (unhealthy \(health check failed: health check process died: signal SIGSEGV|checking \(its health check is running\))/);
    // A sweep over the pool plans for the healthy peer only.
    const pool = await createDerived(client, MODEL, job('label:pool=hp'));
    expect(pool.agents).toEqual([ib]);
    await settled(pool.id);
    for (const f of [suiteFlag, healthFlag]) if (existsSync(f)) rmSync(f);
    await Promise.all([a.stop(3_000), b.stop(3_000)]);
  }, 240_000);

  it('after a suite-process crash the check re-runs and passes; the device is idle and healthy again and runs the next job', async () => {
    const id = 'hc';
    const suiteFlag = join(dir, 'hc-suite.flag');
    writeFileSync(suiteFlag, 'crash\n');
    const a = await start(id, { env: { NODE_OPTIONS: hook('crash-suite-child.mjs'), BENCHFARM_TEST_CRASH_SUITE_WHILE: suiteFlag } });
    await verified(id);
    const sweep = await createDerived(client, MODEL, job(id));
    const done = await settled(sweep.id);
    expect(done.jobs[0]).toMatchObject({ state: 'failed' });
    expect(done.jobs[0]!.error).toMatch(/^child_crashed: suite process died: signal SIGSEGV/);
    // One check after every crash, each passing, each before the next attempt started.
    const starts = lines(a, 'job started');
    const rechecks = await waitFor('a passed re-check after every crash', () => {
      const after = lines(a, 'health check passed').filter((l) => String(l.trigger).startsWith('after-failure'));
      return after.length >= starts.length ? after : undefined;
    }, 30_000);
    for (let i = 0; i < starts.length; i += 1) {
      expect(timeOf(rechecks[i]!)).toBeGreaterThanOrEqual(timeOf(starts[i]!));
      if (starts[i + 1]) expect(timeOf(starts[i + 1]!)).toBeGreaterThanOrEqual(timeOf(rechecks[i]!));
    }
    const healthy = await verified(id);
    expect(healthy.health).toMatchObject({ passed: true, attempt: 1, trigger: expect.stringMatching(/^after-failure: job /) });
    expect(a.child.exitCode).toBeNull();
    rmSync(suiteFlag);
    const next = await settled((await createDerived(client, MODEL, job(id))).id);
    expect(next.jobs[0]).toMatchObject({ state: 'done', attempts: 1 });
    await a.stop(3_000);
  }, 180_000);
});
