import { captureActivations, type Feeds } from './activations';
import { VariantPassError } from './errors';
import { attrInt, constantsToInitializers, GraphIndex, intAttr, makeNode, topologicalSort } from './graph-edit';
import { isDefaultDomain } from './model-io';
import { foldBatchNorm } from './fold-bn';
import { upgradeOpset } from './opset';
import { cloneModel, type ModelProto, type NodeProto } from './proto';
import {
  accumulateHistogram,
  computeScaleZp,
  entropyRange,
  HISTOGRAM_BINS,
  percentileRange,
  quantizeBias,
  quantizeWeightsPerChannel,
  type QuantType,
  type ScaleZp,
  type TensorStats,
} from './quant-math';
import { floatsOf, dimsOf, floatTensor, int32Tensor, int8Tensor, uint8Tensor } from './tensor-data';

/** How activation ranges are chosen from the calibration data. */
export type CalibrationMethod = 'minmax' | 'percentile' | 'entropy';

/** Options of {@link quantizeStatic}; see {@link DEFAULT_STATIC_OPTIONS}. */
export interface StaticQuantOptions {
  readonly method: CalibrationMethod;
  /** Percentile method only: the share of |x| kept, in percent. */
  readonly percentile: number;
  readonly activationType: QuantType;
  /** Op types that get QDQ (Conv, MatMul, Gemm with constant weights). */
  readonly opTypes: readonly string[];
  /** Node names kept in float, on top of the head. */
  readonly excludeNodes: readonly string[];
  /**
   * Keep the detection head in float: every node on a path from the last weighted layer to a
   * graph output, that layer included (YOLO prediction convs, decode, concat).
   */
  readonly excludeHead: boolean;
  /**
   * Non-weighted ops whose float inputs and outputs also get QDQ, so that onnxruntime can run
   * them on 8-bit data (QLinearSigmoid/Mul/Add/Concat, uint8 MaxPool/Resize) instead of
   * converting back to float around every weighted layer.
   */
  readonly activationOps: readonly string[];
  /** Leading weighted layers (in graph order) kept in float: the stem sees raw pixels and is the most sensitive. */
  readonly skipFirst: number;
  /** Keep depthwise convolutions (group = input channels) in float: they are memory-bound, int8 gains little there and the Q/DQ around them costs. */
  readonly skipDepthwise: boolean;
}

/** Ops whose output reuses the input's scale and zero point (they only move or select values). */
const SAME_PARAMS_OPS = new Set(['MaxPool', 'Resize', 'Slice', 'Reshape', 'Transpose', 'Squeeze', 'Unsqueeze', 'Flatten', 'Split']);

/** The default int8-static recipe (chosen from the measurements in docs/BENCHMARKS.md). */
export const DEFAULT_STATIC_OPTIONS: StaticQuantOptions = {
  method: 'minmax',
  percentile: 99.999,
  activationType: 'uint8',
  opTypes: ['Conv', 'MatMul', 'Gemm'],
  excludeNodes: [],
  excludeHead: true,
  activationOps: ['Sigmoid', 'Mul'],
  skipFirst: 3,
  skipDepthwise: false,
};

const WEIGHTED = new Set(['Conv', 'MatMul', 'Gemm', 'ConvTranspose']);
/** Activations that ORT folds into the preceding quantized range (QDQ Relu removal). */
const FOLDABLE_ACTIVATIONS = new Set(['Relu', 'Clip']);

/**
 * The detection head: nodes from which a graph output is reached without crossing a weighted
 * layer, plus the weighted layers where that backward walk stops (the prediction convs).
 */
export function headNodes(model: ModelProto): Set<NodeProto> {
  const index = new GraphIndex(model.graph ?? {});
  const head = new Set<NodeProto>();
  const stack = [...index.graphOutputs];
  const seen = new Set<string>();
  while (stack.length > 0) {
    const value = stack.pop() ?? '';
    if (seen.has(value)) continue;
    seen.add(value);
    const node = index.producers.get(value);
    if (!node || head.has(node)) continue;
    head.add(node);
    if (WEIGHTED.has(node.opType ?? '')) continue;
    for (const input of node.input ?? []) if (input && !index.initializers.has(input)) stack.push(input);
  }
  return head;
}

/** Where the calibration data came from, for the recipe. */
export type CalibrationRecipe = Readonly<Record<string, string>>;

/** The result of {@link quantizeStatic}. */
export interface StaticQuantResult {
  readonly model: ModelProto;
  readonly recipe: Record<string, string>;
  /** Scale and zero point of each quantized activation tensor, by name. */
  readonly activationParams: ReadonlyMap<string, ScaleZp>;
}

interface Target {
  node: NodeProto;
  weightAxis: number;
}

/**
 * int8 static quantization in QDQ form (onnxruntime's `quantize_static` scheme): activation
 * ranges from calibration runs (MinMax, Percentile of |x| on 2048 bins, or Entropy/KL), per-
 * channel symmetric int8 weights, int32 biases at input_scale x weight_scale, uint8 or int8
 * activations with one shared QuantizeLinear -> DequantizeLinear pair per tensor, Relu/Clip
 * folded into the preceding range, half-to-even rounding. The opset is upgraded to 13 when
 * older (per-channel DequantizeLinear needs it). Pure apart from running onnxruntime on the
 * calibration feeds.
 *
 * Thrown ({@link VariantPassError} `int8-static`) when there is no calibration feed or no node
 * to quantize; {@link InvalidModelError} `unsupported_opset` when the opset cannot be upgraded.
 */
export async function quantizeStatic(source: ModelProto, calibration: readonly Feeds[], options: StaticQuantOptions = DEFAULT_STATIC_OPTIONS): Promise<StaticQuantResult> {
  if (calibration.length === 0) throw new VariantPassError('int8-static', 'no calibration inputs: give a calibration folder (or ask for random calibration explicitly)');
  const normalized = cloneModel(source);
  constantsToInitializers(normalized);
  const bnFolded = foldBatchNorm(normalized);
  const upgraded = upgradeOpset(bnFolded.model, 13);
  const model = upgraded.model;
  const graph = model.graph ?? {};
  const index = new GraphIndex(graph);
  const head = options.excludeHead ? headNodes(model) : new Set<NodeProto>();
  const excluded = new Set(options.excludeNodes);
  const ops = new Set(options.opTypes);
  const targets: Target[] = [];
  const skippedHead: string[] = [];
  const skippedFirst: string[] = [];
  let leading = 0;
  let skippedDepthwise = 0;
  for (const node of graph.node ?? []) {
    const op = node.opType ?? '';
    if (!isDefaultDomain(node.domain) || !ops.has(op)) continue;
    const weight = node.input?.[1] ?? '';
    const w = index.initializers.get(weight);
    if (!w || (w.dataType !== 1 && w.dataType !== undefined)) continue;
    if (head.has(node)) {
      skippedHead.push(node.name || op);
      continue;
    }
    if (excluded.has(node.name ?? '')) continue;
    if (options.skipDepthwise && op === 'Conv' && attrInt(node, 'group', 1) > 1) {
      skippedDepthwise++;
      continue;
    }
    if (leading < options.skipFirst) {
      leading++;
      skippedFirst.push(node.name || op);
      continue;
    }
    const dims = dimsOf(w);
    const weightAxis = op === 'MatMul' ? dims.length - 1 : op === 'Gemm' ? (attrInt(node, 'transB', 0) === 1 ? 0 : 1) : 0;
    if (op === 'Gemm' && (attrInt(node, 'transA', 0) !== 0)) continue;
    targets.push({ node, weightAxis });
  }
  if (targets.length === 0) throw new VariantPassError('int8-static', `no node to quantize: no ${options.opTypes.join('/')} node with constant weights outside the excluded ones`);

  // Tensors that get a Q/DQ pair: each target's activation input, and its output (or the
  // output of a Relu/Clip that is its sole consumer, which the range then covers).
  const quantized = new Set<string>();
  const inputOf = new Map<NodeProto, string>();
  for (const { node } of targets) {
    const input = node.input?.[0] ?? '';
    quantized.add(input);
    inputOf.set(node, input);
    let output = node.output?.[0] ?? '';
    const next = index.soleConsumer(output);
    if (next && FOLDABLE_ACTIVATIONS.has(next.opType ?? '') && isDefaultDomain(next.domain)) output = next.output?.[0] ?? output;
    quantized.add(output);
  }
  const required = new Set(quantized);
  const activationOps = new Set(options.activationOps);
  const sameParams = new Map<string, string>();
  const skippedNodes = new Set(targets.length ? [...head, ...(graph.node ?? []).filter((n) => excluded.has(n.name ?? '') || skippedFirst.includes(n.name ?? ''))] : []);
  let activationNodes = 0;
  for (const node of graph.node ?? []) {
    if (!isDefaultDomain(node.domain) || !activationOps.has(node.opType ?? '') || skippedNodes.has(node)) continue;
    // An activation fed by a layer kept in float stays in float too (the stem's SiLU reads the
    // stem conv's wide-range output, the very tensor the stem was kept in float for).
    if ((node.input ?? []).some((i) => { const p = index.producers.get(i); return p !== undefined && skippedNodes.has(p); })) {
      skippedNodes.add(node);
      continue;
    }
    const inputs = (node.input ?? []).filter((i) => i && !index.initializers.has(i) && index.producers.get(i)?.opType !== 'Constant');
    const outputs = (node.output ?? []).filter((o) => o);
    if (inputs.length === 0) continue;
    activationNodes++;
    for (const i of inputs) quantized.add(i);
    for (const o of outputs) {
      quantized.add(o);
      if (SAME_PARAMS_OPS.has(node.opType ?? '') && inputs[0]) sameParams.set(o, inputs[0]);
    }
  }
  const names = [...quantized];
  const stats = new Map<string, TensorStats>();
  await captureActivations(model, calibration, names, (_i, tensors) => {
    for (const name of names) {
      const t = tensors.get(name);
      if (!t) continue;
      const s = stats.get(name) ?? { min: Number.POSITIVE_INFINITY, max: Number.NEGATIVE_INFINITY, absMax: 0 };
      for (let i = 0; i < t.data.length; i++) {
        const v = t.data[i] ?? 0;
        if (v < s.min) s.min = v;
        if (v > s.max) s.max = v;
      }
      s.absMax = Math.max(Math.abs(s.min), Math.abs(s.max));
      stats.set(name, s);
    }
  });
  if (options.method !== 'minmax') {
    for (const s of stats.values()) s.histogram = new Float64Array(HISTOGRAM_BINS);
    await captureActivations(model, calibration, names, (_i, tensors) => {
      for (const name of names) {
        const t = tensors.get(name);
        const s = stats.get(name);
        if (t && s?.histogram) accumulateHistogram(s.histogram, t.data, s.absMax);
      }
    });
  }
  const params = new Map<string, ScaleZp>();
  for (const name of names) {
    const s = stats.get(name);
    if (!s && !required.has(name)) continue; // an integer tensor (shape arithmetic) of an activation op
    if (!s) throw new VariantPassError('int8-static', `calibration produced no values for tensor ${JSON.stringify(name)} (it is not a float tensor onnxruntime computes)`);
    const range = options.method === 'minmax' ? { rmin: s.min, rmax: s.max } : options.method === 'percentile' ? percentileRange(s, options.percentile) : entropyRange(s);
    params.set(name, computeScaleZp(range.rmin, range.rmax, options.activationType, false));
  }
  for (const [output, input] of sameParams) {
    let source = input;
    for (let hops = 0; sameParams.has(source) && hops < 64; hops++) source = sameParams.get(source) ?? source;
    const p = params.get(source);
    if (p) params.set(output, p);
  }

  // Activation Q/DQ pairs. A produced tensor keeps its name on the DequantizeLinear output (the
  // producer writes `<name>_float`), so graph outputs and every consumer stay wired as they were.
  const newNodes: NodeProto[] = [];
  const graphInputRename = new Map<string, string>();
  for (const name of names) {
    const p = params.get(name);
    if (!p) continue;
    const scaleName = index.uniqueName(`${name}_scale`);
    const zpName = index.uniqueName(`${name}_zero_point`);
    index.setInitializer(floatTensor(scaleName, [], Float32Array.of(p.scale)));
    index.setInitializer(options.activationType === 'uint8' ? uint8Tensor(zpName, [], Uint8Array.of(p.zeroPoint)) : int8Tensor(zpName, [], Int8Array.of(p.zeroPoint)));
    const producer = index.producers.get(name);
    const qOut = index.uniqueName(`${name}_quantized`);
    let floatName = name;
    let dqOut = name;
    if (producer) {
      floatName = index.uniqueName(`${name}_float`);
      producer.output = (producer.output ?? []).map((o) => (o === name ? floatName : o));
    } else {
      dqOut = index.uniqueName(`${name}_dequantized`);
      graphInputRename.set(name, dqOut);
    }
    newNodes.push(makeNode('QuantizeLinear', [floatName, scaleName, zpName], [qOut], index.uniqueName(`${name}_QuantizeLinear`)));
    newNodes.push(makeNode('DequantizeLinear', [qOut, scaleName, zpName], [dqOut], index.uniqueName(`${name}_DequantizeLinear`)));
  }
  for (const node of graph.node ?? []) node.input = (node.input ?? []).map((i) => graphInputRename.get(i) ?? i);

  // Weights and biases: stored quantized, each behind its own DequantizeLinear.
  const weightCache = new Map<string, { dq: string; scales: Float32Array }>();
  for (const { node, weightAxis } of targets) {
    const weightName = node.input?.[1] ?? '';
    let weight = weightCache.get(weightName);
    if (!weight) {
      const w = index.initializers.get(weightName);
      if (!w) continue;
      const dims = dimsOf(w);
      const q = quantizeWeightsPerChannel(floatsOf(w), dims, weightAxis);
      const qName = index.uniqueName(`${weightName}_quantized`);
      const sName = index.uniqueName(`${weightName}_scale`);
      const zName = index.uniqueName(`${weightName}_zero_point`);
      index.setInitializer(int8Tensor(qName, dims, q.data));
      index.setInitializer(floatTensor(sName, [q.scales.length], q.scales));
      index.setInitializer(int8Tensor(zName, [q.scales.length], new Int8Array(q.scales.length)));
      const dq = index.uniqueName(`${weightName}_dequantized`);
      newNodes.push(makeNode('DequantizeLinear', [qName, sName, zName], [dq], index.uniqueName(`${weightName}_DequantizeLinear`), [intAttr('axis', weightAxis)]));
      weight = { dq, scales: q.scales };
      weightCache.set(weightName, weight);
    }
    const inputs = node.input ?? [];
    inputs[1] = weight.dq;
    const biasName = inputs[2] ?? '';
    const bias = biasName ? index.initializers.get(biasName) : undefined;
    const inputScale = params.get(inputOf.get(node) ?? '')?.scale;
    if (bias && inputScale !== undefined && (node.opType === 'Conv' || node.opType === 'Gemm')) {
      const q = quantizeBias(floatsOf(bias), inputScale, weight.scales);
      const qName = index.uniqueName(`${biasName}_quantized`);
      const sName = index.uniqueName(`${biasName}_scale`);
      const zName = index.uniqueName(`${biasName}_zero_point`);
      index.setInitializer(int32Tensor(qName, dimsOf(bias), q.data));
      index.setInitializer(floatTensor(sName, [q.scales.length], q.scales));
      index.setInitializer(int32Tensor(zName, [q.scales.length], new Int32Array(q.scales.length)));
      const dq = index.uniqueName(`${biasName}_dequantized`);
      newNodes.push(makeNode('DequantizeLinear', [qName, sName, zName], [dq], index.uniqueName(`${biasName}_DequantizeLinear`), [intAttr('axis', 0)]));
      inputs[2] = dq;
    }
  }
  graph.node = [...(graph.node ?? []), ...newNodes];
  topologicalSort(graph);
  index.rebuild();
  index.removeUnusedInitializers();
  return {
    model,
    activationParams: params,
    recipe: {
      pass: 'int8-static',
      format: 'QDQ',
      calibrationMethod: options.method,
      ...(options.method === 'percentile' ? { percentile: String(options.percentile) } : {}),
      ...(options.method === 'entropy' ? { entropyBins: `${HISTOGRAM_BINS} bins, 128 levels, KL` } : {}),
      activationType: options.activationType,
      weights: 'int8 per-channel symmetric',
      bias: 'int32, scale = input_scale x weight_scale',
      rounding: 'half-to-even',
      opTypes: options.opTypes.join(','),
      quantizedNodes: String(targets.length),
      ...(options.activationOps.length > 0 ? { activationOps: options.activationOps.join(','), activationNodes: String(activationNodes) } : {}),
      ...(options.skipDepthwise ? { excludedDepthwise: String(skippedDepthwise) } : {}),
      ...(options.skipFirst > 0 ? { excludedFirst: skippedFirst.join(',') } : {}),
      excludedHead: options.excludeHead ? (skippedHead.join(',') || 'none found') : 'no (head quantized too)',
      ...(options.excludeNodes.length > 0 ? { excludedNodes: options.excludeNodes.join(',') } : {}),
      ...(upgraded.from !== upgraded.to ? { opsetUpgrade: `${upgraded.from}->${upgraded.to}` } : {}),
      calibrationInputs: String(calibration.length),
      ...(bnFolded.folded > 0 ? { batchNormFolded: String(bnFolded.folded) } : {}),
    },
  };
}
