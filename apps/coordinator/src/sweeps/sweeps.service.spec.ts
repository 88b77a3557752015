import { Logger } from '@nestjs/common';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AgentsService } from '../agents/agents.service';
import { DomainErrorCode } from '../common/domain-error';
import { loadConfig } from '../config';
import { ProgressTracker } from '../results/progress-tracker';
import { openSqlite } from '../storage/sqlite';
import type { SqlDatabase } from '../storage/sql';
import { SqlSweepRepository } from '../storage/sweep.repository';
import { SqlResultRepository } from '../storage/result.repository';
import { MetricsService } from '../metrics/metrics.service';
import { SqlSeriesHistoryRepository } from '../metrics/series-history.repository';
import { createFarmMetrics } from '@benchfarm/metrics';
import { Registry } from 'prom-client';
import type { ModelUpload } from './sweeps.service';
import { agent, CountingIds, derivingService, FakeRegistry, FakeStore, FakeToolkit, FakeWorkspace, FixedClock, FlakyBus } from './testing/sweep-fakes';
import type { JobBus } from './job-bus';

describe('SweepsService (fake adapters, real SQLite)', () => {
  let db: SqlDatabase;
  let toolkit: FakeToolkit;
  let workspace: FakeWorkspace;
  let bus: FlakyBus;
  let metrics: MetricsService;
  const upload: ModelUpload = { kind: 'upload', path: '/scratch/uploads/abc', originalName: 'my model.onnx', sizeBytes: 1000 };

  const service = (b: JobBus = bus) => {
    const config = loadConfig({}, {});
    const clock = new FixedClock();
    const agents = new AgentsService(new FakeRegistry([agent('a1'), agent('a2')]), clock, config);
    const sweeps = new SqlSweepRepository(db);
    metrics = new MetricsService(createFarmMetrics(new Registry()), sweeps, new SqlResultRepository(db), agents, new SqlSeriesHistoryRepository(db), clock);
    return derivingService({ sweeps, agents, toolkit, models: new FakeStore(), bus: b, workspace, progress: new ProgressTracker(), metrics, clock, ids: new CountingIds(), config });
  };
  const count = async (table: string): Promise<number> => (await db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`))!.n;

  // The service logs the publish failure it is made to hit; keep the test output clean.
  beforeAll(() => Logger.overrideLogger(false));
  beforeEach(() => {
    db = openSqlite(':memory:');
    toolkit = new FakeToolkit();
    workspace = new FakeWorkspace();
    workspace.live.add(upload.kind === 'upload' ? upload.path : '');
    bus = new FlakyBus();
  });
  afterEach(() => db.close());

  it('plans variant x agent jobs, publishes them in order and cleans the scratch files', async () => {
    const view = await service().create(upload, { variants: 'fp32,ort-basic', compare: 'none' });
    expect(view).toMatchObject({ id: 'sweep_1', name: 'my_model', state: 'running', agents: ['a1', 'a2'] });
    expect(view.jobs.map((j) => `${j.variant}@${j.agentId}`)).toEqual(['fp32@a1', 'fp32@a2', 'ort-basic@a1', 'ort-basic@a2']);
    expect(bus.published.map((j) => j.jobId)).toEqual(view.jobs.map((j) => j.id));
    expect(bus.published[0]).toMatchObject({ sweepId: 'sweep_1', createdAtUnixMs: 1_700_000_000_000, variant: { modelName: 'my_model', variant: 'fp32' } });
    expect(workspace.live.size).toBe(0);
    expect((await metrics.render()).text).toContain('benchfarm_model_size_bytes{model="my_model",variant="ort-basic"}');
  });

  it('keeps a sweep whose jobs could not all be published, failed with the reason', async () => {
    const view = await service(new FlakyBus(1)).create(upload, { compare: 'none' });
    expect(view.state).toBe('failed');
    expect(view.error).toMatch(/publishing jobs failed after 1 of 4: nats is down/);
    expect(view.jobs.map((j) => j.state)).toEqual(['queued', 'failed', 'failed', 'failed']);
    expect(workspace.live.size).toBe(0);
  });

  it.each<[string, () => void, unknown, string]>([
    ['a bad field, before the model is read', () => undefined, { minQueries: 0 }, DomainErrorCode.InvalidArgument],
    ['an unknown variant', () => undefined, { variants: 'fp64' }, DomainErrorCode.UnknownVariant],
    ['no matching agent', () => undefined, { targets: 'label:x=y' }, DomainErrorCode.NoMatchingAgent],
  ])('writes nothing and removes every scratch file on %s', async (_name, arrange, body, code) => {
    arrange();
    await expect(service().create(upload, body)).rejects.toMatchObject({ code });
    expect([await count('sweeps'), await count('variants'), await count('jobs')]).toEqual([0, 0, 0]);
    expect(bus.published).toEqual([]);
    expect(workspace.live.size).toBe(0);
    if (code === DomainErrorCode.InvalidArgument) expect(toolkit.prepared).toEqual([]);
  });

  it('answers at once in deriving with every variant pending; the derivation step then writes and publishes the jobs', async () => {
    const wired = service();
    const view = await wired.service.create(upload, { variants: 'fp32,ort-basic', compare: 'none' });
    expect(view).toMatchObject({ state: 'deriving', jobs: [], variants: [], derivation: [{ variant: 'fp32', state: 'pending' }, { variant: 'ort-basic', state: 'pending' }] });
    await wired.runner.idle();
    const derived = await wired.get(view.id);
    expect(derived).toMatchObject({ state: 'running', derivation: [{ variant: 'fp32', state: 'done' }, { variant: 'ort-basic', state: 'done' }] });
    expect(bus.published).toHaveLength(4);
  });

  it('fails the sweep with the error of a variant that cannot be derived, writing and publishing no job', async () => {
    toolkit.failVariant = 'ort-basic';
    const view = await service().create(upload, {});
    expect(view).toMatchObject({ state: 'failed', error: 'variant ort-basic: broken', jobs: [], variants: [] });
    expect(view.derivation).toMatchObject([{ variant: 'fp32', state: 'done' }, { variant: 'ort-basic', state: 'failed', error: 'variant ort-basic: broken' }]);
    expect([await count('sweeps'), await count('variants'), await count('jobs')]).toEqual([1, 0, 0]);
    expect(bus.published).toEqual([]);
    expect(workspace.live.size).toBe(0);
  });

  it('takes a model path on the coordinator (JSON) but not both a file and a path', async () => {
    const view = await service().create({ kind: 'none' }, { modelPath: '/models/det.onnx', variants: ['fp32'], targets: ['a2'] });
    expect(view).toMatchObject({ name: 'det', agents: ['a2'] });
    // Checked from the path; the derivation step prepares its copy fetched back from the store by digest.
    expect(toolkit.prepared).toEqual(['/models/det.onnx', expect.stringMatching(/\/source\/[0-9a-f]{64}\.onnx$/)]);
    await expect(service().create(upload, { modelPath: '/models/det.onnx' })).rejects.toMatchObject({ code: DomainErrorCode.InvalidArgument, field: 'modelPath' });
    await expect(service().create({ kind: 'none' }, { modelPath: '/models/notes.txt' })).rejects.toMatchObject({ field: 'modelPath' });
  });
});
