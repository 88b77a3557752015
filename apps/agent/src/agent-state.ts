import { AgentState } from '@benchfarm/protocol';

/**
 * Where the agent is in its life. One value replaces the flags it used to keep apart (the
 * registry state, "stopping", "draining", "a health check is due"): every change goes through
 * {@link AGENT_TRANSITIONS}, and what the coordinator sees derives from it ({@link registryStateOf}).
 *
 * - `starting`: connecting and detecting the device; nothing written to the registry yet.
 * - `checking`: a health check is due or running; nothing is pulled.
 * - `idle`: pulling; no job holds the device.
 * - `busy`: one leased job runs.
 * - `unhealthy`: the last health check failed (retried with backoff), or the coordinator could not
 *   be asked for a lease.
 * - `draining`: finishes the running job, pulls nothing more, then closes.
 * - `stopping`: pulls nothing more; a running job is aborted and goes back to the queue.
 * - `stopped`: every connection closed.
 */
export type AgentPhase = 'starting' | 'checking' | 'idle' | 'busy' | 'unhealthy' | 'draining' | 'stopping' | 'stopped';

/** What happens to the agent. */
export type AgentEvent =
  /** The first registry entry is written; the first health check comes next. */
  | 'registered'
  /** A health check is due (after a device-level failure) or starts. */
  | 'checkDue'
  | 'checkPassed'
  | 'checkFailed'
  /** The coordinator granted a lease: the job runs. */
  | 'jobLeased'
  /** The running job is settled (acked, given back or dropped). */
  | 'jobEnded'
  /** The coordinator could not be asked for a lease; the job went back to the queue. */
  | 'coordinatorUnreachable'
  | 'drain'
  | 'stop'
  /** Every connection is closed. */
  | 'closed';

/**
 * The transition table: for each phase, the phase each event leads to. An event a phase does not
 * list is illegal there ({@link IllegalAgentTransitionError}). A draining or stopping agent stays
 * so whatever the health check or the job says: the registry keeps showing DRAINING, and the
 * loop that pulls has already ended.
 */
export const AGENT_TRANSITIONS: { readonly [P in AgentPhase]: Readonly<Partial<Record<AgentEvent, AgentPhase>>> } = {
  starting: { registered: 'checking', drain: 'draining', stop: 'stopping' },
  checking: { checkDue: 'checking', checkPassed: 'idle', checkFailed: 'unhealthy', drain: 'draining', stop: 'stopping' },
  idle: { checkDue: 'checking', jobLeased: 'busy', coordinatorUnreachable: 'unhealthy', drain: 'draining', stop: 'stopping' },
  busy: { jobEnded: 'idle', drain: 'draining', stop: 'stopping' },
  unhealthy: { checkDue: 'checking', jobLeased: 'busy', coordinatorUnreachable: 'unhealthy', drain: 'draining', stop: 'stopping' },
  draining: {
    checkDue: 'draining',
    checkPassed: 'draining',
    checkFailed: 'draining',
    jobLeased: 'draining',
    jobEnded: 'draining',
    coordinatorUnreachable: 'draining',
    drain: 'draining',
    stop: 'stopping',
    closed: 'stopped',
  },
  stopping: {
    checkDue: 'stopping',
    checkPassed: 'stopping',
    checkFailed: 'stopping',
    jobLeased: 'stopping',
    jobEnded: 'stopping',
    coordinatorUnreachable: 'stopping',
    drain: 'stopping',
    stop: 'stopping',
    closed: 'stopped',
  },
  stopped: {},
};

/** Thrown when an event is not allowed in the agent's phase: a bug in the agent, never an input error. */
export class IllegalAgentTransitionError extends Error {
  override name = 'IllegalAgentTransitionError';
  constructor(
    readonly from: AgentPhase,
    readonly event: AgentEvent,
  ) {
    const allowed = Object.keys(AGENT_TRANSITIONS[from]);
    super(`agent state machine: event "${event}" is not allowed in phase "${from}" (allowed: ${allowed.length > 0 ? allowed.join(', ') : 'none'})`);
  }
}

/** The phase `event` leads to from `from`. Pure. Thrown: {@link IllegalAgentTransitionError}. */
export function nextPhase(from: AgentPhase, event: AgentEvent): AgentPhase {
  const to = AGENT_TRANSITIONS[from][event];
  if (to === undefined) throw new IllegalAgentTransitionError(from, event);
  return to;
}

/**
 * The state the registry (and so the coordinator) shows for a phase. Pure. `starting` reads as
 * CHECKING (the agent registers as CHECKING; its first check runs before the first pull); a
 * stopping agent keeps reading as DRAINING until its entry is removed, so that nothing more is
 * planned on it.
 */
export function registryStateOf(phase: AgentPhase): AgentState {
  switch (phase) {
    case 'starting':
    case 'checking':
      return AgentState.AGENT_STATE_CHECKING;
    case 'idle':
      return AgentState.AGENT_STATE_IDLE;
    case 'busy':
      return AgentState.AGENT_STATE_BUSY;
    case 'unhealthy':
      return AgentState.AGENT_STATE_UNHEALTHY;
    case 'draining':
    case 'stopping':
      return AgentState.AGENT_STATE_DRAINING;
    case 'stopped':
      return AgentState.AGENT_STATE_OFFLINE;
    default:
      return assertNever(phase);
  }
}

/** Whether the agent in this phase may still pull a job (the pull loop runs while it may). Pure. */
export function mayPull(phase: AgentPhase): boolean {
  return phase === 'checking' || phase === 'idle' || phase === 'unhealthy';
}

/** The agent's one state: its phase, moved only through the transition table. */
export class AgentStateMachine {
  private current: AgentPhase = 'starting';

  constructor(private readonly onChange: (from: AgentPhase, event: AgentEvent, to: AgentPhase) => void = () => undefined) {}

  get phase(): AgentPhase {
    return this.current;
  }

  /** Whether the pull loop goes on: not draining, stopping or stopped. */
  get pulling(): boolean {
    return mayPull(this.current);
  }

  /** Applies `event`; returns the new phase. Thrown: {@link IllegalAgentTransitionError} (the phase is unchanged). */
  fire(event: AgentEvent): AgentPhase {
    const from = this.current;
    this.current = nextPhase(from, event);
    if (this.current !== from) this.onChange(from, event, this.current);
    return this.current;
  }
}

function assertNever(value: never): never {
  throw new Error(`unexpected agent phase ${String(value)}`);
}
