// Every scenario of the measurement suite end to end through the farm: a real nats-server,
// the coordinator (REST + gRPC + SQLite) and an agent process running onnxruntime-node on a
// real model (PaddleOCR's direction classifier). Settings are tiny so the file stays short;
// nothing here asserts a speed.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '@benchfarm/messaging';
import { paddleOcrModelPath } from '@benchfarm/onnx';
import { CoordinatorClient, CoordinatorRequestError } from './client';
import { startEmbeddedFarm, type EmbeddedFarm } from './processes';
import { suiteReportText } from './suite-report';
import { createDerived, waitForAgent, waitForSweep } from './testing/farm.fixture';

const CLS_MODEL = paddleOcrModelPath('cls');
const FAST = { shapes: 'x:1x3x48x192', warmupMinQueries: 3, warmupMinDurationMs: 0, minQueries: 30, minDurationMs: 0, maxDurationMs: 20_000, threads: 1 };

describe('measurement suite scenarios through the farm', () => {
  let dir: string;
  let farm: EmbeddedFarm;
  let client: CoordinatorClient;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bf-scenarios-'));
    farm = await startEmbeddedFarm({ dir, natsPort: await freePort(), httpPort: 0, grpcPort: 0, agent: true });
    client = new CoordinatorClient(farm.httpUrl);
    await waitForAgent(client, farm.agentId);
  }, 120_000);

  afterAll(async () => {
    await farm?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('offline levels per variant, plus one interleaved comparison job with ratios, CIs and operator profiles', async () => {
    const created = await createDerived(client, CLS_MODEL, { ...FAST, variants: 'fp32,ort-basic', scenario: 'offline', batchSizes: '1,2', concurrency: '1,2', rounds: 4, roundMinQueries: 8, profile: true, profileTop: 3 });
    expect(created.jobs).toHaveLength(3);
    const sweep = await waitForSweep(client, created.id);
    expect(sweep.jobs.map((j) => j.state)).toEqual(['done', 'done', 'done']);
    const view = await client.suiteReports(sweep.id);
    expect(view.comparisonJobs).toHaveLength(1);
    const comparisonJob = view.comparisonJobs[0]!;
    expect(comparisonJob.variants).toEqual(['fp32', 'ort-basic']);
    const comparison = view.reports.find((r) => r.jobId === comparisonJob.jobId)?.report.comparison;
    expect(comparison).toMatchObject({ referenceVariant: 'fp32', rounds: 4, order: 'interleaved' });
    expect(comparison?.variants.map((v) => v.variant)).toEqual(['fp32', 'ort-basic']);
    const basic = comparison?.variants[1];
    expect(basic?.ratioCi?.low).toBeLessThanOrEqual(basic?.ratioToReference ?? NaN);
    expect(basic?.ratioCi?.high).toBeGreaterThanOrEqual(basic?.ratioToReference ?? NaN);
    const offline = view.reports.filter((r) => r.scenario === 'offline');
    expect(offline.map((r) => r.variant)).toEqual(['fp32', 'ort-basic']);
    for (const entry of offline) {
      expect(entry.report.offline?.levels.map((l) => `${l.batchSize}x${l.concurrency}`)).toEqual(['1x1', '1x2', '2x1', '2x2']);
      expect(entry.report.profiles[0]?.top.length).toBeGreaterThan(0);
      expect(entry.report.statistics?.p50CiMs).toBeDefined();
    }
    const text = suiteReportText(view);
    expect(text).toMatch(/Interleaved comparison on .* reference fp32/);
    // The fidelity column: the reference is marked as such, ort-basic has a measured cosine.
    expect(text).toMatch(/fp32 .* reference$/m);
    expect(text).toMatch(/ort-basic .* (0|1)\.\d{5}$/m);
    expect(text).toMatch(/offline batch 2 x 2 in flight/);
  }, 180_000);

  it('server: Poisson arrivals, p99 against the bound, a peak-QPS search', async () => {
    const created = await createDerived(client, CLS_MODEL, { ...FAST, variants: 'fp32', scenario: 'server', targetQps: 200, latencyBoundMs: 200, minQueries: 662, searchPeakQps: true, searchSteps: 2 });
    const sweep = await waitForSweep(client, created.id);
    expect(sweep.jobs.map((j) => `${j.state}${j.error ? `: ${j.error}` : ''}`)).toEqual(['done']);
    const server = (await client.suiteReports(sweep.id)).reports[0]?.report.server;
    expect(server?.runs).toHaveLength(2);
    expect(server?.runs.every((r) => r.queries === 662 && r.p99?.sufficient)).toBe(true);
    expect(server?.latencyBoundMs).toBe(200);
  }, 180_000);

  it('cold start: session creation, first inference, peak memory of the fresh process', async () => {
    const created = await createDerived(client, CLS_MODEL, { ...FAST, variants: 'fp32', scenario: 'cold_start' });
    const sweep = await waitForSweep(client, created.id);
    const job = sweep.jobs[0]!;
    expect(job.state).toBe('done');
    const cold = (await client.suiteReports(sweep.id)).reports[0]?.report.coldStart;
    expect(cold?.sessionCreationMs).toBe(job.result?.sessionCreationMs);
    expect(cold?.firstInferenceMs).toBe(job.result?.firstInferenceMs);
    if (process.platform === 'linux') expect(cold?.peakRssBytes).toBe(job.result?.peakRssBytes);
  }, 120_000);

  it('refuses impossible settings before queueing anything, naming the field', async () => {
    const sweepCount = async (): Promise<number> => ((await (await fetch(`${farm.httpUrl}/sweeps`)).json()) as unknown[]).length;
    const before = await sweepCount();
    const cases: [Record<string, unknown>, string][] = [
      [{ scenario: 'server', targetQps: 100, latencyBoundMs: 50, minQueries: 100 }, 'minQueries'],
      [{ scenario: 'server', targetQps: 0, latencyBoundMs: 50, minQueries: 700 }, 'targetQps'],
      [{ minDurationMs: 5000, maxDurationMs: 1000 }, 'minDurationMs'],
    ];
    for (const [options, field] of cases) {
      const err = await createDerived(client, CLS_MODEL, { ...FAST, ...options } as never).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(CoordinatorRequestError);
      expect((err as CoordinatorRequestError).field).toBe(field);
    }
    expect(await sweepCount()).toBe(before);
  });
});
