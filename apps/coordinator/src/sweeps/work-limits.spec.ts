import { describe, expect, it } from 'vitest';
import { AgentRecord, AgentState, EvaluationRequest, TensorDataType } from '@benchfarm/protocol';
import { DomainError } from '../common/domain-error';
import { planConfigSearch, planSweep, plannedJobCount } from './sweep-planner';
import { parseSweepRequest } from './sweep-request';
import { assertInputElements, assertJobCount, assertSearchBudget, assertVariantCount, type WorkLimits } from './work-limits';

const LIMITS: WorkLimits = { maxInputElements: 1000, maxVariantsPerSweep: 4, maxJobsPerSweep: 10 };

function fieldOf(check: () => void): string | undefined {
  try {
    check();
  } catch (err) {
    if (err instanceof DomainError) return `${err.code}:${err.field ?? ''}`;
    throw err;
  }
  return undefined;
}

describe('assertVariantCount', () => {
  it.each<[number, number, string | undefined]>([
    [4, 0, undefined],
    [2, 2, undefined],
    [5, 0, 'invalid_argument:variants'],
    [3, 2, 'invalid_argument:ownVariants'],
    [300, 0, 'invalid_argument:variants'],
  ])('%i derived + %i own -> %s', (derived, own, expected) => expect(fieldOf(() => assertVariantCount(derived, own, LIMITS))).toBe(expected));

  it('names the setting and the counts', () => {
    expect(() => assertVariantCount(300, 1, LIMITS)).toThrow('301 variants (300 derived + 1 own); this coordinator takes at most 4 per sweep (BENCHFARM_MAX_VARIANTS_PER_SWEEP)');
  });
});

describe('assertInputElements', () => {
  const shapes = (field: string) => () => field;
  it.each<[string, number[], number[] | undefined, string | undefined]>([
    ['fits exactly', [1, 10, 100], undefined, undefined],
    ['one over', [1, 7, 11, 13], undefined, 'invalid_argument:shapes'],
    ['the hostile-input probe', [1, 3, 16777216, 16777216], undefined, 'invalid_argument:shapes'],
    ['fits, but not at the largest batch size', [1, 10, 10], [1, 8, 16], 'invalid_argument:batchSizes'],
    ['fits at every batch size', [1, 10, 10], [2, 10], undefined],
    ['a batch below the fixed first dimension changes nothing', [4, 10, 10], [1, 2], undefined],
  ])('%s: %j batch %j -> %s', (_case, shape, batchSizes, expected) => {
    expect(fieldOf(() => assertInputElements([{ name: 'x', shape }], LIMITS, shapes('shapes'), batchSizes))).toBe(expected);
  });

  it('names the model when its own fixed dimensions are too big, and the setting', () => {
    expect(fieldOf(() => assertInputElements([{ name: 'images', shape: [1, 3, 416, 416] }], LIMITS, (name) => (name === 'x' ? 'shapes' : 'model')))).toBe('invalid_argument:model');
    expect(() => assertInputElements([{ name: 'x', shape: [1, 3, 1000] }], LIMITS, shapes('shapes'))).toThrow('input "x" [1, 3, 1000] has 3000 elements; this coordinator takes at most 1000 per input (BENCHFARM_MAX_INPUT_ELEMENTS)');
  });
});

describe('assertJobCount', () => {
  it('passes up to the limit and refuses past it, naming targets and the setting', () => {
    expect(fieldOf(() => assertJobCount(10, '5 x 2', LIMITS))).toBeUndefined();
    expect(fieldOf(() => assertJobCount(11, '5 x 2 + 1', LIMITS))).toBe('invalid_argument:targets');
    expect(() => assertJobCount(11, '5 x 2 + 1', LIMITS)).toThrow('BENCHFARM_MAX_JOBS_PER_SWEEP');
  });
});

// Two logical cores and the cpu provider: a search on threads=1,2 has a point on each.
const agent = (agentId: string): AgentRecord =>
  AgentRecord.fromPartial({ agentId, name: agentId, agentVersion: '1', capabilities: { cpuCores: 2, executionProviders: ['cpu'] }, state: AgentState.AGENT_STATE_IDLE });

describe('plannedJobCount', () => {
  const variant = (name: string) => ({ name, sha256: 'b'.repeat(64), sizeBytes: 1, recipe: {} });

  // The count checked before any derivation must be the number of jobs the planner then makes.
  it.each<[string, Record<string, unknown>, number, number, boolean]>([
    ['compare none', { compare: 'none' }, 2, 3, false],
    ['interleaved, two variants', {}, 2, 3, false],
    ['interleaved, one variant', {}, 1, 3, false],
    ['interleaved, one variant with an evaluation', {}, 1, 2, true],
    ['an external runtime', { runtime: 'trtexec' }, 3, 2, false],
    ['a configuration search', { dimensions: 'threads=1,2' }, 2, 3, false],
    ['a configuration search, compare none', { dimensions: 'threads=1,2', compare: 'none' }, 1, 2, false],
  ])('%s: as many as planSweep makes', (_case, body, variants, agents, evaluation) => {
    const request = parseSweepRequest(body);
    let n = 0;
    const plan = planSweep({
      sweepId: 's',
      name: 'n',
      nowMs: 0,
      model: { name: 'm', sha256: 'a'.repeat(64), sizeBytes: 1 },
      inputs: [{ name: 'x', dataType: TensorDataType.TENSOR_DATA_TYPE_FLOAT32, shape: [1, 3, 8, 8] }],
      request,
      agents: Array.from({ length: agents }, (_, i) => agent(`a${i}`)),
      variants: Array.from({ length: variants }, (_, i) => variant(`v${i}`)),
      newJobId: () => `j${++n}`,
      ...(evaluation ? { evaluation: EvaluationRequest.fromPartial({}) } : {}),
    });
    const searchJobs = request.configSearch ? planConfigSearch(request.configSearch, Array.from({ length: agents }, (_, i) => agent(`a${i}`)), variants).filter((d) => d.hasJob).length : 0;
    expect(plannedJobCount(request, variants, agents, evaluation, searchJobs)).toBe(plan.jobs.length);
  });
});

describe('assertSearchBudget', () => {
  const device = (agentName: string, points: number, variants: number, estimatedMs: number, hasJob = true) => ({ agentName, points, measurements: points * variants, estimatedMs, hasJob });

  it('refuses a grid whose estimate on the slowest device exceeds the budget, naming budgetMinutes, the device, the count, the estimate and the budget', () => {
    const devices = [device('small', 4, 2, 50_000), device('big', 16, 2, 190_000), device('none', 0, 2, 0, false)];
    expect(fieldOf(() => assertSearchBudget('grid', 3, 2, devices))).toBe('invalid_argument:budgetMinutes');
    expect(() => assertSearchBudget('grid', 3, 2, devices)).toThrow(
      'budgetMinutes: a grid search on big measures 16 points x 2 variant(s) = 32 measurements, estimated 3.2 min with the confirmation rounds, over the budget of 3 min: use search quick',
    );
    expect(fieldOf(() => assertSearchBudget('grid', 4, 2, devices))).toBeUndefined();
  });

  it('never refuses a quick search, and ignores devices without a job', () => {
    expect(fieldOf(() => assertSearchBudget('quick', 0.01, 2, [device('big', 16, 2, 190_000)]))).toBeUndefined();
    expect(fieldOf(() => assertSearchBudget('grid', 0.01, 2, [device('none', 0, 2, 190_000, false)]))).toBeUndefined();
  });

  it('refuses the planned estimate of a real space: 2 threads x 4 levels x 2 variants on a 2-core device over 1 minute', () => {
    const request = parseSweepRequest({ dimensions: 'threads=1,2;level=disabled,basic,extended,all', budgetMinutes: 1 });
    const plans = planConfigSearch(request.configSearch!, [agent('two-cores')], 2);
    // 16 measurements x (1.5 s session + 0.5 s warm-up + 2 s window) + 2 x (3 s + 10 rounds x 1 s) = 90 s.
    expect(plans[0]).toMatchObject({ points: 8, measurements: 16, estimatedMs: 90_000 });
    expect(() => assertSearchBudget('grid', 1, 2, plans)).toThrow('8 points x 2 variant(s) = 16 measurements, estimated 1.5 min');
  });
});
