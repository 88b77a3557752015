import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JOB_STREAM, MODEL_BUCKET, agentConsumerName, freePort, jobSubject, startNatsServer, type NatsServerHandle } from '@benchfarm/messaging';
import { Objm } from '@nats-io/obj';
import { modelTensors, paddleOcrModelPath, readModel, writeModel } from '@benchfarm/onnx';
import { startTcpProxy } from '@benchfarm/testing';
import { CoordinatorClient, type JobView, type SweepView } from '../client';
import { FAST_TIMINGS, startAgentProcess, startCoordinatorProcess, waitFor, type TestProcess } from './harness';
import { readSweepLedger, type SweepLedger } from './ledger';
import { createDerived } from '../testing/farm.fixture';

// Promises of RELIABILITY.md under real faults: real nats-server, coordinator and agent
// processes on loopback, kill -9 / SIGSTOP / SIGCONT, with the fast timings of harness.ts.
// `npm run faults:figures` repeats every scenario BENCHFARM_FAULT_TRIALS times and reads
// the `[figures]` lines; CI runs each once.
const TRIALS = Math.max(1, Number(process.env.BENCHFARM_FAULT_TRIALS ?? 1));
/** Queued jobs of promise 6: 10k in the figures run, fewer in CI. */
const QUEUED = Math.max(1, Number(process.env.BENCHFARM_FAULT_QUEUED ?? 1_000));
/** Prints one trial's figures for scripts/fault-figures.ts. */
const figure = (promise: string, fields: Record<string, number>): void => console.log(`[figures] ${JSON.stringify({ promise, ...fields })}`);
/** Runs `trial` TRIALS times, with the trial number for unique agent ids. */
const repeat = async (trial: (t: number) => Promise<void>): Promise<void> => {
  for (let t = 0; t < TRIALS; t += 1) await trial(t);
};
const MODEL = paddleOcrModelPath('cls');
const SHAPES = 'x:1x3x48x192';
const job = (options: { targets: string; minDurationMs: number; variants?: string }) => ({
  variants: options.variants ?? 'fp32',
  targets: options.targets,
  shapes: SHAPES,
  // One job per variant and agent: no interleaved comparison job in these tests.
  compare: 'none',
  warmupMinQueries: 2,
  warmupMinDurationMs: 50,
  minQueries: 10,
  minDurationMs: options.minDurationMs,
  maxDurationMs: options.minDurationMs + 20_000,
});

describe('fault injection (RELIABILITY.md promises 1-12, the MaxDeliver advisory, cancellation)', () => {
  let dir: string;
  let nats: NatsServerHandle;
  let coordinator: TestProcess;
  let client: CoordinatorClient;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let grpcAddress: string;
  let grpcPort: number;
  const agents: TestProcess[] = [];

  const agent = async (agentId: string, labels = '', env: NodeJS.ProcessEnv = {}): Promise<TestProcess> => {
    const p = await startAgentProcess({ agentId, natsUrl: nats.url, grpcAddress, dir, labels, env });
    agents.push(p);
    await waitFor(`${agentId} registered`, async () => ((await client.listAgents()).some((a) => a.agentId === agentId && !a.stale) ? true : undefined));
    return p;
  };
  const stopAll = async (...ps: TestProcess[]): Promise<void> => {
    for (const p of ps) await p.stop(3_000);
  };
  const jobOf = async (sweepId: string, index = 0): Promise<JobView> => (await client.getSweep(sweepId)).jobs[index]!;
  const settled = (sweepId: string, timeoutMs = 90_000): Promise<SweepView> =>
    waitFor(`sweep ${sweepId} settled`, async () => {
      const s = await client.getSweep(sweepId);
      return s.state === 'running' ? undefined : s;
    }, timeoutMs, 200);
  const messagesFor = async (agentId: string): Promise<number> => {
    const info = await jsm.streams.info(JOB_STREAM, { subjects_filter: jobSubject(agentId) });
    return info.state.subjects?.[jobSubject(agentId)] ?? 0;
  };
  const streamEmptyFor = (agentId: string, timeoutMs = 5_000): Promise<true> =>
    waitFor(`stream empty for ${agentId}`, async () => ((await messagesFor(agentId)) === 0 ? true : undefined), timeoutMs);
  const sweepCount = async (): Promise<number> => ((await (await fetch(`${client.baseUrl}/sweeps`)).json()) as unknown[]).length;
  const ledger = (sweepId: string): SweepLedger => readSweepLedger(join(dir, 'coordinator.db'), sweepId);
  const startCoordinator = async (): Promise<void> => {
    coordinator = await startCoordinatorProcess({ natsUrl: nats.url, dir, grpcPort, httpPort: 0 });
    client = new CoordinatorClient(String(coordinator.ready.httpUrl));
    grpcAddress = String(coordinator.ready.grpcAddress);
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bf-faults-'));
    nats = await startNatsServer({ storeDir: join(dir, 'nats') });
    grpcPort = await freePort();
    await startCoordinator();
    nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    jsm = await jetstreamManager(nc);
  }, 90_000);

  afterAll(async () => {
    for (const a of agents) await a.stop(3_000);
    await coordinator?.stop();
    await nc?.close();
    await nats?.stop();
    // Set BENCHFARM_KEEP_FAULT_LOGS=1 to keep the processes' logs for a failed run.
    if (!process.env.BENCHFARM_KEEP_FAULT_LOGS) rmSync(dir, { recursive: true, force: true });
    else console.log(`[faults] logs kept in ${dir}/logs`);
  }, 60_000);

  it('promise 1: agent killed (-9) mid-job; the job moves to a pool peer within AckWait + 5 s; one result', async () => {
    await repeat(async (t) => {
      const [ia, ib] = [`p1-a${t}`, `p1-b${t}`];
      const a = await agent(ia, `pool=p1x${t}`);
      const b = await agent(ib, `pool=p1x${t}`);
      const sweep = await createDerived(client, MODEL, job({ targets: ia, minDurationMs: 6_000 }));
      await waitFor(`job running on ${ia}`, async () => ((await jobOf(sweep.id)).state === 'running' ? true : undefined));
      const killedAt = Date.now();
      a.signal('SIGKILL');
      await waitFor(`job leased by ${ib}`, async () => {
        const j = await jobOf(sweep.id);
        return j.agentId === ib && j.state === 'running' ? true : undefined;
      }, FAST_TIMINGS.ackWaitMs + 5_000, 50);
      const recoveryMs = Date.now() - killedAt;
      const done = await settled(sweep.id);
      expect(done.jobs[0]).toMatchObject({ state: 'done', agentId: ib, attempts: 2 });
      expect(recoveryMs).toBeLessThanOrEqual(FAST_TIMINGS.ackWaitMs + 5_000);
      expect(await messagesFor(ia)).toBe(0);
      await streamEmptyFor(ib);
      const counts = ledger(sweep.id);
      expect(counts).toMatchObject({ open: 0, lost: 0, duplicated: 0, results: 1 });
      figure('1 agent killed -9 mid-job', { recoveryMs, lost: counts.lost, duplicated: counts.duplicated, redelivered: counts.redelivered });
      await stopAll(a, b);
    });
  }, 120_000 * TRIALS);

  it("promise 2: agent frozen (SIGSTOP) past AckWait; the job is done elsewhere; the frozen agent's late result is refused", async () => {
    await repeat(async (t) => {
      const [ia, ib] = [`p2-a${t}`, `p2-b${t}`];
      const a = await agent(ia, `pool=p2x${t}`);
      const b = await agent(ib, `pool=p2x${t}`);
      const sweep = await createDerived(client, MODEL, job({ targets: ia, minDurationMs: 4_000 }));
      await waitFor(`job running on ${ia}`, async () => ((await jobOf(sweep.id)).state === 'running' ? true : undefined));
      const frozenAt = Date.now();
      a.signal('SIGSTOP');
      await waitFor(`job leased by ${ib}`, async () => ((await jobOf(sweep.id)).agentId === ib ? true : undefined), FAST_TIMINGS.ackWaitMs + 5_000, 50);
      const recoveryMs = Date.now() - frozenAt;
      const done = await settled(sweep.id);
      expect(done.jobs[0]).toMatchObject({ state: 'done', agentId: ib, attempts: 2 });
      a.signal('SIGCONT');
      // The resumed agent learns at its next renewal (or at upload) that its lease is gone.
      await waitFor(`${ia} dropped its stale attempt`, () => (a.lines().some((l) => l.message === 'job message dropped' && /^(job stopped: |the coordinator refused the result: )/.test(String(l.reason))) ? true : undefined), 20_000);
      const after = await client.getSweep(sweep.id);
      expect(after.jobs[0]).toMatchObject({ state: 'done', agentId: ib, attempts: 2 });
      expect(after.jobs[0]!.result?.id).toBe(done.jobs[0]!.result?.id);
      await waitFor(`${ia} healthy again`, async () => ((await client.listAgents()).find((x) => x.agentId === ia && !x.stale && x.state === 'idle') ? true : undefined), 10_000);
      await streamEmptyFor(ia);
      const counts = ledger(sweep.id);
      expect(counts).toMatchObject({ open: 0, lost: 0, duplicated: 0, results: 1 });
      figure('2 agent frozen past AckWait', { recoveryMs, lost: counts.lost, duplicated: counts.duplicated, redelivered: counts.redelivered });
      await stopAll(a, b);
    });
  }, 120_000 * TRIALS);

  it('promise 3: a job running 10x AckWait with progress heartbeats is never redelivered', async () => {
    await repeat(async (t) => {
      const id = `p3-a${t}`;
      const a = await agent(id);
      const sweep = await createDerived(client, MODEL, job({ targets: id, minDurationMs: 10 * FAST_TIMINGS.ackWaitMs }));
      const done = await settled(sweep.id, 120_000);
      expect(done.jobs[0]).toMatchObject({ state: 'done', attempts: 1 });
      const consumer = await jsm.consumers.info(JOB_STREAM, agentConsumerName(id));
      expect(consumer.num_redelivered).toBe(0);
      const counts = ledger(sweep.id);
      expect(counts).toMatchObject({ lost: 0, duplicated: 0, results: 1 });
      figure('3 job of 10x AckWait', { redelivered: consumer.num_redelivered, lost: counts.lost, duplicated: counts.duplicated });
      await stopAll(a);
    });
  }, 150_000 * TRIALS);

  it('promise 4: a job that always fails is failed after MaxDeliver attempts with its last error, within 5 s; nothing left in the stream', async () => {
    await repeat(async (t) => {
      const id = `p4-a${t}`;
      // A cache folder under a regular file: every fetch fails with ENOTDIR, a retryable error.
      const a = await agent(id, '', { BENCHFARM_AGENT_CACHE: '/etc/hostname/benchfarm-cache' });
      const sweep = await createDerived(client, MODEL, job({ targets: id, minDurationMs: 200 }));
      const done = await settled(sweep.id);
      const observedAt = Date.now();
      expect(done.jobs[0]).toMatchObject({ state: 'failed', attempts: 3 });
      expect(done.jobs[0]!.error).toMatch(/^model_fetch: .*ENOTDIR/);
      // From the last attempt's start (agent log) to the job seen failed: at most 5 s.
      const lastStart = a.lines().filter((l) => l.message === 'job started' && l.attempt === 3).map((l) => Date.parse(String(l.time)))[0]!;
      const failMs = observedAt - lastStart;
      expect(failMs).toBeLessThanOrEqual(5_000);
      // The agent acks the last delivery once the coordinator confirmed the final error.
      await streamEmptyFor(id);
      figure('4 always-failing job', { failMs, attempts: done.jobs[0]!.attempts, leftInStream: await messagesFor(id) });
      await stopAll(a);
    });
  }, 120_000 * TRIALS);

  it('MaxDeliver advisory: a job whose agent cannot reach the coordinator is failed after MaxDeliver deliveries and removed from the stream; the device reports unhealthy', async () => {
    const deadPort = await freePort();
    const a = await agent('p4-b', '', { BENCHFARM_GRPC_ADDRESS: `127.0.0.1:${deadPort}`, BENCHFARM_LEASE_ACQUIRE_TIMEOUT_MS: '300' });
    const sweep = await createDerived(client, MODEL, job({ targets: 'p4-b', minDurationMs: 200 }));
    const done = await settled(sweep.id).catch(async (err: unknown) => {
      // What the watcher and the agent said, for a run that times out here (it did under load).
      // The coordinator logs to stderr, which lines() (stdout) does not hold: read its log file.
      const coordinatorSaid = (await readFile(coordinator.logFile, 'utf8')).split('\n').filter((l) => /MaxDeliver/.test(l));
      const agentSaid = a.lines().filter((l) => /job|lease/.test(String(l.message)));
      throw new Error(`${String(err)}; coordinator: ${JSON.stringify(coordinatorSaid.slice(-10)).slice(0, 3000)}; agent: ${JSON.stringify(agentSaid.slice(-12)).slice(0, 4000)}`);
    });
    expect(done.jobs[0]!.state).toBe('failed');
    expect(done.jobs[0]!.error).toMatch(/no result after 3 deliveries to agent p4-b \(MaxDeliver\)/);
    await streamEmptyFor('p4-b');
    expect((await client.listAgents()).find((x) => x.agentId === 'p4-b')?.state).toBe('unhealthy');
    await stopAll(a);
  }, 120_000);

  it('promise 5: the same job published twice (in and past the dedup window) runs once', async () => {
    await repeat(async (t) => {
      const id = `p5-a${t}`;
      const a = await agent(id);
      const sweep = await createDerived(client, MODEL, job({ targets: id, minDurationMs: 300 }));
      const done = await settled(sweep.id);
      expect(done.jobs[0]).toMatchObject({ state: 'done', attempts: 1 });
      // The work queue deleted the acked message; publish copies the way a retrying publisher would.
      const { BenchJob } = await import('@benchfarm/protocol');
      const copy = BenchJob.encode({ ...BenchJob.fromPartial({}), jobId: done.jobs[0]!.id, sweepId: sweep.id, agentId: id }).finish();
      const js = (await import('@nats-io/jetstream')).jetstream(nc);
      // Within the duplicate window the server drops a copy under the same Nats-Msg-Id, even
      // though the work queue deleted the acked original.
      const again = await js.publish(jobSubject(id), copy, { msgID: done.jobs[0]!.id });
      expect(again.duplicate).toBe(true);
      // Past the window (or under another id, as after a restart) the copy is stored; the agent is
      // refused a lease on a finished job and drops it.
      const late = await js.publish(jobSubject(id), copy, { msgID: `${done.jobs[0]!.id}.restart` });
      expect(late.duplicate).toBe(false);
      await streamEmptyFor(id, 15_000);
      const after = await client.getSweep(sweep.id);
      expect(after.jobs[0]).toMatchObject({ state: 'done', attempts: 1 });
      expect(after.jobs[0]!.result?.id).toBe(done.jobs[0]!.result?.id);
      const counts = ledger(sweep.id);
      expect(counts).toMatchObject({ lost: 0, duplicated: 0, redelivered: 0, results: 1 });
      figure('5 job published twice', { runs: after.jobs[0]!.attempts, lost: counts.lost, duplicated: counts.duplicated, redelivered: counts.redelivered });
      await stopAll(a);
    });
  }, 120_000 * TRIALS);

  it('promise 9: two jobs aimed at one device never overlap in time', async () => {
    await repeat(async (t) => {
      const id = `p9-a${t}`;
      const a = await agent(id);
      const sweep = await createDerived(client, MODEL, job({ targets: id, minDurationMs: 800, variants: 'fp32,ort-basic' }));
      const done = await settled(sweep.id);
      expect(done.jobs.map((j) => j.state)).toEqual(['done', 'done']);
      // The coordinator marks a job done at the commit; the agent logs "job finished" only after
      // its ack, a moment later: wait for both lines before reading the spans.
      const spans = await waitFor(`both jobs' log lines on ${id}`, () => {
        const lines = a
          .lines()
          .filter((l) => l.message === 'job started' || l.message === 'job finished')
          .map((l) => ({ jobId: String(l.jobId), message: String(l.message), atMs: Date.parse(String(l.time)) }));
        return lines.filter((l) => l.message === 'job finished').length >= done.jobs.length ? lines : undefined;
      });
      const intervals = done.jobs.map((j) => ({ start: spans.find((s) => s.jobId === j.id && s.message === 'job started')!.atMs, end: spans.find((s) => s.jobId === j.id && s.message === 'job finished')!.atMs }));
      intervals.sort((x, y) => x.start - y.start);
      const overlapMs = Math.max(0, intervals[0]!.end - intervals[1]!.start);
      expect(overlapMs).toBe(0);
      figure('9 two jobs on one device', { overlapMs });
      await stopAll(a);
    });
  }, 120_000 * TRIALS);

  it('sweep cancellation reaches a running job: the agent stops at its next renewal; nothing left in the stream', async () => {
    await repeat(async (t) => {
      const id = `c1-a${t}`;
      const a = await agent(id);
      const sweep = await createDerived(client, MODEL, job({ targets: id, minDurationMs: 30_000, variants: 'fp32,ort-basic' }));
      await waitFor('job running', async () => ((await jobOf(sweep.id)).state === 'running' ? true : undefined));
      const cancelledAt = Date.now();
      // Through the CLI's client, as `benchfarm cancel` sends it.
      expect(await client.cancelSweep(sweep.id, { reason: 'test' })).toMatchObject({ cancelledJobs: 2 });
      await waitFor('agent stopped the job', () => (a.lines().some((l) => l.message === 'job message dropped' && String(l.reason).startsWith('job stopped: ')) ? true : undefined), 10_000, 50);
      const stopMs = Date.now() - cancelledAt;
      expect(stopMs).toBeLessThan(FAST_TIMINGS.workingMs * 2 + 2_000);
      const after = await client.getSweep(sweep.id);
      expect(after.state).toBe('failed');
      expect(after.jobs.every((j) => j.state === 'failed' && /^cancelled: test/.test(j.error ?? '') && !j.result)).toBe(true);
      await streamEmptyFor(id);
      const again = await fetch(`${client.baseUrl}/sweeps/${sweep.id}/cancel`, { method: 'POST' });
      expect(again.status).toBe(409);
      await expect(client.cancelSweep(sweep.id)).rejects.toMatchObject({ status: 409, code: 'already_finished' });
      figure('cancel reaches a running job', { stopMs });
      await stopAll(a);
    });
  }, 120_000 * TRIALS);

  it('promise 10: a tampered or truncated model object fails the job with the reason; the model is never loaded', async () => {
    await repeat(async (t) => {
      const id = `p10-a${t}`;
      const cache = join(dir, 'cache', id);
      const a = await agent(id);
      // A first sweep stores the model's variants in the object store under their digests.
      const first = await settled((await createDerived(client, MODEL, job({ targets: id, minDurationMs: 200, variants: 'fp32,ort-basic' }))).id);
      expect(first.jobs.map((j) => j.state)).toEqual(['done', 'done']);
      const [fp32, basic] = [first.variants.find((v) => v.name === 'fp32')!, first.variants.find((v) => v.name === 'ort-basic')!];
      // Damage both objects behind the coordinator's back, keeping their recorded size (so a
      // new sweep does not simply store them again): one with a flipped byte, one truncated by
      // deleting its last stored chunk from the object store's stream.
      const os = await new Objm(nc).open(MODEL_BUCKET);
      const originals = new Map<string, Uint8Array>([
        [fp32.sha256, (await os.getBlob(fp32.sha256))!],
        [basic.sha256, (await os.getBlob(basic.sha256))!],
      ]);
      const flipped = Buffer.from(originals.get(fp32.sha256)!);
      flipped[Math.floor(flipped.length / 2)] = flipped[Math.floor(flipped.length / 2)]! ^ 0xff;
      await os.putBlob({ name: fp32.sha256 }, new Uint8Array(flipped));
      const chunks = `$O.${MODEL_BUCKET}.C.${(await os.info(basic.sha256))!.nuid}`;
      const lastChunk = await jsm.streams.getMessage(`OBJ_${MODEL_BUCKET}`, { last_by_subj: chunks });
      expect(await jsm.streams.deleteMessage(`OBJ_${MODEL_BUCKET}`, lastChunk!.seq)).toBe(true);
      // The agent's verified cache would hide the tampering: empty it, as on a fresh device.
      rmSync(cache, { recursive: true, force: true });
      let second: SweepView;
      try {
        second = await settled((await createDerived(client, MODEL, job({ targets: id, minDurationMs: 200, variants: 'fp32,ort-basic' }))).id);
      } finally {
        // The genuine bytes go back for the tests that follow.
        for (const [sha, bytes] of originals) await os.putBlob({ name: sha }, bytes);
      }
      const reasons: Record<string, RegExp> = {
        fp32: /^model_fetch: model digest mismatch: expected [0-9a-f]{64}, got [0-9a-f]{64}/,
        'ort-basic': /^model_fetch: object [0-9a-f]{64} is truncated in the store: 1 of its \d+ chunks are missing/,
      };
      for (const j of second.jobs) {
        expect(j.state).toBe('failed');
        expect(j.attempts).toBe(1);
        expect(j.error).toMatch(reasons[j.variant]!);
        expect(j.result).toBeUndefined();
      }
      // Never loaded: the fetch failed before the suite process (the only place ORT runs) was
      // started, and no unverified byte stays on disk for anything to load later.
      expect(existsSync(cache) ? readdirSync(cache) : []).toEqual([]);
      await streamEmptyFor(id);
      figure('10 tampered/truncated model', { failedJobs: second.jobs.length, loaded: 0, attempts: second.jobs.reduce((n, j) => n + j.attempts, 0) });
      await stopAll(a);
    });
  }, 120_000 * TRIALS);

  it("promise 11: traversal in a model name or an external_data location is refused before anything loads; nothing written or read outside", async () => {
    await repeat(async (t) => {
      const before = (await sweepCount());
      // An initializer whose external data points out of the model's folder.
      const model = readModel(new Uint8Array(await readFile(MODEL)));
      const tensor = modelTensors(model).next().value!.tensor;
      tensor.dataLocation = 1; // TensorProto.DataLocation.EXTERNAL
      tensor.externalData = [{ key: 'location', value: '../../../../etc/hostname' }];
      const evil = join(dir, `evil-${t}.onnx`);
      writeFileSync(evil, writeModel(model));
      const form = new FormData();
      form.append('model', new Blob([new Uint8Array(await readFile(evil))]), 'evil.onnx');
      for (const [k, v] of Object.entries(job({ targets: 'all', minDurationMs: 200 }))) form.append(k, String(v));
      const refused = await fetch(`${client.baseUrl}/sweeps`, { method: 'POST', body: form });
      const body = (await refused.json()) as { code?: string; field?: string; message?: string };
      expect(refused.status).toBe(400);
      expect(body.message).toMatch(/external data location "\.\.\/\.\.\/\.\.\/\.\.\/etc\/hostname" contains '\.\.'/);
      expect((await sweepCount())).toBe(before);
      // A model named with a traversal: the name is reduced to its safe base name, files are
      // named by digest, and nothing lands where the name points.
      const escape = `bf-escape-${process.pid}-${t}`;
      const a = await agent(`p11-a${t}`);
      const named = await createDerived(client, MODEL, job({ targets: `p11-a${t}`, minDurationMs: 200 }), `../../../../tmp/${escape}.onnx`);
      expect(named.model.name).toBe(escape);
      expect((await settled(named.id)).jobs[0]!.state).toBe('done');
      expect(existsSync(join('/tmp', `${escape}.onnx`))).toBe(false);
      figure('11 traversal refused', { refused: refused.status === 400 ? 1 : 0, sweepsCreatedByTraversal: (await sweepCount()) - before - 1 });
      await stopAll(a);
    });
  }, 120_000 * TRIALS);

  it('promise 12: a model that crashes onnxruntime kills the child, not the agent; the job fails within MaxDeliver attempts; the device stays healthy', async () => {
    await repeat(async (t) => {
      const id = `p12-a${t}`;
      const flag = join(dir, `crash-${t}.flag`);
      writeFileSync(flag, 'crash\n');
      const crashHook = pathToFileURL(join(import.meta.dirname, 'crash-suite-child.mjs')).href;
      const a = await agent(id, '', { NODE_OPTIONS: `--import=${crashHook}`, BENCHFARM_TEST_CRASH_SUITE_WHILE: flag });
      const sweep = await createDerived(client, MODEL, job({ targets: id, minDurationMs: 200 }));
      const done = await settled(sweep.id);
      expect(done.jobs[0]!.state).toBe('failed');
      expect(done.jobs[0]!.attempts).toBeLessThanOrEqual(3);
      expect(done.jobs[0]!.error).toMatch(/^child_crashed: suite process died: signal SIG(SEGV|ABRT)/);
      expect(a.child.exitCode).toBeNull();
      expect(a.child.signalCode).toBeNull();
      await streamEmptyFor(id);
      // After the crash the agent re-runs its health check (the reference model, which does not crash) and is idle again.
      const view = await waitFor(`${id} idle after its health check`, async () => {
        const v = (await client.listAgents()).find((x) => x.agentId === id);
        return v?.state === 'idle' ? v : undefined;
      });
      expect(view).toMatchObject({ stale: false, state: 'idle', health: { status: 'verified', trigger: expect.stringMatching(/^after-failure: job /) } });
      // Healthy: with the fault gone, the same agent runs the next job to a result.
      rmSync(flag);
      const next = await settled((await createDerived(client, MODEL, job({ targets: id, minDurationMs: 200 }))).id);
      expect(next.jobs[0]).toMatchObject({ state: 'done', attempts: 1 });
      figure('12 model crashes the runtime', { attempts: done.jobs[0]!.attempts, agentAlive: a.child.exitCode === null ? 1 : 0, nextJobDone: 1 });
      await stopAll(a);
    });
  }, 120_000 * TRIALS);

  it('promise 7: coordinator killed (-9) and restarted mid-upload; the agent resumes; one result row', async () => {
    await repeat(async (t) => {
      const id = `p7-a${t}`;
      const a = await agent(id);
      const sweep = await createDerived(client, MODEL, job({ targets: id, minDurationMs: 8_000 }));
      // Mid-upload: the job's events (progress) stream to the coordinator while it runs.
      await waitFor('upload under way', async () => ((await jobOf(sweep.id)).progress ? true : undefined), 60_000, 100);
      const killedAt = Date.now();
      coordinator.signal('SIGKILL');
      await coordinator.exited;
      await startCoordinator();
      const restartMs = Date.now() - killedAt;
      const done = await settled(sweep.id, 120_000);
      const recoveryMs = Date.now() - killedAt;
      expect(done.jobs[0]).toMatchObject({ state: 'done', attempts: 1 });
      await streamEmptyFor(id);
      const counts = ledger(sweep.id);
      expect(counts).toMatchObject({ open: 0, lost: 0, duplicated: 0, results: 1 });
      figure('7 coordinator restarted mid-upload', { restartMs, recoveryMs, lost: counts.lost, duplicated: counts.duplicated, redelivered: counts.redelivered });
      await stopAll(a);
    });
  }, 180_000 * TRIALS);

  it(`promise 6: nats-server killed (-9) and restarted with ${QUEUED} queued jobs; zero lost; agents reconnect within 10 s`, async () => {
    await repeat(async (t) => {
      const id = `p6-a${t}`;
      const ghost = `p6-queue${t}`;
      const a = await agent(id);
      // Queued jobs for a device that is not pulling: they must all survive the crash.
      const js = (await import('@nats-io/jetstream')).jetstream(nc);
      for (let i = 0; i < QUEUED; i += 200) {
        await Promise.all(Array.from({ length: Math.min(200, QUEUED - i) }, (_, k) => js.publish(jobSubject(ghost), new TextEncoder().encode(`queued ${i + k}`), { msgID: `${ghost}.${i + k}` })));
      }
      expect(await messagesFor(ghost)).toBe(QUEUED);
      const sweep = await createDerived(client, MODEL, job({ targets: id, minDurationMs: 5_000 }));
      await waitFor(`job running on ${id}`, async () => ((await jobOf(sweep.id)).state === 'running' ? true : undefined));
      nats.process.kill('SIGKILL');
      await new Promise<void>((resolve) => (nats.process.exitCode !== null || nats.process.signalCode !== null ? resolve() : nats.process.once('exit', () => resolve())));
      await sleep(1_000);
      nats = await startNatsServer({ storeDir: nats.storeDir, port: nats.port });
      const restartedAt = Date.now();
      const reconnectMs = await waitFor(`${id} heartbeat after the restart`, async () => {
        const view = (await client.listAgents()).find((x) => x.agentId === id);
        const beat = view ? Date.parse(view.heartbeatAt) : NaN;
        return beat > restartedAt ? Date.now() - restartedAt : undefined;
      }, 30_000, 100);
      expect(reconnectMs).toBeLessThanOrEqual(10_000);
      const done = await settled(sweep.id, 120_000);
      expect(done.jobs[0]!.state).toBe('done');
      const lostQueued = QUEUED - (await waitFor('stream back', () => messagesFor(ghost), 30_000));
      expect(lostQueued).toBe(0);
      await streamEmptyFor(id, 10_000);
      const counts = ledger(sweep.id);
      expect(counts).toMatchObject({ open: 0, lost: 0, duplicated: 0, results: 1 });
      figure(`6 nats-server restarted with ${QUEUED} queued`, { reconnectMs, lost: lostQueued + counts.lost, duplicated: counts.duplicated, redelivered: counts.redelivered });
      await jsm.streams.purge(JOB_STREAM, { filter: jobSubject(ghost) });
      await stopAll(a);
    });
  }, 180_000 * TRIALS);

  it('promise 8: agent partitioned from the network; detected within heartbeat + stale window; its registry entry goes stale; its job is redelivered; one result after healing', async () => {
    // The reference partition is 60 s = 2 x AckWait; with the fast AckWait that is 4 s.
    const partitionMs = 2 * FAST_TIMINGS.ackWaitMs;
    await repeat(async (t) => {
      const [ia, ib] = [`p8-a${t}`, `p8-b${t}`];
      const natsProxy = await startTcpProxy({ host: '127.0.0.1', port: nats.port });
      const grpcProxy = await startTcpProxy({ host: '127.0.0.1', port: grpcPort });
      try {
        const a = await agent(ia, `pool=p8x${t}`, { BENCHFARM_NATS_URL: `nats://${natsProxy.address}`, BENCHFARM_GRPC_ADDRESS: grpcProxy.address });
        const b = await agent(ib, `pool=p8x${t}`);
        const sweep = await createDerived(client, MODEL, job({ targets: ia, minDurationMs: 6_000 }));
        await waitFor(`job running on ${ia}`, async () => ((await jobOf(sweep.id)).state === 'running' ? true : undefined));
        const partitionedAt = Date.now();
        natsProxy.pause();
        grpcProxy.pause();
        const detectBoundMs = FAST_TIMINGS.heartbeatMs + FAST_TIMINGS.staleAfterMs + 5_000;
        const detectMs = await waitFor(`${ia} stale`, async () => ((await client.listAgents()).find((x) => x.agentId === ia)?.stale ? Date.now() - partitionedAt : undefined), detectBoundMs, 50);
        await waitFor(`job leased by ${ib}`, async () => ((await jobOf(sweep.id)).agentId === ib ? true : undefined), FAST_TIMINGS.ackWaitMs + 5_000, 50);
        const recoveryMs = Date.now() - partitionedAt;
        await sleep(Math.max(0, partitionMs - (Date.now() - partitionedAt)));
        natsProxy.resume();
        grpcProxy.resume();
        const done = await settled(sweep.id);
        expect(done.jobs[0]).toMatchObject({ state: 'done', agentId: ib, attempts: 2 });
        expect(detectMs).toBeLessThanOrEqual(detectBoundMs);
        // Healed: the partitioned agent learns its lease is gone, drops the attempt and is healthy.
        await waitFor(`${ia} dropped its stale attempt`, () => (a.lines().some((l) => l.message === 'job message dropped' && /^(job stopped: |the coordinator refused the result: )/.test(String(l.reason))) ? true : undefined), 30_000);
        await waitFor(`${ia} healthy again`, async () => ((await client.listAgents()).find((x) => x.agentId === ia && !x.stale && x.state === 'idle') ? true : undefined), 15_000);
        await streamEmptyFor(ia);
        await streamEmptyFor(ib);
        const counts = ledger(sweep.id);
        expect(counts).toMatchObject({ open: 0, lost: 0, duplicated: 0, results: 1 });
        figure('8 agent partitioned', { detectMs, recoveryMs, lost: counts.lost, duplicated: counts.duplicated, redelivered: counts.redelivered });
        await stopAll(a, b);
      } finally {
        natsProxy.resume();
        grpcProxy.resume();
        await natsProxy.close();
        await grpcProxy.close();
      }
    });
  }, 150_000 * TRIALS);
});
