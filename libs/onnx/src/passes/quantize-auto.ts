// int8-auto: quantize as much of the model as an accuracy floor allows.
//
// The search, in order:
//  1. Normalise once (planQdq) and calibrate once: statistics of every tensor any layer set
//     can put behind Q/DQ, from the calibration images (histograms too when Percentile or
//     Entropy are searched).
//  2. fp32 reference outputs on the search images (the calibration images) and on the held-out
//     images, and each weighted layer's share of the fp32 kernel time from an onnxruntime
//     profile on this machine (ort-profile.ts).
//  3. Sensitivity: each layer quantized ALONE, scored against fp32 on the search images
//     (output cosine, and the floor metric); for the most sensitive layers the other
//     calibration methods are tried too and the best kept for that layer's own tensors.
//  4. Rank by time share per accuracy lost (share / (1 - cosine)), then find the longest
//     prefix of that ranking that meets the floor (binary search), then try to add the
//     remaining layers with the largest time shares one at a time, keeping each that still
//     meets the floor (bounded number of tries).
//  5. Final check of the chosen set on the held-out images, which neither calibration nor the
//     search saw: the recipe records it, and whether the floor held there.
// Every score is the farm's one accuracy implementation (EvaluationAccumulator: mAP@0.5 agreement
// with fp32, top-1 agreement, pooled output cosine).
import { performance } from 'node:perf_hooks';
import { median } from '@benchfarm/numerics';
import * as ort from 'onnxruntime-node';
import type { Feeds } from '../runtime/activations';
import { VariantParamError, VariantPassError } from '../errors';
import { EvaluationAccumulator, type EvaluationTask, type RunOutputs } from '../evaluation/evaluation';
import { guessYoloLayout, type YoloLayout } from '../evaluation/fidelity';
import { readModel, writeModel } from '../model-io/model-io';
import { layerTimes, profileNodeTimes, type ProfileOptions } from '../runtime/ort-profile';
import type { ModelProto, NodeProto } from '../model-io/proto';
import type { QuantType, TensorStats } from './quant-math';
import { buildQdq, calibrateTensors, DEFAULT_STATIC_OPTIONS, planQdq, qdqParams, qdqTensors, type CalibrationMethod, type QdqCandidate, type QdqPlan } from './quantize-static';
import { DEFAULT_AUTO_FLOORS, type AutoFloor, type AutoFloorMetric, type AutoQuantReport, type AutoSearchStep, type LayerSensitivity } from './quantize-auto.types';

/** Options of {@link quantizeAuto}; see {@link DEFAULT_AUTO_OPTIONS}. */
export interface AutoQuantOptions {
  /** Undefined: the task's default ({@link DEFAULT_AUTO_FLOORS}). */
  readonly floor?: AutoFloor;
  /** Undefined: detected from the fp32 outputs (a YOLO-family output: detection; [1, C]: classification; else fidelity). */
  readonly task?: EvaluationTask;
  readonly activationType: QuantType;
  readonly activationOps: readonly string[];
  readonly opTypes: readonly string[];
  /** Calibration methods tried per layer; the first is every layer's default. */
  readonly methods: readonly CalibrationMethod[];
  readonly percentile: number;
  /** Layers (the most sensitive share) for which the other methods are tried. */
  readonly methodSearchShare: number;
  /** How many single-layer additions the refinement after the prefix search tries at most. */
  readonly refineTries: number;
  /** Intra-op threads of every onnxruntime session of the search (1: the figures do not depend on the machine's load). */
  readonly threads: number;
  /** Profiled runs for the time shares (per node, the median over runs). */
  readonly profileRuns: number;
  /**
   * What a layer saves when quantized, for the ranking: `share` = its share of the fp32 kernel
   * time (what int8 can save on a device with fast integer kernels; the deriving machine is
   * rarely the target), `measured` = fp32 minus int8 kernel time profiled on the deriving
   * machine, layers that int8 makes slower there left float (use when that machine is the target).
   */
  readonly gain: 'share' | 'measured';
  /** Interleaved rounds timing the chosen model against fp32 on the deriving machine (0: not timed). */
  readonly timingRounds: number;
}

/** The int8-auto defaults. */
export const DEFAULT_AUTO_OPTIONS: AutoQuantOptions = {
  activationType: DEFAULT_STATIC_OPTIONS.activationType,
  activationOps: DEFAULT_STATIC_OPTIONS.activationOps,
  opTypes: DEFAULT_STATIC_OPTIONS.opTypes,
  methods: ['minmax', 'percentile'],
  percentile: 99.99,
  methodSearchShare: 0.25,
  refineTries: 16,
  threads: 1,
  profileRuns: 10,
  gain: 'share',
  timingRounds: 30,
};

/** The result of {@link quantizeAuto}. */
export interface AutoQuantResult {
  readonly model: ModelProto;
  readonly recipe: Record<string, string>;
  readonly report: AutoQuantReport;
}

interface Scored {
  readonly metric: number;
  readonly cosine: number;
}

/**
 * The task a model's outputs fit, by the rules the coordinator uses for sweeps: an output in a
 * YOLO-family layout for the input size is a detector, a [1, C] output (C > 1) a classifier,
 * anything else is scored by output fidelity.
 */
export function taskOfOutputs(outputDims: readonly (readonly number[])[], inputHw: readonly [number, number]): { task: EvaluationTask; detectionLayout?: YoloLayout } {
  for (const dims of outputDims) {
    const layout = guessYoloLayout(dims, inputHw);
    if (layout) return { task: 'detection', detectionLayout: layout };
  }
  if (outputDims.some((d) => d.length === 2 && d[0] === 1 && (d[1] ?? 0) > 1)) return { task: 'classification' };
  return { task: 'fidelity' };
}

const FLOOR_METRICS: readonly AutoFloorMetric[] = ['map50_agreement', 'top1_agreement', 'cosine'];
const METHODS: readonly CalibrationMethod[] = ['minmax', 'percentile', 'entropy'];
const TASKS: readonly EvaluationTask[] = ['detection', 'classification', 'fidelity'];

/** What an `int8-auto:<options>` name asks for. */
export interface AutoParams {
  readonly options: AutoQuantOptions;
  /** The floor value and metric as given (either may be absent: the task's default fills it). */
  readonly floorValue?: number;
  readonly floorMetric?: AutoFloorMetric;
}

/**
 * Parses int8-auto options: `+`-separated `floor=<0..1>`, `metric=map50_agreement|top1_agreement|cosine`,
 * `task=detection|classification|fidelity`, `methods=minmax/percentile/entropy`, `refine=<n>`,
 * `gain=share|measured`, `u8`/`s8`. Thrown ({@link VariantParamError}) naming the bad option.
 */
export function parseAutoParams(variant: string, param: string | undefined): AutoParams {
  let options = DEFAULT_AUTO_OPTIONS;
  let floorValue: number | undefined;
  let floorMetric: AutoFloorMetric | undefined;
  if (param === undefined) return { options };
  const fail = (message: string): never => {
    throw new VariantParamError(variant, `${message}; options are +-separated: floor=<0..1>, metric=${FLOOR_METRICS.join('|')}, task=${TASKS.join('|')}, methods=<m>/<m> (${METHODS.join(', ')}), refine=<n>, gain=share|measured, u8|s8`);
  };
  if (param.trim() === '') fail('empty options after ":"');
  for (const token of param.split('+').map((t) => t.trim())) {
    const [key = '', value] = token.split('=', 2);
    if (value === undefined) {
      if (key === 'u8' || key === 's8') options = { ...options, activationType: key === 'u8' ? 'uint8' : 'int8' };
      else fail(`unknown option ${JSON.stringify(token)}`);
      continue;
    }
    switch (key) {
      case 'floor': {
        const v = Number(value);
        if (value.trim() === '' || !(v > 0 && v <= 1)) fail(`floor must be a number in (0, 1], got ${JSON.stringify(value)}`);
        floorValue = v;
        break;
      }
      case 'metric':
        if (!FLOOR_METRICS.includes(value as AutoFloorMetric)) fail(`metric must be one of ${FLOOR_METRICS.join(', ')}, got ${JSON.stringify(value)}`);
        floorMetric = value as AutoFloorMetric;
        break;
      case 'task':
        if (!TASKS.includes(value as EvaluationTask)) fail(`task must be one of ${TASKS.join(', ')}, got ${JSON.stringify(value)}`);
        options = { ...options, task: value as EvaluationTask };
        break;
      case 'methods': {
        const list = value.split('/').map((m) => m.trim()).filter((m) => m !== '');
        if (list.length === 0 || list.some((m) => !METHODS.includes(m as CalibrationMethod))) fail(`methods must be /-separated among ${METHODS.join(', ')}, got ${JSON.stringify(value)}`);
        options = { ...options, methods: [...new Set(list as CalibrationMethod[])] };
        break;
      }
      case 'gain':
        if (value !== 'share' && value !== 'measured') fail(`gain must be share or measured, got ${JSON.stringify(value)}`);
        options = { ...options, gain: value as 'share' | 'measured' };
        break;
      case 'refine': {
        const n = Number(value);
        if (!(Number.isInteger(n) && n >= 0 && n <= 1000)) fail(`refine must be an integer in [0, 1000], got ${JSON.stringify(value)}`);
        options = { ...options, refineTries: n };
        break;
      }
      default:
        fail(`unknown option ${JSON.stringify(key)}`);
    }
  }
  if (floorMetric === 'map50_agreement' && options.task !== undefined && options.task !== 'detection') fail(`metric map50_agreement needs task detection, not ${options.task}`);
  if (floorMetric === 'top1_agreement' && options.task !== undefined && options.task !== 'classification') fail(`metric top1_agreement needs task classification, not ${options.task}`);
  return { options, ...(floorValue !== undefined ? { floorValue } : {}), ...(floorMetric ? { floorMetric } : {}) };
}

/** Every 3rd feed from the 2nd held out (the split the coordinator uses on image names). */
export function holdOutEveryThird<T>(items: readonly T[]): { kept: T[]; heldOut: T[] } {
  const kept: T[] = [];
  const heldOut: T[] = [];
  for (const [i, item] of items.entries()) (i % 3 === 1 ? heldOut : kept).push(item);
  return { kept, heldOut };
}

const toOrt = (feeds: Feeds): Record<string, ort.Tensor> => Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, new ort.Tensor('float32', v.data, [...v.dims])]));

async function runAll(model: Uint8Array, feeds: readonly Feeds[], threads: number): Promise<RunOutputs[]> {
  const session = await ort.InferenceSession.create(model, { executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: threads, interOpNumThreads: 1 });
  try {
    const out: RunOutputs[] = [];
    for (const feed of feeds) {
      const result = await session.run(toOrt(feed));
      out.push(Object.fromEntries(Object.entries(result).map(([k, t]) => [k, { data: t.data, type: t.type, dims: [...t.dims] }])));
    }
    return out;
  } finally {
    await session.release();
  }
}

/** The search's scorer: one variant against the fp32 reference on a fixed set of images. */
class Scorer {
  constructor(
    private readonly reference: readonly RunOutputs[],
    private readonly task: EvaluationTask,
    private readonly layout: YoloLayout | undefined,
    private readonly inputHw: readonly [number, number],
    private readonly metric: AutoFloorMetric,
    private readonly threads: number,
    private readonly inputs: string,
  ) {}

  /** Scores a model; `resamples` > 0 adds bootstrap CIs (for the reported figures). */
  async score(model: Uint8Array, feeds: readonly Feeds[], resamples = 0): Promise<Scored & { metricCi?: { low: number; high: number }; images: number }> {
    const outputs = await runAll(model, feeds, this.threads);
    const acc = new EvaluationAccumulator({
      task: this.task,
      ...(this.layout ? { detectionLayout: this.layout } : {}),
      inputHw: this.inputHw,
      variants: [{ name: 'fp32', sha256: '' }, { name: 'candidate', sha256: '' }],
      labelled: false,
      resamples,
      seed: 1,
      inputs: this.inputs,
    });
    for (const [i, out] of outputs.entries()) {
      acc.beginImage();
      acc.observe(0, this.reference[i] ?? {});
      acc.observe(1, out);
    }
    const result = acc.result({ datasetId: '', datasetName: '', split: '', durationMs: 0, loadMs: 0 });
    const variant = result.variants[1];
    const fidelity = variant?.fidelity ?? [];
    // One cosine per model: the mean over its float outputs (a detector has one).
    const cosine = fidelity.length > 0 ? fidelity.reduce((s, f) => s + f.cosine, 0) / fidelity.length : Number.NaN;
    if (this.metric === 'cosine') {
      const ci = fidelity.length === 1 ? fidelity[0]?.cosineCi : undefined;
      return { metric: cosine, cosine, images: outputs.length, ...(ci ? { metricCi: { low: ci.low, high: ci.high } } : {}) };
    }
    const m = variant?.metrics.find((x) => x.metric === this.metric);
    // A reference that detects nothing on these images cannot be disagreed with.
    const value = m?.value ?? (m?.reason ? 1 : Number.NaN);
    return { metric: value, cosine, images: outputs.length, ...(m?.ci ? { metricCi: { low: m.ci.low, high: m.ci.high } } : {}) };
  }
}

/** Which layer "owns" each Q/DQ tensor: the weighted layer whose output (through its activation chain) it is. */
function tensorOwners(plan: QdqPlan, names: readonly string[]): Map<string, string> {
  const producers = new Map<string, { name: string; opType: string; inputs: string[] }>();
  for (const node of plan.model.graph?.node ?? []) for (const o of node.output ?? []) producers.set(o, { name: node.name ?? '', opType: node.opType ?? '', inputs: node.input ?? [] });
  const candidates = new Set(plan.candidates.map((c) => c.name));
  const owners = new Map<string, string>();
  for (const name of names) {
    let value = name;
    for (let hops = 0; hops < 16; hops++) {
      const p = producers.get(value);
      if (!p) break;
      if (candidates.has(p.name)) {
        owners.set(name, p.name);
        break;
      }
      value = p.inputs[0] ?? '';
    }
  }
  return owners;
}

/**
 * int8-auto: the QDQ model that quantizes the most time-saving set of weighted layers whose
 * accuracy against fp32 on the search images stays at or above the floor, with the search and
 * a held-out check reported (see the file comment for the search). `search` are the images
 * scored during the search (the calibration images); `holdout` images neither calibrate nor
 * search. Thrown: {@link VariantPassError} `int8-auto` when there are no calibration or
 * held-out inputs, no layer to quantize, or no layer set at all meets the floor.
 */
export async function quantizeAuto(source: ModelProto, calibration: readonly Feeds[], holdout: readonly Feeds[], params: AutoParams, inputs: string): Promise<AutoQuantResult> {
  const result = await autoQuant(source, calibration, holdout, params, inputs, 'search');
  if (!result.model) throw new VariantPassError('int8-auto', 'the search produced no model');
  return { model: result.model, recipe: result.recipe, report: result.report };
}

/**
 * The sensitivity table alone (`benchfarm variants --sensitivity`): every layer quantized
 * alone and scored against fp32 on `search` (the images also calibrate), ranked as int8-auto
 * ranks them; no search, no held-out check (`steps` empty). Thrown as {@link quantizeAuto}.
 */
export async function quantizationSensitivity(source: ModelProto, search: readonly Feeds[], params: AutoParams = { options: DEFAULT_AUTO_OPTIONS }, inputs = 'calibration images'): Promise<AutoQuantReport> {
  return (await autoQuant(source, search, [], params, inputs, 'sensitivity')).report;
}

async function autoQuant(source: ModelProto, calibration: readonly Feeds[], holdout: readonly Feeds[], params: AutoParams, inputs: string, mode: 'search' | 'sensitivity'): Promise<{ model?: ModelProto; recipe: Record<string, string>; report: AutoQuantReport }> {
  const started = performance.now();
  const options = params.options;
  if (calibration.length === 0) throw new VariantPassError('int8-auto', 'no calibration inputs');
  if (holdout.length === 0 && mode === 'search') throw new VariantPassError('int8-auto', 'no held-out inputs: int8-auto checks its choice on images the search did not use (give at least 3 calibration images, or held-out images)');
  const search = calibration;
  const plan = planQdq(source, options.opTypes);
  if (plan.candidates.length === 0) throw new VariantPassError('int8-auto', `no node to quantize: no ${options.opTypes.join('/')} node with constant weights`);
  const candidateNames = new Set(plan.candidates.map((c) => c.name));
  // The head's non-weighted nodes (decode: sigmoids, concat of boxes and scores) stay float.
  const decode = new Set([...plan.head].filter((n) => !candidateNames.has(n)));
  const tensorsAll = qdqTensors(plan, candidateNames, options.activationOps, decode);
  const stats: Map<string, TensorStats> = await calibrateTensors(plan.model, calibration, tensorsAll.names, options.methods.some((m) => m !== 'minmax'));
  const fp32Bytes = writeModel(plan.model);
  const referenceSearch = await runAll(fp32Bytes, search, options.threads);
  const referenceHoldout = holdout.length > 0 ? await runAll(fp32Bytes, holdout, options.threads) : [];

  const firstFeed = Object.values(search[0] ?? {})[0];
  const inputHw: [number, number] = [firstFeed?.dims[2] ?? 0, firstFeed?.dims[3] ?? 0];
  const outputDims = Object.values(referenceSearch[0] ?? {}).filter((o) => o.type === 'float32').map((o) => o.dims);
  const detected = taskOfOutputs(outputDims, inputHw);
  const task = options.task ?? detected.task;
  if (task === 'detection' && !detected.detectionLayout) throw new VariantPassError('int8-auto', `task detection needs a YOLO-family output; the fp32 outputs are ${outputDims.map((d) => `[${d.join(', ')}]`).join(', ')}`);
  if (task === 'classification' && detected.task === 'fidelity') throw new VariantPassError('int8-auto', 'task classification needs a [1, C] output of class scores');
  const defaultFloor = DEFAULT_AUTO_FLOORS[task];
  const metric = params.floorMetric ?? defaultFloor.metric;
  if (metric === 'map50_agreement' && task !== 'detection') throw new VariantParamError('int8-auto', `metric map50_agreement needs a detector; this model is scored as ${task}`);
  if (metric === 'top1_agreement' && task !== 'classification') throw new VariantParamError('int8-auto', `metric top1_agreement needs a classifier; this model is scored as ${task}`);
  const floor: AutoFloor = { metric, value: params.floorValue ?? (metric === defaultFloor.metric ? defaultFloor.value : DEFAULT_AUTO_FLOORS.fidelity.value) };
  const scorer = new Scorer(referenceSearch, task, detected.detectionLayout, inputHw, metric, options.threads, inputs);

  // Layer times from an fp32 profile (layerTimes attributes fused nodes to their layer).
  const profileOptions = { runs: options.profileRuns, warmup: 2, intraOpThreads: options.threads, optimization: 'all' } as const;
  const times = await layerTimes(plan.model, plan.candidates.map((c) => c.name), search.slice(0, 2), profileOptions);
  const totalUs = times.totalUs > 0 ? times.totalUs : 1;
  const owners = tensorOwners(plan, tensorsAll.names);
  const methodOfLayer = new Map<string, CalibrationMethod>(plan.candidates.map((c) => [c.name, options.methods[0] ?? 'minmax']));
  const build = (chosen: ReadonlySet<string>, methods: ReadonlyMap<string, CalibrationMethod> = methodOfLayer): Uint8Array => {
    const skipped = new Set([...decode, ...plan.candidates.filter((c) => !chosen.has(c.name)).map((c) => c.name)]);
    const tensors = qdqTensors(plan, chosen, options.activationOps, skipped);
    const qparams = qdqParams(tensors, stats, options.activationType, (t) => methods.get(owners.get(t) ?? '') ?? options.methods[0] ?? 'minmax', options.percentile);
    return writeModel(buildQdq(plan, chosen, tensors, qparams, options.activationType));
  };
  let evaluations = 0;
  const evaluate = async (chosen: ReadonlySet<string>, methods?: ReadonlyMap<string, CalibrationMethod>): Promise<Scored> => {
    evaluations++;
    return scorer.score(build(chosen, methods), search);
  };

  // What each layer costs in int8 on this machine: a profile of the model with every layer
  // quantized, its QLinearConv, int8 activation and output Q/DQ attributed to it by name.
  const allBytes = build(candidateNames);
  const int8Times = await int8LayerTimes(readModel(allBytes), candidateNames, allBytes, search.slice(0, 2), profileOptions);
  const gainOf = (name: string): number | undefined => {
    const int8 = int8Times.get(name);
    const fp32 = times.layers.get(name);
    return int8 === undefined || fp32 === undefined ? undefined : fp32 - int8;
  };

  // Sensitivity: each layer alone.
  const alone = new Map<string, Scored>();
  for (const c of plan.candidates) alone.set(c.name, await evaluate(new Set([c.name])));
  const lossOf = (s: Scored | undefined): number => Math.max(1e-7, 1 - (Number.isFinite(s?.cosine) ? (s?.cosine ?? 0) : 0));
  // Other calibration methods for the most sensitive layers: the method giving the higher cosine wins for that layer's tensors.
  if (options.methods.length > 1) {
    const bySensitivity = [...plan.candidates].sort((a, b) => lossOf(alone.get(b.name)) - lossOf(alone.get(a.name)));
    const tried = bySensitivity.slice(0, Math.max(1, Math.ceil(bySensitivity.length * options.methodSearchShare)));
    for (const c of tried) {
      for (const method of options.methods.slice(1)) {
        const scored = await evaluate(new Set([c.name]), new Map([[c.name, method]]));
        if (scored.cosine > (alone.get(c.name)?.cosine ?? -1)) {
          alone.set(c.name, scored);
          methodOfLayer.set(c.name, method);
        }
      }
    }
  }
  // Ranked by time saved per accuracy lost; with measured gains, layers int8 makes slower here never enter the search.
  const slower = new Set(options.gain === 'measured' ? plan.candidates.filter((c) => (gainOf(c.name) ?? 0) <= 0).map((c) => c.name) : []);
  const savingOf = (name: string): number => (options.gain === 'measured' ? (gainOf(name) ?? 0) : (times.layers.get(name) ?? 0));
  const priority = (name: string): number => savingOf(name) / lossOf(alone.get(name));
  const ranked = [...plan.candidates].filter((c) => !slower.has(c.name)).sort((a, b) => priority(b.name) - priority(a.name));
  if (ranked.length === 0) throw new VariantPassError('int8-auto', `no layer runs faster in int8 than in float on this machine (onnxruntime profile of all ${plan.candidates.length} layers quantized): with gain=measured nothing is left to quantize; gain=share ranks by fp32 time instead`);

  const layerRow = (c: QdqCandidate, i: number): LayerSensitivity => {
    const s = alone.get(c.name);
    const us = times.layers.get(c.name) ?? 0;
    const int8 = int8Times.get(c.name);
    const gain = gainOf(c.name);
    return {
      node: c.name,
      opType: c.opType,
      index: plan.candidates.indexOf(c),
      timeShare: us / totalUs,
      fp32Us: us,
      ...(int8 !== undefined ? { int8Us: int8 } : {}),
      ...(gain !== undefined ? { gainUs: gain } : {}),
      cosine: s?.cosine ?? Number.NaN,
      ...(s && Number.isFinite(s.metric) ? { floorMetric: s.metric } : {}),
      loss: lossOf(s),
      rank: i + 1,
      method: methodOfLayer.get(c.name) ?? 'minmax',
      ...(slower.has(c.name) ? { reason: int8 === undefined ? 'no int8 kernel time attributed to it: not searched' : `int8 is not faster here (fp32 ${us.toFixed(0)} us, int8 ${int8.toFixed(0)} us per run)` } : {}),
    };
  };

  if (mode === 'sensitivity') {
    const layers = [...ranked, ...plan.candidates.filter((c) => slower.has(c.name))].map((c, i) => layerRow(c, i));
    const report: AutoQuantReport = { floor, task, searchImages: search.length, holdoutImages: 0, inputs, layers, steps: [], searchMetric: Number.NaN, seconds: (performance.now() - started) / 1000 };
    return { recipe: {}, report };
  }

  // Longest passing prefix of the ranking (binary search: accuracy mostly falls as layers are added).
  const steps: AutoSearchStep[] = [];
  const prefix = (k: number): Set<string> => new Set(ranked.slice(0, k).map((c) => c.name));
  const meets = (s: Scored): boolean => Number.isFinite(s.metric) && s.metric >= floor.value;
  let best = new Set<string>();
  let bestScore: Scored | undefined;
  // Every accepted set, for gain=measured's final choice by timing.
  const accepted: { step: number; set: Set<string>; score: Scored }[] = [];
  const accept = (set: Set<string>, score: Scored) => {
    best = set;
    bestScore = score;
    accepted.push({ step: steps.length - 1, set, score });
  };
  const all = await evaluate(prefix(ranked.length));
  steps.push({ step: `all ${ranked.length} layers`, quantized: ranked.length, floorMetric: all.metric, cosine: all.cosine, accepted: meets(all) });
  if (meets(all)) accept(prefix(ranked.length), all);
  else {
    let lo = 0;
    let hi = ranked.length;
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      const scored = await evaluate(prefix(mid));
      const ok = meets(scored);
      steps.push({ step: `prefix ${mid} of the ranking`, quantized: mid, floorMetric: scored.metric, cosine: scored.cosine, accepted: ok });
      if (ok) {
        lo = mid;
        accept(prefix(mid), scored);
      } else hi = mid;
    }
    // Refinement: the layers left out, the largest time shares first, one at a time.
    const left = ranked.filter((c) => !best.has(c.name)).sort((a, b) => savingOf(b.name) - savingOf(a.name));
    for (const c of left.slice(0, options.refineTries)) {
      const trial = new Set([...best, c.name]);
      const scored = await evaluate(trial);
      const ok = meets(scored);
      steps.push({ step: `add ${c.name}`, quantized: trial.size, floorMetric: scored.metric, cosine: scored.cosine, accepted: ok });
      if (ok) accept(trial, scored);
    }
  }
  if (best.size === 0 || !bestScore) throw new VariantPassError('int8-auto', `no layer set meets the floor ${floor.metric} >= ${floor.value} on the ${search.length} search images (even the first-ranked layer alone falls below it); lower the floor or use int8-static`);

  // gain=measured: the estimate adds up per-layer profile times and misses the Q/DQ at every
  // float/int8 boundary, so the accepted sets (the largest few) are timed against fp32 here,
  // interleaved, and the fastest is kept.
  let timing: string | undefined;
  let finalBytes: Uint8Array;
  if (options.gain === 'measured' && options.timingRounds > 0 && accepted.length > 1) {
    const tried = [...accepted].sort((a, b) => b.set.size - a.set.size).slice(0, 4);
    const builds = tried.map((t) => build(t.set));
    const timed = await timeRatios(fp32Bytes, builds, search[0] ?? {}, options);
    let fastest = 0;
    for (const [i, t] of tried.entries()) {
      const stepIndex = t.step;
      const step = steps[stepIndex];
      if (step) steps[stepIndex] = { ...step, latencyRatio: timed.ratios[i] ?? Number.NaN };
      if ((timed.ratios[i] ?? Infinity) < (timed.ratios[fastest] ?? Infinity)) fastest = i;
    }
    const chosen = tried[fastest] ?? tried[0];
    if (chosen) {
      best = chosen.set;
      bestScore = chosen.score;
    }
    finalBytes = builds[fastest] ?? build(best);
    timing = `${timed.describe(fastest)}; chosen as the fastest of ${tried.length} accepted sets (${tried.map((t, i) => `${t.set.size} layers ${(timed.ratios[i] ?? Number.NaN).toFixed(3)}x`).join(', ')})`;
  } else {
    finalBytes = build(best);
    if (options.timingRounds > 0) timing = (await timeRatios(fp32Bytes, [finalBytes], search[0] ?? {}, options)).describe(0);
  }
  const holdoutScorer = new Scorer(referenceHoldout, task, detected.detectionLayout, inputHw, metric, options.threads, inputs);
  const held = await holdoutScorer.score(finalBytes, holdout, holdout.length >= 2 ? 500 : 0);
  const quantizedUs = [...best].reduce((s, n) => s + (times.layers.get(n) ?? 0), 0);
  const savedUs = [...best].reduce((s, n) => s + (gainOf(n) ?? 0), 0);

  const order = [...ranked, ...plan.candidates.filter((c) => slower.has(c.name))];
  const layers: LayerSensitivity[] = order.map((c, i) => ({ ...layerRow(c, i), quantized: best.has(c.name) }));
  const floatLayers = plan.candidates.filter((c) => !best.has(c.name)).map((c) => c.name);
  const seconds = (performance.now() - started) / 1000;
  const report: AutoQuantReport = {
    floor,
    task,
    searchImages: search.length,
    holdoutImages: holdout.length,
    inputs,
    layers,
    steps,
    searchMetric: bestScore.metric,
    holdoutMetric: held.metric,
    holdoutCosine: held.cosine,
    holdoutMet: meets(held),
    seconds,
  };
  const methodCounts = METHODS.map((m) => [m, [...best].filter((n) => methodOfLayer.get(n) === m).length] as const).filter(([, n]) => n > 0);
  return {
    model: readModel(finalBytes),
    report,
    recipe: {
      pass: 'int8-auto',
      format: 'QDQ',
      floor: `${floor.metric} >= ${floor.value}`,
      task,
      search: `sensitivity of each of ${plan.candidates.length} layers alone; ${options.gain === 'measured' ? `${slower.size} that int8 does not speed up here left out; the rest ranked by profiled time saved (fp32 - int8 us)` : 'ranked by share of fp32 kernel time'} per (1 - cosine); longest passing prefix (binary search), then up to ${options.refineTries} single additions of the left-out layers with the largest savings; ${evaluations} candidate models scored`,
      quantizedLayers: `${best.size} of ${plan.candidates.length} (${((100 * quantizedUs) / totalUs).toFixed(1)}% of fp32 kernel time, estimated saving ${(savedUs / 1000).toFixed(2)} ms of ${(totalUs / 1000).toFixed(2)} per run)`,
      gain: options.gain,
      slowerInInt8Here: `${plan.candidates.filter((c) => (gainOf(c.name) ?? 0) <= 0).length} of ${plan.candidates.length} layers (profile of every layer quantized)`,
      ...(timing ? { 'latency.here': timing } : {}),
      floatLayers: floatLayers.join(',') || 'none',
      calibrationMethods: methodCounts.map(([m, n]) => `${m}: ${n}`).join(', '),
      ...(options.methods.includes('percentile') ? { percentile: String(options.percentile) } : {}),
      activationType: options.activationType,
      activationOps: options.activationOps.join(',') || 'none',
      weights: 'int8 per-channel symmetric',
      searchImages: String(search.length),
      holdoutImages: String(holdout.length),
      images: inputs,
      'accuracy.search': `${metric} ${fmt(bestScore.metric)}, cosine ${fmt(bestScore.cosine)}`,
      'accuracy.holdout': `${metric} ${fmt(held.metric)}${held.metricCi ? ` [${fmt(held.metricCi.low)}, ${fmt(held.metricCi.high)}]` : ''}, cosine ${fmt(held.cosine)}, n=${held.images}, floor ${meets(held) ? 'met' : 'NOT met'}`,
      ...(plan.opsetUpgrade ? { opsetUpgrade: plan.opsetUpgrade } : {}),
      ...(plan.batchNormFolded > 0 ? { batchNormFolded: String(plan.batchNormFolded) } : {}),
      profile: `onnxruntime ${ort.env.versions.node ?? ''} CPU profile, ${options.profileRuns} runs, ${options.threads} thread(s), fp32 ${(totalUs / 1000).toFixed(2)} ms/run of kernels`,
      searchSeconds: seconds.toFixed(1),
    },
  };
}

const fmt = (v: number): string => (Number.isFinite(v) ? v.toFixed(4) : String(v));

/** The ops a layer's int8 chain passes through in a QDQ model: its Q/DQ pairs and its activation (SiLU, Relu, Clip). */
const QDQ_CHAIN_OPS = new Set(['QuantizeLinear', 'DequantizeLinear', 'Sigmoid', 'Mul', 'Relu', 'Clip']);

/**
 * Kernel time per weighted layer of a QDQ model, from an onnxruntime profile: onnxruntime names
 * a fused QLinearConv `<conv>_token_<n>` and keeps the names of QLinearSigmoid / QLinearMul and
 * of the Q/DQ nodes it leaves, so each profiled node is found in the QDQ graph by name and
 * walked back through its data input (Q/DQ, the activation) to the layer that feeds it.
 */
async function int8LayerTimes(qdq: ModelProto, layers: ReadonlySet<string>, bytes: Uint8Array, feeds: readonly Feeds[], options: ProfileOptions): Promise<Map<string, number>> {
  const byName = new Map<string, NodeProto>();
  const producers = new Map<string, NodeProto>();
  for (const node of qdq.graph?.node ?? []) {
    if (node.name) byName.set(node.name, node);
    for (const o of node.output ?? []) producers.set(o, node);
  }
  const ownerOf = (start: NodeProto | undefined): string | undefined => {
    let node = start;
    for (let hops = 0; node && hops < 12; hops++) {
      const name = node.name ?? '';
      if (layers.has(name)) return name;
      if (!QDQ_CHAIN_OPS.has(node.opType ?? '')) return undefined;
      node = producers.get(node.input?.[0] ?? '');
    }
    return undefined;
  };
  const { nodes } = await profileNodeTimes(bytes, feeds, options);
  const out = new Map<string, number>();
  for (const n of nodes) {
    const name = n.node.replace(/\/duplicated$/, '').replace(/_token_\d+$/, '');
    const owner = layers.has(name) ? name : ownerOf(byName.get(name));
    if (owner) out.set(owner, (out.get(owner) ?? 0) + n.us);
  }
  return out;
}

/**
 * Variants' latency against fp32 on this machine, all sessions open and run interleaved
 * (fp32 A B ... per round) with the search's thread count; a ratio is a variant's p50 over
 * fp32's. A figure of the deriving machine only: the agents measure the file on their devices.
 */
async function timeRatios(fp32: Uint8Array, variants: readonly Uint8Array[], feed: Feeds, options: AutoQuantOptions): Promise<{ ratios: number[]; describe: (i: number) => string }> {
  const sessionOptions = { executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: options.threads, interOpNumThreads: 1 } as const;
  const sessions: ort.InferenceSession[] = [];
  try {
    for (const bytes of [fp32, ...variants]) sessions.push(await ort.InferenceSession.create(bytes, sessionOptions));
    const input = toOrt(feed);
    const times: number[][] = sessions.map(() => []);
    for (let round = -3; round < options.timingRounds; round++) {
      for (const [i, session] of sessions.entries()) {
        const t = performance.now();
        await session.run(input);
        if (round >= 0) times[i]?.push(performance.now() - t);
      }
    }
    const p50 = times.map((t) => median(t));
    const base = p50[0] ?? Number.NaN;
    const ratios = variants.map((_, i) => (p50[i + 1] ?? Number.NaN) / base);
    return {
      ratios,
      describe: (i) => `${(ratios[i] ?? Number.NaN).toFixed(3)}x fp32 (p50 ${(p50[i + 1] ?? Number.NaN).toFixed(2)} vs ${base.toFixed(2)} ms, ${options.timingRounds} interleaved rounds, ${options.threads} thread(s), on the deriving machine)`,
    };
  } finally {
    for (const s of sessions) await s.release();
  }
}
