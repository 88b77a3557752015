// parseSuiteJob on configuration-search jobs: every problem names its field.
import { Scenario, TensorDataType } from '@benchfarm/protocol';
import { describe, expect, it } from 'vitest';
import { baselineConfig } from './config-space';
import { InvalidSuiteJobError } from './errors';
import { parseSuiteJob, type SuiteConfigSearch, type SuiteJob } from './job';

function job(search: Partial<SuiteConfigSearch> = {}, rest: Partial<SuiteJob> = {}): SuiteJob {
  return {
    modelPath: '/models/a.onnx',
    inputs: [{ name: 'x', dataType: TensorDataType.TENSOR_DATA_TYPE_FLOAT32, shape: [1, 3, 8, 8] }],
    executionProvider: 'cpu',
    intraOpThreads: 0,
    interOpThreads: 0,
    suite: { scenario: Scenario.SCENARIO_SINGLE_STREAM, warmupMinQueries: 1, warmupMinDurationMs: 0, minQueries: 1, minDurationMs: 0, maxDurationMs: 1000, seed: 1 },
    manifest: { variantSha256: 'a', agentVersion: 't', batch: 1 },
    configSearch: {
      strategy: 'grid',
      axes: [{ name: 'intra_op_threads', values: ['1', '2'] }],
      skipped: [],
      baseline: baselineConfig(),
      budgetMs: 60_000,
      pointWarmupMs: 0,
      pointDurationMs: 1000,
      pointMinQueries: 10,
      confirmRounds: 10,
      objective: 'p50_latency',
      latencyBoundMs: 0,
      variants: [
        { variant: 'fp32', sha256: 'a', modelPath: '/models/a.onnx' },
        { variant: 'int8', sha256: 'b', modelPath: '/models/b.onnx' },
      ],
      ...search,
    },
    ...rest,
  };
}

function problemsOf(value: SuiteJob): string[] {
  try {
    parseSuiteJob(value);
  } catch (err) {
    if (err instanceof InvalidSuiteJobError) return [...err.problems];
    throw err;
  }
  return [];
}

describe('parseSuiteJob: configSearch', () => {
  it('accepts a well-formed search (single-stream, and offline with batch and concurrency axes)', () => {
    expect(problemsOf(job())).toEqual([]);
    const offline = job({ axes: [{ name: 'batch_size', values: ['1', '4'] }, { name: 'concurrency', values: ['1', '2'] }], objective: 'throughput' });
    offline.suite.scenario = Scenario.SCENARIO_OFFLINE;
    expect(problemsOf(offline)).toEqual([]);
  });

  it.each([
    ['an unknown strategy', job({ strategy: 'random' as 'grid' }), /^configSearch\.strategy: /],
    ['an unknown objective', job({ objective: 'energy' as 'throughput' }), /^configSearch\.objective: /],
    ['a zero budget', job({ budgetMs: 0 }), /^configSearch\.budgetMs: /],
    ['a zero window', job({ pointDurationMs: 0 }), /^configSearch\.pointDurationMs: /],
    ['no confirmation rounds', job({ confirmRounds: 0 }), /^configSearch\.confirmRounds: /],
    ['no variants', job({ variants: [] }), /^configSearch\.variants: /],
    ['an unknown axis', job({ axes: [{ name: 'speed', values: ['1'] }] }), /^configSearch\.axes\.0\.name: /],
    ['an axis without values', job({ axes: [{ name: 'intra_op_threads', values: [] }] }), /^configSearch\.axes\.0\.values: /],
    ["'auto' not narrowed to the device", job({ axes: [{ name: 'intra_op_threads', values: ['auto'] }] }), /^configSearch\.axes\[0\] \(intra_op_threads\): 'auto' must be narrowed/],
    ['a bad thread count', job({ axes: [{ name: 'intra_op_threads', values: ['0'] }] }), /^configSearch\.axes \(intra_op_threads\): "0" is not a whole number from 1/],
    ['a batch axis outside the offline scenario', job({ axes: [{ name: 'batch_size', values: ['2'] }] }), /^configSearch\.axes \(batch_size\): only the offline scenario/],
    ['an axis given twice', job({ axes: [{ name: 'intra_op_threads', values: ['1'] }, { name: 'intra_op_threads', values: ['2'] }] }), /^configSearch\.axes\[1\]: axis intra_op_threads given twice/],
    ['a baseline whose id is not its settings', job({ baseline: { ...baselineConfig(), intraOpThreads: 2 } }), /^configSearch\.baseline\.id: c[0-9a-f]{10} is not the id of its settings/],
    ['a baseline id of the wrong form', job({ baseline: { ...baselineConfig(), id: 'x' } }), /^configSearch\.baseline\.id: must be "c" and 10 hex digits/],
    ["a first variant that is not the job's model", job({ variants: [{ variant: 'int8', sha256: 'b', modelPath: '/models/b.onnx' }] }), /^configSearch\.variants\[0\]\.modelPath: /],
    ['a comparison as well', job({}, { comparison: [{ variant: 'fp32', sha256: 'a', modelPath: '/models/a.onnx' }, { variant: 'x', sha256: 'c', modelPath: '/m/c.onnx' }] }), /^configSearch: a configuration search job carries its variants itself/],
    ['the cold-start scenario', job({}, { suite: { ...job().suite, scenario: Scenario.SCENARIO_COLD_START } }), /^configSearch: a search measures single-stream or offline windows/],
  ])('refuses %s, naming the field', (_name, value, problem) => {
    const problems = problemsOf(value);
    expect(problems.some((p) => problem.test(p)), problems.join(' | ')).toBe(true);
  });
});
