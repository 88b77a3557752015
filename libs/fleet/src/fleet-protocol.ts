// The IPC messages between a simulated fleet's driver (`benchfarm simulate-fleet`, apps/cli) and
// its worker processes (apps/agent/src/simulated/fleet-worker.ts), JSON over the child-process
// channel. Both ends import these shapes from here: apps do not import each other.

/** Who shares a connection: each agent its own (as real devices), or every agent of the process one. */
export type ConnectionScope = 'agent' | 'process';

/**
 * Who shares a fetched model: every simulated agent of the process (`process`: the lighter
 * default; one object-store read per digest and process), or nobody (`agent`: each agent reads
 * and verifies its own copy, as separate devices do).
 */
export type ModelCacheScope = 'process' | 'agent';

/** What a worker's model cache did so far. */
export interface ModelCacheStats {
  /** Models asked for. */
  requests: number;
  /** Requests answered without reading the object store (cached, or joined a read under way). */
  hits: number;
  /** Object-store reads (each a full, verified fetch through `fetchModel`). */
  storeReads: number;
  /** Bytes read from the object store (the size of each file a read produced). */
  bytesFetched: number;
  /** Reads that failed (the request that caused one is not a hit). */
  failures: number;
}

/** How one job message ended for a simulated agent. */
export type SimulatedJobOutcome =
  /** The coordinator committed the result (UploadOutcome COMMITTED); the message was acked. */
  | 'committed'
  /** The coordinator already had a result for the job (DUPLICATE); acked. */
  | 'duplicate'
  /** The attempt's error was recorded (ERROR_RECORDED). */
  | 'error_recorded'
  /** The message was terminated: not a job for this agent, no lease (finished, not yours), result refused, lease lost. */
  | 'dropped'
  /** The message was given back (nak): the coordinator was unreachable or the result could not be delivered. */
  | 'returned'
  /** The agent was stopped while the job ran; the message was given back at once. */
  | 'aborted';

/** What a simulated agent did with one job message, for the fleet's figures. Times are ms since the epoch on this machine. */
export interface SimulatedJobRecord {
  agentId: string;
  jobId: string;
  sweepId: string;
  variant: string;
  deliveryCount: number;
  /** When JetStream stored the message (its timestamp): when the coordinator published the job. */
  publishedAtMs: number;
  /** When this agent was last free to pull (it started, or finished its previous message). */
  freeAtMs: number;
  receivedAtMs: number;
  /** When the coordinator granted the lease; absent when it did not. */
  leaseAtMs?: number;
  /** When the coordinator answered the upload; absent without one. */
  uploadAckAtMs?: number;
  /** When the message was acked, terminated or given back. */
  settledAtMs: number;
  outcome: SimulatedJobOutcome;
  attempt?: number;
  resultId?: string;
  /** Whether the model came from the process's cache without a store read. */
  modelCacheHit?: boolean;
  reason?: string;
}

/** What one worker process runs. */
export interface FleetWorkerSpec {
  readonly workerIndex: number;
  readonly agents: ReadonlyArray<{ agentId: string; name: string; labels: Record<string, string> }>;
  readonly natsUrl: string;
  readonly grpcAddress: string;
  readonly jobMs: number;
  readonly healthCheckMs: number;
  readonly natsConnections: ConnectionScope;
  readonly grpcChannels: ConnectionScope;
  readonly modelCache: ModelCacheScope;
  /** Folder of this worker's model cache (created; removed when the worker stops). */
  readonly cacheDir: string;
  /** Real-agent settings passed through (absent: the real agent's defaults). */
  readonly heartbeatIntervalMs?: number;
  readonly ackWaitMs?: number;
  /** An agent that could not start by then is reported failed. */
  readonly startDeadlineMs: number;
}

/** Driver to worker. */
export type FleetCommand =
  | { type: 'start'; spec: FleetWorkerSpec }
  /** Each agent reads `digest`; one that has not finished within `timeoutMs` is answered with an error (its read goes on). */
  | { type: 'fetch'; requestId: number; digest: string; agentIds: string[]; timeoutMs: number }
  | { type: 'discard'; requestId: number; digest: string }
  | { type: 'stats'; requestId: number }
  | { type: 'stop' };

/** One agent's answer to a `fetch`. */
export interface FetchAnswer {
  agentId: string;
  ms?: number;
  sizeBytes?: number;
  hit?: boolean;
  error?: string;
}

/** A worker's answer to `stats`: its cache counters, warnings by kind and first errors. */
export interface WorkerStats {
  cache: ModelCacheStats;
  warnings: Record<string, number>;
  errors: string[];
}

/** Worker to driver. */
export type FleetEvent =
  | { type: 'loaded'; pid: number }
  | { type: 'agent'; agentId: string; registeredAtMs: number; idleAtMs: number; startAttempts: number }
  | { type: 'agent-failed'; agentId: string; error: string; startAttempts: number }
  | { type: 'job'; record: SimulatedJobRecord }
  | { type: 'fetched'; requestId: number; answers: FetchAnswer[] }
  | { type: 'discarded'; requestId: number }
  | ({ type: 'stats'; requestId: number } & WorkerStats)
  | { type: 'stopped' };
