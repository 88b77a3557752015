import { describe, expect, it } from 'vitest';
import { makeNode } from '../passes/graph-edit';
import { onnx, type ModelProto, type NodeProto } from '../model-io/proto';
import { attributeNodes, nodeTimesFromProfile, OrtProfileError } from './ort-profile';

const run = (ts: number, dur: number) => ({ cat: 'Session', name: 'model_run', ts, dur });
const kernel = (node: string, op: string, ts: number, dur: number) => ({ cat: 'Node', name: `${node}_kernel_time`, ts, dur, args: { op_name: op } });

describe('nodeTimesFromProfile', () => {
  // The median is @benchfarm/numerics' (LoadGen p50): of two runs, the slower one, as the report's p50.
  it('takes each node\'s median kernel time over the runs after the warm-up ones and drops the rest', () => {
    const events = [
      { cat: 'Session', name: 'session_initialization', ts: 0, dur: 50 },
      run(100, 100),
      kernel('conv', 'Conv', 110, 80), // warm-up
      run(300, 100),
      kernel('conv', 'Conv', 310, 40),
      kernel('act', 'QuickGelu', 360, 10),
      run(500, 100),
      kernel('conv', 'Conv', 510, 60),
      kernel('act', 'QuickGelu', 560, 30),
    ];
    const t = nodeTimesFromProfile(events, 1);
    expect(t.runs).toBe(2);
    expect(t.nodes).toEqual([
      { node: 'conv', opType: 'Conv', us: 60 },
      { node: 'act', opType: 'QuickGelu', us: 30 },
    ]);
    expect(t.totalUs).toBe(90);
  });

  it('refuses a profile without a counted run', () => {
    expect(() => nodeTimesFromProfile([run(0, 10), kernel('a', 'Relu', 1, 1)], 1)).toThrow(OrtProfileError);
  });
});

function model(nodes: NodeProto[], initializers: string[] = []): ModelProto {
  return onnx.ModelProto.create({
    graph: { node: nodes, initializer: initializers.map((name) => onnx.TensorProto.create({ name, dataType: 1, dims: [1], floatData: [1] })), output: [{ name: 'y' }] },
  });
}

describe('attributeNodes', () => {
  // Source: conv -> SiLU (Sigmoid + Mul) -> Concat with a second conv -> Relu.
  const source = model(
    [
      makeNode('Conv', ['x', 'w1'], ['c1'], 'conv1'),
      makeNode('Sigmoid', ['c1'], ['s1'], 'sig1'),
      makeNode('Mul', ['c1', 's1'], ['a1'], 'mul1'),
      makeNode('Conv', ['a1', 'w2'], ['c2'], 'conv2'),
      makeNode('Relu', ['c2'], ['r2'], 'relu2'),
      makeNode('Concat', ['a1', 'r2'], ['y'], 'cat'),
    ],
    ['w1', 'w2'],
  );

  it('maps fused and NCHWc nodes back to their layers by name, output and data flow; reorders and Concat stay unattributed', () => {
    const optimized = model([
      makeNode('ReorderInput', ['x'], ['t0'], 'ReorderInput'),
      makeNode('Conv', ['t0', 'w1'], ['t1'], 'c1_nchwc'),
      makeNode('QuickGelu', ['t1'], ['t2'], 'mul1/QuickGeluFusion/'),
      makeNode('Conv', ['t2', 'w2'], ['t3'], 'c2_nchwc'),
      makeNode('Relu', ['t3'], ['t4'], 'relu_made_up'),
      makeNode('ReorderOutput', ['t4'], ['r2'], 'ReorderOutput_token_1'),
      makeNode('Concat', ['a1', 'r2'], ['y'], 'cat'),
    ]);
    const owner = attributeNodes(source, optimized, ['conv1', 'conv2']);
    expect(Object.fromEntries(owner)).toEqual({ c1_nchwc: 'conv1', 'mul1/QuickGeluFusion/': 'conv1', c2_nchwc: 'conv2', relu_made_up: 'conv2' });
  });

  it('gives a fused node (output renamed to the chain end) to the chain owner, and nothing to layers not asked for', () => {
    const optimized = model([makeNode('FusedConv', ['x', 'w1'], ['a1'], 'fused'), makeNode('Conv', ['a1', 'w2'], ['c2'], 'conv2'), makeNode('Relu', ['c2'], ['r2'], 'relu2')]);
    expect(Object.fromEntries(attributeNodes(source, optimized, ['conv1']))).toEqual({ fused: 'conv1' });
  });

  it('leaves a node it cannot trace (unknown name, renamed output) and its activation unattributed', () => {
    const optimized = model([makeNode('Conv', ['x', 'w1'], ['t1'], 'unknown'), makeNode('Relu', ['t1'], ['t2'], 'relu_made_up')]);
    expect(attributeNodes(source, optimized, ['conv1', 'conv2']).size).toBe(0);
  });

  it('maps an int8 QDQ model\'s QLinearConv (NHWC-renamed), QLinearSigmoid and QLinearMul to the conv they replace; Q/DQ stay unattributed', () => {
    const q = (name: string) => [makeNode('QuantizeLinear', [`${name}_float`, 's', 'z'], [`${name}_q`], `${name}_Q`), makeNode('DequantizeLinear', [`${name}_q`, 's', 'z'], [name], `${name}_DQ`)];
    const qdqSource = model(
      [
        makeNode('QuantizeLinear', ['x', 's', 'z'], ['x_q'], 'x_Q'),
        makeNode('DequantizeLinear', ['x_q', 's', 'z'], ['xd'], 'x_DQ'),
        makeNode('DequantizeLinear', ['wq', 'ws', 'wz'], ['w1'], 'w_DQ'),
        makeNode('Conv', ['xd', 'w1'], ['c1_float'], 'conv1'),
        ...q('c1'),
        makeNode('Sigmoid', ['c1'], ['s1_float'], 'sig1'),
        ...q('s1'),
        makeNode('Mul', ['c1', 's1'], ['y_float'], 'mul1'),
        ...q('y'),
      ],
      ['s', 'z', 'wq', 'ws', 'wz'],
    );
    const optimized = model([
      makeNode('QuantizeLinear', ['x', 's', 'z'], ['x_q'], 'x_Q'),
      makeNode('Transpose', ['x_q'], ['t0'], 'Transpose'),
      makeNode('QLinearConv', ['t0', 's', 'z'], ['conv1'], 'conv1_token_7'),
      makeNode('QLinearSigmoid', ['conv1', 's', 'z'], ['sig1'], 'sig1'),
      makeNode('QLinearMul', ['conv1', 's', 'z', 'sig1'], ['mul1'], 'mul1'),
      makeNode('DequantizeLinear', ['mul1', 's', 'z'], ['y'], 'y_DQ'),
    ]);
    expect(Object.fromEntries(attributeNodes(qdqSource, optimized, ['conv1']))).toEqual({ conv1_token_7: 'conv1', sig1: 'conv1', mul1: 'conv1' });
  });
});
