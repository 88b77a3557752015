import { OutputFidelityAccumulator } from '@benchfarm/numerics';
import { describe, expect, it } from 'vitest';
import { cocoGroundTruth, compareOutputs, decodeYolo, guessYoloLayout, labelledMap, meanAveragePrecision, parseCocoLabels } from './fidelity';
import type { Detection } from './evaluation-math';

const t = (values: number[], dims = [values.length]) => ({ data: Float32Array.from(values), dims });

describe('compareOutputs', () => {
  it('identical outputs: cosine 1, no SNR (infinite, shown as absent everywhere), no error', () => {
    expect(compareOutputs('y', [t([1, 2, 3])], [t([1, 2, 3])])).toEqual({ output: 'y', cosine: 1, maxAbsError: 0 });
  });
  it('hand-computed: ref [1, 0], variant [1, 1] -> cosine 1/sqrt(2), SNR 10 log10(1/1) = 0 dB, max error 1', () => {
    const r = compareOutputs('y', [t([1, 0])], [t([1, 1])]);
    expect(r.cosine).toBeCloseTo(Math.SQRT1_2, 12);
    expect(r.snrDb).toBeCloseTo(0, 12);
    expect(r.maxAbsError).toBe(1);
  });
  it('pools every input: SNR 20 dB when the error energy is 1% of the signal', () => {
    expect(compareOutputs('y', [t([10, 0]), t([0, 0])], [t([10, 0]), t([1, 0])]).snrDb).toBeCloseTo(20, 9);
  });
  it('is the accumulator of @benchfarm/numerics pooled over every input', () => {
    const acc = new OutputFidelityAccumulator('y');
    acc.add([1, 2], [1, 3]);
    expect(compareOutputs('y', [t([1, 2])], [t([1, 3])])).toEqual({ output: 'y', ...acc.pooled() });
  });
  it('refuses tensors of different sizes', () => {
    expect(() => compareOutputs('y', [t([1, 2])], [t([1])])).toThrow(/2 reference values, 1 variant values/);
  });
});

describe('YOLO decoding', () => {
  it('guesses the layout from dims and input size', () => {
    expect(guessYoloLayout([1, 3549, 8], [416, 416])).toBe('yolox');
    expect(guessYoloLayout([1, 3 * 3549, 85], [416, 416])).toBe('yolov5');
    expect(guessYoloLayout([1, 84, 8400], [640, 640])).toBe('yolov8');
    expect(guessYoloLayout([1, 1000], [224, 224])).toBeUndefined();
  });
  it('YOLOX: grid offset and exp(w, h) x stride, score = objectness x class score', () => {
    // 64x64 input: stride 8 -> 8x8 cells first; cell index 9 is (x=1, y=1).
    const cells = 64 + 16 + 4;
    const data = new Float32Array(cells * 7);
    data.set([0.5, 0.5, 0, Math.log(2), 0.9, 0.1, 0.8], 9 * 7);
    const [d] = decodeYolo({ data, dims: [1, cells, 7] }, { layout: 'yolox', inputHw: [64, 64], scoreThreshold: 0.25, iouThreshold: 0.45 });
    expect(d?.classId).toBe(1);
    expect(d?.score).toBeCloseTo(0.72, 6);
    // cx = (0.5 + 1) * 8 = 12, w = 8, h = 16
    expect(d?.box.map((v) => Number(v.toFixed(4)))).toEqual([8, 4, 16, 20]);
  });
  it('YOLOv8 [1, 4+C, N]: channel-major boxes, no objectness', () => {
    const n = 3;
    const data = Float32Array.from([
      10, 50, 0, // cx
      10, 50, 0, // cy
      4, 8, 1, // w
      4, 8, 1, // h
      0.9, 0.1, 0, // class 0
      0.05, 0.7, 0, // class 1
    ]);
    const dets = decodeYolo({ data, dims: [1, 6, n] }, { layout: 'yolov8', inputHw: [64, 64], scoreThreshold: 0.25, iouThreshold: 0.45 });
    expect(dets.map((d) => [d.classId, d.score])).toEqual([
      [0, expect.closeTo(0.9, 6)],
      [1, expect.closeTo(0.7, 6)],
    ]);
  });
  it('NMS drops an overlapping box of the same class', () => {
    const data = new Float32Array(2 * 7);
    data.set([10, 10, 20, 20, 0.9, 1, 0], 0);
    data.set([11, 10, 20, 20, 0.8, 1, 0], 7);
    expect(decodeYolo({ data, dims: [1, 2, 7] }, { layout: 'yolov5', inputHw: [64, 64], scoreThreshold: 0.25, iouThreshold: 0.45 })).toHaveLength(1);
  });
});

describe('meanAveragePrecision', () => {
  const box = (x: number, score = 0.9, classId = 0): Detection => ({ box: [x, 0, x + 10, 10], score, classId });
  it('the reference against itself is 1', () => {
    const gt = [[box(0), box(20)], [box(5, 0.9, 1)]];
    expect(meanAveragePrecision(gt, gt).map).toBe(1);
  });
  it('finding one of two boxes gives AP about 0.5 (101-point)', () => {
    const r = meanAveragePrecision([[box(0), box(20)]], [[box(0)]]);
    expect(r.map).toBeCloseTo(51 / 101, 6);
  });
  it('a false positive ranked above the true one lowers precision', () => {
    const r = meanAveragePrecision([[box(0)]], [[box(50, 0.95), box(0, 0.5)]]);
    expect(r.map).toBeCloseTo(0.5, 6);
  });
  it('is absent with a reason when the reference detects nothing', () => {
    expect(meanAveragePrecision([[]], [[box(0)]])).toMatchObject({ map: undefined, reason: expect.stringMatching(/detects nothing/) });
  });
});

describe('COCO labels', () => {
  const labels = parseCocoLabels({
    images: [{ id: 7, file_name: 'dir/a.jpg', width: 200, height: 100 }],
    annotations: [
      { image_id: 7, category_id: 5, bbox: [10, 20, 40, 30] },
      { image_id: 7, category_id: 9, bbox: [0, 0, 10, 10], iscrowd: 1 },
    ],
    categories: [{ id: 9, name: 'b' }, { id: 5, name: 'a' }],
  });
  it('scales boxes as the letterbox did (one ratio, top-left) and maps categories in id order', () => {
    // 200x100 into 100x100: ratio 0.5
    const [gt, missing] = cocoGroundTruth(labels, ['/x/a.jpg', 'b.jpg'], [100, 100], 'letterbox');
    expect(gt).toEqual([{ box: [5, 10, 25, 25], score: 1, classId: 0 }]);
    expect(missing).toBeUndefined();
  });
  it('mAP@0.5 and mAP@0.5:0.95: a box shifted to IoU ~0.67 counts at 0.5..0.65 only', () => {
    const truth = [[{ box: [0, 0, 10, 10] as const, score: 1, classId: 0 }]];
    const shifted = [[{ box: [2, 0, 12, 10] as const, score: 0.9, classId: 0 }]];
    const r = labelledMap(truth, shifted);
    expect(r.mapAt50).toBe(1);
    expect(r.mapAt50To95).toBeCloseTo(0.4, 9); // IoU 80/120 = 0.667: thresholds 0.50, 0.55, 0.60, 0.65
  });
  it('refuses malformed labels naming the entry', () => {
    expect(() => parseCocoLabels({ images: [], annotations: [{ image_id: 1, bbox: [1, 2] }], categories: [] })).toThrow(/labels\.annotations\[0\]: needs image_id, category_id and bbox/);
  });
});
