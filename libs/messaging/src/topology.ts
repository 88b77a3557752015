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
/** Jobs are deduplicated by Nats-Msg-Id within this window (never longer than the job stream's max age: the server refuses that). */
export const JOB_DUPLICATE_WINDOW_MS = 120_000;

/**
 * Limits of the farm's streams (RELIABILITY.md "Stream limits"). Every limit
 * refuses what would go beyond it (discard policy `new`) rather than deleting what is stored,
 * except the job stream's max age, which deletes a job message nobody took in time.
 */
export interface FarmStreamLimits {
  /**
   * A job message no agent took within this long is deleted by the server (max_age of the job
   * stream): the longest outage of an agent its queued jobs survive.
   */
  jobMaxAgeMs: number;
  /** Most job messages stored for one agent (max_msgs_per_subject, discard new per subject): a publish beyond is refused. */
  jobQueueMaxPerAgent: number;
  /** Most bytes the job stream holds, all agents together (max_bytes): a publish beyond is refused. */
  jobStreamMaxBytes: number;
  /**
   * Most bytes the model bucket holds (models, variants, dataset images; max_bytes): a put beyond
   * is refused. 0: no limit of its own, only nats-server's JetStream storage (max_file_store,
   * by default 75% of the free disk). No max age: objects are shared by digest.
   */
  modelStoreMaxBytes: number;
}

/**
 * The default limits. 7 days: a job waits out an agent that is off over a long weekend or a
 * week's holiday. 50 000 per agent: 50 sweeps of the largest allowed size (1000 jobs) queued for
 * one agent, and promise 6's 10 000 queued jobs. A job message is ~330 bytes (measured: a
 * one-variant job of the PaddleOCR cls model), so 1 GiB holds ~3 million; it bounds a flood to
 * many subjects (every `bench.jobs.<anything>` is stored). A stream's max_bytes is RESERVED out of
 * nats-server's JetStream storage when the stream is created or updated (on 2.9.10 a stream of
 * 100 GiB was refused, "insufficient storage resources available", on a server with 75 GB free),
 * so the model bucket, which may need tens of GiB (32 variants of a model up to 1 GiB, datasets up
 * to 10 GiB), has no limit of its own by default: the server's storage limit is its limit.
 */
export const DEFAULT_FARM_LIMITS: Readonly<FarmStreamLimits> = Object.freeze({
  jobMaxAgeMs: 7 * 24 * 3_600_000,
  jobQueueMaxPerAgent: 50_000,
  jobStreamMaxBytes: 1024 ** 3,
  modelStoreMaxBytes: 0,
});

/** Largest agent registry record (max_msg_size of the bucket); a real one is ~2.5 KB (measured). */
export const AGENT_RECORD_MAX_BYTES = 64 * 1024;
/** Most bytes of the agent registry bucket: over 1000 agents at the largest record size, ~25 000 at a real one's. */
export const AGENT_BUCKET_MAX_BYTES = 64 * 1024 * 1024;

/** An agent id: one NATS subject token, also a KV key and part of a consumer name. */
export const AGENT_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** Thrown when an agent id would not be a single, safe NATS subject token. */
export class InvalidAgentIdError extends Error {
  override name = 'InvalidAgentIdError';
  constructor(readonly agentId: string) {
    super(`agent id ${JSON.stringify(agentId)} is invalid: use 1-64 characters of A-Z a-z 0-9 _ -`);
  }
}

/** Checks that an agent id is usable as a subject token, a KV key and a consumer name. */
export function assertAgentId(agentId: string): string {
  if (!AGENT_ID_PATTERN.test(agentId)) throw new InvalidAgentIdError(agentId);
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
