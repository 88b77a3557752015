import { AgentState, agentStateToJSON, type AgentRecord } from '@benchfarm/protocol';
import { DomainError, DomainErrorCode } from '../common/domain-error';
import { healthBlocksWork, verifyHealth } from './agent-health';

/** Capabilities a target may filter on: `arch=arm64`, `os=linux`, `provider=cuda`, `sensor=rapl`, `runtime=trtexec`. */
export const CAPABILITY_KEYS = ['arch', 'os', 'provider', 'sensor', 'runtime'] as const;
/** A capability a target may filter on. */
export type CapabilityKey = (typeof CAPABILITY_KEYS)[number];

/**
 * Which agents a sweep targets. `all`, agent ids and labels are alternatives (an agent matching
 * any of them is picked); capability filters narrow that set, all of them at once, so
 * `arch=arm64,provider=cuda` means "arm64 devices with CUDA".
 */
export type TargetSelector =
  | { kind: 'all' }
  | { kind: 'agent'; agentId: string }
  | { kind: 'label'; key: string; value: string }
  | { kind: 'capability'; key: CapabilityKey; value: string };

const AGENT_ID = /^[A-Za-z0-9_-]{1,64}$/;
const LABEL = /^label:(?<key>[^=\s]+)=(?<value>.*)$/;
const CAPABILITY = /^(?<key>[a-z]+)=(?<value>\S+)$/;

/**
 * Parses target tokens: `all`, an agent id, or `label:key=value`. Thrown ({@link DomainError}
 * `invalid_argument`, field `targets`) for a token that is none of these.
 */
export function parseTargets(tokens: readonly string[]): TargetSelector[] {
  if (tokens.length === 0) return [{ kind: 'all' }];
  return tokens.map((token): TargetSelector => {
    if (token === 'all') return { kind: 'all' };
    const label = LABEL.exec(token)?.groups;
    if (label?.key !== undefined && label.value !== undefined) return { kind: 'label', key: label.key, value: label.value };
    const capability = CAPABILITY.exec(token)?.groups;
    if (capability?.key !== undefined && capability.value !== undefined) {
      if (!(CAPABILITY_KEYS as readonly string[]).includes(capability.key)) {
        throw new DomainError(DomainErrorCode.InvalidArgument, `target ${JSON.stringify(token)}: unknown capability ${JSON.stringify(capability.key)} (known: ${CAPABILITY_KEYS.join(', ')}; labels are "label:key=value")`, { field: 'targets' });
      }
      return { kind: 'capability', key: capability.key as CapabilityKey, value: capability.value };
    }
    if (AGENT_ID.test(token)) return { kind: 'agent', agentId: token };
    throw new DomainError(DomainErrorCode.InvalidArgument, `target ${JSON.stringify(token)} is not "all", an agent id ([A-Za-z0-9_-]{1,64}), "label:key=value" or a capability (${CAPABILITY_KEYS.map((k) => `${k}=...`).join(', ')})`, { field: 'targets' });
  });
}

/** The lower-case name of an agent state (`idle`, `busy`, ..., `unspecified`). */
export function agentStateName(state: AgentState): string {
  return agentStateToJSON(state).replace(/^AGENT_STATE_/, '').toLowerCase();
}

/** Whether an agent's last heartbeat is older than the stale limit. */
export function isStale(agent: Pick<AgentRecord, 'heartbeatAtUnixMs'>, nowMs: number, staleAfterMs: number): boolean {
  return nowMs - agent.heartbeatAtUnixMs > staleAfterMs;
}

/** Why an agent cannot take new jobs, or undefined when it can. */
export function ineligibility(agent: AgentRecord, provider: string, nowMs: number, staleAfterMs: number): string | undefined {
  if (isStale(agent, nowMs, staleAfterMs)) return 'its heartbeat is stale';
  const state = agent.state;
  // Only devices whose last health check verified here take work (checking, failed or not matching the reference: none).
  const health = verifyHealth(agent);
  if (state === AgentState.AGENT_STATE_CHECKING || (state === AgentState.AGENT_STATE_UNHEALTHY && health.status === 'failed')) return `it is ${agentStateName(state)} (${health.reason})`;
  if (state !== AgentState.AGENT_STATE_IDLE && state !== AgentState.AGENT_STATE_BUSY && state !== AgentState.AGENT_STATE_UNSPECIFIED) return `it is ${agentStateName(state)}`;
  if (healthBlocksWork(health)) return `it is unhealthy (${health.reason})`;
  // An agent that lists no providers predates the field; every onnxruntime build has the CPU EP.
  const providers = agent.capabilities?.executionProviders.length ? agent.capabilities.executionProviders : ['cpu'];
  if (!providers.includes(provider)) return `it has no ${provider} execution provider (it has ${providers.join(', ')})`;
  return undefined;
}

/**
 * The agents the selectors pick, in registry order, among those that can take jobs now
 * (fresh heartbeat, idle or busy, with the execution provider). Thrown ({@link DomainError}
 * `no_matching_agent`, field `targets`) when an agent named by id cannot take jobs, or
 * when nothing matches at all.
 */
export function matchAgents(agents: readonly AgentRecord[], selectors: readonly TargetSelector[], provider: string, nowMs: number, staleAfterMs: number): AgentRecord[] {
  const eligible = agents.filter((a) => ineligibility(a, provider, nowMs, staleAfterMs) === undefined);
  for (const selector of selectors) {
    if (selector.kind !== 'agent') continue;
    const agent = agents.find((a) => a.agentId === selector.agentId);
    if (!agent) throw new DomainError(DomainErrorCode.NoMatchingAgent, `agent ${JSON.stringify(selector.agentId)} is not registered`, { field: 'targets' });
    const why = ineligibility(agent, provider, nowMs, staleAfterMs);
    if (why) throw new DomainError(DomainErrorCode.NoMatchingAgent, `agent ${JSON.stringify(selector.agentId)} cannot take jobs: ${why}`, { field: 'targets' });
  }
  const filters = selectors.filter((s): s is Extract<TargetSelector, { kind: 'capability' }> => s.kind === 'capability');
  const alternatives = selectors.filter((s): s is Exclude<TargetSelector, { kind: 'capability' }> => s.kind !== 'capability');
  // Capability filters alone narrow the whole fleet.
  const picks = alternatives.length > 0 ? alternatives : [{ kind: 'all' } as const];
  const matched = eligible.filter((agent) => selects(agent, filters, picks));
  if (matched.length === 0) {
    // Name the agents the targets would pick but that cannot take jobs now (checking, unhealthy, ...), with why.
    const blocked = agents
      .filter((a) => !eligible.includes(a) && selects(a, filters, picks))
      .map((a) => `${a.agentId} ${ineligibility(a, provider, nowMs, staleAfterMs) ?? ''}`.trim());
    const summary =
      agents.length === 0
        ? 'no agent is registered'
        : `${agents.length} registered, ${eligible.length} able to take jobs, none matching${blocked.length > 0 ? `; matched but not eligible: ${blocked.join('; ')}` : ''}`;
    throw new DomainError(DomainErrorCode.NoMatchingAgent, `no agent matches targets ${selectors.map(describe).join(', ')} (${summary})`, { field: 'targets' });
  }
  return matched;
}

/** Whether the capability filters (all of them) and the alternatives (any of them) pick an agent. */
function selects(agent: AgentRecord, filters: ReadonlyArray<Extract<TargetSelector, { kind: 'capability' }>>, picks: ReadonlyArray<Exclude<TargetSelector, { kind: 'capability' }>>): boolean {
  return (
    filters.every((f) => hasCapability(agent, f.key, f.value)) &&
    picks.some((s) => {
      switch (s.kind) {
        case 'all':
          return true;
        case 'agent':
          return agent.agentId === s.agentId;
        case 'label':
          return agent.labels[s.key] === s.value;
      }
    })
  );
}

function describe(selector: TargetSelector): string {
  switch (selector.kind) {
    case 'all':
      return 'all';
    case 'agent':
      return selector.agentId;
    case 'label':
      return `label:${selector.key}=${selector.value}`;
    case 'capability':
      return `${selector.key}=${selector.value}`;
  }
}

/** Whether an agent advertises a capability (case-insensitive values: `provider=CUDA` is `cuda`). */
export function hasCapability(agent: AgentRecord, key: CapabilityKey, value: string): boolean {
  const caps = agent.capabilities;
  const want = value.toLowerCase();
  switch (key) {
    case 'arch':
      return caps?.arch.toLowerCase() === want;
    case 'os':
      return caps?.os.toLowerCase() === want;
    case 'provider':
      return (caps?.executionProviders.length ? caps.executionProviders : ['cpu']).some((p) => p.toLowerCase() === want);
    case 'sensor':
      return (caps?.sensors ?? []).some((s) => s.toLowerCase() === want);
    case 'runtime':
      return (caps?.inventory?.installedRuntimes ?? []).some((r) => r.tool.toLowerCase() === want);
  }
}

/** Whether an agent advertises an external tool found on its PATH. */
export function hasExternalRuntime(agent: AgentRecord, tool: string): boolean {
  return (agent.capabilities?.inventory?.installedRuntimes ?? []).some((r) => r.tool === tool);
}

/**
 * Keeps the matched agents that have the external tool a sweep asks for (all of them when it
 * asks for none). Thrown ({@link DomainError} `no_matching_agent`, field `runtime`) when an
 * agent named by id lacks the tool, or when none of the matched agents has it.
 */
export function requireExternalRuntime(matched: readonly AgentRecord[], selectors: readonly TargetSelector[], tool: string | undefined): AgentRecord[] {
  if (tool === undefined) return [...matched];
  for (const selector of selectors) {
    if (selector.kind !== 'agent') continue;
    const agent = matched.find((a) => a.agentId === selector.agentId);
    if (agent && !hasExternalRuntime(agent, tool)) throw new DomainError(DomainErrorCode.NoMatchingAgent, `agent ${JSON.stringify(selector.agentId)} has no ${tool} on its PATH`, { field: 'runtime' });
  }
  const withTool = matched.filter((a) => hasExternalRuntime(a, tool));
  if (withTool.length === 0) {
    throw new DomainError(DomainErrorCode.NoMatchingAgent, `none of the ${matched.length} agent(s) matching the targets has ${tool} installed (agents list the external runtimes found on their PATH)`, { field: 'runtime' });
  }
  return withTool;
}
