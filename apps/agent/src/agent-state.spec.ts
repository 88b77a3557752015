import { describe, expect, it } from 'vitest';
import { AgentState } from '@benchfarm/protocol';
import { AGENT_TRANSITIONS, AgentStateMachine, IllegalAgentTransitionError, mayPull, nextPhase, registryStateOf, type AgentEvent, type AgentPhase } from './agent-state';

const PHASES: AgentPhase[] = ['starting', 'checking', 'idle', 'busy', 'unhealthy', 'draining', 'stopping', 'stopped'];
const EVENTS: AgentEvent[] = ['registered', 'checkDue', 'checkPassed', 'checkFailed', 'jobLeased', 'jobEnded', 'coordinatorUnreachable', 'drain', 'stop', 'closed'];

// The whole table, written out: every (phase, event) pair, legal ones with their target, the rest '-' (illegal).
const EXPECTED: Record<AgentPhase, Record<AgentEvent, AgentPhase | '-'>> = {
  //          registered   checkDue     checkPassed  checkFailed   jobLeased    jobEnded     coordUnreach   drain        stop        closed
  starting: { registered: 'checking', checkDue: '-', checkPassed: '-', checkFailed: '-', jobLeased: '-', jobEnded: '-', coordinatorUnreachable: '-', drain: 'draining', stop: 'stopping', closed: '-' },
  checking: { registered: '-', checkDue: 'checking', checkPassed: 'idle', checkFailed: 'unhealthy', jobLeased: '-', jobEnded: '-', coordinatorUnreachable: '-', drain: 'draining', stop: 'stopping', closed: '-' },
  idle: { registered: '-', checkDue: 'checking', checkPassed: '-', checkFailed: '-', jobLeased: 'busy', jobEnded: '-', coordinatorUnreachable: 'unhealthy', drain: 'draining', stop: 'stopping', closed: '-' },
  busy: { registered: '-', checkDue: '-', checkPassed: '-', checkFailed: '-', jobLeased: '-', jobEnded: 'idle', coordinatorUnreachable: '-', drain: 'draining', stop: 'stopping', closed: '-' },
  unhealthy: { registered: '-', checkDue: 'checking', checkPassed: '-', checkFailed: '-', jobLeased: 'busy', jobEnded: '-', coordinatorUnreachable: 'unhealthy', drain: 'draining', stop: 'stopping', closed: '-' },
  draining: { registered: '-', checkDue: 'draining', checkPassed: 'draining', checkFailed: 'draining', jobLeased: 'draining', jobEnded: 'draining', coordinatorUnreachable: 'draining', drain: 'draining', stop: 'stopping', closed: 'stopped' },
  stopping: { registered: '-', checkDue: 'stopping', checkPassed: 'stopping', checkFailed: 'stopping', jobLeased: 'stopping', jobEnded: 'stopping', coordinatorUnreachable: 'stopping', drain: 'stopping', stop: 'stopping', closed: 'stopped' },
  stopped: { registered: '-', checkDue: '-', checkPassed: '-', checkFailed: '-', jobLeased: '-', jobEnded: '-', coordinatorUnreachable: '-', drain: '-', stop: '-', closed: '-' },
};

describe('agent transition table', () => {
  const cases = PHASES.flatMap((from) => EVENTS.map((event) => ({ from, event, to: EXPECTED[from][event] })));
  it.each(cases)('$from --$event--> $to', ({ from, event, to }) => {
    if (to === '-') {
      expect(() => nextPhase(from, event)).toThrow(IllegalAgentTransitionError);
      expect(() => nextPhase(from, event)).toThrow(`event "${event}" is not allowed in phase "${from}"`);
    } else {
      expect(nextPhase(from, event)).toBe(to);
    }
  });

  it('lists exactly the legal transitions above', () => {
    for (const from of PHASES) {
      const legal = Object.fromEntries(EVENTS.filter((e) => EXPECTED[from][e] !== '-').map((e) => [e, EXPECTED[from][e]]));
      expect(AGENT_TRANSITIONS[from]).toEqual(legal);
    }
  });

  it('names what is allowed in the error', () => {
    expect(() => nextPhase('busy', 'jobLeased')).toThrow('(allowed: jobEnded, drain, stop)');
    expect(() => nextPhase('stopped', 'stop')).toThrow('(allowed: none)');
  });
});

describe('registry state of a phase', () => {
  it.each<[AgentPhase, AgentState]>([
    ['starting', AgentState.AGENT_STATE_CHECKING],
    ['checking', AgentState.AGENT_STATE_CHECKING],
    ['idle', AgentState.AGENT_STATE_IDLE],
    ['busy', AgentState.AGENT_STATE_BUSY],
    ['unhealthy', AgentState.AGENT_STATE_UNHEALTHY],
    ['draining', AgentState.AGENT_STATE_DRAINING],
    ['stopping', AgentState.AGENT_STATE_DRAINING],
    ['stopped', AgentState.AGENT_STATE_OFFLINE],
  ])('%s -> %s', (phase, state) => {
    expect(registryStateOf(phase)).toBe(state);
  });

  it('pulls only while checking, idle or unhealthy', () => {
    expect(PHASES.filter(mayPull)).toEqual(['checking', 'idle', 'unhealthy']);
  });
});

describe('AgentStateMachine', () => {
  it('walks a life: start, check, a job that asks for a check, drain, close', () => {
    const seen: string[] = [];
    const m = new AgentStateMachine((from, event, to) => seen.push(`${from}-${event}-${to}`));
    expect(m.phase).toBe('starting');
    for (const e of ['registered', 'checkDue', 'checkPassed', 'jobLeased', 'jobEnded', 'checkDue', 'checkFailed', 'checkDue', 'checkPassed', 'drain', 'checkDue', 'closed'] as AgentEvent[]) m.fire(e);
    expect(m.phase).toBe('stopped');
    expect(m.pulling).toBe(false);
    // Only changes are reported (checking -> checking and draining -> draining are not).
    expect(seen).toEqual([
      'starting-registered-checking',
      'checking-checkPassed-idle',
      'idle-jobLeased-busy',
      'busy-jobEnded-idle',
      'idle-checkDue-checking',
      'checking-checkFailed-unhealthy',
      'unhealthy-checkDue-checking',
      'checking-checkPassed-idle',
      'idle-drain-draining',
      'draining-closed-stopped',
    ]);
  });

  it('keeps its phase when an event is illegal', () => {
    const m = new AgentStateMachine();
    m.fire('registered');
    m.fire('checkPassed');
    m.fire('jobLeased');
    expect(() => m.fire('jobLeased')).toThrow(IllegalAgentTransitionError);
    expect(m.phase).toBe('busy');
  });
});
