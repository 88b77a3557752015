import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { InvalidModelError } from '../errors';
import { isDefaultDomain, readModel, writeModel } from '../model-io/model-io';
import type { ModelProto, NodeProto } from '../model-io/proto';

/** What runs on 8-bit data and what converts between float and 8 bits in one graph, from {@link countQdq}. */
export interface QdqCounts {
  readonly nodes: number;
  readonly quantizeLinear: number;
  readonly dequantizeLinear: number;
  /**
   * DequantizeLinear nodes reading a QuantizeLinear's output directly: a round trip through 8
   * bits that no integer kernel absorbed, i.e. a break between int8 islands (in a QDQ file
   * before optimization, every quantized tensor has one; what onnxruntime leaves is the cost).
   */
  readonly qdqPairs: number;
  /** DequantizeLinear of a constant (weights, biases) left in the graph: a float op running on dequantized weights. */
  readonly constantDequantize: number;
  /** Ops running on 8-bit (or int32) tensors, by op type (`domain:op` outside ai.onnx): QLinear*, *Integer, and data-movement ops (MaxPool, Resize, Concat, ...) whose data input is 8-bit. */
  readonly integerOps: Readonly<Record<string, number>>;
  /** Every other op apart from QuantizeLinear/DequantizeLinear, by op type. */
  readonly floatOps: Readonly<Record<string, number>>;
}

/** Integer kernels by name: onnxruntime's QLinear* family (ai.onnx and com.microsoft) and the integer-arithmetic ops. */
const INTEGER_KERNELS = /^(QLinear|QGemm$|QAttention$|ConvInteger$|MatMulInteger|DynamicQuantize|QOrdered)/;
/** Ops that only move or select values: they run on whatever element type their data input has. */
const DATA_MOVEMENT = new Set(['MaxPool', 'NhwcMaxPool', 'Resize', 'Upsample', 'Transpose', 'Reshape', 'Slice', 'Concat', 'Split', 'Squeeze', 'Unsqueeze', 'Flatten', 'Pad', 'Gather', 'Identity', 'Expand', 'Tile', 'DepthToSpace', 'SpaceToDepth', 'ReorderInput', 'ReorderOutput']);
/** TensorProto data types of 8-bit and int32 quantized values. */
const QUANTIZED_TYPES = new Set([2, 3, 6]); // UINT8, INT8, INT32

const key = (node: NodeProto) => (isDefaultDomain(node.domain) ? (node.opType ?? '') : `${node.domain}:${node.opType ?? ''}`);
const bump = (counts: Record<string, number>, k: string) => {
  counts[k] = (counts[k] ?? 0) + 1;
};

/**
 * Counts Q/DQ nodes, Q->DQ round trips, integer and float ops in a graph (a QDQ file, or the
 * optimized graph onnxruntime saved). A tensor is 8-bit when a QuantizeLinear, an integer
 * kernel or a data-movement op on 8-bit data produces it, or it is an 8-bit/int32 initializer;
 * the graph must be in topological order (ONNX files and onnxruntime's saved graphs are). Pure.
 */
export function countQdq(model: ModelProto): QdqCounts {
  const graph = model.graph ?? {};
  const nodes = graph.node ?? [];
  const constants = new Set((graph.initializer ?? []).map((t) => t.name ?? ''));
  const quantized = new Set((graph.initializer ?? []).filter((t) => QUANTIZED_TYPES.has(t.dataType ?? 0)).map((t) => t.name ?? ''));
  const producer = new Map<string, NodeProto>();
  for (const n of nodes) for (const o of n.output ?? []) producer.set(o, n);
  let quantizeLinear = 0;
  let dequantizeLinear = 0;
  let qdqPairs = 0;
  let constantDequantize = 0;
  const integerOps: Record<string, number> = {};
  const floatOps: Record<string, number> = {};
  for (const node of nodes) {
    const op = node.opType ?? '';
    const plainQdq = isDefaultDomain(node.domain) || node.domain === 'com.microsoft';
    if (op === 'QuantizeLinear' && plainQdq) {
      quantizeLinear++;
      for (const o of node.output ?? []) quantized.add(o);
      continue;
    }
    if (op === 'DequantizeLinear' && plainQdq) {
      dequantizeLinear++;
      const input = node.input?.[0] ?? '';
      if (constants.has(input)) constantDequantize++;
      else if (producer.get(input)?.opType === 'QuantizeLinear') qdqPairs++;
      continue;
    }
    const dataInputs = op === 'Concat' ? (node.input ?? []) : (node.input ?? []).slice(0, 1);
    const integer = INTEGER_KERNELS.test(op) || (DATA_MOVEMENT.has(op) && dataInputs.some((i) => quantized.has(i)));
    if (integer) {
      bump(integerOps, key(node));
      for (const o of node.output ?? []) quantized.add(o);
    } else bump(floatOps, key(node));
  }
  return { nodes: nodes.length, quantizeLinear, dequantizeLinear, qdqPairs, constantDequantize, integerOps, floatOps };
}

/** Counts of a QDQ model as written and as onnxruntime runs it, from {@link qdqIslands}. */
export interface QdqIslands {
  readonly level: 'basic' | 'extended' | 'all';
  /** The graph as given. */
  readonly before: QdqCounts;
  /** The graph onnxruntime's CPU EP runs after its optimizations at `level`. */
  readonly after: QdqCounts;
}

/**
 * Loads a QDQ model in onnxruntime (CPU EP, optimizations at `level`, default `extended`: the
 * QDQ fusions; `all` adds the NHWC/NCHWc layout transforms), saves the optimized graph to a
 * temporary file and counts what is left in it with {@link countQdq}, next to the counts of the
 * model as given. Thrown: {@link InvalidModelError} `ort_load_failed` when onnxruntime refuses
 * the model, or as {@link readModel} for unreadable bytes.
 */
export async function qdqIslands(model: ModelProto | Uint8Array | string, level: 'basic' | 'extended' | 'all' = 'extended'): Promise<QdqIslands> {
  const bytes = typeof model === 'string' ? new Uint8Array(await readFile(model)) : model instanceof Uint8Array ? model : writeModel(model);
  const before = countQdq(model instanceof Uint8Array || typeof model === 'string' ? readModel(bytes) : model);
  const dir = await mkdtemp(join(tmpdir(), 'benchfarm-qdq-'));
  try {
    const optimizedPath = join(dir, 'optimized.onnx');
    let session: ort.InferenceSession;
    try {
      // Errors only: level `all` warns that its saved graph is machine-specific; it is only counted here.
      session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'], graphOptimizationLevel: level, optimizedModelFilePath: optimizedPath, logSeverityLevel: 3 });
    } catch (err) {
      throw new InvalidModelError('ort_load_failed', '', `onnxruntime cannot load the QDQ model: ${(err as Error).message}`, { cause: err });
    }
    await session.release();
    return { level, before, after: countQdq(readModel(await readFile(optimizedPath))) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
