/**
 * Names and settings of everything benchfarm keeps in NATS. One place, so the coordinator,
 * the agents and the tests agree.
 */

/** JetStream work-queue stream holding jobs; one subject per agent. */
export const JOB_STREAM = 'BENCH_JOBS';
/** Subject prefix of jobs; a job for agent X is published to `bench.jobs.X`. */
export const JOB_SUBJECT_PREFIX = 'bench.jobs';
/** Object Store bucket holding model variants, each under its SHA-256 hex digest. */
export const MODEL_BUCKET = 'benchfarm-models';
/** KV bucket holding one AgentRecord per agent id, rewritten at every heartbeat. */
export const AGENT_BUCKET = 'benchfarm-agents';

/** Reference reliability settings (RELIABILITY.md). */
export const JOB_ACK_WAIT_MS = 30_000;
export const JOB_WORKING_INTERVAL_MS = 10_000;
export const JOB_MAX_DELIVER = 3;
export const HEARTBEAT_INTERVAL_MS = 5_000;
export const AGENT_STALE_AFTER_MS = 15_000;
/** Jobs are deduplicated by Nats-Msg-Id within this window. */
export const JOB_DUPLICATE_WINDOW_MS = 120_000;

const AGENT_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** Thrown when an agent id would not be a single, safe NATS subject token. */
export class InvalidAgentIdError extends Error {
  override name = 'InvalidAgentIdError';
  constructor(readonly agentId: string) {
    super(`agent id ${JSON.stringify(agentId)} is invalid: use 1-64 characters of A-Z a-z 0-9 _ -`);
  }
}

/** Checks that an agent id is usable as a subject token, a KV key and a consumer name. */
export function assertAgentId(agentId: string): string {
  if (!AGENT_ID.test(agentId)) throw new InvalidAgentIdError(agentId);
  return agentId;
}

/** The subject jobs for one agent are published to. */
export function jobSubject(agentId: string): string {
  return `${JOB_SUBJECT_PREFIX}.${assertAgentId(agentId)}`;
}

/** The durable consumer an agent pulls its jobs from. */
export function agentConsumerName(agentId: string): string {
  return `agent-${assertAgentId(agentId)}`;
}
