import { AgentState, Scenario, TensorDataType, type AgentRecord } from '@benchfarm/protocol';
import { describe, expect, it } from 'vitest';
import { DomainError } from '../common/domain-error';
import { batchSizeProblem, P99_MIN_QUERIES } from './scenario-request';
import { planSweep } from './sweep-planner';
import { parseSweepRequest } from './sweep-request';

function refusal(body: unknown): { field: string | undefined; message: string } {
  try {
    parseSweepRequest(body);
  } catch (err) {
    if (!(err instanceof DomainError)) throw err;
    return { field: err.field, message: err.message };
  }
  throw new Error(`accepted ${JSON.stringify(body)}`);
}

describe('impossible settings are refused before anything is queued, naming the field', () => {
  const server = { scenario: 'server', targetQps: 50, latencyBoundMs: 20, minQueries: 700 };
  it.each([
    { body: { minDurationMs: 5000, maxDurationMs: 1000 }, field: 'minDurationMs', message: /must not exceed maxDurationMs/ },
    { body: { ...server, minQueries: 661 }, field: 'minQueries', message: /661 is below 662/ },
    { body: { ...server, maxDurationMs: 10_000 }, field: 'maxDurationMs', message: /at most 500 queries/ },
    { body: { ...server, targetQps: 0 }, field: 'targetQps', message: /must be > 0/ },
    { body: { ...server, targetQps: '-3' }, field: 'targetQps', message: /must be > 0/ },
    { body: { ...server, targetQps: undefined }, field: 'targetQps', message: /needs a target rate/ },
    { body: { ...server, latencyBoundMs: 0 }, field: 'latencyBoundMs', message: /must be > 0/ },
    { body: { scenario: 'single_stream', batchSizes: '1,2' }, field: 'batchSizes', message: /only the offline scenario/ },
    { body: { scenario: 'offline', batchSizes: '1,0' }, field: 'batchSizes', message: />= 1/ },
    { body: { scenario: 'offline', concurrency: 'two' }, field: 'concurrency', message: /integers/ },
    { body: { scenario: 'burst' }, field: 'scenario', message: /single_stream, offline, server, cold_start/ },
    { body: { searchPeakQps: true }, field: 'searchPeakQps', message: /only the server scenario/ },
    { body: { compare: 'sometimes' }, field: 'compare', message: /interleaved, none/ },
    { body: { rounds: 1 }, field: 'rounds', message: />= 2/ },
  ])('$field: $message', ({ body, field, message }) => {
    const refused = refusal(body);
    expect(refused.field).toBe(field);
    expect(refused.message).toMatch(message);
  });

  it('accepts a possible server sweep and multipart strings', () => {
    const request = parseSweepRequest({ scenario: 'server', targetQps: '50.5', latencyBoundMs: '20', minQueries: String(P99_MIN_QUERIES), searchPeakQps: 'true' });
    expect(request).toMatchObject({ scenario: 'server', targetQps: 50.5, latencyBoundMs: 20, searchPeakQps: true, compare: 'interleaved', rounds: 10 });
  });

  it.each([
    { dims: [1, 3, 8, 8], sizes: [1], problem: undefined },
    { dims: [1, 3, 8, 8], sizes: [1, 4], problem: /batchSizes: 4 cannot run: input "x" has its batch dimension fixed to 1/ },
    { dims: ['N', 3, 8, 8], sizes: [1, 4, 16], problem: undefined },
    { dims: [null, 3], sizes: [8], problem: undefined },
  ])('batch sizes $sizes on dims $dims', ({ dims, sizes, problem }) => {
    const message = batchSizeProblem(sizes, [{ name: 'x', dims }]);
    if (problem) expect(message).toMatch(problem);
    else expect(message).toBeUndefined();
  });
});

describe('planSweep with scenarios and the interleaved comparison', () => {
  const agent = (agentId: string): AgentRecord => ({ agentId, name: agentId, agentVersion: '1', labels: {}, capabilities: undefined, state: AgentState.AGENT_STATE_IDLE, currentJobId: '', startedAtUnixMs: 0, heartbeatAtUnixMs: 0 });
  const plan = (body: Record<string, unknown>, variants = ['fp32', 'ort-basic', 'ort-extended']) => {
    let n = 0;
    return planSweep({
      sweepId: 's1',
      name: 'n',
      nowMs: 42,
      model: { name: 'm', sha256: 'a'.repeat(64), sizeBytes: 1 },
      inputs: [{ name: 'x', dataType: TensorDataType.TENSOR_DATA_TYPE_FLOAT32, shape: [1, 3, 8, 8] }],
      request: parseSweepRequest(body),
      agents: [agent('a1'), agent('a2')],
      variants: variants.map((name, i) => ({ name, sha256: String(i).repeat(64), sizeBytes: 1, recipe: {} })),
      newJobId: () => `j${++n}`,
    });
  };

  it('adds one comparison job per device carrying every variant, the reference first', () => {
    const { jobs, sweep } = plan({ scenario: 'offline', concurrency: '1,2', rounds: 6 });
    expect(jobs).toHaveLength(3 * 2 + 2);
    const comparisons = jobs.filter((j) => j.comparison);
    expect(comparisons.map((j) => [j.jobId, j.agentId, j.variant?.variant])).toEqual([['j7', 'a1', 'fp32'], ['j8', 'a2', 'fp32']]);
    expect(comparisons[0]?.comparison?.variants.map((v) => v.variant)).toEqual(['fp32', 'ort-basic', 'ort-extended']);
    // The comparison runs single-stream in rounds, whatever the sweep's scenario.
    expect(comparisons[0]?.suite).toMatchObject({ scenario: Scenario.SCENARIO_SINGLE_STREAM, scenarioOptions: { interleaveRounds: 6, concurrency: [] } });
    expect(jobs[0]?.suite).toMatchObject({ scenario: Scenario.SCENARIO_OFFLINE, scenarioOptions: { concurrency: [1, 2] } });
    expect(sweep.settings.comparisonJobs).toEqual([
      { jobId: 'j7', agentId: 'a1', variants: ['fp32', 'ort-basic', 'ort-extended'] },
      { jobId: 'j8', agentId: 'a2', variants: ['fp32', 'ort-basic', 'ort-extended'] },
    ]);
    expect(sweep.jobs.slice(-2)).toEqual([
      { id: 'j7', variant: 'fp32', agentId: 'a1', agentName: 'a1' },
      { id: 'j8', variant: 'fp32', agentId: 'a2', agentName: 'a2' },
    ]);
  });

  it('plans no comparison for one variant or compare=none', () => {
    expect(plan({}, ['fp32']).jobs.some((j) => j.comparison)).toBe(false);
    expect(plan({ compare: 'none' }).jobs.some((j) => j.comparison)).toBe(false);
    expect(plan({ compare: 'none' }).sweep.settings.comparisonJobs).toBeUndefined();
  });
});
