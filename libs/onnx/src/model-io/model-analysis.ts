import { deflateSync } from 'node:zlib';
import { inferShapesByRunning, zeroFeeds } from '../runtime/activations';
import { inspectModel, type ModelInfo } from './analyse';
import { attrInts, defaultOpset } from '../passes/graph-edit';
import { isDefaultDomain, writeModel } from './model-io';
import { OnnxElemType, type ModelProto, type NodeProto } from './proto';
import { dimsOf, floatsOf } from './tensor-data';

/** Cost of one node from the shapes it ran with. */
export interface NodeCost {
  readonly name: string;
  readonly opType: string;
  /** Multiply-accumulates (Conv, ConvTranspose, MatMul, Gemm and their integer/QLinear forms); 0 for other ops. */
  readonly macs: number;
  /** 2 x MACs, plus one per output element for elementwise, activation and pooling ops. */
  readonly flops: number;
}

/** What `benchfarm variants` and the coordinator show about a model. */
export interface ModelAnalysis {
  readonly info: ModelInfo;
  readonly opset: number;
  readonly parameterCount: number;
  readonly macs: number;
  readonly flops: number;
  readonly nodes: NodeCost[];
  readonly fileSizeBytes: number;
  /** Size after DEFLATE (zlib level 9): what pruning's zeros and int8's smaller weights buy on disk and on the wire. */
  readonly compressedSizeBytes: number;
  /** Share of exact zeros among the float and integer weight elements of initializers. */
  readonly sparsity: number;
}

const prod = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);

const MAC_OPS = new Set(['Conv', 'ConvInteger', 'QLinearConv', 'ConvTranspose', 'MatMul', 'MatMulInteger', 'QLinearMatMul', 'Gemm']);

/**
 * MACs and FLOPs per node from the shapes of the tensors it read and wrote (`shapes`, e.g. from
 * {@link inferShapesByRunning}) and its weights' dims. Nodes whose shapes are unknown count 0.
 */
export function nodeCosts(model: ModelProto, shapes: ReadonlyMap<string, readonly number[]>): NodeCost[] {
  const graph = model.graph ?? {};
  const initDims = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', dimsOf(t)]));
  const dimsOfValue = (name: string): readonly number[] | undefined => shapes.get(name) ?? initDims.get(name);
  const costs: NodeCost[] = [];
  for (const node of graph.node ?? []) {
    const op = node.opType ?? '';
    const out = dimsOfValue(node.output?.[0] ?? '');
    const outElems = out ? prod(out) : 0;
    let macs = 0;
    let flops = 0;
    if (MAC_OPS.has(op) && out) {
      macs = weightedMacs(node, op, out, dimsOfValue);
      flops = 2 * macs;
    } else if (op === 'MaxPool' || op === 'AveragePool') {
      flops = outElems * prod(attrInts(node, 'kernel_shape') ?? [1]);
    } else if (isDefaultDomain(node.domain) && out && !['Constant', 'Shape', 'Reshape', 'Transpose', 'Concat', 'Slice', 'Squeeze', 'Unsqueeze', 'Flatten', 'Gather', 'Identity', 'Cast', 'QuantizeLinear', 'DequantizeLinear'].includes(op)) {
      flops = outElems;
    }
    costs.push({ name: node.name ?? '', opType: op, macs, flops });
  }
  return costs;
}

function weightedMacs(node: NodeProto, op: string, out: readonly number[], dimsOfValue: (name: string) => readonly number[] | undefined): number {
  const inputs = node.input ?? [];
  // QLinearConv/QLinearMatMul carry the weight at input 3; the others at input 1.
  const weight = dimsOfValue((op === 'QLinearConv' || op === 'QLinearMatMul' ? inputs[3] : inputs[1]) ?? '');
  const a = dimsOfValue(inputs[0] ?? '');
  if (op.includes('Conv') && op !== 'ConvTranspose') return weight ? prod(out) * prod(weight.slice(1)) : 0;
  if (op === 'ConvTranspose') return weight && a ? prod(a) * prod(weight.slice(1)) : 0;
  if (op === 'Gemm') {
    const transA = (node.attribute ?? []).find((x) => x.name === 'transA')?.i;
    const k = a ? (Number(transA ?? 0) === 1 ? a[0] : a[1]) : undefined;
    return k ? prod(out) * k : 0;
  }
  const k = a?.[a.length - 1];
  return k ? prod(out) * k : 0;
}

/**
 * Analyses a model with fixed inputs: opset, parameters, MACs/FLOPs per node (shapes from one
 * onnxruntime run on zeros, in this process), file and compressed size, weight sparsity.
 */
export async function analyseModel(model: ModelProto, bytes: Uint8Array = writeModel(model)): Promise<ModelAnalysis> {
  const info = inspectModel(model, bytes.length);
  const shapes = await inferShapesByRunning(model, zeroFeeds(model));
  const nodes = nodeCosts(model, shapes);
  let zeros = 0;
  let total = 0;
  for (const t of model.graph?.initializer ?? []) {
    const dims = dimsOf(t);
    if (dims.length < 1 || prod(dims) < 16) continue; // scales, zero points and shape constants are not weights
    if (t.dataType === OnnxElemType.FLOAT || t.dataType === OnnxElemType.FLOAT16) {
      for (const v of floatsOf(t)) if (v === 0) zeros++;
      total += prod(dims);
    } else if (t.dataType === OnnxElemType.INT8 || t.dataType === OnnxElemType.UINT8) {
      // Quantized weights: a zero is the zero point, which is 0 for symmetric int8 weights.
      const raw = t.rawData ?? new Uint8Array();
      if (t.dataType === OnnxElemType.INT8) for (const v of raw) if (v === 0) zeros++;
      total += prod(dims);
    }
  }
  return {
    info,
    opset: defaultOpset(model),
    parameterCount: info.parameterCount,
    macs: nodes.reduce((n, c) => n + c.macs, 0),
    flops: nodes.reduce((n, c) => n + c.flops, 0),
    nodes,
    fileSizeBytes: bytes.length,
    compressedSizeBytes: deflateSync(bytes, { level: 9 }).length,
    sparsity: total === 0 ? 0 : zeros / total,
  };
}
