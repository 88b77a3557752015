import { describe, expect, it } from 'vitest';
import { AgentState, type HealthCheckReport } from '@benchfarm/protocol';
import { REFERENCE_MODEL_ID, referenceModel } from '@benchfarm/suite';
import { healthBlocksWork, movesQueuedJobs, verifyHealth } from './agent-health';

const expected = Array.from(referenceModel().expected);

/** A report as a healthy agent sends it (float32 outputs, as onnxruntime returns them). */
const report = (extra: Partial<HealthCheckReport> = {}): HealthCheckReport => ({
  referenceModelId: REFERENCE_MODEL_ID,
  referenceModelSha256: referenceModel().sha256,
  passed: true,
  error: '',
  outputs: expected.map(Math.fround),
  durationMs: 812.5,
  inferenceMs: 0.4,
  ranAtUnixMs: 1_000,
  attempt: 1,
  trigger: 'joined',
  nextAttemptAtUnixMs: 0,
  executionProvider: 'cpu',
  ...extra,
});

const idle = (health: HealthCheckReport | undefined) => ({ state: AgentState.AGENT_STATE_IDLE, health });

describe('verifyHealth (the coordinator recomputes the reference outputs)', () => {
  it.each([
    ['exact (float64 values)', idle(report({ outputs: expected })), 'verified', undefined],
    ['float32 outputs, as onnxruntime reports them', idle(report()), 'verified', undefined],
    ['within tolerance (relative 5e-5)', idle(report({ outputs: expected.map((v) => v * (1 + 5e-5)) })), 'verified', undefined],
    ['outside tolerance (one output off by 0.01)', idle(report({ outputs: expected.map((v, i) => (i === 5 ? v + 0.01 : v)) })), 'mismatch', /^health check does not verify: outputs differ from the reference by 1\.00e-2 \(1 of 8 outside .*worst outputs\[5\]/],
    ['a NaN output', idle(report({ outputs: expected.map((v, i) => (i === 0 ? Number.NaN : v)) })), 'mismatch', /outputs differ from the reference by NaN|Infinity/],
    ['missing outputs (passed, but only 3 values)', idle(report({ outputs: expected.slice(0, 3) })), 'mismatch', /outputs: 3 values reported, the reference has 8/],
    ['no outputs at all', idle(report({ outputs: [] })), 'mismatch', /outputs: 0 values reported/],
    ['wrong model digest', idle(report({ referenceModelSha256: 'ab'.repeat(32) })), 'mismatch', /digest abab.*, expected [0-9a-f]{64}/],
    ['another reference model', idle(report({ referenceModelId: 'benchfarm-reference-mlp-v0' })), 'mismatch', /ran reference model "benchfarm-reference-mlp-v0"; this coordinator verifies "benchfarm-reference-mlp-v1"/],
    ['the agent says it failed', { state: AgentState.AGENT_STATE_UNHEALTHY, health: report({ passed: false, outputs: [], error: 'health check process died: signal SIGSEGV' }) }, 'failed', /^health check failed: health check process died: signal SIGSEGV$/],
    ['a check is running', { state: AgentState.AGENT_STATE_CHECKING, health: undefined }, 'checking', /running/],
    ['an agent that reports no health check', idle(undefined), 'not_reported', /no health check .*get no work/],
  ])('%s -> %s', (_name, agent, status, reason) => {
    const verdict = verifyHealth(agent);
    expect(verdict.status).toBe(status);
    if (reason) expect(verdict.reason).toMatch(reason);
    else expect(verdict.reason).toBeUndefined();
  });
});

describe('movesQueuedJobs', () => {
  it.each([
    ['idle, verified', idle(report()), false],
    ['checking (seconds; the agent pulls them once it passed)', { state: AgentState.AGENT_STATE_CHECKING, health: report() }, false],
    ['unhealthy', { state: AgentState.AGENT_STATE_UNHEALTHY, health: report({ passed: false }) }, true],
    ['draining', { state: AgentState.AGENT_STATE_DRAINING, health: report() }, true],
    ['idle, but its report does not verify', idle(report({ outputs: expected.map((v) => v + 1) })), true],
    ['idle, predates health checks', idle(undefined), false],
  ])('%s: %s', (_name, agent, moves) => expect(movesQueuedJobs(agent)).toBe(moves));
});

describe('healthBlocksWork', () => {
  it.each([
    ['verified', idle(report()), false],
    ['checking', { state: AgentState.AGENT_STATE_CHECKING, health: undefined }, true],
    ['failed', { state: AgentState.AGENT_STATE_UNHEALTHY, health: report({ passed: false }) }, true],
    ['mismatch', idle(report({ outputs: [] })), true],
    ['no report at all', idle(undefined), true],
  ])('%s: %s', (_name, agent, blocks) => expect(healthBlocksWork(verifyHealth(agent))).toBe(blocks));
});
