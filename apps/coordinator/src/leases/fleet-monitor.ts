import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { AgentRecord, BenchJob } from '@benchfarm/protocol';
import { AgentState } from '@benchfarm/protocol';
import { AgentRegistry } from '../agents/agent-registry';
import { ineligibility, isStale } from '../agents/agent-matcher';
import { movesQueuedJobs } from '../agents/agent-health';
import { startBackgroundLoop, type BackgroundLoop } from '../common/background-loop';
import { Clock } from '../common/clock';
import { errorMessage } from '../common/domain-error';
import { COORDINATOR_CONFIG } from '../common/tokens';
import { LeaseRepository, type OrphanedJob } from '../storage/lease.repository';
import { JobBus } from '../sweeps/job-bus';
import { AgentPoolMemory } from './agent-pools';
import { JobStream } from './job-stream';
import { LeaseService } from './lease.service';
import type { CoordinatorConfig } from '../config';

/** The registry label naming a pool of interchangeable devices; a job may move only within its pool. */
export const POOL_LABEL = 'pool';

/** What one monitor pass did. */
export interface MonitorPass {
  /** Jobs whose attempt lost its lease (not renewed in time, or its agent went stale). */
  expired: OrphanedJob[];
  /** Jobs moved to another agent of the same pool: job id -> new agent id. */
  reassigned: Map<string, string>;
  /** Agents whose heartbeat is stale or whose registry entry vanished. */
  staleAgentIds: string[];
}

/**
 * Picks the agent a job of `from` may move to: a live agent of the same non-empty pool that
 * can take jobs, idle ones first. Pure.
 */
export function pickPeer(from: AgentRecord | undefined, agents: readonly AgentRecord[], provider: string, nowMs: number, staleAfterMs: number): AgentRecord | undefined {
  const pool = from?.labels[POOL_LABEL];
  if (!from || !pool) return undefined;
  const peers = agents.filter((a) => a.agentId !== from.agentId && a.labels[POOL_LABEL] === pool && ineligibility(a, provider, nowMs, staleAfterMs) === undefined);
  return peers.find((a) => a.state === AgentState.AGENT_STATE_IDLE) ?? peers[0];
}

/** What stands for the registry entry of an agent absent since the start: its id and its recorded pool. */
function placeholderRecord(agentId: string, pool: string | undefined): AgentRecord {
  return AgentRecord.fromPartial({ agentId, name: agentId, labels: pool === undefined ? {} : { [POOL_LABEL]: pool } });
}

/**
 * The `renewedBeforeMs` of a monitor pass: leases last renewed before it expire. No coordinator
 * could renew a lease before this one started (a restart, or a takeover by a new leader), so a
 * lease's renewal age counts from the later of its last renewal and the start: for one lease TTL
 * after the start nothing expires for want of a renewal (agents need a moment to reach the new
 * coordinator). Returns Number.MIN_SAFE_INTEGER then (before every renewal). Pure.
 */
export function renewalCutoffMs(nowMs: number, startedAtMs: number, leaseTtlMs: number): number {
  // MIN_SAFE_INTEGER, not -Infinity: the cutoff is a BIGINT parameter on PostgreSQL.
  return nowMs - startedAtMs < leaseTtlMs ? Number.MIN_SAFE_INTEGER : nowMs - leaseTtlMs;
}

/**
 * Polls the agent registry and the leases (on nats-server 2.9 an expired KV entry vanishes
 * without a watcher event, so staleness is found by polling). Each pass expires leases that
 * were not renewed within the lease TTL or whose agent is stale, and moves the queued jobs
 * of stale or draining agents to a live agent of the same pool. A job whose agent has no
 * pool waits for that agent: JetStream redelivers it when the agent is back.
 *
 * What a coordinator that just started (restart, new leader) cannot have seen is taken from what
 * outlives it: agents that open jobs in the store are assigned to but that are absent from the
 * registry count as gone once they stayed absent for the stale window after the start, with the
 * pool {@link AgentPoolMemory} recorded for them (every pool seen is recorded there); leases get
 * one lease TTL after the start before they expire for want of a renewal
 * ({@link renewalCutoffMs}).
 */
@Injectable()
export class FleetMonitor implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('FleetMonitor');
  /** Last registry entry seen of every agent, so a vanished (expired) entry still names its pool. */
  private readonly known = new Map<string, AgentRecord>();
  /**
   * Agents of open jobs that were absent from the registry when this coordinator started, with
   * what stands for their entry (the recorded pool only), until they show up in the registry.
   */
  private readonly unseen = new Map<string, AgentRecord>();
  /** Whether the open jobs' agents were read from the store (once, at the first pass that could). */
  private seeded = false;
  /** Agent id -> the pool this process last recorded for it in the pool memory. */
  private readonly recordedPools = new Map<string, string>();
  private startedAtMs: number | undefined;
  private loop: BackgroundLoop | undefined;

  constructor(
    @Inject(AgentRegistry) private readonly registry: AgentRegistry,
    @Inject(LeaseRepository) private readonly leases: LeaseRepository,
    @Inject(JobBus) private readonly bus: JobBus,
    @Inject(JobStream) private readonly stream: JobStream,
    @Inject(LeaseService) private readonly moves: LeaseService,
    @Inject(AgentPoolMemory) private readonly pools: AgentPoolMemory,
    @Inject(Clock) private readonly clock: Clock,
    @Inject(COORDINATOR_CONFIG) private readonly config: CoordinatorConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.startedAtMs = this.clock.nowMs();
    this.loop = startBackgroundLoop(() => this.pass(), { everyMs: this.config.monitorIntervalMs, log: this.log, failure: 'monitor pass failed' });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.loop?.stop();
  }

  /** One pass; exposed for tests. */
  async pass(): Promise<MonitorPass> {
    const agents = await this.registry.list();
    const nowMs = this.clock.nowMs();
    const startedAtMs = (this.startedAtMs ??= nowMs);
    for (const agent of agents) {
      this.known.set(agent.agentId, agent);
      this.unseen.delete(agent.agentId);
    }
    if (!this.seeded) await this.seedFromStore(agents);
    await this.recordPools(agents);
    const live = agents.filter((a) => !isStale(a, nowMs, this.config.agentStaleAfterMs));
    const liveIds = new Set(live.map((a) => a.agentId));
    const staleAgentIds = [...this.known.keys()].filter((id) => !liveIds.has(id));
    // An agent absent since the start gets the stale window to come back (after a power cut
    // agents re-register at their own pace); an agent seen here and then gone is stale at once.
    if (nowMs - startedAtMs > this.config.agentStaleAfterMs) staleAgentIds.push(...this.unseen.keys());
    // Draining or unhealthy agents, and those whose health check failed or does not verify.
    const draining = live.filter((a) => movesQueuedJobs(a)).map((a) => a.agentId);

    const expired = await this.leases.expire({ renewedBeforeMs: renewalCutoffMs(nowMs, startedAtMs, this.config.leaseTtlMs), staleAgentIds, nowMs });
    for (const job of expired) this.log.warn(`lease of job ${job.jobId} attempt ${job.attempt} on agent ${job.agentId} expired`);

    const reassigned = new Map<string, string>();
    // Only agents with a pool can have their jobs moved (pickPeer): the others' jobs wait for them.
    const movable = [...staleAgentIds, ...draining].filter((id) => this.entryOf(id)?.labels[POOL_LABEL]);
    for (const job of await this.leases.queuedJobsOf(movable)) {
      const target = await this.reassign(job, live, nowMs).catch((err: unknown) => {
        this.log.warn(`could not move job ${job.jobId} off agent ${job.agentId}: ${errorMessage(err)}`);
        return undefined;
      });
      if (target) reassigned.set(job.jobId, target);
    }
    return { expired, reassigned, staleAgentIds };
  }

  /** The last registry entry of an agent, or for one absent since the start what stands for it. */
  private entryOf(agentId: string): AgentRecord | undefined {
    return this.known.get(agentId) ?? this.unseen.get(agentId);
  }

  /**
   * Reads which agents open jobs are assigned to and keeps those absent from the registry, with
   * the pool recorded for them. A failure leaves it for the next pass.
   */
  private async seedFromStore(agents: readonly AgentRecord[]): Promise<void> {
    const present = new Set(agents.map((a) => a.agentId));
    const absent = (await this.leases.openJobAgents()).filter((id) => !present.has(id) && !this.known.has(id) && !this.unseen.has(id));
    const described: string[] = [];
    let complete = true;
    for (const agentId of absent) {
      let pool: string | undefined;
      try {
        pool = await this.pools.recall(agentId);
      } catch (err) {
        // Without its pool the agent's jobs could not move: ask again at the next pass.
        this.log.warn(`could not read the recorded pool of agent ${agentId}: ${errorMessage(err)}`);
        complete = false;
        continue;
      }
      this.unseen.set(agentId, placeholderRecord(agentId, pool));
      described.push(`${agentId} (${pool === undefined ? 'no pool recorded: its queued jobs wait for it' : `pool ${pool}`})`);
    }
    this.seeded = complete;
    if (described.length > 0) {
      this.log.warn(`agents with open jobs absent from the registry at start-up, counted gone unless back within ${this.config.agentStaleAfterMs} ms: ${described.join(', ')}`);
    }
  }

  /** Records the pool of every listed agent whose pool this process has not recorded yet (or that changed). */
  private async recordPools(agents: readonly AgentRecord[]): Promise<void> {
    const failed: string[] = [];
    let firstError: unknown;
    for (const agent of agents) {
      const pool = agent.labels[POOL_LABEL];
      if (!pool || this.recordedPools.get(agent.agentId) === pool) continue;
      try {
        await this.pools.remember(agent.agentId, pool);
        this.recordedPools.set(agent.agentId, pool);
      } catch (err) {
        failed.push(agent.agentId);
        firstError ??= err;
      }
    }
    // Tried again at the next pass; until recorded, only this process knows those pools.
    if (failed.length > 0) this.log.warn(`could not record the pool of ${failed.length} agent(s) (${failed.slice(0, 5).join(', ')}${failed.length > 5 ? ', ...' : ''}): ${errorMessage(firstError)}`);
  }

  private async reassign(job: OrphanedJob, live: readonly AgentRecord[], nowMs: number): Promise<string | undefined> {
    const message = await this.leases.message(job.jobId);
    if (!message) return undefined;
    const bench = BenchJob.decode(message.payload);
    const peer = pickPeer(this.entryOf(job.agentId), live, bench.executionProvider || 'cpu', nowMs, this.config.agentStaleAfterMs);
    if (!peer) return undefined;
    // Publish first, then move the job in the database: a crash in between leaves the job on
    // its old agent (the next pass moves it again; the peer's copy is refused a lease), and a
    // failed publish changes nothing. The announcement lets the peer's lease request, which
    // may arrive before the publish ack, complete the move itself.
    const moved: BenchJob = { ...bench, agentId: peer.agentId };
    const toAgentName = peer.name || peer.agentId;
    this.moves.announceMove({ jobId: job.jobId, fromAgentId: job.agentId, toAgentId: peer.agentId, toAgentName });
    let outcome: { seq?: number };
    try {
      outcome = await this.bus.publish(moved, { msgId: `${job.jobId}.m${message.publications + 1}` });
      await this.leases.reassign({ jobId: job.jobId, fromAgentId: job.agentId, toAgentId: peer.agentId, toAgentName, nowMs });
    } finally {
      this.moves.settleMove(job.jobId);
    }
    if ((await this.leases.view(job.jobId))?.agentId !== peer.agentId) return undefined;
    // The old agent's message (read before the publish recorded the new one) goes: a dead agent
    // must not find it when it comes back, a draining one must not run it.
    if (message.agentId === job.agentId && message.streamSeq !== undefined) await this.stream.delete(message.streamSeq);
    this.log.warn(`job ${job.jobId} moved from agent ${job.agentId} to ${peer.agentId} (pool ${peer.labels[POOL_LABEL]}, stream seq ${outcome.seq ?? '?'})`);
    return peer.agentId;
  }
}
