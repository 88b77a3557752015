import { Kvm, type KV } from '@nats-io/kv';
import type { FarmStore } from '@benchfarm/messaging';

/** The KV bucket that keeps the pool label of every agent a coordinator saw (no TTL, history 1). */
export const AGENT_POOL_BUCKET = 'benchfarm_agent_pools';
/** Bytes the pool bucket may hold: a thousand agents with 100-byte pools take about 150 KB. */
const AGENT_POOL_BUCKET_MAX_BYTES = 16 * 1024 * 1024;
/** A pool label is at most 1,024 characters (the registry's bound for a label), 4 bytes each in UTF-8. */
const AGENT_POOL_MAX_VALUE_BYTES = 4 * 1024;

/**
 * The pool label of every agent, kept beyond the life of its registry entry and of the
 * coordinator that saw it. The fleet monitor moves the queued jobs of a gone agent to a peer of
 * its pool; the pool comes from the agent's registry entry, which expires with the agent
 * (15 s). A coordinator that starts after that (a restart, a new leader) would not know the pool
 * and the jobs would wait for an agent that may never return; this memory tells it.
 */
export abstract class AgentPoolMemory {
  /** Records `pool` as the agent's pool. Thrown errors: NATS errors as they come. */
  abstract remember(agentId: string, pool: string): Promise<void>;
  /** The pool last recorded for the agent; undefined when none was. Thrown errors: NATS errors as they come. */
  abstract recall(agentId: string): Promise<string | undefined>;
}

/**
 * {@link AgentPoolMemory} in the NATS KV bucket {@link AGENT_POOL_BUCKET} of the farm, created on
 * first use with the farm's replicas (a coordinator on a 3-server cluster keeps it on 3).
 */
export class KvAgentPoolMemory extends AgentPoolMemory {
  private bucket: Promise<KV> | undefined;

  constructor(
    private readonly farm: Pick<FarmStore, 'js'>,
    private readonly replicas: number,
  ) {
    super();
  }

  async remember(agentId: string, pool: string): Promise<void> {
    await (await this.open()).put(agentId, pool);
  }

  async recall(agentId: string): Promise<string | undefined> {
    const entry = await (await this.open()).get(agentId);
    if (!entry || entry.operation !== 'PUT' || entry.value.length === 0) return undefined;
    return entry.string();
  }

  private open(): Promise<KV> {
    // A failed open is not kept: the next call tries again.
    this.bucket ??= new Kvm(this.farm.js)
      .create(AGENT_POOL_BUCKET, { history: 1, replicas: this.replicas, max_bytes: AGENT_POOL_BUCKET_MAX_BYTES, maxValueSize: AGENT_POOL_MAX_VALUE_BYTES })
      .catch((err: unknown) => {
        this.bucket = undefined;
        throw err;
      });
    return this.bucket;
  }
}
