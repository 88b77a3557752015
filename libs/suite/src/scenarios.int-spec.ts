// Every scenario for real: onnxruntime-node on PaddleOCR's classifier in a forked suite
// process, as the agent runs it. Kept short (a few seconds each on a 2-core VM); no timing
// assertions, only what a correct run must report.
import { Scenario, TensorDataType, type Summary } from '@benchfarm/protocol';
import { describe, expect, it } from 'vitest';
import { runSuiteInChild, type SuiteChildEvent, type SuiteJob } from './index';

// libs/suite loads @benchfarm/onnx lazily (batch-model.ts) so that its entry never pulls in
// onnxruntime; the module-boundary rule then wants every import of it in this project lazy too.
const { paddleOcrModelPath } = await import('@benchfarm/onnx');

const CLS_MODEL = paddleOcrModelPath('cls');

function clsJob(suite: Partial<SuiteJob['suite']>, overrides: Partial<SuiteJob> = {}): SuiteJob {
  return {
    modelPath: CLS_MODEL,
    inputs: [{ name: 'x', dataType: TensorDataType.TENSOR_DATA_TYPE_FLOAT32, shape: [1, 3, 48, 192] }],
    executionProvider: 'cpu',
    intraOpThreads: 1,
    interOpThreads: 1,
    suite: { scenario: Scenario.SCENARIO_SINGLE_STREAM, warmupMinQueries: 3, warmupMinDurationMs: 0, minQueries: 50, minDurationMs: 0, maxDurationMs: 20_000, seed: 7, ...suite },
    manifest: { variantSha256: 'f'.repeat(64), agentVersion: '0.0.0-test', batch: 1, modelSha256: 'e'.repeat(64) },
    ...overrides,
  };
}

async function summaryOf(job: SuiteJob): Promise<{ summary: Summary; samples: number[] }> {
  const events: SuiteChildEvent[] = [];
  await runSuiteInChild(job, { onEvent: (e) => events.push(e) });
  const last = events.at(-1);
  if (last?.type !== 'summary') throw new Error(`expected a summary, got ${JSON.stringify(last).slice(0, 800)}`);
  const samples = events.flatMap((e) => (e.type === 'samples' ? e.latencyMs : []));
  return { summary: last.summary, samples };
}

describe('scenarios in the suite process (real onnxruntime, real model)', () => {
  it('single-stream reports CV, bootstrap CIs that bracket p50 and mean, stability windows and the host manifest', async () => {
    const { summary, samples } = await summaryOf(clsJob({ minQueries: 200, scenarioOptions: { stabilityWindows: 5 } as never }));
    const stats = summary.report?.statistics;
    expect(summary.report?.scenario).toBe('single_stream');
    expect(samples).toHaveLength(summary.count);
    const p50 = summary.percentiles.find((p) => p.quantile === 0.5)?.valueMs ?? Number.NaN;
    expect(stats?.p50CiMs?.low).toBeLessThanOrEqual(p50);
    expect(stats?.p50CiMs?.high).toBeGreaterThanOrEqual(p50);
    expect(stats?.meanCiMs?.low).toBeLessThanOrEqual(summary.meanMs + 0.001);
    expect(stats?.meanCiMs?.high).toBeGreaterThanOrEqual(summary.meanMs - 0.001);
    expect(stats?.coefficientOfVariation).toBeGreaterThan(0);
    expect(stats?.stability?.windowMeanMs).toHaveLength(5);
    expect(stats?.bootstrapResamples).toBe(1000);
    const host = summary.manifest?.host;
    expect(host?.logicalCpus).toBeGreaterThan(0);
    expect(host?.modelSha256).toBe('e'.repeat(64));
    // Whatever this host lacks is named with a reason, never filled with a made-up value.
    for (const field of ['cpu_governor', 'power_mode', 'driver_versions', 'sensors'] as const) {
      const key = { cpu_governor: 'cpuGovernor', power_mode: 'powerMode', driver_versions: 'driverVersions', sensors: 'sensors' }[field] as keyof NonNullable<typeof host>;
      const value = host?.[key];
      const empty = Array.isArray(value) ? value.length === 0 : value === '';
      expect(empty).toBe(host?.unmeasured.some((u) => u.field === field));
    }
  });

  it('offline measures every batch size x concurrency level', async () => {
    const { summary } = await summaryOf(clsJob({ scenario: Scenario.SCENARIO_OFFLINE, minQueries: 40, scenarioOptions: { batchSizes: [1, 2], concurrency: [1, 2] } as never }));
    const levels = summary.report?.offline?.levels ?? [];
    expect(levels.map((l) => [l.batchSize, l.concurrency])).toEqual([[1, 1], [1, 2], [2, 1], [2, 2]]);
    for (const level of levels) {
      expect(level.error).toBe('');
      expect(level.queries).toBeGreaterThanOrEqual(40);
      expect(level.samplesPerSecond).toBeCloseTo(level.queriesPerSecond * level.batchSize, 1);
    }
    expect(summary.count).toBe(levels[0]?.queries);
  });

  it('server runs Poisson arrivals against the p99 bound and searches the peak', async () => {
    const { summary } = await summaryOf(
      clsJob({ scenario: Scenario.SCENARIO_SERVER, minQueries: 662, maxDurationMs: 30_000, scenarioOptions: { targetQps: 150, latencyBoundMs: 200, searchPeakQps: true, searchSteps: 2 } as never }),
    );
    const server = summary.report?.server;
    expect(server?.runs.map((r) => r.targetQps)).toEqual(server?.runs[0]?.meetsBound ? [150, 300] : [150, 75]);
    for (const run of server?.runs ?? []) {
      expect(run.queries).toBe(662);
      expect(run.p99?.sufficient).toBe(true);
      expect(run.meetsBound).toBe((run.p99?.valueMs ?? Infinity) <= 200);
    }
    const met = (server?.runs ?? []).filter((r) => r.meetsBound).map((r) => r.targetQps);
    expect(server?.peakQps).toBe(met.length > 0 ? Math.max(...met) : undefined);
    expect(summary.count).toBe(662);
  });

  it('cold start reports session creation, the first inference and the fresh process\'s peak memory', async () => {
    const { summary } = await summaryOf(clsJob({ scenario: Scenario.SCENARIO_COLD_START }));
    const cold = summary.report?.coldStart;
    expect(cold?.sessionCreationMs).toBe(summary.sessionCreationMs);
    expect(cold?.firstInferenceMs).toBe(summary.firstInferenceMs);
    expect(cold?.secondInferenceMs).toBeGreaterThan(0);
    expect(summary.count).toBe(1);
    if (process.platform === 'linux') expect(cold?.peakRssBytes).toBe(summary.peakRssBytes);
  });

  it('an interleaved comparison reports each variant\'s ratio to the reference with a CI, and per-operator profiles', async () => {
    const job = clsJob({ scenarioOptions: { interleaveRounds: 6, roundMinQueries: 10, profile: true, profileQueries: 3, profileTop: 5 } as never }, {
      comparison: [
        { variant: 'fp32', sha256: 'a'.repeat(64), modelPath: CLS_MODEL },
        { variant: 'same-again', sha256: 'b'.repeat(64), modelPath: CLS_MODEL },
      ],
    });
    const { summary } = await summaryOf(job);
    const comparison = summary.report?.comparison;
    expect(comparison).toMatchObject({ referenceVariant: 'fp32', rounds: 6, order: 'interleaved' });
    const [reference, other] = comparison?.variants ?? [];
    expect(reference).toMatchObject({ reference: true, ratioToReference: 1, ratioCi: { low: 1, high: 1, level: 0.95 }, queries: 60 });
    expect(other?.roundMedianMs).toHaveLength(6);
    expect(other?.ratioCi?.low).toBeLessThanOrEqual(other?.ratioToReference ?? NaN);
    expect(other?.ratioCi?.high).toBeGreaterThanOrEqual(other?.ratioToReference ?? NaN);
    // The same file twice: the ratio's CI must cover a plausible band around 1.
    expect(other?.ratioToReference).toBeGreaterThan(0.5);
    expect(other?.ratioToReference).toBeLessThan(2);
    const profiles = summary.report?.profiles ?? [];
    expect(profiles.map((p) => p.variant)).toEqual(['fp32', 'same-again']);
    for (const profile of profiles) {
      expect(profile.profiledRuns).toBe(3);
      expect(profile.top.length).toBeGreaterThan(0);
      expect(profile.top.length).toBeLessThanOrEqual(5);
      expect(profile.top.map((t) => t.opType)).toContain('Conv');
      const shares = profile.top.map((t) => t.share);
      expect([...shares].sort((a, b) => b - a)).toEqual(shares);
    }
    expect(summary.count).toBe(60);
  });
});
