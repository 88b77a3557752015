import { Inject, Injectable } from '@nestjs/common';
import { AgentState, type AgentCapabilities, type AgentRecord } from '@benchfarm/protocol';
import type { AgentStateLabel } from '@benchfarm/metrics';
import { Clock } from '../common/clock';
import { COORDINATOR_CONFIG } from '../common/tokens';
import type { CoordinatorConfig } from '../config';
import { AgentRegistry } from './agent-registry';
import { agentStateName, isStale, matchAgents, type TargetSelector } from './agent-matcher';
import { verifyHealth, type HealthStatus } from './agent-health';

/** An agent's last health check as the REST API shows it (the coordinator's verdict and the agent's report). */
export interface AgentHealthView {
  /** The coordinator's verdict: only `verified` agents take jobs. */
  status: HealthStatus;
  /** Why the agent is not `verified`. */
  reason?: string;
  /** The agent's own verdict of its last finished check; absent before the first one finished. */
  passed?: boolean;
  referenceModelId?: string;
  referenceModelSha256?: string;
  ranAt?: string;
  durationMs?: number;
  inferenceMs?: number;
  attempt?: number;
  trigger?: string;
  error?: string;
  /** When a failed check is retried. */
  nextAttemptAt?: string;
}

/** What an agent reported it is and can run, as the REST API shows it. */
export type AgentCapabilitiesView = Pick<AgentCapabilities, 'arch' | 'os' | 'osRelease' | 'cpuModel' | 'cpuCores' | 'memoryBytes' | 'executionProviders' | 'sensors' | 'onnxruntimeVersion' | 'hostname'> & {
  /** External tools found on the agent's PATH with their versions; a sweep's `runtime` needs one. */
  externalRuntimes: Array<{ tool: string; version: string; path: string }>;
};

/** An agent as the REST API shows it. */
export interface AgentView {
  agentId: string;
  name: string;
  state: string;
  labels: Record<string, string>;
  capabilities: AgentCapabilitiesView | null;
  agentVersion: string;
  currentJobId?: string;
  startedAt: string;
  heartbeatAt: string;
  stale: boolean;
  health: AgentHealthView;
}

/** The agent registry as the coordinator uses it: listing, staleness, and target matching. */
@Injectable()
export class AgentsService {
  constructor(
    @Inject(AgentRegistry) private readonly registry: AgentRegistry,
    @Inject(Clock) private readonly clock: Clock,
    @Inject(COORDINATOR_CONFIG) private readonly config: CoordinatorConfig,
  ) {}

  /** Every registered agent, with whether its heartbeat is stale. */
  async list(): Promise<AgentView[]> {
    const nowMs = this.clock.nowMs();
    return (await this.registry.list()).map((agent) => toView(agent, isStale(agent, nowMs, this.config.agentStaleAfterMs)));
  }

  /** The agents that the selectors pick and that can take jobs now; throws `no_matching_agent` when none. */
  async resolveTargets(selectors: readonly TargetSelector[], provider: string): Promise<AgentRecord[]> {
    return matchAgents(await this.registry.list(), selectors, provider, this.clock.nowMs(), this.config.agentStaleAfterMs);
  }

  /** Number of agents in each state; an agent with a stale heartbeat counts as `stale`. */
  async countByState(): Promise<Partial<Record<AgentStateLabel, number>>> {
    const nowMs = this.clock.nowMs();
    const counts: Partial<Record<AgentStateLabel, number>> = {};
    for (const agent of await this.registry.list()) {
      const state = isStale(agent, nowMs, this.config.agentStaleAfterMs) ? 'stale' : stateLabel(agent.state);
      counts[state] = (counts[state] ?? 0) + 1;
    }
    return counts;
  }
}

function stateLabel(state: AgentState): AgentStateLabel {
  switch (state) {
    case AgentState.AGENT_STATE_IDLE:
      return 'idle';
    case AgentState.AGENT_STATE_BUSY:
      return 'busy';
    case AgentState.AGENT_STATE_CHECKING:
      return 'checking';
    case AgentState.AGENT_STATE_UNHEALTHY:
      return 'unhealthy';
    case AgentState.AGENT_STATE_DRAINING:
      return 'draining';
    case AgentState.AGENT_STATE_OFFLINE:
      return 'offline';
    default:
      return 'unknown';
  }
}

function toView(agent: AgentRecord, stale: boolean): AgentView {
  const c = agent.capabilities;
  return {
    agentId: agent.agentId,
    name: agent.name,
    state: agentStateName(agent.state),
    labels: { ...agent.labels },
    capabilities: c
      ? {
          arch: c.arch,
          os: c.os,
          osRelease: c.osRelease,
          cpuModel: c.cpuModel,
          cpuCores: c.cpuCores,
          memoryBytes: c.memoryBytes,
          executionProviders: [...c.executionProviders],
          sensors: [...c.sensors],
          onnxruntimeVersion: c.onnxruntimeVersion,
          hostname: c.hostname,
          externalRuntimes: (c.inventory?.installedRuntimes ?? []).map((r) => ({ tool: r.tool, version: r.version, path: r.path })),
        }
      : null,
    agentVersion: agent.agentVersion,
    ...(agent.currentJobId ? { currentJobId: agent.currentJobId } : {}),
    startedAt: new Date(agent.startedAtUnixMs).toISOString(),
    heartbeatAt: new Date(agent.heartbeatAtUnixMs).toISOString(),
    stale,
    health: toHealthView(agent),
  };
}

function toHealthView(agent: AgentRecord): AgentHealthView {
  const verdict = verifyHealth(agent);
  const r = agent.health;
  return {
    status: verdict.status,
    ...(verdict.reason !== undefined && verdict.status !== 'verified' ? { reason: verdict.reason } : {}),
    ...(r
      ? {
          passed: r.passed,
          referenceModelId: r.referenceModelId,
          referenceModelSha256: r.referenceModelSha256,
          ranAt: new Date(r.ranAtUnixMs).toISOString(),
          durationMs: r.durationMs,
          inferenceMs: r.inferenceMs,
          attempt: r.attempt,
          trigger: r.trigger,
          ...(r.error ? { error: r.error } : {}),
          ...(r.nextAttemptAtUnixMs > 0 ? { nextAttemptAt: new Date(r.nextAttemptAtUnixMs).toISOString() } : {}),
        }
      : {}),
  };
}
