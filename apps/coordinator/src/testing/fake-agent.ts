import { AgentRecord, AgentState, type HealthCheckReport } from '@benchfarm/protocol';
import { REFERENCE_MODEL_ID, referenceModel } from '@benchfarm/suite';

/**
 * FAKE, for tests whose agents are registry entries written by the test (no agent process, no
 * onnxruntime): the health check report a healthy agent sends, with the reference model's
 * expected outputs rounded to float32 as onnxruntime returns them. The coordinator verifies it
 * like any other report, so such fake agents are eligible for work.
 */
export function passingHealthReport(ranAtUnixMs = Date.now()): HealthCheckReport {
  const model = referenceModel();
  return {
    referenceModelId: REFERENCE_MODEL_ID,
    referenceModelSha256: model.sha256,
    passed: true,
    error: '',
    outputs: Array.from(model.expected, Math.fround),
    durationMs: 0,
    inferenceMs: 0,
    ranAtUnixMs,
    attempt: 1,
    trigger: 'fake agent (test)',
    nextAttemptAtUnixMs: 0,
    executionProvider: 'cpu',
  };
}

/**
 * FAKE, for tests that write registry entries themselves (no agent process): an idle x64
 * CPU agent heartbeating now, with a passing health check, so that sweeps can target it.
 * `extra` overrides any field.
 */
export function fakeAgentRecord(agentId: string, extra: Partial<AgentRecord> = {}): AgentRecord {
  return AgentRecord.fromPartial({
    agentId,
    name: agentId,
    agentVersion: 'test',
    labels: {},
    capabilities: { arch: 'x64', os: 'linux', osRelease: '6', cpuModel: 'test cpu', cpuCores: 2, memoryBytes: 8e9, executionProviders: ['cpu'], sensors: [], onnxruntimeVersion: '1.30.0', hostname: 'test' },
    state: AgentState.AGENT_STATE_IDLE,
    currentJobId: '',
    startedAtUnixMs: Date.now(),
    heartbeatAtUnixMs: Date.now(),
    health: passingHealthReport(),
    ...extra,
  });
}
