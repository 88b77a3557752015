import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { BenchJob, type AgentRecord } from '@benchfarm/protocol';
import { AgentState } from '@benchfarm/protocol';
import { AgentRegistry } from '../agents/agent-registry';
import { ineligibility, isStale } from '../agents/agent-matcher';
import { movesQueuedJobs } from '../agents/agent-health';
import { Clock } from '../common/clock';
import { errorMessage } from '../common/domain-error';
import { COORDINATOR_CONFIG } from '../common/tokens';
import { LeaseRepository, type OrphanedJob } from '../storage/lease.repository';
import { JobBus } from '../sweeps/job-bus';
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

/**
 * Polls the agent registry and the leases (on nats-server 2.9 an expired KV entry vanishes
 * without a watcher event, so staleness is found by polling). Each pass expires leases that
 * were not renewed within the lease TTL or whose agent is stale, and moves the queued jobs
 * of stale or draining agents to a live agent of the same pool. A job whose agent has no
 * pool waits for that agent: JetStream redelivers it when the agent is back.
 */
@Injectable()
export class FleetMonitor implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('FleetMonitor');
  /** Last registry entry seen of every agent, so a vanished (expired) entry still names its pool. */
  private readonly known = new Map<string, AgentRecord>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    @Inject(AgentRegistry) private readonly registry: AgentRegistry,
    @Inject(LeaseRepository) private readonly leases: LeaseRepository,
    @Inject(JobBus) private readonly bus: JobBus,
    @Inject(JobStream) private readonly stream: JobStream,
    @Inject(LeaseService) private readonly moves: LeaseService,
    @Inject(Clock) private readonly clock: Clock,
    @Inject(COORDINATOR_CONFIG) private readonly config: CoordinatorConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.pass()
        .catch((err: unknown) => this.log.warn(`monitor pass failed: ${errorMessage(err)}`))
        .finally(() => {
          this.running = undefined;
        });
    }, this.config.monitorIntervalMs);
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** One pass; exposed for tests. */
  async pass(): Promise<MonitorPass> {
    const agents = await this.registry.list();
    const nowMs = this.clock.nowMs();
    for (const agent of agents) this.known.set(agent.agentId, agent);
    const live = agents.filter((a) => !isStale(a, nowMs, this.config.agentStaleAfterMs));
    const liveIds = new Set(live.map((a) => a.agentId));
    const staleAgentIds = [...this.known.keys()].filter((id) => !liveIds.has(id));
    // Draining or unhealthy agents, and those whose health check failed or does not verify.
    const draining = live.filter((a) => movesQueuedJobs(a)).map((a) => a.agentId);

    const expired = await this.leases.expire({ renewedBeforeMs: nowMs - this.config.leaseTtlMs, staleAgentIds, nowMs });
    for (const job of expired) this.log.warn(`lease of job ${job.jobId} attempt ${job.attempt} on agent ${job.agentId} expired`);

    const reassigned = new Map<string, string>();
    for (const job of await this.leases.queuedJobsOf([...staleAgentIds, ...draining])) {
      const target = await this.reassign(job, live, nowMs).catch((err: unknown) => {
        this.log.warn(`could not move job ${job.jobId} off agent ${job.agentId}: ${errorMessage(err)}`);
        return undefined;
      });
      if (target) reassigned.set(job.jobId, target);
    }
    return { expired, reassigned, staleAgentIds };
  }

  private async reassign(job: OrphanedJob, live: readonly AgentRecord[], nowMs: number): Promise<string | undefined> {
    const message = await this.leases.message(job.jobId);
    if (!message) return undefined;
    const bench = BenchJob.decode(message.payload);
    const peer = pickPeer(this.known.get(job.agentId), live, bench.executionProvider || 'cpu', nowMs, this.config.agentStaleAfterMs);
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
