import { describe, expect, it } from 'vitest';
import { AgentState, type AgentRecord, type HealthCheckReport } from '@benchfarm/protocol';
import { REFERENCE_MODEL_ID, referenceModel } from '@benchfarm/suite';
import { DomainError, DomainErrorCode } from '../common/domain-error';
import { passingHealthReport } from '../testing/fake-agent';
import { ineligibility, matchAgents, parseTargets } from './agent-matcher';

const NOW = 1_000_000;
const STALE_MS = 15_000;

function agent(agentId: string, extra: Partial<AgentRecord> = {}): AgentRecord {
  return {
    agentId,
    name: agentId.toUpperCase(),
    agentVersion: '1',
    labels: {},
    capabilities: { arch: 'x64', os: 'linux', osRelease: '', cpuModel: '', cpuCores: 1, memoryBytes: 1, executionProviders: ['cpu'], sensors: [], onnxruntimeVersion: '', hostname: '' },
    state: AgentState.AGENT_STATE_IDLE,
    currentJobId: '',
    startedAtUnixMs: 0,
    heartbeatAtUnixMs: NOW - 1000,
    health: passingHealthReport(NOW - 5_000),
    ...extra,
  };
}

const registry = [
  agent('jetson-1', { labels: { kind: 'jetson', site: 'lab' } }),
  agent('x86-1', { labels: { kind: 'x86', site: 'lab' }, state: AgentState.AGENT_STATE_BUSY }),
  agent('pi-1', { labels: { kind: 'pi' }, heartbeatAtUnixMs: NOW - 60_000 }),
  agent('gpu-1', { labels: { kind: 'gpu' }, state: AgentState.AGENT_STATE_DRAINING }),
];

const ids = (agents: AgentRecord[]): string[] => agents.map((a) => a.agentId);

describe('parseTargets', () => {
  it.each([
    [[], [{ kind: 'all' }]],
    [['all'], [{ kind: 'all' }]],
    [['x86-1', 'label:site=lab'], [{ kind: 'agent', agentId: 'x86-1' }, { kind: 'label', key: 'site', value: 'lab' }]],
    [['label:note=a=b'], [{ kind: 'label', key: 'note', value: 'a=b' }]],
  ])('%j', (tokens, expected) => expect(parseTargets(tokens)).toEqual(expected));

  it.each([['bad id!'], ['label:=x'], ['label:novalue'], ['a'.repeat(65)]])('refuses %s naming targets', (token) => {
    expect(() => parseTargets([token])).toThrow(expect.objectContaining({ code: DomainErrorCode.InvalidArgument, field: 'targets' }));
  });
});

describe('matchAgents', () => {
  it.each([
    ['all: fresh idle or busy agents', [{ kind: 'all' as const }], ['jetson-1', 'x86-1']],
    ['by label', [{ kind: 'label' as const, key: 'kind', value: 'x86' }], ['x86-1']],
    ['union of selectors, registry order', [{ kind: 'agent' as const, agentId: 'x86-1' }, { kind: 'label' as const, key: 'kind', value: 'jetson' }], ['jetson-1', 'x86-1']],
  ])('%s', (_name, selectors, expected) => {
    expect(ids(matchAgents(registry, selectors, 'cpu', NOW, STALE_MS))).toEqual(expected);
  });

  it.each([
    ['a label nobody has', [{ kind: 'label' as const, key: 'kind', value: 'tpu' }], /no agent matches targets label:kind=tpu/],
    ['a stale agent named by id', [{ kind: 'agent' as const, agentId: 'pi-1' }], /pi-1.*stale/],
    ['a draining agent named by id', [{ kind: 'agent' as const, agentId: 'gpu-1' }], /gpu-1.*draining/],
    ['an unknown agent id', [{ kind: 'agent' as const, agentId: 'ghost' }], /ghost.*not registered/],
  ])('refuses %s with no_matching_agent', (_name, selectors, message) => {
    let error: unknown;
    try {
      matchAgents(registry, selectors, 'cpu', NOW, STALE_MS);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(DomainError);
    expect(error).toMatchObject({ code: DomainErrorCode.NoMatchingAgent, field: 'targets' });
    expect((error as Error).message).toMatch(message);
  });

  it('requires the execution provider; an agent listing none is taken as CPU-only', () => {
    expect(ineligibility(agent('a', { capabilities: undefined }), 'cpu', NOW, STALE_MS)).toBeUndefined();
    expect(ineligibility(agent('a'), 'cuda', NOW, STALE_MS)).toMatch(/no cuda execution provider/);
  });
});

describe('targeting by capability', () => {
  const fleet = [
    agent('orin-1', { capabilities: { ...agent('x').capabilities!, arch: 'arm64', executionProviders: ['cpu', 'cuda', 'tensorrt'], sensors: ['ina3221-hwmon'] } }),
    agent('pi5-1', { capabilities: { ...agent('x').capabilities!, arch: 'arm64', executionProviders: ['cpu'] }, labels: { site: 'lab' } }),
    agent('srv-1', { capabilities: { ...agent('x').capabilities!, arch: 'x64', executionProviders: ['cpu', 'cuda'], sensors: ['rapl'] }, labels: { site: 'lab' } }),
  ];

  it('parses key=value tokens as capability filters and refuses unknown keys naming the field', () => {
    expect(parseTargets(['arch=arm64', 'provider=cuda'])).toEqual([
      { kind: 'capability', key: 'arch', value: 'arm64' },
      { kind: 'capability', key: 'provider', value: 'cuda' },
    ]);
    expect(() => parseTargets(['colour=blue'])).toThrow(expect.objectContaining({ code: DomainErrorCode.InvalidArgument, field: 'targets', message: expect.stringContaining('unknown capability "colour"') }));
  });

  it.each([
    [['arch=arm64', 'provider=cuda'], ['orin-1']],
    [['arch=arm64'], ['orin-1', 'pi5-1']],
    [['provider=CUDA'], ['orin-1', 'srv-1']],
    [['label:site=lab', 'provider=cuda'], ['srv-1']],
    [['sensor=rapl'], ['srv-1']],
  ])('%j picks %j (capability filters all apply; ids and labels are alternatives)', (tokens, expected) => {
    expect(ids(matchAgents(fleet, parseTargets(tokens), 'cpu', NOW, STALE_MS))).toEqual(expected);
  });

  it('says so when no device has the capability', () => {
    expect(() => matchAgents(fleet, parseTargets(['arch=riscv64']), 'cpu', NOW, STALE_MS)).toThrow(expect.objectContaining({ code: DomainErrorCode.NoMatchingAgent, field: 'targets' }));
  });
});

describe('health: only agents whose last check verified take jobs', () => {
  const passed: HealthCheckReport = {
    referenceModelId: REFERENCE_MODEL_ID,
    referenceModelSha256: referenceModel().sha256,
    passed: true,
    error: '',
    outputs: Array.from(referenceModel().expected),
    durationMs: 900,
    inferenceMs: 0.3,
    ranAtUnixMs: NOW - 5_000,
    attempt: 1,
    trigger: 'joined',
    nextAttemptAtUnixMs: 0,
    executionProvider: 'cpu',
  };
  const fleet = [
    agent('ok-1', { labels: { pool: 'p' }, health: passed }),
    agent('checking-1', { labels: { pool: 'p' }, state: AgentState.AGENT_STATE_CHECKING }),
    agent('failed-1', { labels: { pool: 'p' }, state: AgentState.AGENT_STATE_UNHEALTHY, health: { ...passed, passed: false, outputs: [], error: 'health check process died: signal SIGSEGV', nextAttemptAtUnixMs: NOW + 5_000 } }),
    agent('liar-1', { labels: { pool: 'p' }, health: { ...passed, outputs: passed.outputs.map((v) => v * 1.01) } }),
    agent('silent-1', { labels: { pool: 'p' }, health: undefined }),
  ];

  it('picks the verified agent only', () => {
    expect(ids(matchAgents(fleet, parseTargets(['label:pool=p']), 'cpu', NOW, STALE_MS))).toEqual(['ok-1']);
  });

  it.each([
    ['checking-1', /^it is checking \(its health check is running\)$/],
    ['failed-1', /^it is unhealthy \(health check failed: health check process died: signal SIGSEGV\)$/],
    ['liar-1', /^it is unhealthy \(health check does not verify: outputs differ from the reference by /],
    ['silent-1', /^it is unhealthy \(the agent reports no health check \(upgrade it: agents before health checks get no work\)\)$/],
  ])('%s is not eligible: %s', (agentId, why) => {
    expect(ineligibility(fleet.find((a) => a.agentId === agentId)!, 'cpu', NOW, STALE_MS)).toMatch(why);
  });

  it('a sweep with no eligible agent is refused naming each matched agent and why', () => {
    let error: unknown;
    try {
      matchAgents(fleet.slice(1), parseTargets(['label:pool=p']), 'cpu', NOW, STALE_MS);
    } catch (err) {
      error = err;
    }
    expect(error).toMatchObject({ code: DomainErrorCode.NoMatchingAgent, field: 'targets' });
    const message = (error as Error).message;
    expect(message).toMatch(/^no agent matches targets label:pool=p \(4 registered, 0 able to take jobs, none matching; matched but not eligible: checking-1 it is checking/);
    expect(message).toContain('failed-1 it is unhealthy (health check failed: health check process died: signal SIGSEGV)');
    expect(message).toContain('liar-1 it is unhealthy (health check does not verify: outputs differ from the reference by');
    expect(message).toContain('silent-1 it is unhealthy (the agent reports no health check');
  });

  it('an agent named by id that is checking is refused with the reason', () => {
    expect(() => matchAgents(fleet, parseTargets(['checking-1']), 'cpu', NOW, STALE_MS)).toThrow(/agent "checking-1" cannot take jobs: it is checking/);
  });
});
