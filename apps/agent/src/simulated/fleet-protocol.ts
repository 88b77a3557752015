// The IPC messages between a fleet's driver (`benchfarm simulate-fleet`) and its worker processes
// (fleet-worker.ts), JSON over the child-process channel. The CLI reads them through its own
// declaration of the same shapes (apps/cli/src/simulate-fleet.workers.ts): apps do not import
// each other.
import type { ModelCacheScope, ModelCacheStats } from './model-cache';
import type { SimulatedJobRecord } from './simulated-agent';

/** Who shares a connection: each agent its own (as real devices), or every agent of the process one. */
export type ConnectionScope = 'agent' | 'process';

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

/** Worker to driver. */
export type FleetEvent =
  | { type: 'loaded'; pid: number }
  | { type: 'agent'; agentId: string; registeredAtMs: number; idleAtMs: number; startAttempts: number }
  | { type: 'agent-failed'; agentId: string; error: string; startAttempts: number }
  | { type: 'job'; record: SimulatedJobRecord }
  | { type: 'fetched'; requestId: number; answers: FetchAnswer[] }
  | { type: 'discarded'; requestId: number }
  | { type: 'stats'; requestId: number; cache: ModelCacheStats; warnings: Record<string, number>; errors: string[] }
  | { type: 'stopped' };
