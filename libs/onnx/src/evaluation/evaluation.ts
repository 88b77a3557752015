// Accuracy of model variants on real images, computed image by image so that no
// tensor outlives its image: per output, per image sums for fidelity; per image, the few
// detections (or top-k hits) each variant made. Everything pooled over images (cosine, SNR,
// mAP, top-k) is recomputed from those per-image parts, which is what makes the bootstrap over
// images cheap: a resample only re-weights images. Pure: no I/O, no clock.
import type { BootstrapInterval, EvaluationResult, OutputFidelity as WireOutputFidelity, TaskMetric, VariantEvaluation } from '@benchfarm/protocol';
import { bootstrapCounts, OutputFidelityAccumulator } from '@benchfarm/numerics';
import { matchImage, MatchedDetections, MAX_DETECTIONS_PER_IMAGE, percentileBootstrapInterval, topK, type Detection, type MatchedImage } from './evaluation-math';
import { DETECTION_THRESHOLDS, decodeYolo, type YoloLayout } from './fidelity';

/** What the accuracy phase scores: detectors and classifiers get task metrics, any other model fidelity only. */
export type EvaluationTask = 'detection' | 'classification' | 'fidelity';

/** The tasks an EvaluationRequest may name. */
export const EVALUATION_TASKS: readonly EvaluationTask[] = ['detection', 'classification', 'fidelity'];

/** Default bootstrap resamples over images when the request leaves it 0. */
export const DEFAULT_EVALUATION_RESAMPLES = 500;

/** IoU thresholds of mAP@0.5:0.95 (COCO): 0.50, 0.55, ..., 0.95. */
export const COCO_IOU_THRESHOLDS: readonly number[] = Array.from({ length: 10 }, (_, k) => Math.round((0.5 + 0.05 * k) * 100) / 100);

/** One model output as onnxruntime returns it (only float32 ones are scored). */
export interface RunOutput {
  readonly data: unknown;
  readonly type: string;
  readonly dims: readonly number[];
}

/** A session's outputs of one run, by output name. */
export type RunOutputs = Readonly<Record<string, RunOutput>>;

/** How a fidelity figure is labelled and resampled. */
export interface FidelitySummaryOptions {
  /** What the inputs were, e.g. "real images: dataset coco-val (9 of 13)" or "random inputs: ...". */
  readonly inputs: string;
  readonly randomInputs: boolean;
  readonly resamples: number;
  readonly seed: number;
}

/**
 * The wire figure of one accumulated output: pooled cosine / SNR / max abs error, and for real
 * images (2 or more) bootstrap CIs over images. SNR and its CI are absent when the outputs are
 * identical (infinite); random inputs carry images = 0 and no CI (the inputs are not a sample
 * of anything).
 */
export function summarizeFidelity(accumulator: OutputFidelityAccumulator, options: FidelitySummaryOptions): WireOutputFidelity {
  const pooled = accumulator.pooled();
  const images = options.randomInputs ? 0 : accumulator.images;
  let cosineCi: BootstrapInterval | undefined;
  let snrDbCi: BootstrapInterval | undefined;
  if (!options.randomInputs && accumulator.images >= 2 && options.resamples > 0) {
    const cosines: number[] = [];
    const snrs: number[] = [];
    for (const counts of bootstrapCounts(accumulator.images, options.resamples, options.seed)) {
      const r = accumulator.pooled(counts);
      cosines.push(r.cosine);
      // An identical resample has no SNR (infinite): it sits above every finite one.
      snrs.push(r.snrDb ?? Number.POSITIVE_INFINITY);
    }
    cosineCi = percentileBootstrapInterval(cosines);
    if (Number.isFinite(pooled.snrDb)) snrDbCi = percentileBootstrapInterval(snrs);
  }
  return {
    output: accumulator.output,
    cosine: pooled.cosine,
    ...(Number.isFinite(pooled.snrDb) ? { snrDb: pooled.snrDb } : {}),
    maxAbsError: pooled.maxAbsError,
    inputs: options.inputs,
    images,
    ...(cosineCi ? { cosineCi } : {}),
    ...(snrDbCi ? { snrDbCi } : {}),
    randomInputs: options.randomInputs,
  };
}

/** The float32 tensors of a run, as plain arrays (non-float outputs are left out). */
function floatData(outputs: RunOutputs): Map<string, { data: Float32Array; dims: readonly number[] }> {
  const out = new Map<string, { data: Float32Array; dims: readonly number[] }>();
  for (const [name, t] of Object.entries(outputs)) if (t.type === 'float32' && t.data instanceof Float32Array) out.set(name, { data: t.data, dims: t.dims });
  return out;
}

/**
 * Fidelity of every float32 output two runs share, pooled over the runs (lists per input,
 * same order): the one fidelity computation of the farm, for real images and random inputs
 * alike. Thrown (RangeError) when the lists or an output's sizes differ.
 */
export function outputsFidelity(reference: readonly RunOutputs[], variant: readonly RunOutputs[], options: FidelitySummaryOptions): WireOutputFidelity[] {
  if (reference.length !== variant.length) throw new RangeError(`${reference.length} reference runs, ${variant.length} variant runs`);
  const accumulators = new Map<string, OutputFidelityAccumulator>();
  for (const [i, refRun] of reference.entries()) {
    const refs = floatData(refRun);
    const vars = floatData(variant[i] ?? {});
    for (const [name, ref] of refs) {
      const v = vars.get(name);
      if (!v) continue;
      let acc = accumulators.get(name);
      if (!acc) accumulators.set(name, (acc = new OutputFidelityAccumulator(name)));
      acc.add(ref.data, v.data);
    }
  }
  return [...accumulators.values()].map((acc) => summarizeFidelity(acc, options));
}

/** What an image is labelled with: truth boxes (detection, model-input pixels) or class indices (classification). */
export interface ImageTruth {
  readonly boxes?: readonly Detection[];
  readonly classes?: readonly number[];
}

/** The variants, task and bootstrap of one evaluation. */
export interface EvaluationSetup {
  readonly task: EvaluationTask;
  /** Detection: how the detector's output is laid out. */
  readonly detectionLayout?: YoloLayout;
  /** Model input height and width (YOLOX grid, box scale). */
  readonly inputHw: readonly [number, number];
  /** The reference first, then the variants compared with it. */
  readonly variants: readonly { readonly name: string; readonly sha256: string }[];
  /** Whether a labels file came with the images (else the labels metrics say so). */
  readonly labelled: boolean;
  /** Bootstrap resamples over images for the CIs; 0: no CI (a search scoring many candidates). */
  readonly resamples: number;
  readonly seed: number;
  /** Labels the fidelity figures, e.g. "real images: dataset coco-val (9 of 13)". */
  readonly inputs: string;
}

/** Thrown when a run's outputs cannot be scored for the task (no output fits the detector layout or a classifier). */
export class EvaluationOutputError extends Error {
  override name = 'EvaluationOutputError';
}

interface VariantState {
  images: number;
  error: string;
  fidelity: Map<string, OutputFidelityAccumulator>;
  agreement: MatchedImage[];
  labelMatches: MatchedImage[];
  top1Agreement: number[];
  top1: number[];
  top5: number[];
  inferenceMs: number;
  postprocessMs: number;
}

/**
 * The accuracy phase's bookkeeping for every variant, image by image: call
 * {@link beginImage}, then {@link observe} with the reference's outputs, then each variant's.
 * It keeps the current image's reference outputs and, per image and variant, only the few
 * scalars and detections the figures need. {@link result} computes the figures with bootstrap
 * CIs over images.
 */
export class EvaluationAccumulator {
  private readonly states: VariantState[];
  private referenceOutputs: Map<string, { data: Float32Array; dims: readonly number[] }> | undefined;
  private referenceTruth: Detection[] | undefined;
  private referenceTop1 = -1;
  private truth: ImageTruth | undefined;
  private imageCount = 0;
  private labelledCount = 0;

  constructor(private readonly setup: EvaluationSetup) {
    if (setup.variants.length === 0) throw new RangeError('an evaluation needs at least the reference variant');
    if (setup.task === 'detection' && !setup.detectionLayout) throw new RangeError('a detection evaluation needs its detection layout');
    this.states = setup.variants.map(() => ({ images: 0, error: '', fidelity: new Map(), agreement: [], labelMatches: [], top1Agreement: [], top1: [], top5: [], inferenceMs: 0, postprocessMs: 0 }));
  }

  /** Starts the next image; `truth` undefined when the labels do not cover it. */
  beginImage(truth?: ImageTruth): void {
    this.imageCount++;
    if (truth) this.labelledCount++;
    this.truth = truth;
    this.referenceOutputs = undefined;
    this.referenceTruth = undefined;
    this.referenceTop1 = -1;
  }

  /**
   * Scores variant `v`'s outputs on the current image (v = 0, the reference, first).
   * Thrown: EvaluationOutputError when the outputs do not fit the task; RangeError when a
   * variant's output sizes differ from the reference's or the reference was not observed.
   */
  observe(v: number, outputs: RunOutputs): void {
    const state = this.states[v];
    if (!state || state.error) return;
    const floats = floatData(outputs);
    if (v === 0) this.referenceOutputs = floats;
    else if (!this.referenceOutputs) throw new RangeError(`variant ${this.setup.variants[v]?.name}: the reference's outputs of this image are missing`);
    else {
      for (const [name, ref] of this.referenceOutputs) {
        const out = floats.get(name);
        if (!out) continue;
        let acc = state.fidelity.get(name);
        if (!acc) state.fidelity.set(name, (acc = new OutputFidelityAccumulator(name)));
        acc.add(ref.data, out.data);
      }
    }
    if (this.setup.task === 'detection') this.observeDetections(v, state, floats);
    else if (this.setup.task === 'classification') this.observeClasses(v, state, floats);
    state.images++;
  }

  /** Marks variant `v` as failed (its session could not run an image): its figures are then absent. */
  fail(v: number, error: string): void {
    const state = this.states[v];
    if (state && !state.error) state.error = error;
  }

  /** Adds time spent on variant `v`: session.run, and decoding + bookkeeping. */
  addTime(v: number, inferenceMs: number, postprocessMs: number): void {
    const state = this.states[v];
    if (!state) return;
    state.inferenceMs += inferenceMs;
    state.postprocessMs += postprocessMs;
  }

  /** Images begun so far, and of them the labelled ones. */
  get counts(): { images: number; labelled: number } {
    return { images: this.imageCount, labelled: this.labelledCount };
  }

  private observeDetections(v: number, state: VariantState, floats: ReadonlyMap<string, { data: Float32Array; dims: readonly number[] }>): void {
    const layout = this.setup.detectionLayout ?? 'yolox';
    const output = detectorOutput(floats, layout);
    const base = { layout, inputHw: this.setup.inputHw, iouThreshold: DETECTION_THRESHOLDS.nmsIou } as const;
    // Decoded once at the low threshold: greedy NMS keeps a box only against higher-scored ones,
    // so the boxes at or above the reference threshold are exactly what decoding there gives
    // (within the best MAX_DETECTIONS_PER_IMAGE, as COCO's maxDets).
    const predictions = decodeYolo(output, { ...base, scoreThreshold: DETECTION_THRESHOLDS.variantScore, maxDetections: MAX_DETECTIONS_PER_IMAGE });
    if (v === 0) this.referenceTruth = predictions.filter((d) => d.score >= DETECTION_THRESHOLDS.referenceScore);
    state.agreement.push(matchImage(this.referenceTruth ?? [], predictions, [0.5]));
    if (this.truth?.boxes) state.labelMatches.push(matchImage(this.truth.boxes, predictions, COCO_IOU_THRESHOLDS));
  }

  private observeClasses(v: number, state: VariantState, floats: ReadonlyMap<string, { data: Float32Array; dims: readonly number[] }>): void {
    const scores = classifierOutput(floats);
    const top = topK(scores, 5);
    if (v === 0) this.referenceTop1 = top[0] ?? -1;
    state.top1Agreement.push(top[0] === this.referenceTop1 ? 1 : 0);
    const classes = this.truth?.classes;
    if (classes) {
      state.top1.push(classes.includes(top[0] ?? -1) ? 1 : 0);
      state.top5.push(top.some((c) => classes.includes(c)) ? 1 : 0);
    }
  }

  /** The figures of every variant, with bootstrap CIs over images. Pure. */
  result(meta: Omit<EvaluationResult, 'variants' | 'images' | 'labelledImages' | 'task' | 'inputs' | 'detectionLayout'>): EvaluationResult {
    return {
      ...meta,
      task: this.setup.task,
      images: this.imageCount,
      labelledImages: this.labelledCount,
      inputs: this.setup.inputs,
      detectionLayout: this.setup.task === 'detection' ? (this.setup.detectionLayout ?? '') : '',
      variants: this.setup.variants.map((variant, v) => this.variantResult(variant, v)),
    };
  }

  private variantResult(variant: { name: string; sha256: string }, v: number): VariantEvaluation {
    const state = this.states[v];
    const base = { variant: variant.name, sha256: variant.sha256, reference: v === 0, images: state?.images ?? 0, inferenceMs: round3(state?.inferenceMs ?? 0), postprocessMs: round3(state?.postprocessMs ?? 0) };
    if (!state || state.error) return { ...base, fidelity: [], metrics: [], error: state?.error || 'not evaluated' };
    const { resamples, seed } = this.setup;
    const fidelity = v === 0 ? [] : [...state.fidelity.values()].map((acc) => summarizeFidelity(acc, { inputs: this.setup.inputs, randomInputs: false, resamples, seed }));
    const metrics: TaskMetric[] = [];
    if (this.setup.task === 'detection') {
      metrics.push(...mapMetrics([{ metric: 'map50_agreement', from: 0, count: 1 }], 'reference', new MatchedDetections(state.agreement, 1), this.setup, 'the reference detects nothing on these images'));
      const noLabels = this.labelsReason();
      if (noLabels) metrics.push(absent('map50', 'labels', noLabels), absent('map50_95', 'labels', noLabels));
      else {
        const specs = [
          { metric: 'map50', from: 0, count: 1 },
          { metric: 'map50_95', from: 0, count: COCO_IOU_THRESHOLDS.length },
        ];
        metrics.push(...mapMetrics(specs, 'labels', new MatchedDetections(state.labelMatches, COCO_IOU_THRESHOLDS.length), this.setup, 'the labels hold no boxes for these images'));
      }
    } else if (this.setup.task === 'classification') {
      metrics.push(shareMetric('top1_agreement', 'reference', state.top1Agreement, this.setup));
      const noLabels = this.labelsReason();
      if (noLabels) metrics.push(absent('top1', 'labels', noLabels), absent('top5', 'labels', noLabels));
      else metrics.push(shareMetric('top1', 'labels', state.top1, this.setup), shareMetric('top5', 'labels', state.top5, this.setup));
    }
    return { ...base, fidelity, metrics, error: '' };
  }

  private labelsReason(): string | undefined {
    if (!this.setup.labelled) return 'the dataset has no labels';
    if (this.labelledCount === 0) return 'no labels cover the evaluation images';
    return undefined;
  }
}

type Bootstrap = Pick<EvaluationSetup, 'resamples' | 'seed'>;

function absent(metric: string, against: string, reason: string, images = 0): TaskMetric {
  return { metric, against, images, reason };
}

/**
 * mAP metrics of matched detections, each the mean over thresholds [from, from + count), with
 * bootstrap CIs over the images: every metric of one resample comes from the same walk.
 */
function mapMetrics(specs: readonly { metric: string; from: number; count: number }[], against: string, detections: MatchedDetections, bootstrap: Bootstrap, emptyReason: string): TaskMetric[] {
  const images = detections.count;
  if (images === 0) return specs.map((s) => absent(s.metric, against, emptyReason, 0));
  const values = (maps: readonly (number | undefined)[]): (number | undefined)[] =>
    specs.map(({ from, count }) => {
      let sum = 0;
      for (let t = from; t < from + count; t++) {
        const m = maps[t];
        if (m === undefined) return undefined;
        sum += m;
      }
      return sum / count;
    });
  const full = values(detections.maps().maps);
  const resampled: number[][] = specs.map(() => []);
  if (images >= 2 && bootstrap.resamples > 0 && full.some((v) => v !== undefined)) {
    for (const counts of bootstrapCounts(images, bootstrap.resamples, bootstrap.seed)) {
      for (const [i, v] of values(detections.maps(counts).maps).entries()) resampled[i]?.push(v ?? Number.NaN);
    }
  }
  return specs.map(({ metric }, i) => {
    const value = full[i];
    if (value === undefined) return absent(metric, against, emptyReason, images);
    const ci = images >= 2 && bootstrap.resamples > 0 ? percentileBootstrapInterval(resampled[i] ?? []) : undefined;
    return { metric, against, value, ...(ci ? { ci } : {}), images, reason: '' };
  });
}

/** A share of per-image 0/1 hits with its bootstrap CI over the images. */
function shareMetric(metric: string, against: string, hits: readonly number[], bootstrap: Bootstrap): TaskMetric {
  const images = hits.length;
  if (images === 0) return absent(metric, against, 'no images were scored', 0);
  const share = (weights?: ArrayLike<number>): number => {
    let n = 0;
    let s = 0;
    for (let i = 0; i < images; i++) {
      const w = weights ? (weights[i] ?? 0) : 1;
      n += w;
      s += w * (hits[i] ?? 0);
    }
    return s / n;
  };
  const ci = images >= 2 && bootstrap.resamples > 0 ? percentileBootstrapInterval(bootstrapCounts(images, bootstrap.resamples, bootstrap.seed).map((w) => share(w))) : undefined;
  return { metric, against, value: share(), ...(ci ? { ci } : {}), images, reason: '' };
}

/** The detector's output: the first float output of rank 3 whose dims fit the layout. */
function detectorOutput(floats: ReadonlyMap<string, { data: Float32Array; dims: readonly number[] }>, layout: YoloLayout): { data: Float32Array; dims: readonly number[] } {
  for (const t of floats.values()) {
    const [b, d1 = 0, d2 = 0] = t.dims;
    if (t.dims.length !== 3 || b !== 1) continue;
    if (layout === 'yolov8' ? d1 > 4 : d2 > 5) return t;
  }
  throw new EvaluationOutputError(`no float output fits the ${layout} detector layout (${layout === 'yolov8' ? '[1, 4+C, N]' : '[1, N, 5+C]'}); outputs: ${describe(floats)}`);
}

/** The classifier's scores: the first float output shaped [1, C] or [1, C, 1, 1]. */
function classifierOutput(floats: ReadonlyMap<string, { data: Float32Array; dims: readonly number[] }>): Float32Array {
  for (const t of floats.values()) {
    const d = t.dims;
    if (d[0] === 1 && ((d.length === 2 && (d[1] ?? 0) > 1) || (d.length === 4 && (d[1] ?? 0) > 1 && d[2] === 1 && d[3] === 1))) return t.data;
  }
  throw new EvaluationOutputError(`no float output is shaped [1, C] or [1, C, 1, 1] as a classifier's scores; outputs: ${describe(floats)}`);
}

function describe(floats: ReadonlyMap<string, { dims: readonly number[] }>): string {
  return [...floats].map(([name, t]) => `${name} [${t.dims.join(', ')}]`).join(', ') || 'none of type float32';
}

const round3 = (value: number): number => Math.round(value * 1000) / 1000;
