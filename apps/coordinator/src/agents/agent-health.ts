import { AgentState, type AgentRecord } from '@benchfarm/protocol';
import { REFERENCE_MODEL_ID, compareToReference, referenceModel } from '@benchfarm/suite';

/**
 * What the coordinator makes of an agent's last health check:
 * - `verified`: it passed and its outputs match the reference model's, recomputed here;
 * - `checking`: a check is running (after joining or after a device-level failure);
 * - `failed`: the agent's own check failed (it reports UNHEALTHY and retries with backoff);
 * - `mismatch`: the agent says it passed, but the report does not verify here;
 * - `not_reported`: no report at all (an agent that predates health checks, or a registry
 *   entry written by something other than a benchfarm agent): no work until it reports one.
 */
export type HealthStatus = 'verified' | 'checking' | 'failed' | 'mismatch' | 'not_reported';

/** The verdict on an agent's health, with the reason when it is not `verified`. */
export interface HealthVerdict {
  status: HealthStatus;
  reason?: string;
}

/**
 * Verifies an agent's last health check report: the reference model's id and digest, then its
 * outputs against the expected ones recomputed in plain JavaScript (libs/suite, no
 * onnxruntime), within the reference tolerance. Pure.
 */
export function verifyHealth(agent: Pick<AgentRecord, 'state' | 'health'>): HealthVerdict {
  if (agent.state === AgentState.AGENT_STATE_CHECKING) {
    return { status: 'checking', reason: 'its health check is running' };
  }
  const report = agent.health;
  // No device gets work before a check this coordinator verified: an agent that
  // predates health checks is shown, but idle, until it is upgraded.
  if (!report) return { status: 'not_reported', reason: 'the agent reports no health check (upgrade it: agents before health checks get no work)' };
  if (!report.passed) return { status: 'failed', reason: `health check failed: ${report.error || 'no reason given'}` };
  if (report.referenceModelId !== REFERENCE_MODEL_ID) {
    return { status: 'mismatch', reason: `health check ran reference model ${JSON.stringify(report.referenceModelId)}; this coordinator verifies ${JSON.stringify(REFERENCE_MODEL_ID)}` };
  }
  const expectedSha256 = referenceModel().sha256;
  if (report.referenceModelSha256 !== expectedSha256) {
    return { status: 'mismatch', reason: `health check ran a reference model with digest ${report.referenceModelSha256 || '(none)'}, expected ${expectedSha256}` };
  }
  const comparison = compareToReference(report.outputs);
  if (!comparison.ok) return { status: 'mismatch', reason: `health check does not verify: ${comparison.reason}` };
  return { status: 'verified' };
}

/** Whether the health verdict keeps an agent from new jobs (a running check included). */
export function healthBlocksWork(verdict: HealthVerdict): boolean {
  return verdict.status !== 'verified';
}

/**
 * Whether an agent's queued jobs should move to a pool peer: it is draining or unhealthy, or its
 * health check failed or does not verify. A running check does not move jobs: it takes seconds,
 * and the agent pulls them once it passed.
 */
export function movesQueuedJobs(agent: Pick<AgentRecord, 'state' | 'health'>): boolean {
  if (agent.state === AgentState.AGENT_STATE_DRAINING || agent.state === AgentState.AGENT_STATE_UNHEALTHY) return true;
  const status = verifyHealth(agent).status;
  return status === 'failed' || status === 'mismatch';
}
