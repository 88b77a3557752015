import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median } from '@benchfarm/numerics';
import * as ort from 'onnxruntime-node';
import type { Feeds } from './activations';
import { InvalidModelError } from '../errors';
import { GraphIndex } from '../passes/graph-edit';
import { isDefaultDomain, readModel, writeModel } from '../model-io/model-io';
import { cloneModel, type ModelProto, type NodeProto } from '../model-io/proto';

/** One node of the graph onnxruntime ran, with its median kernel time. */
export interface NodeTime {
  /** Node name in the optimized graph (fused and NCHWc nodes get names onnxruntime made up). */
  readonly node: string;
  readonly opType: string;
  /** Median kernel time per run, microseconds. */
  readonly us: number;
}

/** Kernel times of a model's weighted layers, from {@link layerTimes}. */
export interface LayerTimes {
  /** Per run, all kernels (sum of node medians), microseconds. */
  readonly totalUs: number;
  /** Weighted source node name -> microseconds per run of the optimized nodes computing it and its activation chain. Layers onnxruntime did not run are absent. */
  readonly layers: ReadonlyMap<string, number>;
  /** Kernel time of nodes attributed to no layer (Concat, Add, pooling, resize, slices, NCHWc reorders), microseconds per run. */
  readonly unattributedUs: number;
  readonly nodes: readonly NodeTime[];
}

/** Options of {@link profileNodeTimes} and {@link layerTimes}. */
export interface ProfileOptions {
  /** Profiled runs; feeds are used in turn. */
  readonly runs: number;
  /** Runs before the profiled ones (their kernels are dropped). Default 1. */
  readonly warmup?: number;
  readonly intraOpThreads?: number;
  /** onnxruntime graph optimization level. Default `all`, as a deployment runs. */
  readonly optimization?: 'basic' | 'extended' | 'all';
}

/** Thrown when profiling options are invalid or onnxruntime wrote no usable profile; `field` names the option or `profile`. */
export class OrtProfileError extends Error {
  override name = 'OrtProfileError';
  constructor(
    readonly field: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

interface ProfileEvent {
  readonly cat?: string;
  readonly name?: string;
  readonly ts?: number;
  readonly dur?: number;
  readonly args?: { readonly op_name?: string };
}

const KERNEL_SUFFIX = '_kernel_time';

/**
 * Median kernel time per node over the runs after the first `warmup` ones, from an onnxruntime
 * JSON profile: per node, its kernel time in each counted run, then the median over runs (a run
 * preempted by another process on a loaded machine inflates a mean, not a median). Runs are the
 * profile's `model_run` session events; kernels outside the counted runs are dropped; `totalUs`
 * is the sum of the nodes' medians. Pure.
 */
export function nodeTimesFromProfile(events: readonly ProfileEvent[], warmup: number): { nodes: NodeTime[]; totalUs: number; runs: number } {
  const runs = events
    .filter((e) => e.cat === 'Session' && e.name === 'model_run' && typeof e.ts === 'number' && typeof e.dur === 'number')
    .map((e) => ({ from: e.ts ?? 0, to: (e.ts ?? 0) + (e.dur ?? 0) }))
    .sort((a, b) => a.from - b.from)
    .slice(warmup);
  if (runs.length === 0) throw new OrtProfileError('profile', `the onnxruntime profile has no model_run event after ${warmup} warm-up run(s)`);
  const runOf = (ts: number) => runs.findIndex((r) => ts >= r.from && ts <= r.to);
  const perRun = new Map<string, { opType: string; us: number[] }>();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name?.endsWith(KERNEL_SUFFIX) || typeof e.ts !== 'number' || typeof e.dur !== 'number') continue;
    const run = runOf(e.ts);
    if (run < 0) continue;
    const node = e.name.slice(0, -KERNEL_SUFFIX.length);
    const entry = perRun.get(node) ?? { opType: e.args?.op_name ?? '', us: new Array<number>(runs.length).fill(0) };
    entry.us[run] = (entry.us[run] ?? 0) + e.dur;
    perRun.set(node, entry);
  }
  const nodes = [...perRun].map(([node, { opType, us }]) => ({ node, opType, us: median(us) }));
  return { nodes, totalUs: nodes.reduce((t, n) => t + n.us, 0), runs: runs.length };
}

const toOrt = (feeds: Feeds): Record<string, ort.Tensor> => Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, new ort.Tensor('float32', v.data, [...v.dims])]));

function checkOptions(feeds: readonly Feeds[], options: ProfileOptions): void {
  if (!Number.isInteger(options.runs) || options.runs < 1) throw new OrtProfileError('runs', `runs must be an integer >= 1, got ${options.runs}`);
  if (options.warmup !== undefined && (!Number.isInteger(options.warmup) || options.warmup < 0)) throw new OrtProfileError('warmup', `warmup must be an integer >= 0, got ${options.warmup}`);
  if (feeds.length === 0) throw new OrtProfileError('feeds', 'at least one feed is needed to profile a model');
}

/**
 * Profiles a model and, with `keepOptimized`, reads back the optimized graph onnxruntime ran
 * (saved from the same session, so its node names are the profile's). The profile and the
 * saved graph live in a temporary folder removed before returning.
 */
async function profile(model: ModelProto | Uint8Array | string, feeds: readonly Feeds[], options: ProfileOptions, keepOptimized: boolean): Promise<{ nodes: NodeTime[]; totalUs: number; optimized?: ModelProto }> {
  checkOptions(feeds, options);
  const warmup = options.warmup ?? 1;
  const dir = await mkdtemp(join(tmpdir(), 'benchfarm-profile-'));
  try {
    const optimizedPath = join(dir, 'optimized.onnx');
    const sessionOptions: ort.InferenceSession.SessionOptions = {
      executionProviders: ['cpu'],
      graphOptimizationLevel: options.optimization ?? 'all',
      enableProfiling: true,
      // Errors only: saving a level-`all` graph warns that NCHWc makes it machine-specific, which is why it is read here and never kept.
      logSeverityLevel: 3,
      // onnxruntime appends `_<date>_<time>.json` and writes the file on endProfiling().
      profileFilePrefix: join(dir, 'profile'),
      ...(keepOptimized ? { optimizedModelFilePath: optimizedPath } : {}),
      ...(options.intraOpThreads ? { intraOpNumThreads: options.intraOpThreads } : {}),
    };
    const source = typeof model === 'string' || model instanceof Uint8Array ? model : writeModel(model);
    let session: ort.InferenceSession;
    try {
      session = typeof source === 'string' ? await ort.InferenceSession.create(source, sessionOptions) : await ort.InferenceSession.create(source, sessionOptions);
    } catch (err) {
      throw new InvalidModelError('ort_load_failed', '', `onnxruntime cannot load the model to profile it: ${(err as Error).message}`, { cause: err });
    }
    try {
      for (let i = 0; i < warmup + options.runs; i++) await session.run(toOrt(feeds[i % feeds.length] ?? {}));
      session.endProfiling();
    } finally {
      await session.release();
    }
    const file = (await readdir(dir)).find((f) => f.startsWith('profile') && f.endsWith('.json'));
    if (!file) throw new OrtProfileError('profile', `onnxruntime wrote no profile file under ${dir}`);
    let events: ProfileEvent[];
    try {
      events = JSON.parse(await readFile(join(dir, file), 'utf8')) as ProfileEvent[];
    } catch (err) {
      throw new OrtProfileError('profile', `the onnxruntime profile ${file} is not JSON: ${(err as Error).message}`, { cause: err });
    }
    if (!Array.isArray(events)) throw new OrtProfileError('profile', `the onnxruntime profile ${file} is not an array of events`);
    const { nodes, totalUs } = nodeTimesFromProfile(events, warmup);
    return { nodes, totalUs, ...(keepOptimized ? { optimized: readModel(await readFile(optimizedPath)) } : {}) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Profiles `model` (bytes, path or ModelProto) with onnxruntime's profiler on the CPU EP:
 * `runs` runs after `warmup` (default 1), median kernel time per node (over runs) of the optimized graph, in
 * execution order. Kernel times exclude the executor's own overhead between kernels, so
 * `totalUs` is a little below the wall time of a run. Thrown: {@link OrtProfileError} for bad
 * options or an unreadable profile, {@link InvalidModelError} `ort_load_failed` when
 * onnxruntime refuses the model.
 */
export async function profileNodeTimes(model: ModelProto | Uint8Array | string, feeds: readonly Feeds[], options: ProfileOptions): Promise<{ nodes: NodeTime[]; totalUs: number }> {
  const { nodes, totalUs } = await profile(model, feeds, options, false);
  return { nodes, totalUs };
}

const WEIGHTED_OPS = new Set(['Conv', 'ConvTranspose', 'MatMul', 'Gemm']);
/** Unary ops that continue a layer's activation chain in the source graph (input 0 is the data). */
const CHAIN_OPS = new Set(['Relu', 'Clip', 'Sigmoid', 'LeakyRelu', 'HardSigmoid', 'HardSwish', 'Tanh', 'Elu', 'Selu', 'Softplus', 'PRelu', 'BatchNormalization']);
/** Element-wise ops of the optimized graph that onnxruntime fuses an activation chain into. */
const FUSED_CHAIN_OPS = new Set([...CHAIN_OPS, 'QuickGelu', 'Gelu', 'FastGelu', 'BiasGelu']);

const QDQ_OPS = new Set(['QuantizeLinear', 'DequantizeLinear']);

/** The node computing a value, looking through QuantizeLinear/DequantizeLinear (a QDQ model's activations pass through a pair). */
function producerThrough(value: string | undefined, index: GraphIndex): NodeProto | undefined {
  let node = value ? index.producers.get(value) : undefined;
  for (let hops = 0; node && QDQ_OPS.has(node.opType ?? '') && isDefaultDomain(node.domain) && hops < 8; hops++) node = index.producers.get(node.input?.[0] ?? '');
  return node;
}

/**
 * The weighted layer whose activation chain a source node belongs to: the layer itself, a
 * unary activation of it (Relu, Clip, Sigmoid, ...), SiLU's Mul(x, Sigmoid(x)) or a bias Add
 * of a MatMul, looking through Q/DQ pairs in a QDQ model. Undefined for anything else (Concat,
 * residual Add, pooling, Q/DQ themselves, ...).
 */
function chainOwner(node: NodeProto, index: GraphIndex, weighted: ReadonlySet<string>, seen = 0): string | undefined {
  if (seen > 64 || !isDefaultDomain(node.domain)) return undefined;
  const op = node.opType ?? '';
  const producerOf = (value: string | undefined) => producerThrough(value, index);
  if (WEIGHTED_OPS.has(op)) return weighted.has(node.name ?? '') ? (node.name ?? '') : undefined;
  let data: NodeProto | undefined;
  if (CHAIN_OPS.has(op)) data = producerOf(node.input?.[0]);
  else if (op === 'Mul' && (node.input?.length ?? 0) === 2) {
    const [a = '', b = ''] = node.input ?? [];
    const silu = (x: string, s: string) => {
      const sig = producerOf(s);
      const xNode = producerOf(x);
      return sig?.opType === 'Sigmoid' && xNode !== undefined && producerOf(sig.input?.[0]) === xNode;
    };
    if (silu(a, b)) data = producerOf(a);
    else if (silu(b, a)) data = producerOf(b);
  } else if (op === 'Add' && (node.input?.length ?? 0) === 2) {
    const [a = '', b = ''] = node.input ?? [];
    const other = index.initializers.has(b) ? a : index.initializers.has(a) ? b : undefined;
    const p = producerOf(other);
    if (p && (p.opType === 'MatMul' || p.opType === 'Gemm')) data = p;
  }
  return data ? chainOwner(data, index, weighted, seen + 1) : undefined;
}

/** onnxruntime's names for nodes it made: `<output>_nchwc` (NCHWc transformer), `<node>/<Name>Fusion/` (fusions), `<node>_token_<n>` (NHWC layout transformer of QLinearConv). */
function sourceNodeOf(node: NodeProto, source: GraphIndex, sourceNames: ReadonlyMap<string, NodeProto>): NodeProto | undefined {
  const name = node.name ?? '';
  const byName = sourceNames.get(name);
  if (byName) return byName;
  // A fused node keeps the name of its last output: the producer of that tensor in the source.
  for (const out of [...(node.output ?? [])].reverse()) {
    const p = source.producers.get(out);
    if (p) return p;
  }
  if (name.endsWith('_nchwc')) {
    const p = source.producers.get(name.slice(0, -'_nchwc'.length));
    if (p) return p;
  }
  const fusion = /^(.*)\/[A-Za-z0-9]+Fusion\/?$/.exec(name);
  if (fusion?.[1]) return sourceNames.get(fusion[1]);
  const token = /^(.*)_token_\d+$/.exec(name);
  if (token?.[1]) return sourceNames.get(token[1]);
  return undefined;
}

/**
 * Which source layer each optimized node computes: by its name or output (see
 * {@link sourceNodeOf}) and the source node's chain owner; an element-wise activation of the
 * optimized graph whose data input comes from a node of layer L is L's too (NCHWc renames
 * every tensor between reorders, so QuickGelu after an NCHWc Conv is found that way). NCHWc
 * ReorderInput/ReorderOutput nodes are attributed to no layer: quantizing a conv does not save
 * them (the int8 path has its own layout work), so they stay in `unattributedUs`; so do the
 * QuantizeLinear/DequantizeLinear left in a QDQ model (island entries and exits: they belong to
 * the boundary between two layers, not to either). In a QDQ source, QLinearConv, QLinearSigmoid
 * and QLinearMul map to the Conv and SiLU they replace, so an int8 model's layer times compare
 * with the float model's layer by layer. Pure.
 */
export function attributeNodes(source: ModelProto, optimized: ModelProto, weightedNodes: readonly string[]): Map<string, string> {
  const weighted = new Set(weightedNodes);
  const sourceIndex = new GraphIndex(source.graph ?? {});
  const sourceNames = new Map((source.graph?.node ?? []).filter((n) => n.name).map((n) => [n.name ?? '', n]));
  const optimizedIndex = new GraphIndex(optimized.graph ?? {});
  const owner = new Map<string, string>();
  // Graph order is topological, so a producer is attributed before its consumers.
  for (const node of optimized.graph?.node ?? []) {
    const name = node.name ?? '';
    const op = node.opType ?? '';
    if (!name || op.startsWith('Reorder') || QDQ_OPS.has(op)) continue;
    const src = sourceNodeOf(node, sourceIndex, sourceNames);
    let layer = src ? chainOwner(src, sourceIndex, weighted) : undefined;
    if (!layer && FUSED_CHAIN_OPS.has(node.opType ?? '')) {
      const producer = optimizedIndex.producers.get(node.input?.[0] ?? '');
      layer = producer ? owner.get(producer.name ?? '') : undefined;
    }
    if (layer) owner.set(name, layer);
  }
  return owner;
}

/** Names unnamed nodes (op type + counter, as the QDQ planner does), on a copy when any is unnamed. */
function named(model: ModelProto): ModelProto {
  if ((model.graph?.node ?? []).every((n) => n.name)) return model;
  const copy = cloneModel(model);
  const index = new GraphIndex(copy.graph ?? {});
  for (const node of copy.graph?.node ?? []) if (!node.name) node.name = index.uniqueName(node.opType ?? 'node');
  return copy;
}

/**
 * Attributes the optimized graph's kernel times to the source model's weighted layers
 * (Conv/MatMul/Gemm named in `weightedNodes`): a layer gets the time of the optimized nodes
 * computing it and the activation chain it feeds (SiLU = Sigmoid+Mul fused by onnxruntime into
 * QuickGelu/FusedConv, Relu/Clip), so that `layers.get(convName)` is what quantizing that conv
 * could save. Everything else, NCHWc reorders included, is `unattributedUs`; layer shares and
 * `unattributedUs` add up to `totalUs`. Give the model in the form that will be quantized (for
 * int8-auto: Constants as initializers, BatchNorm folded, opset 13). Thrown as
 * {@link profileNodeTimes}.
 */
export async function layerTimes(source: ModelProto, weightedNodes: readonly string[], feeds: readonly Feeds[], options: ProfileOptions): Promise<LayerTimes> {
  const model = named(source);
  const { nodes, totalUs, optimized } = await profile(model, feeds, options, true);
  const owner = attributeNodes(model, optimized ?? model, weightedNodes);
  const layers = new Map<string, number>();
  let unattributedUs = 0;
  for (const n of nodes) {
    const layer = owner.get(n.node);
    if (layer) layers.set(layer, (layers.get(layer) ?? 0) + n.us);
    else unattributedUs += n.us;
  }
  return { totalUs, layers, unattributedUs, nodes };
}
