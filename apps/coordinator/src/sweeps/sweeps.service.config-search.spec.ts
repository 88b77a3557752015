import { Logger } from '@nestjs/common';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createFarmMetrics } from '@benchfarm/metrics';
import { AgentCapabilities, type AgentRecord } from '@benchfarm/protocol';
import { Registry } from 'prom-client';
import { AgentsService } from '../agents/agents.service';
import { DomainError } from '../common/domain-error';
import { loadConfig } from '../config';
import { MetricsService } from '../metrics/metrics.service';
import { SqlSeriesHistoryRepository } from '../metrics/series-history.repository';
import { ProgressTracker } from '../results/progress-tracker';
import { openSqlite } from '../storage/sqlite';
import type { SqlDatabase } from '../storage/sql';
import { SqlResultRepository } from '../storage/result.repository';
import { SqlSweepRepository } from '../storage/sweep.repository';
import type { ModelUpload } from './sweeps.service';
import { agent, CountingIds, derivingService, FakeRegistry, FakeStore, FakeToolkit, FakeWorkspace, FixedClock, FlakyBus } from './testing/sweep-fakes';

/** A fake agent that reports cores and providers, as a real one does when it registers. */
const device = (agentId: string, cpuCores: number, executionProviders: string[]): AgentRecord => ({
  ...agent(agentId),
  capabilities: AgentCapabilities.fromPartial({ arch: 'x64', os: 'linux', cpuCores, executionProviders }),
});

describe('SweepsService with dimensions (fake adapters, real SQLite)', () => {
  let db: SqlDatabase;
  let toolkit: FakeToolkit;
  let bus: FlakyBus;
  let progress: ProgressTracker;
  const upload: ModelUpload = { kind: 'upload', path: '/scratch/uploads/abc', originalName: 'det.onnx', sizeBytes: 1000 };

  const service = (maxJobsPerSweep?: number) => {
    const config = { ...loadConfig({}, {}), ...(maxJobsPerSweep === undefined ? {} : { maxJobsPerSweep }) };
    const clock = new FixedClock();
    const agents = new AgentsService(new FakeRegistry([device('small', 2, ['cpu']), device('big', 8, ['cpu', 'cuda'])]), clock, config);
    const sweeps = new SqlSweepRepository(db);
    const metrics = new MetricsService(createFarmMetrics(new Registry()), sweeps, new SqlResultRepository(db), agents, new SqlSeriesHistoryRepository(db), clock);
    const workspace = new FakeWorkspace();
    workspace.live.add(upload.kind === 'upload' ? upload.path : '');
    return derivingService({ sweeps, agents, toolkit, models: new FakeStore(), bus, workspace, progress, metrics, clock, ids: new CountingIds(), config });
  };
  const count = async (table: string): Promise<number> => (await db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`))!.n;
  const refusal = async (promise: Promise<unknown>): Promise<DomainError> => {
    try {
      await promise;
    } catch (err) {
      expect(err).toBeInstanceOf(DomainError);
      return err as DomainError;
    }
    throw new Error('accepted');
  };

  beforeAll(() => Logger.overrideLogger(false));
  beforeEach(() => {
    db = openSqlite(':memory:');
    toolkit = new FakeToolkit();
    bus = new FlakyBus();
    progress = new ProgressTracker();
  });
  afterEach(() => db.close());

  it('publishes one search job per device, after the variant and comparison jobs, and shows the search in the view', async () => {
    const view = await service().create(upload, { variants: 'fp32,ort-basic', dimensions: 'provider=cpu,cuda;threads=1,4;level=basic,all', budgetMinutes: 60 });
    const search = bus.published.filter((j) => j.configSearch);
    expect(bus.published).toHaveLength(2 * 2 + 2 + 2);
    expect(search.map((j) => [j.agentId, j.configSearch?.axes.map((a) => `${a.name}=${a.values.join(',')}`).join(';')])).toEqual([
      ['small', 'provider=cpu;intra_op_threads=1;graph_optimization_level=basic,all'],
      ['big', 'provider=cpu,cuda;intra_op_threads=1,4;graph_optimization_level=basic,all'],
    ]);
    expect(view.configSearch).toMatchObject({ strategy: 'grid', objective: 'p50_latency', budgetMs: 3_600_000, axes: [{ name: 'provider' }, { name: 'intra_op_threads' }, { name: 'graph_optimization_level' }] });
    expect(view.configSearch?.devices.map((d) => [d.agentId, d.jobId, d.state, d.skipped.length])).toEqual([
      ['small', search[0]!.jobId, 'queued', 2],
      ['big', search[1]!.jobId, 'queued', 0],
    ]);
    expect(view.configSearch?.devices[0]?.result).toBeUndefined();
    // Nothing ran yet: each agent's queue is its estimate; big's 16-point grid is the longest.
    const big = view.configSearch!.devices[1]!.estimatedMs;
    expect(view.etaMs).toBe(big + 3 * (500 + 2000));
  });

  it('refuses an over-budget grid naming budgetMinutes before deriving, storing or publishing anything', async () => {
    const err = await refusal(service().create(upload, { variants: 'fp32,ort-basic', dimensions: 'provider=cpu,cuda;threads=1,2,4;level=basic,all', budgetMinutes: 1 }));
    expect(err.field).toBe('budgetMinutes');
    expect(err.message).toMatch(/^budgetMinutes: a grid search on big measures 12 points x 2 variant\(s\) = 24 measurements, estimated [\d.]+ min with the confirmation rounds, over the budget of 1 min: use search quick/);
    expect(toolkit.calibrations.size).toBe(0);
    expect(bus.published).toEqual([]);
    expect(await count('sweeps')).toBe(0);
    expect(await count('jobs')).toBe(0);
  });

  it('queues a quick search over the same space, recording its worst case', async () => {
    const view = await service().create(upload, { variants: 'fp32,ort-basic', dimensions: 'provider=cpu,cuda;threads=1,2,4;level=basic,all', budgetMinutes: 1, search: 'quick' });
    expect(bus.published.filter((j) => j.configSearch).map((j) => j.configSearch?.strategy)).toEqual(['quick', 'quick']);
    expect(view.configSearch?.devices[1]?.notes.join(' ')).toMatch(/quick search: its worst case/);
  });

  it('counts the search jobs in the job limit', async () => {
    // 2 variants x 2 agents + 2 comparison jobs = 6 fit; the 2 search jobs make 8.
    const err = await refusal(service(7).create(upload, { variants: 'fp32,ort-basic', dimensions: 'threads=1,2' }));
    expect(err.field).toBe('targets');
    expect(err.message).toContain('8 jobs (2 variant(s) x 2 agent(s) + one comparison job per agent + 2 configuration-search job(s))');
    expect(bus.published).toEqual([]);
  });

  it('scales a running search job by its points done in the estimated time left', async () => {
    const view = await service().create(upload, { variants: 'fp32', compare: 'none', targets: 'small', dimensions: 'threads=1,2;level=basic,all' });
    const searchJob = bus.published.find((j) => j.configSearch)!;
    const plain = bus.published.find((j) => !j.configSearch)!;
    const estimate = view.configSearch!.devices[0]!.estimatedMs;
    expect(view.etaMs).toBe(estimate + 2500);
    await db.run(`UPDATE jobs SET state = 'done' WHERE id = ?`, [plain.jobId]);
    await db.run(`UPDATE jobs SET state = 'running' WHERE id = ?`, [searchJob.jobId]);
    progress.set(searchJob.jobId, { phase: 'measure', queriesDone: 40, elapsedMs: 900, point: 'fp32 cpu t1 all', pointsDone: 1, pointsTotal: 4, queriesPerSecond: 44.4 });
    const running = await service().get(view.id);
    // 4 points x (1.5 s session + 0.5 s warm-up + 2 s window) + one confirmation of 13 s = 29 s; a quarter done.
    expect(estimate).toBe(29_000);
    expect(running.etaMs).toBe(Math.round((estimate * 3) / 4));
    // Every point done: the last variant's confirmation is still ahead (2 sessions + 10 rounds of two quarter windows).
    progress.set(searchJob.jobId, { phase: 'measure', queriesDone: 10, elapsedMs: 200, point: 'fp32 confirming cpu t2 basic vs defaults', pointsDone: 4, pointsTotal: 4, queriesPerSecond: 50 });
    expect((await service().get(view.id)).etaMs).toBe(2 * 1500 + 10 * 2 * 500);
    expect(running.jobs.find((j) => j.id === searchJob.jobId)?.progress).toEqual({ phase: 'measure', queriesDone: 40, elapsedMs: 900, point: 'fp32 cpu t1 all', pointsDone: 1, pointsTotal: 4, queriesPerSecond: 44.4 });
  });
});
