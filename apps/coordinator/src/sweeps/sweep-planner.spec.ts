import { describe, expect, it } from 'vitest';
import { AgentRecord, AgentState, TensorDataType } from '@benchfarm/protocol';
import { modelNameOf, planConfigSearch, planSweep } from './sweep-planner';
import { parseSweepRequest } from './sweep-request';
import type { VariantRecord } from '../storage/records';

describe('modelNameOf', () => {
  it.each([
    ['ch_PP-OCRv4_det_infer.onnx', 'ch_PP-OCRv4_det_infer'],
    ['/models/yolox nano (v2).ONNX', 'yolox_nano__v2_'],
    ['C:\\models\\m.onnx', 'm'],
    ['../../etc/passwd', 'passwd'],
    ['.hidden.onnx', 'hidden'],
    ['', 'model'],
    ['ü.onnx', 'model'],
  ])('%s -> %s', (input, expected) => expect(modelNameOf(input)).toBe(expected));
});

const agent = (agentId: string, name: string): AgentRecord => ({ agentId, name, agentVersion: '1', labels: {}, capabilities: undefined, state: AgentState.AGENT_STATE_IDLE, currentJobId: '', startedAtUnixMs: 0, heartbeatAtUnixMs: 0 });

describe('planSweep', () => {

  it('crosses variants x agents variant-major, taking the batch from the first input', () => {
    let n = 0;
    const plan = planSweep({
      sweepId: 's1',
      name: 'n',
      nowMs: 42,
      model: { name: 'm', sha256: 'a'.repeat(64), sizeBytes: 1 },
      inputs: [{ name: 'x', dataType: TensorDataType.TENSOR_DATA_TYPE_FLOAT32, shape: [4, 3, 8, 8] }],
      request: parseSweepRequest({ threads: 2, compare: 'none' }),
      agents: [agent('a1', 'One'), agent('a2', '')],
      variants: [
        { name: 'fp32', sha256: 'b'.repeat(64), sizeBytes: 1, recipe: {} },
        { name: 'ort-basic', sha256: 'c'.repeat(64), sizeBytes: 1, recipe: { level: 'basic' } },
      ],
      newJobId: () => `j${++n}`,
    });
    expect(plan.sweep.jobs).toEqual([
      { id: 'j1', variant: 'fp32', agentId: 'a1', agentName: 'One' },
      { id: 'j2', variant: 'fp32', agentId: 'a2', agentName: 'a2' },
      { id: 'j3', variant: 'ort-basic', agentId: 'a1', agentName: 'One' },
      { id: 'j4', variant: 'ort-basic', agentId: 'a2', agentName: 'a2' },
    ]);
    expect(plan.sweep.settings).toMatchObject({ batch: 4, intraOpThreads: 2 });
    expect(plan.jobs[3]).toMatchObject({ jobId: 'j4', agentId: 'a2', batch: 4, intraOpThreads: 2, createdAtUnixMs: 42, variant: { variant: 'ort-basic', recipe: { level: 'basic' } } });
  });
});

describe('configuration search planning', () => {
  const device = (agentId: string, cpuCores: number, executionProviders: string[], cpuPhysicalCores?: number): AgentRecord =>
    AgentRecord.fromPartial({
      agentId,
      name: `${agentId}-box`,
      capabilities: { arch: 'x64', os: 'linux', cpuCores, executionProviders, ...(cpuPhysicalCores === undefined ? {} : { cpuPhysicalCores }) },
      state: AgentState.AGENT_STATE_IDLE,
    });
  const variants: VariantRecord[] = [
    { name: 'fp32', sha256: 'b'.repeat(64), sizeBytes: 1, recipe: {} },
    { name: 'int8-static', sha256: 'c'.repeat(64), sizeBytes: 1, recipe: { calibration: 'random' } },
  ];
  const plan = (body: Record<string, unknown>, agents: AgentRecord[]) => {
    let n = 0;
    return planSweep({
      sweepId: 's1',
      name: 'n',
      nowMs: 7,
      model: { name: 'm', sha256: 'a'.repeat(64), sizeBytes: 1 },
      inputs: [{ name: 'x', dataType: TensorDataType.TENSOR_DATA_TYPE_FLOAT32, shape: [1, 3, 8, 8] }],
      request: parseSweepRequest(body),
      agents,
      variants,
      newJobId: () => `j${++n}`,
    });
  };

  it('plans one search job per device carrying every variant, with the axes narrowed to that device, after the variant and comparison jobs', () => {
    const agents = [device('small', 2, ['cpu'], 1), device('gpu', 8, ['cpu', 'cuda'], 4)];
    const p = plan({ dimensions: 'provider=cpu,cuda;threads=auto,4;level=basic,all', latencyBoundMs: 30 }, agents);
    // 2 variants x 2 agents, 1 comparison job per agent, 1 search job per agent.
    expect(p.jobs).toHaveLength(4 + 2 + 2);
    const search = p.jobs.filter((j) => j.configSearch);
    expect(search.map((j) => j.agentId)).toEqual(['small', 'gpu']);
    const [small, gpu] = search.map((j) => j.configSearch!);
    expect(small!.axes).toEqual([
      { name: 'provider', values: ['cpu'] },
      { name: 'intra_op_threads', values: ['1'] },
      { name: 'graph_optimization_level', values: ['basic', 'all'] },
    ]);
    expect(small!.skipped.map((s) => `${s.axis}=${s.value}: ${s.reason}`)).toEqual([
      'provider=cuda: this device cannot create a cuda session (it reports cpu)',
      "intra_op_threads=4: 4 threads exceed this device's 2 logical cores",
    ]);
    expect(gpu!.axes).toEqual([
      { name: 'provider', values: ['cpu', 'cuda'] },
      { name: 'intra_op_threads', values: ['1', '2', '3', '4'] },
      { name: 'graph_optimization_level', values: ['basic', 'all'] },
    ]);
    expect(gpu!.skipped).toEqual([]);
    for (const cs of [small!, gpu!]) {
      expect(cs).toMatchObject({ strategy: 'grid', objective: 'p50_latency', latencyBoundMs: 30, budgetMs: 30 * 60_000, pointWarmupMs: 500, pointDurationMs: 2000, pointMinQueries: 10, confirmRounds: 10 });
      expect(cs.baseline).toMatchObject({ executionProvider: 'cpu', intraOpThreads: 0, executionMode: 'sequential', graphOptimizationLevel: 'all' });
      expect(cs.baseline?.id).toMatch(/^c[0-9a-f]{10}$/);
      expect(cs.variants.map((v) => v.variant)).toEqual(['fp32', 'int8-static']);
    }
    expect(search[0]!.variant?.variant).toBe('fp32');
    // The settings record the request and each device's share, with the job ids.
    const settings = p.sweep.settings.configSearch!;
    expect(settings).toMatchObject({ strategy: 'grid', objective: 'p50_latency', budgetMinutes: 30, latencyBoundMs: 30 });
    expect(settings.axes).toEqual([
      { name: 'provider', values: ['cpu', 'cuda'] },
      { name: 'intra_op_threads', values: ['auto', '4'] },
      { name: 'graph_optimization_level', values: ['basic', 'all'] },
    ]);
    expect(settings.devices.map((d) => [d.agentId, d.agentName, d.jobId, d.points, d.measurements])).toEqual([
      ['small', 'small-box', search[0]!.jobId, 2, 4],
      ['gpu', 'gpu-box', search[1]!.jobId, 16, 32],
    ]);
    expect(settings.devices[1]!.estimatedMs).toBeGreaterThan(settings.devices[0]!.estimatedMs);
    // The comparison jobs stay as they were.
    expect(p.sweep.settings.comparisonJobs).toHaveLength(2);
  });

  it('gives no job to a device where no point remains, listing it with the reasons', () => {
    const p = plan({ dimensions: 'provider=cuda;threads=1,2', compare: 'none' }, [device('cpu-only', 4, ['cpu']), device('gpu', 4, ['cpu', 'cuda'])]);
    expect(p.jobs.filter((j) => j.configSearch).map((j) => j.agentId)).toEqual(['gpu']);
    const [cpuOnly] = p.sweep.settings.configSearch!.devices;
    expect(cpuOnly).toMatchObject({ agentId: 'cpu-only', points: 0, measurements: 0, estimatedMs: 0 });
    expect(cpuOnly!.jobId).toBeUndefined();
    expect(cpuOnly!.skipped).toEqual([{ axis: 'provider', value: 'cuda', reason: 'this device cannot create a cuda session (it reports cpu)', label: '' }]);
    expect(cpuOnly!.notes).toEqual(['no search on this device: no value of provider can run here (see skipped)']);
    expect(p.sweep.jobs).toHaveLength(2 * 2 + 1);
  });

  it('uses throughput as the objective in the offline scenario and says when auto ran to the logical cores', () => {
    const p = plan({ scenario: 'offline', dimensions: 'threads=auto;batch=1,4', search: 'quick' }, [device('a', 2, ['cpu'])]);
    const cs = p.jobs.find((j) => j.configSearch)!.configSearch!;
    expect(cs).toMatchObject({ objective: 'throughput', strategy: 'quick', latencyBoundMs: 0 });
    expect(p.sweep.settings.configSearch!.devices[0]!.notes).toEqual(['intra_op_threads=auto ran 1..2 (logical cores): the device did not report its physical cores']);
  });

  it('records a quick search over its budget with its worst case instead of refusing it', () => {
    const p = plan({ dimensions: 'threads=1,2;level=disabled,basic,extended,all', search: 'quick', budgetMinutes: 0.1, compare: 'none' }, [device('a', 2, ['cpu'])]);
    const d = p.sweep.settings.configSearch!.devices[0]!;
    expect(d.jobId).toBeDefined();
    expect(d.estimatedMs).toBeGreaterThan(6000);
    expect(d.notes.join(' ')).toMatch(/quick search: its worst case \(\d+ measurements, [\d.]+ min\) exceeds the budget of 0\.10 min/);
  });

  it('skips a device that reported no capabilities, saying so', () => {
    const devices = planConfigSearch(parseSweepRequest({ dimensions: 'threads=1,2' }).configSearch!, [agent('bare', 'bare')], 1);
    expect(devices[0]).toMatchObject({ hasJob: false, notes: ['no search on this device: it reported no capabilities'] });
    expect(devices[0]!.skipped[0]).toMatchObject({ axis: 'intra_op_threads', value: '1,2' });
  });
});
