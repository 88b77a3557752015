import type { FloatTensor } from '../runtime/activations';
import { OutputFidelityAccumulator, type PooledFidelity } from '@benchfarm/numerics';
import { boxIou, MAX_DETECTIONS_PER_IMAGE, MatchedDetections, matchImage, type Detection } from './evaluation-math';

/** Agreement of one output of a variant with the same output of the reference, over every evaluation input. */
export interface OutputFidelity extends PooledFidelity {
  readonly output: string;
}

/**
 * Cosine similarity, SNR (dB) and max absolute error of `variant` against `reference`, both
 * lists of per-input tensors of the same output. Thrown (RangeError) when the lists or the
 * tensor sizes differ.
 */
export function compareOutputs(output: string, reference: readonly FloatTensor[], variant: readonly FloatTensor[]): OutputFidelity {
  if (reference.length !== variant.length) throw new RangeError(`output ${output}: ${reference.length} reference tensors, ${variant.length} variant tensors`);
  const accumulator = new OutputFidelityAccumulator(output);
  for (const [i, ref] of reference.entries()) accumulator.add(ref.data, variant[i]?.data ?? []);
  return { output, ...accumulator.pooled() };
}

/** Output layouts of YOLO-style detectors. */
export type YoloLayout =
  /** [1, N, 5+C] raw grid outputs (YOLOX exported without decoding): cx, cy, w, h need the grid and strides. */
  | 'yolox'
  /** [1, N, 5+C] decoded boxes in input pixels with objectness (YOLOv5/v7). */
  | 'yolov5'
  /** [1, 4+C, N] decoded boxes in input pixels, no objectness (YOLOv8/v11). */
  | 'yolov8';

/** Options of {@link decodeYolo}. */
export interface YoloDecodeOptions {
  readonly layout: YoloLayout;
  /** Input height and width in pixels (for the YOLOX grid). */
  readonly inputHw: readonly [number, number];
  readonly strides?: readonly number[];
  readonly scoreThreshold: number;
  readonly iouThreshold: number;
  /** Keep at most this many (the highest-scored after NMS); NMS stops there, which bounds its cost on an output that fires everywhere. */
  readonly maxDetections?: number;
}

const DEFAULT_STRIDES = [8, 16, 32];

/**
 * Guesses the layout of a detector output from its dims and the input size: [1, N, 5+C] with N
 * = cells of the stride-8/16/32 grids is YOLOX, with N = 3x that YOLOv5; [1, 4+C, N] with N
 * = cells is YOLOv8. Undefined when none fits.
 */
export function guessYoloLayout(dims: readonly number[], inputHw: readonly [number, number]): YoloLayout | undefined {
  if (dims.length !== 3 || dims[0] !== 1) return undefined;
  const cells = DEFAULT_STRIDES.reduce((n, s) => n + Math.floor(inputHw[0] / s) * Math.floor(inputHw[1] / s), 0);
  const [, a = 0, b = 0] = dims;
  if (a === cells && b > 5) return 'yolox';
  if (a === 3 * cells && b > 5) return 'yolov5';
  if (b === cells && a > 4) return 'yolov8';
  return undefined;
}

/** Intersection over union of two x1y1x2y2 boxes. */
export const iou = boxIou;

/** Greedy per-class NMS, highest score first, stopping once `maxDetections` are kept. */
export function nms(detections: readonly Detection[], iouThreshold: number, maxDetections = Number.POSITIVE_INFINITY): Detection[] {
  const sorted = [...detections].sort((a, b) => b.score - a.score);
  const kept: Detection[] = [];
  for (const d of sorted) {
    if (kept.length >= maxDetections) break;
    if (kept.some((k) => k.classId === d.classId && iou(k.box, d.box) > iouThreshold)) continue;
    kept.push(d);
  }
  return kept;
}

/**
 * Decodes one image's YOLO output into detections (score = objectness x class score for
 * YOLOX/YOLOv5, the class score for YOLOv8; the best class per box) and applies NMS.
 */
export function decodeYolo(output: FloatTensor, options: YoloDecodeOptions): Detection[] {
  const [, d1 = 0, d2 = 0] = output.dims;
  const data = output.data;
  const found: Detection[] = [];
  if (options.layout === 'yolov8') {
    const classes = d1 - 4;
    const n = d2;
    for (let i = 0; i < n; i++) {
      let best = 0;
      let cls = 0;
      for (let c = 0; c < classes; c++) {
        const s = data[(4 + c) * n + i] ?? 0;
        if (s > best) [best, cls] = [s, c];
      }
      if (best < options.scoreThreshold) continue;
      const cx = data[i] ?? 0;
      const cy = data[n + i] ?? 0;
      const w = data[2 * n + i] ?? 0;
      const h = data[3 * n + i] ?? 0;
      found.push({ box: [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], score: best, classId: cls });
    }
    return nms(found, options.iouThreshold, options.maxDetections);
  }
  const width = d2;
  const classes = width - 5;
  const grid: { x: number; y: number; stride: number }[] = [];
  if (options.layout === 'yolox') {
    for (const stride of options.strides ?? DEFAULT_STRIDES) {
      const gh = Math.floor(options.inputHw[0] / stride);
      const gw = Math.floor(options.inputHw[1] / stride);
      for (let y = 0; y < gh; y++) for (let x = 0; x < gw; x++) grid.push({ x, y, stride });
    }
  }
  for (let i = 0; i < d1; i++) {
    const row = i * width;
    const obj = data[row + 4] ?? 0;
    if (obj < options.scoreThreshold) continue;
    let best = 0;
    let cls = 0;
    for (let c = 0; c < classes; c++) {
      const s = data[row + 5 + c] ?? 0;
      if (s > best) [best, cls] = [s, c];
    }
    const score = obj * best;
    if (score < options.scoreThreshold) continue;
    let cx = data[row] ?? 0;
    let cy = data[row + 1] ?? 0;
    let w = data[row + 2] ?? 0;
    let h = data[row + 3] ?? 0;
    const g = grid[i];
    if (options.layout === 'yolox' && g) {
      cx = (cx + g.x) * g.stride;
      cy = (cy + g.y) * g.stride;
      w = Math.exp(w) * g.stride;
      h = Math.exp(h) * g.stride;
    }
    found.push({ box: [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], score, classId: cls });
  }
  return nms(found, options.iouThreshold, options.maxDetections);
}

/** mAP result: undefined value with a reason when there is nothing to match against. */
export interface MapResult {
  readonly map: number | undefined;
  readonly reason?: string;
  readonly groundTruthCount: number;
  readonly classes: number;
}

/**
 * mAP at one IoU threshold of predictions against ground truth (per image lists), COCO-style
 * 101-point interpolated AP per class, averaged over the classes that have ground truth
 * (evaluation-math's matching and AP, the one implementation).
 */
export function meanAveragePrecision(groundTruth: readonly (readonly Detection[])[], predictions: readonly (readonly Detection[])[], iouThreshold = 0.5): MapResult {
  const matched = new MatchedDetections(
    groundTruth.map((truth, i) => matchImage(truth, predictions[i] ?? [], [iouThreshold])),
    1,
  ).map(0);
  if (matched.map === undefined) return { map: undefined, reason: 'the reference detects nothing on the evaluation inputs', groundTruthCount: 0, classes: 0 };
  return { map: matched.map, groundTruthCount: matched.groundTruthCount, classes: matched.classes };
}

/** Detection agreement of a variant with the reference on the same inputs. */
export interface DetectionFidelity {
  readonly layout: YoloLayout;
  /** mAP@0.5 of the variant's detections against the reference's, taken as ground truth. */
  readonly mapAt50: number | undefined;
  readonly reason?: string;
  readonly referenceDetections: number;
  readonly variantDetections: number;
}

/**
 * Thresholds: the reference's detections at the usual deployment threshold are the truth; the
 * variant is scored down to a low one, as mAP evaluation does, keeping its best
 * MAX_DETECTIONS_PER_IMAGE (100, COCO's maxDets) per image.
 */
export const DETECTION_THRESHOLDS = { referenceScore: 0.25, variantScore: 0.01, nmsIou: 0.45 } as const;

/** mAP@0.5 of a variant's detections against the reference's, per input tensors of the detector output. */
export function compareDetections(reference: readonly FloatTensor[], variant: readonly FloatTensor[], layout: YoloLayout, inputHw: readonly [number, number]): DetectionFidelity {
  const base = { layout, inputHw, iouThreshold: DETECTION_THRESHOLDS.nmsIou } as const;
  const truth = reference.map((t) => decodeYolo(t, { ...base, scoreThreshold: DETECTION_THRESHOLDS.referenceScore }));
  const preds = variant.map((t) => decodeYolo(t, { ...base, scoreThreshold: DETECTION_THRESHOLDS.variantScore, maxDetections: MAX_DETECTIONS_PER_IMAGE }));
  const result = meanAveragePrecision(truth, preds, 0.5);
  return {
    layout,
    mapAt50: result.map,
    ...(result.reason ? { reason: result.reason } : {}),
    referenceDetections: result.groundTruthCount,
    variantDetections: variant.map((t) => decodeYolo(t, { ...base, scoreThreshold: DETECTION_THRESHOLDS.referenceScore }).length).reduce((a, b) => a + b, 0),
  };
}

/** A COCO-format labelled set, the parts mAP needs. */
export interface CocoLabels {
  readonly images: readonly { id: number; file_name: string; width: number; height: number }[];
  readonly annotations: readonly { image_id: number; category_id: number; bbox: [number, number, number, number]; iscrowd?: number }[];
  readonly categories: readonly { id: number; name: string }[];
}

/** Thrown for a labels file that is not usable COCO JSON; `field` names the part at fault. */
export class LabelsError extends Error {
  override name = 'LabelsError';
  constructor(
    readonly field: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${field}: ${message}`, options);
  }
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Checks a parsed COCO JSON object; thrown ({@link LabelsError}) naming the first bad entry. */
export function parseCocoLabels(json: unknown): CocoLabels {
  const o = json as Partial<CocoLabels> | null;
  if (!o || !Array.isArray(o.images) || !Array.isArray(o.annotations) || !Array.isArray(o.categories)) throw new LabelsError('labels', 'COCO JSON needs arrays images, annotations and categories');
  for (const [i, im] of o.images.entries()) if (!isNum(im.id) || typeof im.file_name !== 'string' || !(im.width > 0) || !(im.height > 0)) throw new LabelsError(`labels.images[${i}]`, 'needs id, file_name, width > 0 and height > 0');
  for (const [i, a] of o.annotations.entries()) if (!isNum(a.image_id) || !isNum(a.category_id) || !Array.isArray(a.bbox) || a.bbox.length !== 4 || !a.bbox.every(isNum)) throw new LabelsError(`labels.annotations[${i}]`, 'needs image_id, category_id and bbox [x, y, w, h]');
  for (const [i, c] of o.categories.entries()) if (!isNum(c.id)) throw new LabelsError(`labels.categories[${i}]`, 'needs a numeric id');
  return o as CocoLabels;
}

/**
 * Ground truth of the given image files (matched by base name) in model-input pixels: boxes
 * scaled as the preprocessing did (letterbox: one ratio, top-left; stretch: per axis);
 * categories become class indices in ascending category-id order. Crowd boxes are left out.
 * Files without an entry in the labels get undefined.
 */
export function cocoGroundTruth(labels: CocoLabels, fileNames: readonly string[], inputHw: readonly [number, number], resize: 'letterbox' | 'stretch'): (Detection[] | undefined)[] {
  const classOf = new Map([...labels.categories].sort((a, b) => a.id - b.id).map((c, i) => [c.id, i]));
  const byName = new Map(labels.images.map((im) => [im.file_name.split('/').pop() ?? im.file_name, im]));
  return fileNames.map((file) => {
    const image = byName.get(file.split('/').pop() ?? file);
    if (!image) return undefined;
    const ry = resize === 'letterbox' ? Math.min(inputHw[0] / image.height, inputHw[1] / image.width) : inputHw[0] / image.height;
    const rx = resize === 'letterbox' ? ry : inputHw[1] / image.width;
    return labels.annotations
      .filter((a) => a.image_id === image.id && !a.iscrowd)
      .map((a) => ({ box: [a.bbox[0] * rx, a.bbox[1] * ry, (a.bbox[0] + a.bbox[2]) * rx, (a.bbox[1] + a.bbox[3]) * ry] as const, score: 1, classId: classOf.get(a.category_id) ?? -1 }));
  });
}

/** Real accuracy against labels: mAP@0.5 and mAP@0.5:0.95 (mean over IoU 0.50, 0.55, ..., 0.95). */
export function labelledMap(groundTruth: readonly (readonly Detection[])[], predictions: readonly (readonly Detection[])[]): { mapAt50: number | undefined; mapAt50To95: number | undefined; reason?: string } {
  const thresholds = Array.from({ length: 10 }, (_, k) => 0.5 + 0.05 * k);
  const matched = new MatchedDetections(
    groundTruth.map((truth, i) => matchImage(truth, predictions[i] ?? [], thresholds)),
    thresholds.length,
  );
  const { maps } = matched.maps();
  const at50 = maps[0];
  if (at50 === undefined) return { mapAt50: undefined, mapAt50To95: undefined, reason: 'the labels hold no boxes for the evaluation images' };
  return { mapAt50: at50, mapAt50To95: maps.reduce<number>((sum, m) => sum + (m ?? 0), 0) / thresholds.length };
}

/**
 * Class indices of each image file (matched by base name) for classification: every category of
 * its annotations, as the index of the category in ascending id order (as {@link cocoGroundTruth}
 * numbers them). Files the labels do not list get undefined.
 */
export function cocoImageClasses(labels: CocoLabels, fileNames: readonly string[]): (number[] | undefined)[] {
  const classOf = new Map([...labels.categories].sort((a, b) => a.id - b.id).map((c, i) => [c.id, i]));
  const byName = new Map(labels.images.map((im) => [im.file_name.split('/').pop() ?? im.file_name, im]));
  const byImage = new Map<number, number[]>();
  for (const a of labels.annotations) {
    const cls = classOf.get(a.category_id) ?? -1;
    const list = byImage.get(a.image_id);
    if (!list) byImage.set(a.image_id, [cls]);
    else if (!list.includes(cls)) list.push(cls);
  }
  return fileNames.map((file) => {
    const image = byName.get(file.split('/').pop() ?? file);
    return image ? (byImage.get(image.id) ?? []) : undefined;
  });
}
