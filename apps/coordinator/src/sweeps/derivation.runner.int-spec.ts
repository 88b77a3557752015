// The derivation step of sweeps against a real SQLite store, real derivation (onnxruntime in
// child processes) on PaddleOCR's detector from npm, and model files on disk: progress, a
// variant that fails, cancel during deriving, and a sweep left in `deriving` resumed by a new runner.
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, stat } from 'node:fs/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { IsolatedWorkError } from '@benchfarm/isolate';
import { createFarmMetrics } from '@benchfarm/metrics';
import { paddleOcrModelPath, type CalibrationSource } from '@benchfarm/onnx';
import { Registry } from 'prom-client';
import { AgentsService } from '../agents/agents.service';
import { SystemClock } from '../common/clock';
import { loadConfig } from '../config';
import { MetricsService } from '../metrics/metrics.service';
import { SqlSeriesHistoryRepository } from '../metrics/series-history.repository';
import { ProgressTracker } from '../results/progress-tracker';
import { SqlLeaseRepository } from '../storage/lease.repository';
import { SqlResultRepository } from '../storage/result.repository';
import { openSqlite } from '../storage/sqlite';
import { SqlSweepRepository } from '../storage/sweep.repository';
import { ModelStore } from '../variants/model-store';
import { OnnxModelToolkit, type HoldoutImages, type VariantFile } from '../variants/model-toolkit';
import { LocalWorkspace } from '../variants/workspace';
import { DerivationRunner } from './derivation.runner';
import { SweepsService } from './sweeps.service';
import { agent, CountingIds, FakeRegistry, FixedClock, FlakyBus } from './testing/sweep-fakes';
import type { SqlDatabase } from '../storage/sql';
import type { SweepView } from './sweep.view';

/** A model store in a folder on disk, files named by digest (the object store's contract, without NATS). */
class DiskModelStore extends ModelStore {
  constructor(private readonly dir: string) {
    super();
  }
  async put(path: string): Promise<{ sha256: string; sizeBytes: number }> {
    const sha256 = createHash('sha256').update(await readFile(path)).digest('hex');
    await mkdir(this.dir, { recursive: true });
    await copyFile(path, join(this.dir, sha256));
    return { sha256, sizeBytes: (await stat(path)).size };
  }
  async fetch(sha256: string, dir: string): Promise<string> {
    await mkdir(dir, { recursive: true });
    const target = join(dir, `${sha256}.onnx`);
    await copyFile(join(this.dir, sha256), target);
    return target;
  }
}

/** The real toolkit, recording which variants it was asked to derive and how each call ended. */
class RecordingToolkit extends OnnxModelToolkit {
  derived: string[] = [];
  errors = new Map<string, unknown>();
  override async deriveVariant(name: string, preparedPath: string, workDir: string, calibration?: CalibrationSource, holdout?: HoldoutImages, signal?: AbortSignal): Promise<VariantFile> {
    this.derived.push(name);
    try {
      return await super.deriveVariant(name, preparedPath, workDir, calibration, holdout, signal);
    } catch (err) {
      this.errors.set(name, err);
      throw err;
    }
  }
}

const MODEL = paddleOcrModelPath('det');
const REQUEST = { modelPath: MODEL, shapes: { x: [1, 3, 64, 64] }, compare: 'none', calibrationRandom: 2 };

describe('DerivationRunner (real SQLite, real derivation in child processes)', () => {
  const root = mkdtempSync(join(tmpdir(), 'bf-derivation-'));
  let db: SqlDatabase;
  let bus: FlakyBus;
  let ids: CountingIds;
  const store = new DiskModelStore(join(root, 'store'));
  const workspace = new LocalWorkspace(join(root, 'data'));
  const config = loadConfig({}, {});
  const clock = new SystemClock();

  const wire = (toolkit = new RecordingToolkit()) => {
    const sweeps = new SqlSweepRepository(db);
    const agents = new AgentsService(new FakeRegistry([agent('a1'), agent('a2')]), new FixedClock(), config);
    const metrics = new MetricsService(createFarmMetrics(new Registry()), sweeps, new SqlResultRepository(db), agents, new SqlSeriesHistoryRepository(db), clock);
    const runner = new DerivationRunner(sweeps, toolkit, store, bus, workspace, metrics, clock, ids, undefined, 50);
    const service = new SweepsService(sweeps, agents, toolkit, store, runner, workspace, new ProgressTracker(), metrics, clock, ids, config);
    return { runner, service, toolkit };
  };
  const count = async (table: string): Promise<number> => (await db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`))!.n;
  /** Polls the view until `done` holds (a variant reaching a state while its child runs). */
  const until = async (service: SweepsService, id: string, done: (view: SweepView) => boolean): Promise<SweepView> => {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const view = await service.get(id);
      if (done(view)) return view;
      if (Date.now() > deadline) throw new Error(`sweep ${id}: condition not met: ${JSON.stringify(view.derivation)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  beforeAll(() => Logger.overrideLogger(false));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  beforeEach(async () => {
    db = openSqlite(':memory:');
    bus = new FlakyBus();
    ids = new CountingIds();
    await workspace.reset();
  });
  afterEach(() => db.close());

  it('answers in deriving, shows each variant pending -> deriving -> done with timings, then writes and publishes the jobs', { timeout: 120_000 }, async () => {
    const { runner, service } = wire();
    const created = await service.create({ kind: 'none' }, { ...REQUEST, variants: 'fp32,int8-static' });
    expect(created).toMatchObject({ state: 'deriving', jobs: [], variants: [] });
    expect(created.derivation?.map((d) => d.variant)).toEqual(['fp32', 'int8-static']);
    const midway = await until(service, created.id, (v) => v.derivation?.[1]?.state === 'deriving');
    expect(midway).toMatchObject({ state: 'deriving', jobs: [], derivation: [{ variant: 'fp32', state: 'done' }, { variant: 'int8-static', state: 'deriving' }] });
    await runner.idle();
    const done = await service.get(created.id);
    expect(done.state).toBe('running');
    for (const d of done.derivation ?? []) expect(d).toMatchObject({ state: 'done', startedAt: expect.any(String), finishedAt: expect.any(String), durationMs: expect.any(Number) });
    expect(done.variants.map((v) => v.name)).toEqual(['fp32', 'int8-static']);
    expect(done.jobs.map((j) => `${j.variant}@${j.agentId}`)).toEqual(['fp32@a1', 'fp32@a2', 'int8-static@a1', 'int8-static@a2']);
    expect(bus.published.map((j) => j.jobId)).toEqual(done.jobs.map((j) => j.id));
    expect(bus.published[2]?.variant).toMatchObject({ variant: 'int8-static', sha256: done.variants[1]?.sha256 });
  });

  it('cancel during deriving kills the derivation child and ends the sweep cancelled, with no job written or published', { timeout: 120_000 }, async () => {
    const { runner, service, toolkit } = wire();
    const created = await service.create({ kind: 'none' }, { ...REQUEST, variants: 'fp32,int8-static,fp16' });
    await until(service, created.id, (v) => v.derivation?.[1]?.state === 'deriving');
    // The store's side of POST /sweeps/:id/cancel (LeaseService answers 200 with no job cancelled for a deriving sweep).
    expect(await new SqlLeaseRepository(db).cancelSweep(created.id, 'by the test', clock.nowMs())).toEqual({ jobs: 0, messages: [], deriving: true });
    await runner.idle();
    const view = await service.get(created.id);
    expect(view).toMatchObject({ state: 'failed', error: 'cancelled: by the test', jobs: [], variants: [] });
    // The child was stopped by the abort (not a failure of the pass), and nothing was derived after it.
    const err = toolkit.errors.get('int8-static') as { cause?: { cause?: unknown } } | undefined;
    expect(err?.cause?.cause).toBeInstanceOf(IsolatedWorkError);
    expect((err?.cause?.cause as IsolatedWorkError).code).toBe('aborted');
    expect(toolkit.derived).toEqual(['fp32', 'int8-static']);
    expect(view.derivation?.map((d) => [d.state, d.error])).toEqual([['done', undefined], ['failed', 'stopped: the sweep was cancelled'], ['pending', undefined]]);
    expect([await count('variants'), await count('jobs')]).toEqual([0, 0]);
    expect(bus.published).toEqual([]);
  });

  it('a sweep left in deriving (coordinator stopped mid-variant) is finished by a new runner at start-up, deriving only the variants not done', { timeout: 120_000 }, async () => {
    const first = wire();
    const created = await first.service.create({ kind: 'none' }, { ...REQUEST, variants: 'fp32,int8-static' });
    await until(first.service, created.id, (v) => v.derivation?.[1]?.state === 'deriving');
    await first.runner.onApplicationShutdown();
    const left = await first.service.get(created.id);
    expect(left).toMatchObject({ state: 'deriving', jobs: [], derivation: [{ variant: 'fp32', state: 'done' }, { variant: 'int8-static', state: 'deriving' }] });
    expect(bus.published).toEqual([]);

    const second = wire();
    await second.runner.onApplicationBootstrap();
    await second.runner.idle();
    const done = await second.service.get(created.id);
    expect(done.state).toBe('running');
    expect(second.toolkit.derived).toEqual(['int8-static']);
    expect(done.variants.map((v) => v.name)).toEqual(['fp32', 'int8-static']);
    expect(done.jobs).toHaveLength(4);
    expect(bus.published.map((j) => j.jobId)).toEqual(done.jobs.map((j) => j.id));
    // Resumed again (a second restart after it finished): nothing is derived, written or published twice.
    const third = wire();
    await third.runner.onApplicationBootstrap();
    await third.runner.idle();
    expect(third.toolkit.derived).toEqual([]);
    expect(await count('jobs')).toBe(4);
    expect(bus.published).toHaveLength(4);
  });
});
