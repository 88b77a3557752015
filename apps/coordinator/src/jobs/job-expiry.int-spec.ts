import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { RetentionPolicy, StorageType, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { Objm } from '@nats-io/obj';
import { connect, nanos, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_BUCKET, AGENT_STALE_AFTER_MS, JOB_DUPLICATE_WINDOW_MS, JOB_STREAM, JOB_SUBJECT_PREFIX, MODEL_BUCKET, jobSubject, startNatsServer, type NatsServerHandle } from '@benchfarm/messaging';
import { paddleOcrModelPath } from '@benchfarm/onnx';
import { AgentRecord } from '@benchfarm/protocol';
import { startCoordinator, type RunningCoordinator } from '../app';
import { fakeAgentRecord } from '../testing/fake-agent';
import type { SweepView } from '../sweeps/sweep.view';
import { untilDerived } from '../testing/derived';

/** Short, so the test sees a job expire; production keeps 7 days. */
const MAX_AGE_MS = 3_000;
/** A registry entry only (no agent process, no consumer): nobody ever takes its jobs. */
const OFFLINE_AGENT = 'expiry-offline';

// Stream limits, the coordinator's side: it starts on streams an older version created without
// limits (and gives them limits), and a queued job whose message the max age deleted fails as
// expired instead of staying queued for good. Real nats-server 2.9, SQLite, coordinator.
describe('job stream max age at the coordinator (real nats-server)', () => {
  let nats: NatsServerHandle;
  let nc: NatsConnection;
  let dir: string;
  let coordinator: RunningCoordinator;
  let oldSeq: number;

  beforeAll(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    dir = mkdtempSync(join(tmpdir(), 'bf-expiry-'));
    // The streams as the previous version created them, with a job queued for a gone agent.
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    await jsm.streams.add({ name: JOB_STREAM, subjects: [`${JOB_SUBJECT_PREFIX}.>`], retention: RetentionPolicy.Workqueue, storage: StorageType.File, duplicate_window: nanos(JOB_DUPLICATE_WINDOW_MS), num_replicas: 1 });
    await new Kvm(js).create(AGENT_BUCKET, { ttl: AGENT_STALE_AFTER_MS, history: 1, replicas: 1 });
    await new Objm(js).create(MODEL_BUCKET, { replicas: 1 });
    oldSeq = (await js.publish(jobSubject('gone-agent'), new TextEncoder().encode('queued long ago'), { msgID: 'old-job' })).seq;
    coordinator = await startCoordinator({ natsUrl: nats.url, httpPort: 0, grpcPort: 0, dbPath: join(dir, 'coordinator.db'), dataDir: join(dir, 'data'), logLevel: 'error', jobMaxAgeMs: MAX_AGE_MS, jobQueueMaxPerAgent: 1 });
  });

  afterAll(async () => {
    await coordinator?.close();
    await nc?.close();
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('starts on streams created without limits and gives them the configured ones', async () => {
    const jsm = await jetstreamManager(nc);
    expect((await jsm.streams.info(JOB_STREAM)).config).toMatchObject({ max_age: nanos(MAX_AGE_MS), duplicate_window: nanos(MAX_AGE_MS), discard: 'new', discard_new_per_subject: true, max_msgs_per_subject: 1 });
    // The old message now has a max age too: deleted once it is older than that.
    const deadline = Date.now() + MAX_AGE_MS + 10_000;
    while ((await jsm.streams.getMessage(JOB_STREAM, { seq: oldSeq })) !== null && Date.now() < deadline) await sleep(100);
    expect(await jsm.streams.getMessage(JOB_STREAM, { seq: oldSeq })).toBeNull();
  });

  const createSweep = async (variants: string): Promise<{ status: number; sweep: SweepView }> => {
    const kv = await new Kvm(jetstream(nc)).open(AGENT_BUCKET);
    await kv.put(OFFLINE_AGENT, AgentRecord.encode(fakeAgentRecord(OFFLINE_AGENT)).finish());
    const form = new FormData();
    form.append('model', new Blob([readFileSync(paddleOcrModelPath('cls'))]), 'cls.onnx');
    for (const [key, value] of Object.entries({ variants, targets: OFFLINE_AGENT, shapes: 'x:1x3x48x192', compare: 'none' })) form.append(key, value);
    const created = await fetch(`${coordinator.httpUrl}/sweeps`, { method: 'POST', body: form });
    return { status: created.status, sweep: (await untilDerived(coordinator.httpUrl, (await created.json()) as SweepView)) };
  };

  it('fails a queued job as expired once the max age deleted its message; the sweep settles', async () => {
    const { status, sweep } = await createSweep('fp32');
    expect(status, JSON.stringify(sweep)).toBe(201);
    const createdAt = Date.now();
    expect(sweep.jobs[0]).toMatchObject({ state: 'queued' });

    let view: SweepView | undefined;
    // The max age, the server's expiry timer and one expiry pass (a tenth of the max age); generous for 2 loaded cores.
    while (Date.now() - createdAt < MAX_AGE_MS + 20_000) {
      view = (await (await fetch(`${coordinator.httpUrl}/sweeps/${sweep.id}`)).json()) as SweepView;
      if (view.state !== 'running') break;
      await sleep(200);
    }
    const settledMs = Date.now() - createdAt;
    expect(view?.state).toBe('failed');
    expect(view?.jobs[0]).toMatchObject({ state: 'failed', attempts: 0 });
    expect(view?.jobs[0]?.error).toMatch(/^expired: no agent took it within the job stream's max age \(3 s, BENCHFARM_JOB_MAX_AGE_MS\); NATS deleted its message for agent expiry-offline/);
    // Not before its message was gone.
    expect(settledMs).toBeGreaterThanOrEqual(MAX_AGE_MS - 100);
    const info = await (await jetstreamManager(nc)).streams.info(JOB_STREAM, { subjects_filter: jobSubject(OFFLINE_AGENT) });
    expect(info.state.subjects?.[jobSubject(OFFLINE_AGENT)] ?? 0).toBe(0);
    console.log(`[figures] ${JSON.stringify({ promise: 'queued job expired', maxAgeMs: MAX_AGE_MS, settledMs })}`);
  });

  it("a sweep beyond the agent's job queue limit (1 here): the job the stream refuses fails naming the limit", async () => {
    const { status, sweep } = await createSweep('fp32,ort-basic');
    expect(status, JSON.stringify(sweep)).toBe(201);
    const view = (await (await fetch(`${coordinator.httpUrl}/sweeps/${sweep.id}`)).json()) as SweepView;
    expect(view.state).toBe('failed');
    expect(view.error).toMatch(/publishing jobs failed after 1 of 2: .*maximum messages per subject exceeded \(the agent's job queue is full: BENCHFARM_JOB_QUEUE_MAX_PER_AGENT/);
  });
});

// A coordinator killed while publishing a sweep leaves jobs stored but never published: no agent
// will be sent them and their payload was not kept. The next coordinator fails them, naming why,
// so the sweep settles instead of running for good. Real nats-server, SQLite, two coordinators in turn.
describe('jobs never published when the coordinator stopped mid-publish (real nats-server)', () => {
  let nats: NatsServerHandle;
  let nc: NatsConnection;
  let dir: string;
  let coordinator: RunningCoordinator | undefined;

  beforeAll(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    dir = mkdtempSync(join(tmpdir(), 'bf-unpublished-'));
  });

  afterAll(async () => {
    await coordinator?.close();
    await nc?.close();
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const start = (): Promise<RunningCoordinator> =>
    startCoordinator({ natsUrl: nats.url, httpPort: 0, grpcPort: 0, dbPath: join(dir, 'coordinator.db'), dataDir: join(dir, 'data'), logLevel: 'error', jobMaxAgeMs: 60_000 });

  it('fails the stored jobs a stopped coordinator never published, and leaves the published one waiting', async () => {
    coordinator = await start();
    const kv = await new Kvm(jetstream(nc)).open(AGENT_BUCKET);
    await kv.put(OFFLINE_AGENT, AgentRecord.encode(fakeAgentRecord(OFFLINE_AGENT)).finish());
    const form = new FormData();
    form.append('model', new Blob([readFileSync(paddleOcrModelPath('cls'))]), 'cls.onnx');
    for (const [key, value] of Object.entries({ variants: 'fp32,ort-basic', targets: OFFLINE_AGENT, shapes: 'x:1x3x48x192', compare: 'none' })) form.append(key, value);
    const created = await fetch(`${coordinator.httpUrl}/sweeps`, { method: 'POST', body: form });
    const sweep = await untilDerived(coordinator.httpUrl, (await created.json()) as SweepView);
    expect(created.status, JSON.stringify(sweep)).toBe(201);
    expect(sweep.jobs.map((j) => j.state)).toEqual(['queued', 'queued']);
    await coordinator.close();
    coordinator = undefined;

    // The cut: the second job's publication never happened (its ledger row is what says so).
    const [published, cut] = sweep.jobs;
    const db = new Database(join(dir, 'coordinator.db'));
    expect(db.prepare('DELETE FROM job_messages WHERE job_id = ?').run(cut!.id).changes).toBe(1);
    db.close();

    coordinator = await start();
    let view: SweepView | undefined;
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      view = (await (await fetch(`${coordinator.httpUrl}/sweeps/${sweep.id}`)).json()) as SweepView;
      if (view.jobs.find((j) => j.id === cut!.id)?.state === 'failed') break;
      await sleep(200);
    }
    const byId = new Map(view?.jobs.map((j) => [j.id, j]));
    expect(byId.get(cut!.id)).toMatchObject({ state: 'failed', attempts: 0 });
    expect(byId.get(cut!.id)?.error).toMatch(new RegExp(`^never published: the coordinator stopped while publishing sweep ${sweep.id}`));
    // The published job is still waiting for its agent.
    expect(byId.get(published!.id)).toMatchObject({ state: 'queued' });
    expect(view?.state).toBe('running');
  });
});
