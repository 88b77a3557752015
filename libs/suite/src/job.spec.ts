import { Scenario, TensorDataType } from '@benchfarm/protocol';
import { describe, expect, it } from 'vitest';
import { InvalidSuiteJobError } from './errors';
import { parseSuiteJob, type SuiteJob } from './job';

const valid: SuiteJob = {
  modelPath: '/models/m.onnx',
  inputs: [{ name: 'x', dataType: TensorDataType.TENSOR_DATA_TYPE_FLOAT32, shape: [1, 3, 8, 8] }],
  executionProvider: 'cpu',
  intraOpThreads: 0,
  interOpThreads: 0,
  suite: { scenario: Scenario.SCENARIO_SINGLE_STREAM, warmupMinQueries: 1, warmupMinDurationMs: 0, minQueries: 10, minDurationMs: 100, maxDurationMs: 1000, seed: 0 },
  manifest: { variantSha256: 'ab', agentVersion: '1', batch: 1 },
};

const problemsOf = (value: unknown): readonly string[] => {
  try {
    parseSuiteJob(value);
  } catch (err) {
    if (err instanceof InvalidSuiteJobError) return err.problems;
    throw err;
  }
  return [];
};

describe('parseSuiteJob', () => {
  it('accepts a valid job and keeps graphOptimizationLevel when given', () => {
    expect(parseSuiteJob(valid)).toEqual(valid);
    expect(parseSuiteJob({ ...valid, graphOptimizationLevel: 'basic' }).graphOptimizationLevel).toBe('basic');
  });

  it('accepts SCENARIO_UNSPECIFIED, proto3’s encoding of an unset scenario', () => {
    expect(() => parseSuiteJob({ ...valid, suite: { ...valid.suite, scenario: Scenario.SCENARIO_UNSPECIFIED } })).not.toThrow();
  });

  it.each([
    { name: 'zero max duration', job: { ...valid, suite: { ...valid.suite, minDurationMs: 0, maxDurationMs: 0 } }, problems: [/maxDurationMs: must be >= 1/] },
    { name: 'max below min', job: { ...valid, suite: { ...valid.suite, maxDurationMs: 50 } }, problems: [/maxDurationMs: 50 is below suite.minDurationMs 100/] },
    { name: 'unknown scenario', job: { ...valid, suite: { ...valid.suite, scenario: 9 } }, problems: [/scenario: 9 is not a scenario this suite runs/] },
    { name: 'bad level', job: { ...valid, graphOptimizationLevel: 'max' }, problems: [/^graphOptimizationLevel:/] },
    {
      name: 'several shape problems at once',
      job: { ...valid, modelPath: '', intraOpThreads: -1, suite: { ...valid.suite, minQueries: 1.5 } },
      problems: [/^modelPath:/, /^intraOpThreads:/, /^suite.minQueries:/],
    },
    { name: 'not an object', job: null, problems: [/^\(job\):/] },
  ])('reports $name', ({ job, problems }) => {
    const found = problemsOf(job);
    expect(found).toHaveLength(problems.length);
    problems.forEach((pattern, i) => expect(found[i]).toMatch(pattern));
  });

  it('throws a named error with every problem in its message', () => {
    expect(() => parseSuiteJob({ ...valid, executionProvider: '', interOpThreads: -2 })).toThrow(
      expect.objectContaining({ name: 'InvalidSuiteJobError', message: expect.stringMatching(/executionProvider.*; interOpThreads/) }),
    );
  });
});
