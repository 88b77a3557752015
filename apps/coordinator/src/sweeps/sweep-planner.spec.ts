import { describe, expect, it } from 'vitest';
import { AgentState, TensorDataType, type AgentRecord } from '@benchfarm/protocol';
import { modelNameOf, planSweep } from './sweep-planner';
import { parseSweepRequest } from './sweep-request';

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

describe('planSweep', () => {
  const agent = (agentId: string, name: string): AgentRecord => ({ agentId, name, agentVersion: '1', labels: {}, capabilities: undefined, state: AgentState.AGENT_STATE_IDLE, currentJobId: '', startedAtUnixMs: 0, heartbeatAtUnixMs: 0 });

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
