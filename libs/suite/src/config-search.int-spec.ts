// The configuration search for real: onnxruntime-node on the shared YOLOX-nano detector, short
// windows (300 ms) so that the file stays well under a minute on 2 loaded cores.
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Scenario, TensorDataType, type ConfigSearchResult, type Summary } from '@benchfarm/protocol';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baselineConfig, configLabel } from './config-space';
import { runConfigSearch } from './config-search.runner';
import type { SuiteConfigSearch, SuiteJob } from './job';
import type { SearchProgressFields, SuiteChildEvent, SuiteProgressEvent } from './messages';
import { runSuiteInChild } from './run-in-child';
import { openSession } from './session';

const MODEL = resolve(fileURLToPath(new URL('../../../examples/yolox-nano/yolox_nano_3class.onnx', import.meta.url)));
const INPUTS = [{ name: 'images', dataType: TensorDataType.TENSOR_DATA_TYPE_FLOAT32, shape: [1, 3, 416, 416] }];

function searchJob(search: Partial<SuiteConfigSearch> & Pick<SuiteConfigSearch, 'axes' | 'variants'>, scenario = Scenario.SCENARIO_SINGLE_STREAM): SuiteJob {
  const baseline = baselineConfig();
  const first = search.variants[0];
  if (!first) throw new Error('a search needs a variant');
  return {
    modelPath: first.modelPath,
    inputs: INPUTS,
    executionProvider: baseline.executionProvider,
    intraOpThreads: baseline.intraOpThreads,
    interOpThreads: baseline.interOpThreads,
    graphOptimizationLevel: 'all',
    suite: { scenario, warmupMinQueries: 1, warmupMinDurationMs: 0, minQueries: 1, minDurationMs: 0, maxDurationMs: 10_000, seed: 11 },
    manifest: { variantSha256: first.sha256, agentVersion: '0.0.0-test', batch: 1 },
    configSearch: {
      strategy: 'grid',
      skipped: [],
      baseline,
      budgetMs: 120_000,
      pointWarmupMs: 100,
      pointDurationMs: 300,
      pointMinQueries: 10,
      confirmRounds: 6,
      objective: 'p50_latency',
      latencyBoundMs: 0,
      ...search,
    },
  };
}

/** Runs a search in this process (the runner the suite child calls), collecting progress. */
async function searchHere(job: SuiteJob): Promise<{ result: ConfigSearchResult; progress: SearchProgressFields[]; count: number }> {
  const { session } = await openSession(job);
  const progress: SearchProgressFields[] = [];
  const outcome = await runConfigSearch(job, session, (_phase, _done, _ms, search) => progress.push(search));
  const result = outcome.extra.configSearch;
  if (!result) throw new Error('no configSearch result');
  return { result, progress, count: outcome.run.count };
}

/** Checks what holds for every measured point and every best, whatever the figures. */
function expectCoherent(result: ConfigSearchResult): void {
  const ids = new Set(result.configs.map((c) => c.id));
  for (const p of result.points) {
    expect(ids.has(p.configId)).toBe(true);
    if (!p.measured) continue;
    expect(p.skipReason).toBe('');
    expect(p.queries).toBeGreaterThanOrEqual(10);
    expect(p.durationMs).toBeGreaterThanOrEqual(300);
    expect(p.p50Ms).toBeGreaterThan(0);
    expect(p.p50CiMs?.low).toBeLessThanOrEqual(p.p50Ms);
    expect(p.p50CiMs?.high).toBeGreaterThanOrEqual(p.p50Ms);
    expect(p.sessionCreationMs).toBeGreaterThan(0);
    expect(p.queriesPerSecond).toBeGreaterThan(0);
    // Fewer than the 662 samples a p99 needs in a 300 ms window of a ~10 ms model: absent, not 0.
    expect(p.p99Ms).toBeUndefined();
  }
  for (const b of result.best) {
    expect(result.points.some((p) => p.variant === b.variant && p.configId === b.configId && p.measured)).toBe(true);
    expect(b.baselineConfigId).toBe(baselineConfig().id);
    if (b.verdict === 'baseline') continue;
    const ci = b.ratioCi;
    if (!ci) throw new Error(`${b.variant}: a confirmation of ${b.rounds} rounds has a CI`);
    expect(ci.low).toBeLessThanOrEqual(b.ratioToBaseline);
    expect(ci.high).toBeGreaterThanOrEqual(b.ratioToBaseline);
    expect(b.verdict).toBe(ci.high < 1 ? 'faster' : ci.low > 1 ? 'slower' : 'tied');
    expect(b.bestMedianMs).toBeGreaterThan(0);
    expect(b.baselineMedianMs).toBeGreaterThan(0);
  }
}

describe('configuration search on the shared detector (real onnxruntime-node)', () => {
  let tmp: string;
  let fp32: { variant: string; sha256: string; modelPath: string };
  let basic: { variant: string; sha256: string; modelPath: string };

  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'benchfarm-config-search-'));
    fp32 = { variant: 'fp32', sha256: createHash('sha256').update(await readFile(MODEL)).digest('hex'), modelPath: MODEL };
    // A second real variant, derived as the coordinator does (onnxruntime's basic passes, in process: fast).
    const { deriveVariant } = await import('@benchfarm/onnx');
    const derived = await deriveVariant('ort-basic', MODEL, tmp, { isolated: false });
    basic = { variant: 'ort-basic', sha256: derived.sha256, modelPath: derived.path };
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('a grid over threads {1,2} x graph level {basic, all} measures four points per variant in a suite process and confirms each best against the defaults', async () => {
    const job = searchJob({
      axes: [
        { name: 'intra_op_threads', values: ['1', '2'] },
        { name: 'graph_optimization_level', values: ['basic', 'all'] },
      ],
      variants: [fp32, basic],
    });
    const events: SuiteChildEvent[] = [];
    const exit = await runSuiteInChild(job, { onEvent: (e) => events.push(e) });
    expect(exit.exitCode).toBe(0);
    const last = events.at(-1);
    if (last?.type !== 'summary') throw new Error(`expected a summary last, got ${JSON.stringify(last).slice(0, 800)}`);
    const summary: Summary = last.summary;
    const result = summary.report?.configSearch;
    if (!result) throw new Error('the summary has no configSearch');

    expect(summary.report?.scenario).toBe('config_search');
    expect(result).toMatchObject({ strategy: 'grid', objective: 'p50_latency', spacePoints: 4, pointsMeasured: 8, budgetExhausted: false });
    for (const variant of ['fp32', 'ort-basic']) {
      const mine = result.points.filter((p) => p.variant === variant);
      expect(mine.map((p) => p.order)).toEqual([1, 2, 3, 4]);
      expect(mine.every((p) => p.measured)).toBe(true);
      expect(new Set(mine.map((p) => p.configId)).size).toBe(4);
      expect(mine.map((p) => configLabel(result.configs.find((c) => c.id === p.configId) ?? baselineConfig())).sort()).toEqual(['cpu t1 all', 'cpu t1 basic', 'cpu t2 all', 'cpu t2 basic']);
    }
    expectCoherent(result);
    // The defaults (threads left to onnxruntime) are not a point of this space: both bests are confirmed in 6 rounds.
    expect(result.best.map((b) => b.variant)).toEqual(['fp32', 'ort-basic']);
    for (const b of result.best) {
      expect(b.verdict).not.toBe('baseline');
      expect(b.rounds).toBe(6);
      expect(b.roundQueries).toBeGreaterThanOrEqual(1);
    }
    expect(result.configs.some((c) => c.id === baselineConfig().id)).toBe(true);
    expect(result.spentMs).toBeGreaterThan(8 * 400);

    // The Summary stays a valid run: fp32's baseline rounds of its confirmation, every sample sent.
    const fp32Best = result.best[0];
    expect(summary.count).toBe(6 * (fp32Best?.roundQueries ?? 0));
    const samples = events.flatMap((e) => (e.type === 'samples' ? e.latencyMs : []));
    expect(samples).toHaveLength(summary.count);
    expect(summary.report?.statistics?.p50CiMs).toBeDefined();
    expect(summary.report?.unmeasured.map((u) => u.field)).toContain('latencies');

    // Progress: every point named, points done climbing to the total, a measured rate.
    const progress = events.filter((e): e is SuiteProgressEvent => e.type === 'progress' && e.point !== undefined);
    for (const label of ['fp32 cpu t1 basic', 'fp32 cpu t2 all', 'ort-basic cpu t1 all']) expect(progress.some((e) => e.point === label)).toBe(true);
    expect(progress.every((e) => e.pointsTotal === 8)).toBe(true);
    const done = progress.map((e) => e.pointsDone ?? -1);
    expect(done).toEqual([...done].sort((a, b) => a - b));
    expect(done.at(-1)).toBe(8);
    expect(progress.some((e) => e.phase === 'measure' && (e.queriesPerSecond ?? 0) > 0)).toBe(true);
    expect(progress.some((e) => e.point?.startsWith('fp32 confirming '))).toBe(true);
  });

  it("reports a provider this machine cannot create as a skipped point with onnxruntime's message and still measures the cpu ones", async () => {
    // Where a CUDA machine runs this file the cuda point is measured instead: the test says which.
    const cudaHere = await ort.InferenceSession.create(MODEL, { executionProviders: ['cuda'] }).then(
      async (s) => {
        await s.release();
        return true;
      },
      () => false,
    );
    const job = searchJob({
      axes: [
        { name: 'provider', values: ['cpu', 'cuda', 'tensorrt:fp16'] },
        { name: 'intra_op_threads', values: ['1'] },
      ],
      variants: [basic],
    });
    const { result } = await searchHere(job);
    const byProvider = (name: string) => result.points.filter((p) => result.configs.find((c) => c.id === p.configId)?.executionProvider === name);
    expect(byProvider('cpu').every((p) => p.measured)).toBe(true);
    expect(byProvider('cpu')).toHaveLength(1);
    const cuda = byProvider('cuda');
    expect(cuda).toHaveLength(1);
    if (cudaHere) {
      expect(cuda[0]?.measured).toBe(true);
    } else {
      expect(cuda[0]?.measured).toBe(false);
      // onnxruntime's own words follow the label (here: the CUDA provider library is not installed).
      expect(cuda[0]?.skipReason).toMatch(/^onnxruntime could not open a session with cuda t1 all: \S.{10,}/);
      expect(result.skipped.some((s) => s.value === cuda[0]?.configId && s.label === 'cuda t1 all')).toBe(true);
    }
    const trt = byProvider('tensorrt');
    expect(trt[0]?.measured).toBe(false);
    expect(trt[0]?.skipReason).toMatch(/passes only deviceId to the tensorrt provider: fp16/);
    expect(result.pointsMeasured).toBe(cudaHere ? 2 : 1);
    expect(result.best).toHaveLength(1);
    expectCoherent(result);
  });

  it('stops starting points once the budget is spent (rest listed "budget spent") and still confirms the best', async () => {
    // 100 ms warm-up + a 300 ms window: the first point alone spends a 350 ms budget.
    const job = searchJob({
      strategy: 'quick',
      budgetMs: 350,
      axes: [
        { name: 'intra_op_threads', values: ['1', '2'] },
        { name: 'graph_optimization_level', values: ['basic', 'all'] },
      ],
      variants: [fp32],
    });
    const { result, count } = await searchHere(job);
    expect(result.budgetExhausted).toBe(true);
    expect(result.pointsMeasured).toBe(1);
    expect(result.points.map((p) => [p.order, p.measured, p.skipReason])).toEqual([
      [1, true, ''],
      [2, false, 'budget spent'],
    ]);
    expect(result.best).toHaveLength(1);
    expect(result.best[0]?.rounds).toBe(6);
    expect(count).toBeGreaterThan(0);
    expectCoherent(result);
  });

  it('offline throughput: batch and concurrency points (rebatched model, queries in flight) ranked by samples/s within the p99 bound', async () => {
    const job = searchJob(
      {
        objective: 'throughput',
        latencyBoundMs: 1000,
        confirmRounds: 4,
        axes: [
          { name: 'intra_op_threads', values: ['1'] },
          { name: 'batch_size', values: ['1', '2'] },
          { name: 'concurrency', values: ['1', '2'] },
        ],
        variants: [fp32],
      },
      Scenario.SCENARIO_OFFLINE,
    );
    const { result } = await searchHere(job);
    expect(result.pointsMeasured).toBe(4);
    for (const p of result.points) {
      const config = result.configs.find((c) => c.id === p.configId);
      const batch = config?.batchSize || 1;
      expect(p.samplesPerSecond).toBeCloseTo(p.queriesPerSecond * batch, 1);
      expect(p.meetsBound).toBe(true);
    }
    const best = result.best[0];
    const top = Math.max(...result.points.map((p) => p.samplesPerSecond));
    expect(result.points.find((p) => p.configId === best?.configId)?.samplesPerSecond).toBe(top);
    expect(best?.note).toMatch(/time per sample ratio/);
    expect(best?.rounds).toBe(4);
    expectCoherent(result);
  });
});
