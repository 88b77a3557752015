// The pure math under every accuracy figure of the farm: streaming per-image
// fidelity sums, COCO matching per image and mAP of any weighting of images, top-k, and the
// seeded bootstrap over images. No I/O, no onnxruntime: fidelity.ts (the CLI's figures) and
// evaluation.ts (the agent's) are both built on it, so each number has one implementation. The
// per-output fidelity sums, the resample counts and the interval rule are @benchfarm/numerics'.
import type { BootstrapInterval } from '@benchfarm/protocol';
import { percentileInterval } from '@benchfarm/numerics';

/** One detection in input-pixel coordinates (x1, y1, x2, y2). */
export interface Detection {
  readonly box: readonly [number, number, number, number];
  readonly score: number;
  readonly classId: number;
}

/** Confidence level of every interval here. */
export const EVALUATION_CI_LEVEL = 0.95;

/**
 * Percentile-method interval of bootstrap statistics (the rule of the suite's latency CIs:
 * low = sorted[floor(B alpha/2)], high = sorted[ceil(B (1 - alpha/2)) - 1]). Non-finite
 * statistics (a resample whose figure is undefined) are left out; undefined when none is left
 * or when the high end is infinite.
 */
export function percentileBootstrapInterval(statistics: readonly number[], level = EVALUATION_CI_LEVEL): BootstrapInterval | undefined {
  const sorted = statistics.filter((s) => !Number.isNaN(s)).sort((a, b) => a - b);
  if (sorted.length === 0) return undefined;
  const { low, high } = percentileInterval(sorted, level);
  if (!Number.isFinite(low) || !Number.isFinite(high)) return undefined;
  return { low, high, level, resamples: sorted.length };
}

/**
 * One image's predictions matched against its ground truth at several IoU thresholds (COCO
 * greedy matching: predictions by descending score, each takes the unused same-class truth box
 * of highest IoU at or above the threshold). Matching within an image does not depend on other
 * images, which is what lets mAP be recomputed for any resample of images without matching again.
 */
export interface MatchedImage {
  /** Per prediction, in descending score order. */
  readonly scores: Float64Array;
  readonly classes: Int32Array;
  /** [prediction * thresholds + t]: 1 when the prediction is a true positive at threshold t. */
  readonly truePositive: Uint8Array;
  /** Truth boxes per class index. */
  readonly truthPerClass: ReadonlyMap<number, number>;
}

/** Greedy COCO matching of one image at each IoU threshold; see {@link MatchedImage}. Pure. */
export function matchImage(truth: readonly Detection[], predictions: readonly Detection[], iouThresholds: readonly number[]): MatchedImage {
  const preds = [...predictions].sort((a, b) => b.score - a.score);
  const t = iouThresholds.length;
  const truePositive = new Uint8Array(preds.length * t);
  for (const [k, threshold] of iouThresholds.entries()) {
    const used = new Uint8Array(truth.length);
    for (const [p, d] of preds.entries()) {
      let best = threshold;
      let match = -1;
      for (const [j, g] of truth.entries()) {
        if (used[j] || g.classId !== d.classId) continue;
        const o = boxIou(d.box, g.box);
        if (o >= best) [best, match] = [o, j];
      }
      if (match >= 0) {
        used[match] = 1;
        truePositive[p * t + k] = 1;
      }
    }
  }
  const truthPerClass = new Map<number, number>();
  for (const g of truth) truthPerClass.set(g.classId, (truthPerClass.get(g.classId) ?? 0) + 1);
  return { scores: Float64Array.from(preds, (d) => d.score), classes: Int32Array.from(preds, (d) => d.classId), truePositive, truthPerClass };
}

/** Intersection over union of two x1y1x2y2 boxes. */
export function boxIou(a: readonly number[], b: readonly number[]): number {
  const [ax1 = 0, ay1 = 0, ax2 = 0, ay2 = 0] = a;
  const [bx1 = 0, by1 = 0, bx2 = 0, by2 = 0] = b;
  const w = Math.max(0, Math.min(ax2, bx2) - Math.max(ax1, bx1));
  const h = Math.max(0, Math.min(ay2, by2) - Math.max(ay1, by1));
  const inter = w * h;
  const union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter;
  return union > 0 ? inter / union : 0;
}

/** mAP of a weighting of matched images: undefined when the weighted images hold no truth box. */
export interface WeightedMap {
  readonly map: number | undefined;
  readonly groundTruthCount: number;
  readonly classes: number;
}

/**
 * mAP over matched images, each counted `weights[i]` times (a bootstrap resample; default
 * once): COCO-style 101-point interpolated AP per class, averaged over the classes that have
 * truth boxes. The predictions of all images are sorted once here; a resample walks them with
 * weights, which gives exactly the AP of the repeated list (a run of w copies of a prediction
 * only adds points the precision envelope already dominates). Typed arrays throughout: a
 * bootstrap calls this thousands of times over every prediction.
 */
export class MatchedDetections {
  /** Per class: its predictions in descending score order, as image index and TP flags [k * thresholds + t]. */
  private readonly byClass: { slot: number; image: Int32Array; truePositive: Uint8Array }[] = [];
  /** [image * classes + class slot]: truth boxes. */
  private readonly truth: Float64Array;
  private readonly classCount: number;
  private readonly ones: Uint32Array;
  private readonly foundAt: Float64Array;
  private readonly precision: Float64Array;

  constructor(
    private readonly images: readonly MatchedImage[],
    private readonly thresholds: number,
  ) {
    const entries: { image: number; index: number; score: number; cls: number }[] = [];
    for (const [image, m] of images.entries()) for (let p = 0; p < m.scores.length; p++) entries.push({ image, index: p, score: m.scores[p] ?? 0, cls: m.classes[p] ?? 0 });
    // Stable: equal scores keep image order, then score order within the image, as one sorted list would.
    entries.sort((a, b) => b.score - a.score);
    const classes = new Set<number>();
    for (const e of entries) classes.add(e.cls);
    for (const m of images) for (const cls of m.truthPerClass.keys()) classes.add(cls);
    const slots = new Map([...classes].sort((a, b) => a - b).map((cls, slot) => [cls, slot]));
    this.classCount = slots.size;
    const grouped = new Map<number, typeof entries>();
    for (const e of entries) {
      const list = grouped.get(e.cls);
      if (list) list.push(e);
      else grouped.set(e.cls, [e]);
    }
    let longest = 0;
    for (const [cls, mine] of grouped) {
      const truePositive = new Uint8Array(mine.length * thresholds);
      for (const [k, e] of mine.entries()) for (let t = 0; t < thresholds; t++) truePositive[k * thresholds + t] = images[e.image]?.truePositive[e.index * thresholds + t] ?? 0;
      this.byClass.push({ slot: slots.get(cls) ?? 0, image: Int32Array.from(mine, (e) => e.image), truePositive });
      longest = Math.max(longest, mine.length);
    }
    this.truth = new Float64Array(images.length * this.classCount);
    for (const [i, m] of images.entries()) for (const [cls, n] of m.truthPerClass) this.truth[i * this.classCount + (slots.get(cls) ?? 0)] = n;
    this.ones = new Uint32Array(images.length).fill(1);
    this.foundAt = new Float64Array(longest * thresholds);
    this.precision = new Float64Array(longest * thresholds);
  }

  /** Images matched. */
  get count(): number {
    return this.images.length;
  }

  /** mAP at threshold index `t` (of the thresholds the images were matched at). */
  map(t: number, weights?: Uint32Array): WeightedMap {
    const all = this.maps(weights);
    return { map: all.maps[t], groundTruthCount: all.groundTruthCount, classes: all.classes };
  }

  /**
   * mAP at every threshold the images were matched at, from one pass over the predictions
   * (a bootstrap resample's figures at 0.5 and 0.5:0.95 come from the same walk).
   */
  maps(weights: Uint32Array = this.ones): { maps: (number | undefined)[]; groundTruthCount: number; classes: number } {
    const { classCount, thresholds } = this;
    const truth = new Float64Array(classCount);
    for (let i = 0; i < this.images.length; i++) {
      const w = weights[i] as number;
      if (w === 0) continue;
      for (let c = 0; c < classCount; c++) truth[c] = (truth[c] as number) + w * (this.truth[i * classCount + c] as number);
    }
    let groundTruthCount = 0;
    let classes = 0;
    const sums = new Float64Array(thresholds);
    for (let c = 0; c < classCount; c++) {
      const nGt = truth[c] as number;
      if (nGt === 0) continue;
      groundTruthCount += nGt;
      classes++;
      const list = this.byClass.find((l) => l.slot === c);
      if (list) this.addAveragePrecisions(list, nGt, weights, sums);
    }
    return { maps: Array.from(sums, (sum) => (classes === 0 ? undefined : sum / classes)), groundTruthCount, classes };
  }

  private addAveragePrecisions(list: { image: Int32Array; truePositive: Uint8Array }, nGt: number, weights: Uint32Array, sums: Float64Array): void {
    // Only true positives make points that matter: a false positive keeps the recall of the
    // point before it at a lower precision, so the precision envelope never takes it.
    const { foundAt, precision, thresholds } = this;
    const n = list.image.length;
    const images = list.image;
    const flags = list.truePositive;
    const tp = new Float64Array(thresholds);
    const fp = new Float64Array(thresholds);
    const points = new Int32Array(thresholds);
    let complete = 0;
    for (let k = 0; k < n && complete < thresholds; k++) {
      const w = weights[images[k] as number] as number;
      if (w === 0) continue;
      const base = k * thresholds;
      for (let t = 0; t < thresholds; t++) {
        if (flags[base + t] !== 1) {
          fp[t] = (fp[t] as number) + w;
          continue;
        }
        const found = (tp[t] as number) + w;
        // Every truth box found at this threshold already: later points only add false positives.
        if ((tp[t] as number) >= nGt) continue;
        tp[t] = found;
        const at = t * n + (points[t] as number);
        foundAt[at] = found;
        precision[at] = found / (found + (fp[t] as number));
        points[t] = (points[t] as number) + 1;
        if (found >= nGt) complete++;
      }
    }
    for (let t = 0; t < thresholds; t++) {
      const from = t * n;
      const count = points[t] as number;
      for (let i = from + count - 2; i >= from; i--) if ((precision[i + 1] as number) > (precision[i] as number)) precision[i] = precision[i + 1] as number;
      let ap = 0;
      let at = from;
      for (let k = 0; k <= 100; k++) {
        // recall >= k/100, with recall = tp / nGt as the one-list computation has it.
        const r = k / 100;
        while (at < from + count && (foundAt[at] as number) / nGt < r) at++;
        if (at < from + count) ap += precision[at] as number;
      }
      sums[t] = (sums[t] as number) + ap / 101;
    }
  }
}

/** Predictions kept per image for mAP, as COCO's maxDets: bounds memory on a variant that fires everywhere. */
export const MAX_DETECTIONS_PER_IMAGE = 100;

/** The highest-scoring {@link MAX_DETECTIONS_PER_IMAGE} detections. */
export function topDetections(detections: readonly Detection[], max = MAX_DETECTIONS_PER_IMAGE): Detection[] {
  return [...detections].sort((a, b) => b.score - a.score).slice(0, max);
}

/**
 * Indices of the `k` largest values, largest first (ties: lower index first). Pure.
 */
export function topK(values: ArrayLike<number>, k: number): number[] {
  const best: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i] ?? Number.NEGATIVE_INFINITY;
    if (best.length === k && v <= (values[best[k - 1] ?? 0] ?? 0)) continue;
    let at = best.length;
    while (at > 0 && v > (values[best[at - 1] ?? 0] ?? 0)) at--;
    best.splice(at, 0, i);
    if (best.length > k) best.pop();
  }
  return best;
}
