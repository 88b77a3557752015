// Passes on small hand-built graphs, run in real onnxruntime-node: the math (BN folding,
// QDQ scales, channel-pruning shapes, opset upgrade) and bad input.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runModel, type FloatTensor } from '../runtime/activations';
import { compareOutputs } from '../evaluation/fidelity';
import { foldBatchNorm } from './fold-bn';
import { convertToFloat16 } from './fp16';
import { writeModel, readModelFile } from '../model-io/model-io';
import { upgradeOpset } from '../model-io/opset';
import { optimizeWithOrt } from '../runtime/ort';
import { CalibrationDataError } from '../model-io/preprocess';
import { onnx, type ModelProto, type NodeProto, type TensorProto } from '../model-io/proto';
import { pruneChannels, pruneMagnitude } from './prune';
import { quantizeStatic, DEFAULT_STATIC_OPTIONS } from './quantize-static';
import { seededRandomFloats } from '@benchfarm/numerics';
import { dimsOf, floatsOf, floatTensor } from '../model-io/tensor-data';
import { deriveVariant, parseVariantList } from './variants';
import { VariantParamError } from '../errors';

const dir = mkdtempSync(join(tmpdir(), 'bf-compression-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const vi = (name: string, dims: number[]) =>
  onnx.ValueInfoProto.create({
    name,
    type: onnx.TypeProto.create({ tensorType: onnx.TypeProto.Tensor.create({ elemType: 1, shape: onnx.TensorShapeProto.create({ dim: dims.map((d) => onnx.TensorShapeProto.Dimension.create({ dimValue: d })) }) }) }),
  });
const attr = (name: string, value: number | number[]) =>
  Array.isArray(value) ? onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: value }) : onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i: value });
const node = (opType: string, input: string[], output: string[], attrs: ReturnType<typeof attr>[] = []): NodeProto => onnx.NodeProto.create({ opType, input, output, name: output[0], attribute: attrs });
const model = (nodes: NodeProto[], inits: TensorProto[], input: [string, number[]], output: [string, number[]], opset = 13): ModelProto =>
  onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: opset })],
    graph: onnx.GraphProto.create({ name: 'g', node: nodes, initializer: inits, input: [vi(...input)], output: [vi(...output)] }),
  });
let seed = 1;
const output = (m: Map<string, FloatTensor> | undefined): FloatTensor => {
  const y = m?.get('y');
  if (!y) throw new Error('the model produced no output y');
  return y;
};
const w = (name: string, dims: number[], scale = 0.5) => floatTensor(name, dims, seededRandomFloats(dims.reduce((a, b) => a * b, 1), seed++, -scale, scale));
const feed = (dims: number[], s: number) => ({ x: { data: seededRandomFloats(dims.reduce((a, b) => a * b, 1), s, 0, 1), dims } });
const conv = (x: string, y: string, wName: string, bName: string, k = 1, group = 1) => node('Conv', [x, wName, bName], [y], [attr('kernel_shape', [k, k]), attr('pads', [k >> 1, k >> 1, k >> 1, k >> 1]), attr('group', group)]);

/** A small YOLO-like graph: conv stem, SiLU, a residual Add, a depthwise conv, a Concat and a head conv. */
function residualNet(): ModelProto {
  const n = [
    conv('x', 'c1', 'w1', 'b1', 3),
    node('Sigmoid', ['c1'], ['s1']),
    node('Mul', ['c1', 's1'], ['a1']),
    conv('a1', 'c2', 'w2', 'b2', 1),
    node('Relu', ['c2'], ['a2']),
    conv('a2', 'c3', 'w3', 'b3', 3, 32),
    node('Add', ['c3', 'a1'], ['r']),
    conv('r', 'c4', 'w4', 'b4', 1),
    node('Concat', ['r', 'c4'], ['cat'], [attr('axis', 1)]),
    node('MaxPool', ['cat'], ['p'], [attr('kernel_shape', [2, 2]), attr('strides', [2, 2])]),
    conv('p', 'y', 'w5', 'b5', 1),
  ];
  const inits = [w('w1', [32, 3, 3, 3]), w('b1', [32], 0.1), w('w2', [32, 32, 1, 1], 0.3), w('b2', [32], 0.1), w('w3', [32, 1, 3, 3]), w('b3', [32], 0.1), w('w4', [16, 32, 1, 1], 0.3), w('b4', [16], 0.1), w('w5', [6, 48, 1, 1], 0.3), w('b5', [6], 0.1)];
  return model(n, inits, ['x', [1, 3, 16, 16]], ['y', [1, 6, 8, 8]]);
}

describe('BatchNormalization folding', () => {
  it('matches the hand-computed weights and the unfolded outputs', async () => {
    // W = [2, 3], b = [1, 0], gamma = [1, 2], beta = [0.5, 0], mean = [1, 1], var = [3, 0], eps = 1
    // s = gamma / sqrt(var + eps) = [0.5, 2]; W' = [1, 6]; b' = (b - mean) s + beta = [0.5, -2]
    const m = model(
      [conv('x', 'c', 'W', 'B'), node('BatchNormalization', ['c', 'g', 'beta', 'mean', 'var'], ['y'], [onnx.AttributeProto.create({ name: 'epsilon', type: onnx.AttributeProto.AttributeType.FLOAT, f: 1 })])],
      [floatTensor('W', [2, 1, 1, 1], Float32Array.of(2, 3)), floatTensor('B', [2], Float32Array.of(1, 0)), floatTensor('g', [2], Float32Array.of(1, 2)), floatTensor('beta', [2], Float32Array.of(0.5, 0)), floatTensor('mean', [2], Float32Array.of(1, 1)), floatTensor('var', [2], Float32Array.of(3, 0))],
      ['x', [1, 1, 2, 2]],
      ['y', [1, 2, 2, 2]],
    );
    const { model: folded, folded: count } = foldBatchNorm(m);
    expect(count).toBe(1);
    expect(folded.graph?.node?.map((n) => n.opType)).toEqual(['Conv']);
    const conv2 = folded.graph?.node?.[0];
    const init = (name: string) => folded.graph?.initializer?.find((t) => t.name === name) as TensorProto;
    expect([...floatsOf(init(conv2?.input?.[1] ?? ''))]).toEqual([1, 6]);
    expect([...floatsOf(init(conv2?.input?.[2] ?? ''))]).toEqual([0.5, -2]);
    const f = feed([1, 1, 2, 2], 3);
    const [a] = await runModel(writeModel(m), [f]);
    const [b] = await runModel(writeModel(folded), [f]);
    expect(compareOutputs('y', [output(a)], [output(b)]).maxAbsError).toBeLessThan(1e-5);
  });
});

describe('opset upgrade 11 -> 13', () => {
  it('moves Unsqueeze axes from attribute to input, and the model computes the same', async () => {
    const m = model([node('Unsqueeze', ['x'], ['u'], [attr('axes', [0])]), node('Relu', ['u'], ['y'])], [], ['x', [2, 3]], ['y', [1, 2, 3]], 11);
    const up = upgradeOpset(m);
    expect(up).toMatchObject({ from: 11, to: 13 });
    const unsq = up.model.graph?.node?.[0];
    expect(unsq?.attribute).toHaveLength(0);
    expect(unsq?.input).toHaveLength(2);
    const f = { x: { data: Float32Array.of(-1, 2, -3, 4, 5, -6), dims: [2, 3] } };
    const [out] = await runModel(writeModel(up.model), [f]);
    expect([...(out?.get('y')?.data ?? [])]).toEqual([0, 2, 0, 4, 5, 0]);
  });
  it('refuses a Softmax whose axis meaning changes at 13, naming the node', () => {
    const m = model([node('Softmax', ['x'], ['y'], [attr('axis', 1)])], [], ['x', [2, 3, 4]], ['y', [2, 3, 4]], 11);
    expect(() => upgradeOpset(m)).toThrow(/Softmax "y" has axis 1/);
  });
});

describe('int8-static on a small CNN', () => {
  const calibration = [0, 1, 2, 3].map((k) => feed([1, 3, 16, 16], 100 + k));
  it('stores int8 per-channel weights and int32 biases at input_scale x weight_scale; onnxruntime fuses every quantized Conv into QLinearConv', async () => {
    const src = residualNet();
    const r = await quantizeStatic(src, calibration, { ...DEFAULT_STATIC_OPTIONS, skipFirst: 0 });
    const g = r.model.graph;
    const init = (name: string) => g?.initializer?.find((t) => t.name === name) as TensorProto;
    const dq = (output: string) => g?.node?.find((n) => n.opType === 'DequantizeLinear' && n.output?.[0] === output) as NodeProto;
    const conv2 = g?.node?.find((n) => n.opType === 'Conv' && n.output?.[0] === 'c2') as NodeProto;
    const wDq = dq(conv2.input?.[1] ?? '');
    const bDq = dq(conv2.input?.[2] ?? '');
    expect(init(wDq.input?.[0] ?? '').dataType).toBe(onnx.TensorProto.DataType.INT8);
    expect(init(bDq.input?.[0] ?? '').dataType).toBe(onnx.TensorProto.DataType.INT32);
    const wScales = floatsOf(init(wDq.input?.[1] ?? ''));
    expect(wScales).toHaveLength(32);
    const inScale = r.activationParams.get('a1')?.scale ?? Number.NaN;
    const bScales = floatsOf(init(bDq.input?.[1] ?? ''));
    for (let c = 0; c < 32; c++) expect(bScales[c]).toBe(Math.fround(inScale * (wScales[c] ?? 0)));
    // Relu after conv2 is folded: the range quantized is the Relu output's (min 0 -> zp 0 for uint8).
    expect(r.activationParams.get('a2')?.zeroPoint).toBe(0);
    expect(r.activationParams.has('c2')).toBe(false);

    const path = join(dir, 'q.onnx');
    writeFileSync(path, writeModel(r.model));
    const optimized = join(dir, 'q.opt.onnx');
    await optimizeWithOrt(path, optimized, 'extended');
    const dump = await readModelFile(optimized);
    const qlinear = (dump.model.graph?.node ?? []).filter((n) => n.opType === 'QLinearConv').length;
    // The head conv (y) is kept in float by default.
    expect(r.recipe.excludedHead).toBe('y');
    expect(Number(r.recipe.quantizedNodes)).toBe(4);
    expect(qlinear).toBe(4);
    const [a] = await runModel(writeModel(src), [feed([1, 3, 16, 16], 7)]);
    const [b] = await runModel(path, [feed([1, 3, 16, 16], 7)]);
    expect(compareOutputs('y', [output(a)], [output(b)]).cosine).toBeGreaterThan(0.98);
  });
});

describe('int8-static SiLU placement', () => {
  it('quantizes Sigmoid/Mul by default, but not the SiLU of a stem kept in float', async () => {
    const calibration = [feed([1, 3, 16, 16], 5)];
    const all = await quantizeStatic(residualNet(), calibration, { ...DEFAULT_STATIC_OPTIONS, skipFirst: 0 });
    expect(all.activationParams.has('s1')).toBe(true);
    const stemFloat = await quantizeStatic(residualNet(), calibration, { ...DEFAULT_STATIC_OPTIONS, skipFirst: 1 });
    expect(stemFloat.activationParams.has('s1')).toBe(false);
    expect(stemFloat.activationParams.has('c1')).toBe(false);
    // a1 (the SiLU output) still gets Q/DQ: it is the input of the next quantized conv.
    expect(stemFloat.activationParams.has('a1')).toBe(true);
    const none = await quantizeStatic(residualNet(), calibration, { ...DEFAULT_STATIC_OPTIONS, skipFirst: 0, activationOps: [] });
    expect(none.activationParams.has('s1')).toBe(false);
  });
});

describe('fp16', () => {
  it('keeps float32 IO, converts weights to fp16 and runs close to fp32', async () => {
    const src = residualNet();
    const r = await convertToFloat16(src);
    const types = new Set((r.model.graph?.initializer ?? []).map((t) => t.dataType));
    expect(types).toEqual(new Set([onnx.TensorProto.DataType.FLOAT16]));
    expect(r.model.graph?.input?.[0]?.type?.tensorType?.elemType).toBe(1);
    expect(r.model.graph?.output?.[0]?.type?.tensorType?.elemType).toBe(1);
    const f = feed([1, 3, 16, 16], 9);
    const [a] = await runModel(writeModel(src), [f]);
    const [b] = await runModel(writeModel(r.model), [f]);
    expect(compareOutputs('y', [output(a)], [output(b)]).cosine).toBeGreaterThan(0.9999);
  });
});

describe('pruning', () => {
  it('prune-channels removes whole channels in multiples of 8 and keeps every shape consistent', async () => {
    const src = residualNet();
    const r = pruneChannels(src, 0.5);
    const g = r.model.graph;
    const dimsByName = new Map((g?.initializer ?? []).map((t) => [t.name ?? '', dimsOf(t)]));
    const convs = new Map((g?.node ?? []).filter((n) => n.opType === 'Conv').map((n) => [n.output?.[0] ?? '', n]));
    const wDims = (out: string) => dimsByName.get(convs.get(out)?.input?.[1] ?? '') ?? [];
    // c1 and c3 are tied by the residual Add, c3 is depthwise on c2: all keep the same 16 channels.
    expect(wDims('c1')[0]).toBe(16);
    expect(wDims('c2')).toEqual([16, 16, 1, 1]);
    expect(wDims('c3')).toEqual([16, 1, 3, 3]);
    expect(convs.get('c3')?.attribute?.find((a) => a.name === 'group')?.i).toBe(16);
    expect(wDims('c4')).toEqual([8, 16, 1, 1]);
    // The head reads the concat of r (16) and c4 (8) and keeps its 6 outputs.
    expect(wDims('y')).toEqual([6, 24, 1, 1]);
    expect(Number(r.recipe.parametersAfter)).toBeLessThan(Number(r.recipe.parametersBefore));
    const [out] = await runModel(writeModel(r.model), [feed([1, 3, 16, 16], 11)]);
    expect(out?.get('y')?.dims).toEqual([1, 6, 8, 8]);
  });
  it('prune-l1 zeroes exactly the asked share per tensor, skipping the first layer and the head', () => {
    const r = pruneMagnitude(residualNet(), 0.25, { global: false });
    expect(r.recipe.sparsityOfPrunedTensors).toBe('0.2500');
    expect(r.recipe.skipped).toBe('c1,y');
    const w1 = r.model.graph?.initializer?.find((t) => t.name === 'w1') as TensorProto;
    expect(floatsOf(w1).every((v) => v !== 0)).toBe(true);
  });
});

describe('bad input', () => {
  it('a ratio outside (0, 1) is refused naming it', () => {
    expect(() => parseVariantList('fp32,prune-l1:1.5')).toThrow(VariantParamError);
    expect(() => parseVariantList('prune-channels:0')).toThrow(/ratio must be a number in \(0, 1\), got "0"/);
    expect(() => parseVariantList('prune-l1')).toThrow(/needs a ratio/);
    expect(() => parseVariantList('int8-static:bogus')).toThrow(/unknown option "bogus"/);
    expect(() => parseVariantList('fp16:0.5')).toThrow(/takes no parameter/);
    expect(parseVariantList('int8-static:entropy+s8,prune-l1:0.3')).toEqual(['int8-static:entropy+s8', 'prune-l1:0.3']);
  });

  const srcPath = join(dir, 'src.onnx');
  writeFileSync(srcPath, writeModel(residualNet()));
  const outDir = join(dir, 'out');

  it('int8-static without calibration is refused and leaves no file behind', async () => {
    await expect(deriveVariant('int8-static', srcPath, outDir, { isolated: false })).rejects.toThrow(CalibrationDataError);
    expect(readdirSync(outDir)).toEqual([]);
  });
  it('an empty calibration folder is refused naming it', async () => {
    const empty = mkdtempSync(join(dir, 'empty-'));
    await expect(deriveVariant('int8-static', srcPath, outDir, { isolated: false, calibration: { kind: 'images', dir: empty, preprocess: 'imagenet' } })).rejects.toThrow(/holds no \.jpg\/\.jpeg images/);
    expect(readdirSync(outDir)).toEqual([]);
  });
  it('a preprocessing config that does not fit the input is refused naming the field', async () => {
    const images = mkdtempSync(join(dir, 'img-'));
    const { encode } = await import('jpeg-js');
    writeFileSync(join(images, 'a.jpg'), encode({ width: 8, height: 8, data: new Uint8Array(8 * 8 * 4).fill(128) }, 90).data);
    const bad = deriveVariant('int8-static', srcPath, outDir, { isolated: false, calibration: { kind: 'images', dir: images, preprocess: { resize: 'stretch', channelOrder: 'RGB', layout: 'NHWC', scale: 1 } } });
    await expect(bad).rejects.toMatchObject({ name: 'CalibrationDataError', field: 'preprocess.layout' });
    await expect(deriveVariant('int8-static', srcPath, outDir, { isolated: false, calibration: { kind: 'images', dir: images, preprocess: { resize: 'sideways', scale: -1 } } })).rejects.toThrow(/preprocess\.resize.*preprocess\.channelOrder.*preprocess\.scale/s);
    expect(readdirSync(outDir)).toEqual([]);
  });
  it('random calibration is used only when asked, and labelled in the recipe', async () => {
    const v = await deriveVariant('int8-static', srcPath, outDir, { isolated: false, calibration: { kind: 'random', count: 2, seed: 1, min: 0, max: 1 } });
    expect(v.recipe.calibrationData).toMatch(/^RANDOM/);
  });
  it('isolated derivation (child process) brings the error class back', async () => {
    await expect(deriveVariant('int8-static', srcPath, outDir)).rejects.toMatchObject({ name: 'CalibrationDataError', field: 'calibration' });
  });
});

