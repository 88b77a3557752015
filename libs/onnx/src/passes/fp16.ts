import { captureActivations, zeroFeeds } from '../runtime/activations';
import { GraphIndex, intAttr, makeNode, topologicalSort } from './graph-edit';
import { isDefaultDomain } from '../model-io/model-io';
import { cloneModel, OnnxElemType, type ModelProto, type NodeProto, type TensorProto } from '../model-io/proto';
import { float16Tensor, float32ToFloat16Bits, floatsOf, dimsOf } from '../model-io/tensor-data';

/** Ops kept in fp32 (onnxconverter-common's default block list, the ops the CPU EP and most EPs lack fp16 kernels for). */
export const FP16_BLOCK_LIST: readonly string[] = [
  'ArrayFeatureExtractor', 'Binarizer', 'CastMap', 'CategoryMapper', 'DictVectorizer', 'FeatureVectorizer', 'Imputer', 'LabelEncoder',
  'LinearClassifier', 'LinearRegressor', 'Normalizer', 'OneHotEncoder', 'RandomUniformLike', 'SVMClassifier', 'SVMRegressor', 'Scaler',
  'TreeEnsembleClassifier', 'TreeEnsembleRegressor', 'ZipMap', 'NonMaxSuppression', 'TopK', 'RoiAlign', 'Resize', 'Range', 'CumSum', 'Min', 'Max', 'Upsample',
];

/** The largest finite fp16 value. */
export const FP16_MAX = 65504;
/** The smallest positive fp16 value (subnormal). */
export const FP16_MIN_POSITIVE = 5.960464477539063e-8;

/**
 * Clips a value into what fp16 can hold without becoming inf or flushing a non-zero to 0:
 * |x| > 65504 -> +-65504, 0 < |x| < 5.96e-8 -> +-5.96e-8 (float16.py's `convert_np_to_float16`
 * with the fp16 limits; onnxconverter-common's default of 1e4 would clip real weights).
 */
export function clipToFloat16Range(x: number): number {
  if (x === 0 || Number.isNaN(x)) return x;
  const a = Math.abs(x);
  if (a > FP16_MAX) return Math.sign(x) * FP16_MAX;
  if (a < FP16_MIN_POSITIVE) return Math.sign(x) * FP16_MIN_POSITIVE;
  return x;
}

/** Options of {@link convertToFloat16}. */
export interface Fp16Options {
  /** Ops kept in fp32 with Casts around them. */
  readonly blockList: readonly string[];
  /** Node names kept in fp32. */
  readonly blockNodes: readonly string[];
}

function toHalf(tensor: TensorProto, counts: { clipped: number }): TensorProto {
  const values = floatsOf(tensor);
  const bits = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i] ?? 0;
    const c = clipToFloat16Range(v);
    if (c !== v) counts.clipped++;
    bits[i] = float32ToFloat16Bits(c);
  }
  return float16Tensor(tensor.name ?? '', dimsOf(tensor), bits);
}

/**
 * fp16 conversion as onnxruntime's float16.py with keep_io_types: float initializers and
 * Constant values become fp16 (clipped to the fp16 range), graph inputs and outputs keep
 * float32 behind Casts, block-listed ops stay fp32 with Casts around them, `Cast(to=FLOAT)`
 * becomes `Cast(to=FLOAT16)`, and Cast pairs that only go fp32 -> fp16 -> fp32 around
 * blocked nodes are removed. Which tensors are float is read from one onnxruntime run on
 * zeros (types as executed).
 */
export async function convertToFloat16(source: ModelProto, options: Fp16Options = { blockList: FP16_BLOCK_LIST, blockNodes: [] }): Promise<{ model: ModelProto; recipe: Record<string, string> }> {
  const floatTensors = new Set<string>();
  await captureActivations(source, [zeroFeeds(source)], 'all', (_i, tensors) => {
    for (const name of tensors.keys()) floatTensors.add(name);
  });
  const model = cloneModel(source);
  const graph = model.graph ?? {};
  const index = new GraphIndex(graph);
  const blockOps = new Set(options.blockList);
  const blockNames = new Set(options.blockNodes);
  const blocked = (n: NodeProto) => !isDefaultDomain(n.domain) || blockOps.has(n.opType ?? '') || blockNames.has(n.name ?? '');
  const counts = { clipped: 0 };
  const added: NodeProto[] = [];
  const inserted = new Set<NodeProto>();
  const cast = (input: string, output: string, to: number) => {
    const node = makeNode('Cast', [input], [output], index.uniqueName(`${output}_Cast`), [intAttr('to', to)]);
    added.push(node);
    inserted.add(node);
    return node;
  };

  // Initializers: fp16 unless only blocked nodes read them.
  const keptFloat = new Set<string>();
  for (const t of graph.initializer ?? []) {
    if (t.dataType !== OnnxElemType.FLOAT) continue;
    const readers = index.consumers.get(t.name ?? '') ?? [];
    if (readers.length > 0 && readers.every(blocked)) keptFloat.add(t.name ?? '');
  }
  let converted = 0;
  graph.initializer = (graph.initializer ?? []).map((t) => {
    if (t.dataType !== OnnxElemType.FLOAT || keptFloat.has(t.name ?? '')) return t;
    converted++;
    return toHalf(t, counts);
  });
  for (const node of graph.node ?? []) {
    if (node.opType === 'Constant' && !blocked(node)) {
      for (const attr of node.attribute ?? []) if (attr.t && attr.t.dataType === OnnxElemType.FLOAT) attr.t = toHalf(attr.t, counts);
    }
    if (node.opType === 'Cast' && !blocked(node)) {
      for (const attr of node.attribute ?? []) if (attr.name === 'to' && Number(attr.i) === OnnxElemType.FLOAT) attr.i = OnnxElemType.FLOAT16;
    }
  }

  const inits = new Set((graph.initializer ?? []).map((t) => t.name ?? ''));
  // Graph inputs stay float32; consumers read an fp16 Cast of them.
  const inputRename = new Map<string, string>();
  for (const input of graph.input ?? []) {
    const name = input.name ?? '';
    if (inits.has(name) || input.type?.tensorType?.elemType !== OnnxElemType.FLOAT) continue;
    const half = index.uniqueName(`${name}_fp16`);
    cast(name, half, OnnxElemType.FLOAT16);
    inputRename.set(name, half);
  }
  for (const node of graph.node ?? []) if (!blocked(node)) node.input = (node.input ?? []).map((i) => inputRename.get(i) ?? i);

  // Blocked nodes: fp32 in, fp32 out, Casts at the border.
  const graphOutputs = new Set((graph.output ?? []).map((o) => o.name ?? ''));
  const fp32Outputs = new Set<string>();
  for (const node of [...(graph.node ?? [])]) {
    if (!blocked(node)) continue;
    node.input = (node.input ?? []).map((i) => {
      if (!i || !floatTensors.has(i) || keptFloat.has(i) || inputRename.has(i)) return i;
      const f = index.uniqueName(`${i}_fp32`);
      cast(i, f, OnnxElemType.FLOAT);
      return f;
    });
    node.output = (node.output ?? []).map((o) => {
      if (!floatTensors.has(o) || graphOutputs.has(o)) {
        if (graphOutputs.has(o)) fp32Outputs.add(o);
        return o;
      }
      const f = index.uniqueName(`${o}_fp32`);
      cast(f, o, OnnxElemType.FLOAT16);
      return f;
    });
  }
  // Graph outputs stay float32.
  for (const output of graph.output ?? []) {
    const name = output.name ?? '';
    if (output.type?.tensorType?.elemType !== OnnxElemType.FLOAT || fp32Outputs.has(name)) continue;
    const producer = (graph.node ?? []).find((n) => (n.output ?? []).includes(name));
    if (!producer) continue;
    const half = index.uniqueName(`${name}_fp16`);
    producer.output = (producer.output ?? []).map((o) => (o === name ? half : o));
    for (const n of graph.node ?? []) n.input = (n.input ?? []).map((i) => (i === name ? half : i));
    cast(half, name, OnnxElemType.FLOAT);
  }
  graph.node = [...(graph.node ?? []), ...added];
  const removedPairs = removeCastPairs(model, inserted);
  graph.valueInfo = [];
  topologicalSort(graph);
  return {
    model,
    recipe: {
      pass: 'fp16',
      keepIoTypes: 'true',
      blockList: options.blockList.join(','),
      ...(options.blockNodes.length ? { blockNodes: options.blockNodes.join(',') } : {}),
      initializersConverted: String(converted),
      valuesClipped: String(counts.clipped),
      clipRange: `+-${FP16_MAX}, tiny to +-${FP16_MIN_POSITIVE}`,
      castPairsRemoved: String(removedPairs),
    },
  };
}

/** Removes inserted Cast(fp16) -> Cast(fp32) chains (and the reverse) between blocked nodes: the consumer reads the first Cast's input. */
function removeCastPairs(model: ModelProto, inserted: Set<NodeProto>): number {
  const graph = model.graph ?? {};
  const index = new GraphIndex(graph);
  let removed = 0;
  for (const first of [...inserted]) {
    const out = first.output?.[0] ?? '';
    const readers = index.consumers.get(out) ?? [];
    if (readers.length === 0 || index.graphOutputs.has(out) || !readers.every((r) => inserted.has(r) && !index.graphOutputs.has(r.output?.[0] ?? ''))) continue;
    const from = first.input?.[0] ?? '';
    for (const second of readers) {
      const target = second.output?.[0] ?? '';
      for (const n of graph.node ?? []) n.input = (n.input ?? []).map((i) => (i === target ? from : i));
      graph.node = (graph.node ?? []).filter((n) => n !== second);
      inserted.delete(second);
    }
    graph.node = (graph.node ?? []).filter((n) => n !== first);
    inserted.delete(first);
    index.rebuild();
    removed++;
  }
  return removed;
}
