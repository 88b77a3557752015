import { describe, expect, it } from 'vitest';
import { onnx, type ModelProto } from '../model-io/proto';
import { quantizeStatic, DEFAULT_STATIC_OPTIONS, type StaticQuantOptions } from './quantize-static';
import { floatTensor } from '../model-io/tensor-data';

const valueInfo = (name: string) =>
  onnx.ValueInfoProto.create({
    name,
    type: onnx.TypeProto.create({ tensorType: onnx.TypeProto.Tensor.create({ elemType: onnx.TensorProto.DataType.FLOAT, shape: onnx.TensorShapeProto.create({ dim: [1, 4].map((d) => onnx.TensorShapeProto.Dimension.create({ dimValue: d })) }) }) }),
  });

/**
 * X -> MatMul(W1) -> a -> Sigmoid -> b -> MatMul(W2) -> c -> Sigmoid -> d -> MatMul(W3) -> Y, with
 * the MatMuls and Sigmoids named by `nameOf` (undefined: unnamed).
 */
function chainModel(nameOf: (op: 'MatMul' | 'Sigmoid', i: number) => string | undefined): ModelProto {
  const weight = (name: string, seed: number) => floatTensor(name, [4, 4], Float32Array.from({ length: 16 }, (_, i) => ((i * 7 + seed) % 11) / 11 - 0.5));
  const node = (op: 'MatMul' | 'Sigmoid', i: number, input: string[], output: string) => {
    const name = nameOf(op, i);
    return onnx.NodeProto.create({ ...(name !== undefined ? { name } : {}), opType: op, input, output: [output] });
  };
  const graph = onnx.GraphProto.create({
    name: 'chain',
    node: [node('MatMul', 1, ['X', 'W1'], 'a'), node('Sigmoid', 1, ['a'], 'b'), node('MatMul', 2, ['b', 'W2'], 'c'), node('Sigmoid', 2, ['c'], 'd'), node('MatMul', 3, ['d', 'W3'], 'Y')],
    initializer: [weight('W1', 1), weight('W2', 2), weight('W3', 3)],
    input: [valueInfo('X')],
    output: [valueInfo('Y')],
  });
  return onnx.ModelProto.create({ irVersion: 8, producerName: 'benchfarm-test', producerVersion: '1', opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: 13 })], graph });
}

const calibration = [0, 1, 2].map((k) => ({ X: { data: Float32Array.from({ length: 4 }, (_, i) => (i - k) / 3), dims: [1, 4] } }));
const options: StaticQuantOptions = { ...DEFAULT_STATIC_OPTIONS, opTypes: ['MatMul'], activationOps: ['Sigmoid'], excludeHead: false, skipFirst: 1 };

/** Tensors read by a QuantizeLinear of the quantized model (an edited producer writes `<name>_float`). */
const quantizedTensors = (model: ModelProto): string[] =>
  (model.graph?.node ?? []).filter((n) => n.opType === 'QuantizeLinear').map((n) => (n.input?.[0] ?? '').replace(/_float$/, ''));

describe('quantizeStatic: layers kept in float', () => {
  // The first MatMul is kept in float (skipFirst 1): its weight and its output stay float, and so
  // does the Sigmoid it feeds; the other two layers and the Sigmoid between them are quantized.
  const cases: [string, (op: 'MatMul' | 'Sigmoid', i: number) => string | undefined][] = [
    ['named nodes', (op, i) => `${op.toLowerCase()}${i}`],
    ['unnamed nodes', () => undefined],
    ['unnamed nodes beside named ones called like their op type', (op, i) => (i === 2 ? op : undefined)],
  ];
  it.each(cases)('keeps the skipped layer and the activation it feeds in float with %s', async (_label, nameOf) => {
    const result = await quantizeStatic(chainModel(nameOf), calibration, options);
    expect(quantizedTensors(result.model).sort()).toEqual(['Y', 'b', 'c', 'd']);
    expect([...result.activationParams.keys()].sort()).toEqual(['Y', 'b', 'c', 'd']);
    const weightsDequantized = (result.model.graph?.node ?? []).filter((n) => n.opType === 'DequantizeLinear' && /^W\d/.test(n.input?.[0] ?? '')).map((n) => n.input?.[0]);
    expect(weightsDequantized.some((w) => w?.startsWith('W1'))).toBe(false);
    expect(result.recipe['quantizedNodes']).toBe('2');
    const names = (result.model.graph?.node ?? []).map((n) => n.name);
    expect(names.every((n) => n)).toBe(true);
    expect(new Set(names).size).toBe(names.length);
  });
});
