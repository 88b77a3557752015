import { describe, expect, it } from 'vitest';
import { makeNode } from './graph-edit';
import { onnx, type ModelProto } from '../model-io/proto';
import { countQdq, qdqIslands } from './qdq-islands';
import { floatTensor, int8Tensor, uint8Tensor } from '../model-io/tensor-data';

const valueInfo = (name: string, dims: number[]) =>
  onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } });

/**
 * A hand-built QDQ model with one int8 island and one round trip nothing can absorb:
 * X -> Q -> DQ -> Conv (int8 weights behind DQ) -> Q -> DQ -> Sigmoid -> Y, and
 * X2 -> Q -> DQ -> Softmax -> Y2 (no QDQ after the Softmax, so no QLinearSoftmax).
 */
function tinyQdqModel(): ModelProto {
  const weights = Int8Array.from({ length: 8 * 4 * 3 * 3 }, (_, i) => ((i * 37) % 255) - 127);
  return onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'tiny-qdq',
      input: [valueInfo('X', [1, 4, 8, 8]), valueInfo('X2', [1, 10])],
      output: [valueInfo('Y', [1, 8, 8, 8]), valueInfo('Y2', [1, 10])],
      initializer: [
        floatTensor('s', [], Float32Array.of(0.02)),
        uint8Tensor('z', [], Uint8Array.of(128)),
        int8Tensor('wq', [8, 4, 3, 3], weights),
        floatTensor('ws', [], Float32Array.of(0.01)),
        int8Tensor('wz', [], Int8Array.of(0)),
      ],
      node: [
        makeNode('QuantizeLinear', ['X', 's', 'z'], ['xq'], 'q_x'),
        makeNode('DequantizeLinear', ['xq', 's', 'z'], ['xd'], 'dq_x'),
        makeNode('DequantizeLinear', ['wq', 'ws', 'wz'], ['wd'], 'dq_w'),
        makeNode('Conv', ['xd', 'wd'], ['c'], 'conv', [{ name: 'pads', type: onnx.AttributeProto.AttributeType.INTS, ints: [1, 1, 1, 1] }]),
        makeNode('QuantizeLinear', ['c', 's', 'z'], ['cq'], 'q_c'),
        makeNode('DequantizeLinear', ['cq', 's', 'z'], ['cd'], 'dq_c'),
        makeNode('Sigmoid', ['cd'], ['Y'], 'sigmoid'),
        makeNode('QuantizeLinear', ['X2', 's', 'z'], ['x2q'], 'q_x2'),
        makeNode('DequantizeLinear', ['x2q', 's', 'z'], ['x2d'], 'dq_x2'),
        makeNode('Softmax', ['x2d'], ['Y2'], 'softmax'),
      ],
    },
  });
}

describe('countQdq', () => {
  it('counts Q/DQ nodes, Q->DQ round trips, constant dequantizes and float ops of a QDQ file', () => {
    expect(countQdq(tinyQdqModel())).toEqual({
      nodes: 10,
      quantizeLinear: 3,
      dequantizeLinear: 4,
      qdqPairs: 3,
      constantDequantize: 1,
      integerOps: {},
      floatOps: { Conv: 1, Sigmoid: 1, Softmax: 1 },
    });
  });

  it('counts integer kernels and data-movement ops on 8-bit data as integer, by domain', () => {
    const m = onnx.ModelProto.create({
      graph: {
        initializer: [floatTensor('s', [], Float32Array.of(1)), uint8Tensor('z', [], Uint8Array.of(0))],
        node: [
          makeNode('QuantizeLinear', ['x', 's', 'z'], ['a'], 'q'),
          { ...makeNode('QLinearConcat', ['s', 'z', 'a', 's', 'z'], ['b'], 'cat'), domain: 'com.microsoft' },
          makeNode('MaxPool', ['b'], ['c'], 'pool'),
          makeNode('DequantizeLinear', ['c', 's', 'z'], ['d'], 'dq'),
          makeNode('MaxPool', ['d'], ['e'], 'float_pool'),
        ],
      },
    });
    const c = countQdq(m);
    expect(c.integerOps).toEqual({ 'com.microsoft:QLinearConcat': 1, MaxPool: 1 });
    expect(c.floatOps).toEqual({ MaxPool: 1 });
    expect(c.qdqPairs).toBe(0);
  });
});

describe('qdqIslands (onnxruntime CPU EP)', () => {
  it('sees the Conv island fused into QLinearConv and the Softmax round trip left', async () => {
    const r = await qdqIslands(tinyQdqModel(), 'extended');
    expect(r.before.qdqPairs).toBe(3);
    expect(r.after.integerOps).toEqual({ QLinearConv: 1 });
    expect(r.after.floatOps).toEqual({ Sigmoid: 1, Softmax: 1 });
    expect(r.after).toMatchObject({ quantizeLinear: 2, dequantizeLinear: 2, qdqPairs: 1, constantDequantize: 0 });
  });

  it('onnxruntime quantizes a Conv with FLOAT weights itself when its input is dequantized and its output quantized (a layer "kept float" must lose one of them)', async () => {
    const m = tinyQdqModel();
    const graph = m.graph ?? {};
    graph.initializer = [...(graph.initializer ?? []), floatTensor('wf', [8, 4, 3, 3], Float32Array.from({ length: 8 * 4 * 9 }, (_, i) => Math.sin(i) / 10))];
    for (const n of graph.node ?? []) if (n.name === 'conv') n.input = ['xd', 'wf'];
    graph.node = (graph.node ?? []).filter((n) => n.name !== 'dq_w');
    const r = await qdqIslands(m, 'extended');
    expect(r.before.floatOps.Conv).toBe(1);
    expect(r.after.integerOps).toEqual({ QLinearConv: 1 });
  });
});
