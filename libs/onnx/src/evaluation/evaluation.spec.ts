import { describe, expect, it } from 'vitest';
import { EvaluationAccumulator, EvaluationOutputError, outputsFidelity, summarizeFidelity, type EvaluationSetup, type RunOutputs } from './evaluation';
import { mulberry32, OutputFidelityAccumulator } from '@benchfarm/numerics';
import { boxIou, MatchedDetections, matchImage, percentileBootstrapInterval, topDetections, topK, type Detection } from './evaluation-math';
import { meanAveragePrecision } from './fidelity';

// Pure math, hand-computed figures; the outputs below are made-up tensors, not model runs.
const box = (x1: number, y1: number, x2: number, y2: number, score = 1, classId = 0): Detection => ({ box: [x1, y1, x2, y2], score, classId });
const f32 = (values: number[], dims: number[] = [values.length]): RunOutputs[string] => ({ data: Float32Array.from(values), type: 'float32', dims });

describe('bootstrap over images', () => {
  it.each([
    // B = 100: low = sorted[floor(2.5)] = 3, high = sorted[ceil(97.5) - 1] = 98.
    { stats: Array.from({ length: 100 }, (_, i) => 100 - i), low: 3, high: 98, resamples: 100 },
    { stats: [5], low: 5, high: 5, resamples: 1 },
    // Undefined resamples (NaN) are left out.
    { stats: [Number.NaN, 2, 1, Number.NaN], low: 1, high: 2, resamples: 2 },
  ])('percentile interval of $resamples statistics', ({ stats, low, high, resamples }) => {
    expect(percentileBootstrapInterval(stats)).toEqual({ low, high, level: 0.95, resamples });
  });

  it('gives no interval when nothing is left or the high end is infinite', () => {
    expect(percentileBootstrapInterval([Number.NaN])).toBeUndefined();
    expect(percentileBootstrapInterval([1, Number.POSITIVE_INFINITY])).toBeUndefined();
  });
});

describe('summarizeFidelity', () => {
  const options = { inputs: 'real images: test', randomInputs: false, resamples: 200, seed: 7 };

  it('real images: n, CIs over images that hold the pooled value', () => {
    const acc = new OutputFidelityAccumulator('y');
    for (let i = 0; i < 6; i++) acc.add([1, 2, 3, i], [1, 2, 3 + 0.1 * i, i]);
    const f = summarizeFidelity(acc, options);
    expect(f).toMatchObject({ output: 'y', images: 6, randomInputs: false, inputs: 'real images: test' });
    expect(f.cosineCi!.low).toBeLessThanOrEqual(f.cosine);
    expect(f.cosineCi!.high).toBeGreaterThanOrEqual(f.cosine);
    expect(f.cosineCi!.high).toBeLessThanOrEqual(1);
    expect(f.snrDbCi!.low).toBeLessThanOrEqual(f.snrDb!);
    expect(f.snrDbCi!.high).toBeGreaterThanOrEqual(f.snrDb!);
    expect(f.cosineCi!.resamples).toBe(200);
    expect(summarizeFidelity(acc, options)).toEqual(f);
  });

  it('identical outputs: no SNR (infinite), cosine CI [1, 1]', () => {
    const acc = new OutputFidelityAccumulator('y');
    acc.add([1, 2], [1, 2]);
    acc.add([3, 4], [3, 4]);
    const f = summarizeFidelity(acc, options);
    expect(f.snrDb).toBeUndefined();
    expect(f.snrDbCi).toBeUndefined();
    expect(f.cosineCi).toMatchObject({ low: 1, high: 1 });
  });

  it('random inputs and single images carry no CI; random inputs say images 0', () => {
    const acc = new OutputFidelityAccumulator('y');
    acc.add([1, 0], [1, 1]);
    const single = summarizeFidelity(acc, options);
    expect(single.images).toBe(1);
    expect(single).not.toHaveProperty('cosineCi');
    acc.add([1, 0], [1, 1]);
    const random = summarizeFidelity(acc, { ...options, inputs: 'random inputs: seed 0', randomInputs: true });
    expect(random).toMatchObject({ images: 0, randomInputs: true, inputs: 'random inputs: seed 0' });
    expect(random.cosineCi).toBeUndefined();
  });

  it('outputsFidelity pools float32 outputs both runs have and skips the rest', () => {
    const ref: RunOutputs = { a: f32([1, 0]), n: { data: BigInt64Array.of(1n), type: 'int64', dims: [1] } };
    const out = outputsFidelity([ref], [{ a: f32([1, 1]), n: ref.n! }], { ...options, randomInputs: true });
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ output: 'a', maxAbsError: 1, randomInputs: true });
    expect(out[0]!.cosine).toBeCloseTo(1 / Math.sqrt(2), 12);
    expect(() => outputsFidelity([ref], [{ a: f32([1]) }], options)).toThrow(/2 reference values, 1 variant values/);
  });
});

describe('COCO matching and mAP', () => {
  const truth = [box(0, 0, 10, 10), box(20, 20, 30, 30)];

  it.each([
    { name: 'exact boxes', preds: [box(0, 0, 10, 10, 0.9), box(20, 20, 30, 30, 0.8)], ap: 1 },
    // FP first, then both TPs: precision at recall 0.5 = 1/2, at 1 = 2/3; the envelope is 2/3 everywhere.
    { name: 'a false positive ranked first', preds: [box(50, 50, 60, 60, 0.95), box(0, 0, 10, 10, 0.9), box(20, 20, 30, 30, 0.8)], ap: 2 / 3 },
    // One TP at precision 1 covers recall 0..0.5 (51 of 101 points).
    { name: 'half the boxes found', preds: [box(0, 0, 10, 10, 0.9)], ap: 51 / 101 },
    { name: 'wrong class', preds: [box(0, 0, 10, 10, 0.9, 1), box(20, 20, 30, 30, 0.8, 1)], ap: 0 },
    // IoU of [0,0,10,10] and [0,0,10,5] is 0.5: a TP at 0.5 exactly.
    { name: 'IoU exactly at the threshold', preds: [box(0, 0, 10, 5, 0.9), box(20, 20, 30, 30, 0.8)], ap: 1 },
    // IoU 0.4: an FP ranked first, then one TP at precision 1/2 covering recall 0..0.5.
    { name: 'IoU below the threshold', preds: [box(0, 0, 10, 4, 0.9), box(20, 20, 30, 30, 0.8)], ap: (0.5 * 51) / 101 },
  ])('$name', ({ preds, ap }) => {
    expect(meanAveragePrecision([truth], [preds], 0.5).map).toBeCloseTo(ap, 12);
  });

  it('one prediction takes one truth box (no double counting)', () => {
    const m = matchImage([box(0, 0, 10, 10)], [box(0, 0, 10, 10, 0.9), box(0, 0, 10, 10, 0.8)], [0.5, 0.95]);
    expect([...m.truePositive]).toEqual([1, 1, 0, 0]);
    expect([...m.scores]).toEqual([0.9, 0.8]);
  });

  it('averages over the classes with truth boxes; undefined with none', () => {
    const t = [box(0, 0, 10, 10, 1, 0), box(0, 0, 10, 10, 1, 1)];
    expect(meanAveragePrecision([t], [[box(0, 0, 10, 10, 0.9, 0)]], 0.5)).toMatchObject({ map: 0.5, classes: 2, groundTruthCount: 2 });
    expect(meanAveragePrecision([[]], [[box(0, 0, 1, 1)]], 0.5).map).toBeUndefined();
  });

  it('a weighted image equals the image repeated (so resamples need no re-matching)', () => {
    const images = [
      { t: [box(0, 0, 10, 10)], p: [box(0, 0, 10, 10, 0.6), box(40, 40, 50, 50, 0.7)] },
      { t: [box(0, 0, 10, 10), box(20, 20, 30, 30)], p: [box(1, 1, 10, 10, 0.9), box(60, 60, 70, 70, 0.5)] },
      { t: [], p: [box(0, 0, 5, 5, 0.95)] },
    ];
    const weights = [3, 0, 2];
    const repeated = images.flatMap((im, i) => Array.from({ length: weights[i]! }, () => im));
    const direct = meanAveragePrecision(repeated.map((im) => im.t), repeated.map((im) => im.p), 0.5).map;
    const weighted = new MatchedDetections(images.map((im) => matchImage(im.t, im.p, [0.5])), 1).map(0, Uint32Array.from(weights)).map;
    expect(weighted).toBeCloseTo(direct!, 12);
  });

  it('every threshold from one walk equals each threshold alone, weighted or not', () => {
    const thresholds = [0.5, 0.6, 0.75, 0.9];
    const images = [
      { t: [box(0, 0, 10, 10), box(20, 20, 30, 30, 1, 1)], p: [box(0, 0, 10, 9, 0.9), box(21, 21, 30, 30, 0.8, 1), box(0, 0, 10, 10, 0.7), box(50, 50, 60, 60, 0.6, 1)] },
      { t: [box(0, 0, 10, 10)], p: [box(2, 2, 10, 10, 0.95), box(0, 0, 10, 10, 0.3)] },
      { t: [box(5, 5, 15, 15, 1, 1)], p: [box(70, 70, 80, 80, 0.99, 1), box(5, 5, 15, 14, 0.5, 1)] },
    ];
    const matched = new MatchedDetections(images.map((im) => matchImage(im.t, im.p, thresholds)), thresholds.length);
    for (const weights of [[1, 1, 1], [0, 2, 1], [3, 0, 1]]) {
      const repeated = images.flatMap((im, i) => Array.from({ length: weights[i]! }, () => im));
      const { maps } = matched.maps(Uint32Array.from(weights));
      for (const [t, threshold] of thresholds.entries()) expect(maps[t]).toBeCloseTo(meanAveragePrecision(repeated.map((im) => im.t), repeated.map((im) => im.p), threshold).map!, 12);
    }
  });

  it('matches the plain one-list algorithm (the test oracle below) on seeded random boxes', () => {
    const random = mulberry32(9);
    const rbox = (score: number): Detection => {
      const x = random() * 80;
      const y = random() * 80;
      return box(x, y, x + 5 + random() * 20, y + 5 + random() * 20, score, Math.floor(random() * 3));
    };
    const truth = Array.from({ length: 12 }, () => Array.from({ length: Math.floor(random() * 4) }, () => rbox(1)));
    // Predictions: jittered truth boxes and noise.
    const preds = truth.map((t) => [...t.map((g) => ({ ...g, box: g.box.map((v) => v + (random() - 0.5) * 4) as unknown as Detection['box'], score: random() })), ...Array.from({ length: 5 }, () => rbox(random()))]);
    const thresholds = [0.5, 0.65, 0.8, 0.95];
    const matched = new MatchedDetections(truth.map((t, i) => matchImage(t, preds[i]!, thresholds)), thresholds.length);
    for (const [k, threshold] of thresholds.entries()) expect(matched.maps().maps[k]).toBeCloseTo(naiveMap(truth, preds, threshold), 12);
  });

  it('keeps the best 100 detections per image', () => {
    const many = Array.from({ length: 150 }, (_, i) => box(i, 0, i + 1, 1, i / 150));
    const top = topDetections(many);
    expect(top).toHaveLength(100);
    expect(top[0]!.score).toBeCloseTo(149 / 150, 12);
    expect(top[99]!.score).toBeCloseTo(50 / 150, 12);
  });
});

describe('topK', () => {
  it.each([
    { values: [0.1, 0.5, 0.3, 0.5], k: 2, want: [1, 3] },
    { values: [0.1, 0.5, 0.3, 0.5], k: 5, want: [1, 3, 2, 0] },
    { values: [3, 2, 1], k: 1, want: [0] },
    { values: [-1, -3, -2], k: 2, want: [0, 2] },
  ])('top $k of $values', ({ values, k, want }) => {
    expect(topK(Float32Array.from(values), k)).toEqual(want);
  });
});

describe('EvaluationAccumulator', () => {
  const base: EvaluationSetup = {
    task: 'classification',
    inputHw: [10, 10],
    variants: [
      { name: 'fp32', sha256: 'a' },
      { name: 'int8', sha256: 'b' },
    ],
    labelled: true,
    resamples: 100,
    seed: 3,
    inputs: 'real images: unit test',
  };
  const scores = (top: number, classes = 6): RunOutputs => ({ logits: f32(Array.from({ length: classes }, (_, c) => (c === top ? 1 : 0.1 * c)), [1, classes]) });

  it('classification: top-1 agreement with the reference, top-1 / top-5 against labels over the labelled images', () => {
    const acc = new EvaluationAccumulator(base);
    // image: reference's top-1, the variant's top-1, the label (undefined: unlabelled)
    const images: [number, number, number[] | undefined][] = [
      [0, 0, [0]],
      [1, 2, [1]],
      [2, 2, [3]],
      [3, 3, undefined],
    ];
    for (const [ref, variant, classes] of images) {
      acc.beginImage(classes ? { classes } : undefined);
      acc.observe(0, scores(ref));
      acc.observe(1, scores(variant));
    }
    const result = acc.result({ datasetId: 'd', datasetName: 'n', split: 's', durationMs: 1, loadMs: 1 });
    expect(result).toMatchObject({ task: 'classification', images: 4, labelledImages: 3, detectionLayout: '' });
    const [reference, int8] = result.variants;
    const metric = (v: typeof reference, name: string) => v!.metrics.find((m) => m.metric === name);
    expect(metric(reference, 'top1_agreement')).toMatchObject({ value: 1, images: 4, against: 'reference' });
    expect(metric(int8, 'top1_agreement')).toMatchObject({ value: 0.75, images: 4 });
    expect(metric(reference, 'top1')).toMatchObject({ value: 2 / 3, images: 3, against: 'labels' });
    expect(metric(int8, 'top1')).toMatchObject({ value: 1 / 3, images: 3 });
    // The fake scores rank classes 5, 4, 3, ... after the top one: class 3 is in every top-5.
    expect(metric(int8, 'top5')!.value).toBe(1);
    const ci = metric(int8, 'top1_agreement')!.ci!;
    expect(ci.low).toBeLessThanOrEqual(0.75);
    expect(ci.high).toBeGreaterThanOrEqual(0.75);
    expect(reference!.fidelity).toEqual([]);
    expect(int8!.fidelity[0]).toMatchObject({ output: 'logits', images: 4, randomInputs: false, inputs: 'real images: unit test' });
  });

  it('fidelity task: outputs only, no task metrics', () => {
    const acc = new EvaluationAccumulator({ ...base, task: 'fidelity', labelled: false });
    for (const x of [1, 2, 3]) {
      acc.beginImage();
      acc.observe(0, { y: f32([x, 1], [1, 2]) });
      acc.observe(1, { y: f32([x, 1.5], [1, 2]) });
    }
    const result = acc.result({ datasetId: '', datasetName: '', split: '', durationMs: 0, loadMs: 0 });
    expect(result.task).toBe('fidelity');
    expect(result.variants.map((v) => v.metrics)).toEqual([[], []]);
    expect(result.variants[1]!.fidelity[0]).toMatchObject({ output: 'y', images: 3, maxAbsError: 0.5, randomInputs: false });
    // sum ref^2 = 1 + 4 + 9 + 3 = 17, sum err^2 = 3 * 0.25: SNR = 10 log10(17 / 0.75).
    expect(result.variants[1]!.fidelity[0]!.snrDb).toBeCloseTo(10 * Math.log10(17 / 0.75), 9);
  });

  it('labels metrics are absent with a reason without labels, or when none cover the images', () => {
    for (const [labelled, reason] of [
      [false, 'the dataset has no labels'],
      [true, 'no labels cover the evaluation images'],
    ] as const) {
      const acc = new EvaluationAccumulator({ ...base, labelled });
      acc.beginImage();
      acc.observe(0, scores(1));
      acc.observe(1, scores(1));
      const top1 = acc.result({ datasetId: '', datasetName: '', split: '', durationMs: 0, loadMs: 0 }).variants[1]!.metrics.find((m) => m.metric === 'top1');
      expect(top1).toMatchObject({ reason, images: 0 });
      expect(top1).not.toHaveProperty('value');
    }
  });

  // YOLOv5 layout [1, N, 5 + C]: decoded boxes in pixels, objectness, class scores.
  const yolo = (rows: number[][]): RunOutputs => ({ output: f32(rows.flat(), [1, rows.length, 6]) });
  const detection: EvaluationSetup = { ...base, task: 'detection', detectionLayout: 'yolov5', inputHw: [100, 100] };

  it('detection: mAP@0.5 agreement with the reference and mAP against labels', () => {
    const acc = new EvaluationAccumulator({ ...detection, variants: [...base.variants, { name: 'broken', sha256: 'c' }] });
    const hit = [20, 20, 10, 10, 0.9, 1];
    const miss = [70, 70, 10, 10, 0.9, 1];
    for (let i = 0; i < 3; i++) {
      acc.beginImage(i < 2 ? { boxes: [box(15, 15, 25, 25)] } : undefined);
      acc.observe(0, yolo([hit, [0, 0, 0, 0, 0, 0]]));
      acc.observe(1, yolo([hit, [0, 0, 0, 0, 0, 0]]));
      acc.observe(2, yolo([miss, [0, 0, 0, 0, 0, 0]]));
    }
    const result = acc.result({ datasetId: '', datasetName: '', split: '', durationMs: 0, loadMs: 0 });
    expect(result).toMatchObject({ detectionLayout: 'yolov5', images: 3, labelledImages: 2 });
    const get = (v: number, name: string) => result.variants[v]!.metrics.find((m) => m.metric === name)!;
    expect(get(1, 'map50_agreement')).toMatchObject({ value: 1, images: 3, against: 'reference', ci: { low: 1, high: 1 } });
    expect(get(2, 'map50_agreement')).toMatchObject({ value: 0, images: 3 });
    expect(get(0, 'map50')).toMatchObject({ value: 1, images: 2, against: 'labels' });
    expect(get(2, 'map50')).toMatchObject({ value: 0, images: 2 });
    // Exact boxes: a TP at every IoU threshold.
    expect(get(1, 'map50_95').value).toBe(1);
    expect(result.variants[1]!.fidelity[0]).toMatchObject({ cosine: 1, maxAbsError: 0 });
    expect(result.variants[1]!.fidelity[0]).not.toHaveProperty('snrDb');
  });

  it('a reference that detects nothing leaves the agreement absent with the reason', () => {
    const acc = new EvaluationAccumulator({ ...detection, labelled: false });
    acc.beginImage();
    acc.observe(0, yolo([[20, 20, 10, 10, 0.1, 1]]));
    acc.observe(1, yolo([[20, 20, 10, 10, 0.1, 1]]));
    const agreement = acc.result({ datasetId: '', datasetName: '', split: '', durationMs: 0, loadMs: 0 }).variants[1]!.metrics[0];
    expect(agreement).toMatchObject({ metric: 'map50_agreement', reason: 'the reference detects nothing on these images' });
    expect(agreement).not.toHaveProperty('value');
  });

  it('a failed variant has an error and no figures; outputs that do not fit the task are refused by name', () => {
    const acc = new EvaluationAccumulator(detection);
    acc.beginImage();
    expect(() => acc.observe(0, { logits: f32([1, 2], [1, 2]) })).toThrow(EvaluationOutputError);
    expect(() => acc.observe(0, { logits: f32([1, 2], [1, 2]) })).toThrow(/no float output fits the yolov5 detector layout.*logits \[1, 2\]/);
    acc.fail(1, 'onnxruntime: bad kernel');
    const v = acc.result({ datasetId: '', datasetName: '', split: '', durationMs: 0, loadMs: 0 }).variants[1]!;
    expect(v).toMatchObject({ error: 'onnxruntime: bad kernel', metrics: [], fidelity: [] });
  });
});

/** The test oracle: mAP as first written (every prediction a point, one sorted list), no shortcuts. */
function naiveMap(groundTruth: Detection[][], predictions: Detection[][], iouThreshold: number): number {
  const classes = new Set(groundTruth.flat().map((d) => d.classId));
  let sum = 0;
  for (const cls of classes) {
    const preds = predictions.flatMap((list, image) => list.filter((d) => d.classId === cls).map((d) => ({ image, d }))).sort((a, b) => b.d.score - a.d.score);
    const gts = groundTruth.map((list) => list.filter((d) => d.classId === cls));
    const nGt = gts.reduce((n, l) => n + l.length, 0);
    const used = gts.map((l) => l.map(() => false));
    let tp = 0;
    let fp = 0;
    const recall: number[] = [];
    const precision: number[] = [];
    for (const { image, d } of preds) {
      let best = iouThreshold;
      let match = -1;
      for (const [j, g] of gts[image]!.entries()) {
        if (used[image]![j]) continue;
        const o = boxIou(d.box, g.box);
        if (o >= best) [best, match] = [o, j];
      }
      if (match >= 0) {
        tp++;
        used[image]![match] = true;
      } else fp++;
      recall.push(tp / nGt);
      precision.push(tp / (tp + fp));
    }
    for (let i = precision.length - 2; i >= 0; i--) precision[i] = Math.max(precision[i]!, precision[i + 1]!);
    let ap = 0;
    for (let k = 0; k <= 100; k++) {
      const at = recall.findIndex((x) => x >= k / 100);
      ap += at >= 0 ? precision[at]! : 0;
    }
    sum += ap / 101;
  }
  return sum / classes.size;
}
