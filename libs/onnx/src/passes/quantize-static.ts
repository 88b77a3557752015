import { captureActivations, type Feeds } from '../runtime/activations';
import { VariantPassError } from '../errors';
import { attrInt, constantsToInitializers, GraphIndex, intAttr, makeNode, topologicalSort } from './graph-edit';
import { isDefaultDomain } from '../model-io/model-io';
import { foldBatchNorm } from './fold-bn';
import { upgradeOpset } from '../model-io/opset';
import { cloneModel, type ModelProto, type NodeProto } from '../model-io/proto';
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
import { floatsOf, dimsOf, floatTensor, int32Tensor, int8Tensor, uint8Tensor } from '../model-io/tensor-data';

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

/** A weighted layer int8 quantization can target: a Conv/MatMul/Gemm with constant float weights. */
export interface QdqCandidate {
  /** Node name (unnamed nodes get one in {@link planQdq}). */
  readonly name: string;
  readonly opType: string;
  readonly weightAxis: number;
  readonly depthwise: boolean;
  /** Part of the detection head ({@link headNodes}). */
  readonly inHead: boolean;
}

/**
 * A model normalised for QDQ (Constants to initializers, BatchNorm folded, opset >= 13, every
 * node named) with its weighted layers in graph order. One plan serves many layer sets: its
 * model is never edited, {@link buildQdq} works on a copy.
 */
export interface QdqPlan {
  readonly model: ModelProto;
  readonly candidates: readonly QdqCandidate[];
  /** Names of the head's nodes, weighted and not. */
  readonly head: ReadonlySet<string>;
  readonly opsetUpgrade?: string;
  readonly batchNormFolded: number;
}

/**
 * Normalises a model for QDQ and lists its weighted layers of `opTypes`. Thrown:
 * {@link InvalidModelError} `unsupported_opset` when the opset cannot be upgraded.
 */
export function planQdq(source: ModelProto, opTypes: readonly string[]): QdqPlan {
  const normalized = cloneModel(source);
  constantsToInitializers(normalized);
  const bnFolded = foldBatchNorm(normalized);
  const upgraded = upgradeOpset(bnFolded.model, 13);
  const model = upgraded.model;
  const graph = model.graph ?? {};
  const index = new GraphIndex(graph);
  // Layers kept in float (head, skipFirst, excludeNodes) are tracked by name from here on: an
  // unnamed node would never match, so it gets a name no other node or tensor has.
  for (const node of graph.node ?? []) if (!node.name) node.name = index.uniqueName(node.opType ?? 'node');
  const headSet = headNodes(model);
  const ops = new Set(opTypes);
  const candidates: QdqCandidate[] = [];
  for (const node of graph.node ?? []) {
    const op = node.opType ?? '';
    if (!isDefaultDomain(node.domain) || !ops.has(op)) continue;
    const w = index.initializers.get(node.input?.[1] ?? '');
    if (!w || (w.dataType !== 1 && w.dataType !== undefined)) continue;
    if (op === 'Gemm' && attrInt(node, 'transA', 0) !== 0) continue;
    const dims = dimsOf(w);
    const weightAxis = op === 'MatMul' ? dims.length - 1 : op === 'Gemm' ? (attrInt(node, 'transB', 0) === 1 ? 0 : 1) : 0;
    candidates.push({ name: node.name ?? '', opType: op, weightAxis, depthwise: op === 'Conv' && attrInt(node, 'group', 1) > 1, inHead: headSet.has(node) });
  }
  return {
    model,
    candidates,
    head: new Set([...headSet].map((n) => n.name ?? '')),
    ...(upgraded.from !== upgraded.to ? { opsetUpgrade: `${upgraded.from}->${upgraded.to}` } : {}),
    batchNormFolded: bnFolded.folded,
  };
}

/** The activation tensors a layer set puts behind Q/DQ pairs. */
export interface QdqTensors {
  /** Every tensor that gets a Q/DQ pair, in discovery order. */
  readonly names: readonly string[];
  /** The weighted layers' inputs and outputs: calibration must produce them. */
  readonly required: ReadonlySet<string>;
  /** Outputs of MaxPool/Resize/shape ops that reuse their input's scale and zero point. */
  readonly sameParams: ReadonlyMap<string, string>;
  /** Non-weighted ops that run on 8-bit data. */
  readonly activationNodes: number;
  /** Each weighted layer's activation input tensor. */
  readonly inputOf: ReadonlyMap<string, string>;
}

/**
 * The tensors that get Q/DQ when the layers `chosen` (node names) are quantized: each one's
 * activation input and output (or the output of a Relu/Clip that is its sole consumer), and
 * the inputs and outputs of `activationOps` nodes, except those in `skipped` or fed by one
 * (an activation fed by a layer kept in float stays in float too: the stem's SiLU reads the
 * stem conv's wide-range output, the very tensor the stem was kept in float for). Pure.
 */
export function qdqTensors(plan: QdqPlan, chosen: ReadonlySet<string>, activationOps: readonly string[], skipped: ReadonlySet<string>): QdqTensors {
  const graph = plan.model.graph ?? {};
  const index = new GraphIndex(graph);
  const quantized = new Set<string>();
  const inputOf = new Map<string, string>();
  for (const node of graph.node ?? []) {
    if (!chosen.has(node.name ?? '')) continue;
    const input = node.input?.[0] ?? '';
    quantized.add(input);
    inputOf.set(node.name ?? '', input);
    let output = node.output?.[0] ?? '';
    const next = index.soleConsumer(output);
    if (next && FOLDABLE_ACTIVATIONS.has(next.opType ?? '') && isDefaultDomain(next.domain)) output = next.output?.[0] ?? output;
    quantized.add(output);
  }
  const required = new Set(quantized);
  const ops = new Set(activationOps);
  const sameParams = new Map<string, string>();
  const skippedNodes = new Set(chosen.size > 0 ? skipped : []);
  let activationNodes = 0;
  for (const node of graph.node ?? []) {
    const name = node.name ?? '';
    if (!isDefaultDomain(node.domain) || !ops.has(node.opType ?? '') || skippedNodes.has(name)) continue;
    if ((node.input ?? []).some((i) => { const p = index.producers.get(i); return p !== undefined && skippedNodes.has(p.name ?? ''); })) {
      skippedNodes.add(name);
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
  return { names: [...quantized], required, sameParams, activationNodes, inputOf };
}

/**
 * Activation statistics of `names` over the calibration feeds (min, max, |max|; with
 * `histograms`, the 2048-bin |x| histogram Percentile and Entropy need, from a second pass).
 * Tensors onnxruntime does not compute as float are absent. Runs onnxruntime.
 */
export async function calibrateTensors(model: ModelProto, calibration: readonly Feeds[], names: readonly string[], histograms: boolean): Promise<Map<string, TensorStats>> {
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
  if (histograms) {
    for (const s of stats.values()) s.histogram = new Float64Array(HISTOGRAM_BINS);
    await captureActivations(model, calibration, names, (_i, tensors) => {
      for (const name of names) {
        const t = tensors.get(name);
        const s = stats.get(name);
        if (t && s?.histogram) accumulateHistogram(s.histogram, t.data, s.absMax);
      }
    });
  }
  return stats;
}

/** The range a calibration method takes from a tensor's statistics. */
export function calibratedRange(s: TensorStats, method: CalibrationMethod, percentile: number): { rmin: number; rmax: number } {
  return method === 'minmax' ? { rmin: s.min, rmax: s.max } : method === 'percentile' ? percentileRange(s, percentile) : entropyRange(s);
}

/**
 * Scale and zero point of every tensor in `tensors` from its statistics, with `methodOf`
 * choosing the calibration method per tensor; shape-op outputs take their source's. Thrown
 * ({@link VariantPassError} `int8-static`) when a required tensor has no statistics.
 */
export function qdqParams(tensors: QdqTensors, stats: ReadonlyMap<string, TensorStats>, activationType: QuantType, methodOf: (tensor: string) => CalibrationMethod, percentile: number): Map<string, ScaleZp> {
  const params = new Map<string, ScaleZp>();
  for (const name of tensors.names) {
    const s = stats.get(name);
    if (!s && !tensors.required.has(name)) continue; // an integer tensor (shape arithmetic) of an activation op
    if (!s) throw new VariantPassError('int8-static', `calibration produced no values for tensor ${JSON.stringify(name)} (it is not a float tensor onnxruntime computes)`);
    const range = calibratedRange(s, methodOf(name), percentile);
    params.set(name, computeScaleZp(range.rmin, range.rmax, activationType, false));
  }
  for (const [output, input] of tensors.sameParams) {
    let source = input;
    for (let hops = 0; tensors.sameParams.has(source) && hops < 64; hops++) source = tensors.sameParams.get(source) ?? source;
    const p = params.get(source);
    if (p) params.set(output, p);
  }
  return params;
}

/**
 * The QDQ model of a plan with the layers `chosen` quantized: activation Q/DQ pairs with
 * `params`, per-channel int8 weights and int32 biases behind DequantizeLinear. Works on a copy
 * of the plan's model. Pure.
 */
export function buildQdq(plan: QdqPlan, chosen: ReadonlySet<string>, tensors: QdqTensors, params: ReadonlyMap<string, ScaleZp>, activationType: QuantType): ModelProto {
  const model = cloneModel(plan.model);
  const graph = model.graph ?? {};
  const index = new GraphIndex(graph);
  const axisOf = new Map(plan.candidates.map((c) => [c.name, c.weightAxis]));

  // Activation Q/DQ pairs. A produced tensor keeps its name on the DequantizeLinear output (the
  // producer writes `<name>_float`), so graph outputs and every consumer stay wired as they were.
  const newNodes: NodeProto[] = [];
  const graphInputRename = new Map<string, string>();
  for (const name of tensors.names) {
    const p = params.get(name);
    if (!p) continue;
    const scaleName = index.uniqueName(`${name}_scale`);
    const zpName = index.uniqueName(`${name}_zero_point`);
    index.setInitializer(floatTensor(scaleName, [], Float32Array.of(p.scale)));
    index.setInitializer(activationType === 'uint8' ? uint8Tensor(zpName, [], Uint8Array.of(p.zeroPoint)) : int8Tensor(zpName, [], Int8Array.of(p.zeroPoint)));
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
  for (const node of graph.node ?? []) {
    const name = node.name ?? '';
    if (!chosen.has(name)) continue;
    const weightAxis = axisOf.get(name) ?? 0;
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
    const inputScale = params.get(tensors.inputOf.get(name) ?? '')?.scale;
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
  return model;
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
  const plan = planQdq(source, options.opTypes);
  const excluded = new Set(options.excludeNodes);
  const chosen = new Set<string>();
  const skippedHead: string[] = [];
  const skippedFirst: string[] = [];
  let leading = 0;
  let skippedDepthwise = 0;
  for (const c of plan.candidates) {
    if (options.excludeHead && c.inHead) {
      skippedHead.push(c.name);
      continue;
    }
    if (excluded.has(c.name)) continue;
    if (options.skipDepthwise && c.depthwise) {
      skippedDepthwise++;
      continue;
    }
    if (leading < options.skipFirst) {
      leading++;
      skippedFirst.push(c.name);
      continue;
    }
    chosen.add(c.name);
  }
  if (chosen.size === 0) throw new VariantPassError('int8-static', `no node to quantize: no ${options.opTypes.join('/')} node with constant weights outside the excluded ones`);
  const skipped = new Set([...(options.excludeHead ? plan.head : []), ...(plan.model.graph?.node ?? []).map((n) => n.name ?? '').filter((n) => excluded.has(n) || skippedFirst.includes(n))]);
  const tensors = qdqTensors(plan, chosen, options.activationOps, skipped);
  const stats = await calibrateTensors(plan.model, calibration, tensors.names, options.method !== 'minmax');
  const params = qdqParams(tensors, stats, options.activationType, () => options.method, options.percentile);
  const model = buildQdq(plan, chosen, tensors, params, options.activationType);
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
      quantizedNodes: String(chosen.size),
      ...(options.activationOps.length > 0 ? { activationOps: options.activationOps.join(','), activationNodes: String(tensors.activationNodes) } : {}),
      ...(options.skipDepthwise ? { excludedDepthwise: String(skippedDepthwise) } : {}),
      ...(options.skipFirst > 0 ? { excludedFirst: skippedFirst.join(',') } : {}),
      excludedHead: options.excludeHead ? (skippedHead.join(',') || 'none found') : 'no (head quantized too)',
      ...(options.excludeNodes.length > 0 ? { excludedNodes: options.excludeNodes.join(',') } : {}),
      ...(plan.opsetUpgrade ? { opsetUpgrade: plan.opsetUpgrade } : {}),
      calibrationInputs: String(calibration.length),
      ...(plan.batchNormFolded > 0 ? { batchNormFolded: String(plan.batchNormFolded) } : {}),
    },
  };
}
