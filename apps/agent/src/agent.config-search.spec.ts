// How the agent hands a configuration-search job to the suite process, and forwards its progress.
import { BenchJob, ConfigSearchJob, Scenario } from '@benchfarm/protocol';
import { baselineConfig, CONFIG_SEARCH_DEFAULTS, parseSuiteJob, type SuiteJob } from '@benchfarm/suite';
import { describe, expect, it } from 'vitest';
import { toResultEvent, toSuiteConfigSearch } from './agent';

const models = [
  { variant: 'fp32', sha256: 'a'.repeat(64), modelPath: '/cache/a.onnx' },
  { variant: 'int8-static', sha256: 'b'.repeat(64), modelPath: '/cache/b.onnx' },
];

/** A search as it arrives: encoded and decoded, so every unset field is proto3's 0 or empty. */
function wire(search: Partial<ConfigSearchJob>): ConfigSearchJob {
  const job = BenchJob.fromPartial({ jobId: 'j', configSearch: ConfigSearchJob.fromPartial(search) });
  const decoded = BenchJob.decode(BenchJob.encode(job).finish()).configSearch;
  if (!decoded) throw new Error('configSearch lost on the wire');
  return decoded;
}

function suiteJobWith(search: ReturnType<typeof toSuiteConfigSearch>, scenario: Scenario): SuiteJob {
  return {
    modelPath: '/cache/a.onnx',
    inputs: [{ name: 'images', dataType: 1, shape: [1, 3, 416, 416] }],
    executionProvider: 'cpu',
    intraOpThreads: 0,
    interOpThreads: 0,
    graphOptimizationLevel: 'all',
    suite: { scenario, warmupMinQueries: 1, warmupMinDurationMs: 0, minQueries: 1, minDurationMs: 0, maxDurationMs: 60_000, seed: 1 },
    manifest: { variantSha256: 'a'.repeat(64), agentVersion: 't', batch: 1 },
    configSearch: search,
  };
}

describe('toSuiteConfigSearch', () => {
  it("fills what the coordinator left unset with the defaults and the suite accepts the job", () => {
    const search = toSuiteConfigSearch(wire({ axes: [{ name: 'intra_op_threads', values: ['1', '2'] }] }), models, Scenario.SCENARIO_SINGLE_STREAM);
    expect(search).toMatchObject({
      strategy: 'grid',
      objective: 'p50_latency',
      budgetMs: CONFIG_SEARCH_DEFAULTS.budgetMs,
      pointDurationMs: CONFIG_SEARCH_DEFAULTS.pointDurationMs,
      pointMinQueries: CONFIG_SEARCH_DEFAULTS.pointMinQueries,
      confirmRounds: CONFIG_SEARCH_DEFAULTS.confirmRounds,
      pointWarmupMs: 0,
      latencyBoundMs: 0,
      baseline: baselineConfig(),
      variants: models,
    });
    expect(() => parseSuiteJob(suiteJobWith(search, Scenario.SCENARIO_SINGLE_STREAM))).not.toThrow();
  });

  it('keeps what the coordinator set, and defaults the objective to throughput for offline', () => {
    const given = wire({ strategy: 'quick', budgetMs: 90_000, pointWarmupMs: 250, pointDurationMs: 800, pointMinQueries: 5, confirmRounds: 4, latencyBoundMs: 40, axes: [{ name: 'concurrency', values: ['1', '2'] }], baseline: baselineConfig() });
    const search = toSuiteConfigSearch(given, models, Scenario.SCENARIO_OFFLINE);
    expect(search).toMatchObject({ strategy: 'quick', objective: 'throughput', budgetMs: 90_000, pointWarmupMs: 250, pointDurationMs: 800, pointMinQueries: 5, confirmRounds: 4, latencyBoundMs: 40 });
    expect(() => parseSuiteJob(suiteJobWith(search, Scenario.SCENARIO_OFFLINE))).not.toThrow();
  });

  it('passes an unknown strategy on, so the suite refuses it naming the field', () => {
    const search = toSuiteConfigSearch(wire({ strategy: 'bayesian', axes: [{ name: 'intra_op_threads', values: ['1'] }] }), models, Scenario.SCENARIO_SINGLE_STREAM);
    expect(() => parseSuiteJob(suiteJobWith(search, Scenario.SCENARIO_SINGLE_STREAM))).toThrow(/configSearch\.strategy/);
  });
});

describe('toResultEvent progress', () => {
  it("forwards a search's point, points done and total and the current rate", () => {
    expect(toResultEvent({ type: 'progress', phase: 'measure', queriesDone: 40, elapsedMs: 1000.4, point: 'fp32 cpu t2 basic', pointsDone: 3, pointsTotal: 8, queriesPerSecond: 39.9 })).toEqual({
      $case: 'progress',
      value: { phase: 'measure', queriesDone: 40, elapsedMs: 1000, point: 'fp32 cpu t2 basic', pointsDone: 3, pointsTotal: 8, queriesPerSecond: 39.9 },
    });
  });
  it('leaves them out of an ordinary job’s progress', () => {
    expect(toResultEvent({ type: 'progress', phase: 'warmup', queriesDone: 2, elapsedMs: 10 })).toEqual({ $case: 'progress', value: { phase: 'warmup', queriesDone: 2, elapsedMs: 10 } });
  });
});
