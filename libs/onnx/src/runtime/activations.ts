import * as ort from 'onnxruntime-node';
import { InvalidModelError } from '../errors';
import { writeModel } from '../model-io/model-io';
import { cloneModel, onnx, type ModelProto } from '../model-io/proto';

/** A float32 tensor fed to or read from a model. */
export interface FloatTensor {
  readonly data: Float32Array;
  readonly dims: readonly number[];
}

/** One set of model inputs by input name. */
export type Feeds = Readonly<Record<string, FloatTensor>>;

/** Options of {@link runModel} and {@link captureActivations}. */
export interface RunOptions {
  /** Graph optimization level of the session; calibration runs with `disabled` so that every tensor exists. */
  readonly optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  readonly intraOpThreads?: number;
}

async function session(model: ModelProto | Uint8Array | string, options: RunOptions): Promise<ort.InferenceSession> {
  const source = typeof model === 'string' || model instanceof Uint8Array ? model : writeModel(model);
  try {
    return typeof source === 'string'
      ? await ort.InferenceSession.create(source, { executionProviders: ['cpu'], graphOptimizationLevel: options.optimization ?? 'all', ...(options.intraOpThreads ? { intraOpNumThreads: options.intraOpThreads } : {}) })
      : await ort.InferenceSession.create(source, { executionProviders: ['cpu'], graphOptimizationLevel: options.optimization ?? 'all', ...(options.intraOpThreads ? { intraOpNumThreads: options.intraOpThreads } : {}) });
  } catch (err) {
    throw new InvalidModelError('ort_load_failed', '', `onnxruntime cannot load the model: ${(err as Error).message}`, { cause: err });
  }
}

const toOrt = (feeds: Feeds): Record<string, ort.Tensor> => Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, new ort.Tensor('float32', v.data, [...v.dims])]));

function floatOutputs(result: ort.InferenceSession.ReturnType): Map<string, FloatTensor> {
  const out = new Map<string, FloatTensor>();
  for (const [name, tensor] of Object.entries(result)) {
    if (tensor.type !== 'float32') continue;
    out.set(name, { data: tensor.data as Float32Array, dims: [...tensor.dims] });
  }
  return out;
}

/**
 * Runs a model (in this process, CPU EP) on each feed and returns its float outputs per
 * feed. For the caller's own models (CLI, tests); the coordinator keeps onnxruntime on users'
 * models in child processes.
 */
export async function runModel(model: ModelProto | Uint8Array | string, feeds: readonly Feeds[], options: RunOptions = {}): Promise<Map<string, FloatTensor>[]> {
  const s = await session(model, options);
  try {
    const results: Map<string, FloatTensor>[] = [];
    for (const feed of feeds) results.push(floatOutputs(await s.run(toOrt(feed))));
    return results;
  } finally {
    await s.release();
  }
}

function withOutputs(model: ModelProto, names: readonly string[] | 'all'): ModelProto {
  const probe = cloneModel(model);
  const graph = probe.graph ?? {};
  const outputs = graph.output ?? (graph.output = []);
  const present = new Set(outputs.map((o) => o.name ?? ''));
  const wanted = names === 'all' ? (graph.node ?? []).flatMap((n) => n.output ?? []) : names;
  // A graph output without a type is accepted: onnxruntime takes the type it infers.
  for (const name of wanted) {
    if (!name || present.has(name)) continue;
    outputs.push(onnx.ValueInfoProto.create({ name }));
    present.add(name);
  }
  return probe;
}

/**
 * Runs a model with the given intermediate values added to its outputs (every node output
 * when `names` is 'all') and hands each feed's float tensors to `visit`, one feed at a time
 * so that only one feed's activations are in memory. Optimizations default to `disabled`:
 * fused nodes would hide the tensors asked for.
 */
export async function captureActivations(
  model: ModelProto,
  feeds: readonly Feeds[],
  names: readonly string[] | 'all',
  visit: (index: number, tensors: Map<string, FloatTensor>) => void,
  options: RunOptions = {},
): Promise<void> {
  const s = await session(withOutputs(model, names), { optimization: 'disabled', ...options });
  try {
    for (const [i, feed] of feeds.entries()) visit(i, floatOutputs(await s.run(toOrt(feed))));
  } finally {
    await s.release();
  }
}

/**
 * The dims of every tensor the model computes (any element type), its inputs included, from
 * one run on the given feed with optimizations disabled: shapes as onnxruntime inferred and
 * executed them, for per-node MACs.
 */
export async function inferShapesByRunning(model: ModelProto, feed: Feeds): Promise<Map<string, number[]>> {
  const dims = new Map<string, number[]>();
  for (const [name, t] of Object.entries(feed)) dims.set(name, [...t.dims]);
  const s = await session(withOutputs(model, 'all'), { optimization: 'disabled' });
  try {
    const result = await s.run(toOrt(feed));
    for (const [name, t] of Object.entries(result)) dims.set(name, [...t.dims]);
  } finally {
    await s.release();
  }
  return dims;
}

/** Zero-filled feeds for a model whose float inputs have fixed dims. Thrown for dynamic or non-float inputs. */
export function zeroFeeds(model: ModelProto): Feeds {
  const feeds: Record<string, FloatTensor> = {};
  const inits = new Set((model.graph?.initializer ?? []).map((t) => t.name ?? ''));
  for (const input of model.graph?.input ?? []) {
    const name = input.name ?? '';
    if (inits.has(name)) continue;
    const tt = input.type?.tensorType;
    const dims = (tt?.shape?.dim ?? []).map((d) => (d.dimValue === null || d.dimValue === undefined ? Number.NaN : Number(d.dimValue)));
    if (tt?.elemType !== onnx.TensorProto.DataType.FLOAT || dims.some((d) => !(d > 0))) {
      throw new InvalidModelError('invalid_shape', `graph.input.${name}`, `input ${JSON.stringify(name)} must be a float32 tensor with fixed dims to be fed here`);
    }
    feeds[name] = { data: new Float32Array(dims.reduce((a, b) => a * b, 1)), dims };
  }
  return feeds;
}

/**
 * Per-model latency samples (ms) of one feed, the models run in turn round after round (after
 * `warmup` runs each) so that machine drift and other load hit every model alike. Default
 * graph optimizations (`all`), as a deployment would run them.
 */
export async function interleavedLatencyMs(models: readonly string[], feed: Feeds, rounds: number, options: RunOptions & { warmup?: number } = {}): Promise<number[][]> {
  const sessions: ort.InferenceSession[] = [];
  const times: number[][] = models.map(() => []);
  try {
    for (const m of models) sessions.push(await session(m, options));
    const tensors = toOrt(feed);
    for (const s of sessions) for (let i = 0; i < (options.warmup ?? 5); i++) await s.run(tensors);
    for (let round = 0; round < rounds; round++) {
      for (const [i, s] of sessions.entries()) {
        const started = performance.now();
        await s.run(tensors);
        times[i]?.push(performance.now() - started);
      }
    }
  } finally {
    for (const s of sessions) await s.release();
  }
  return times;
}
