import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PREPROCESS_PRESETS } from '@benchfarm/onnx';
import { TensorDataType } from '@benchfarm/protocol';
import { DomainErrorCode } from '../common/domain-error';
import { assertImagesFitModel, assertLabelsFit, CALIBRATION_IMAGES_MAX, evaluationRequestOf, evaluationTargetOf, evenlySpaced, resolveSweepDatasets } from './sweep-datasets';
import { parseSweepRequest } from './sweep-request';
import { FakeDatasetCatalog, syntheticJpeg } from './testing/fake-dataset-catalog';

// The split only looks at names and digests: distinct bytes stand in for photos, except where an image is decoded.
const images = (n: number, offset = 0, jpeg = false): Record<string, Buffer> =>
  Object.fromEntries(Array.from({ length: n }, (_, k) => [`img${String(k + offset).padStart(3, '0')}.jpg`, jpeg ? syntheticJpeg(k + offset) : Buffer.from(`image ${k + offset}`)]));
const labels = (categories: number) => ({ sha256: 'ab'.repeat(32), sizeBytes: 100, labelledImages: 2, annotations: 3, categories: Array.from({ length: categories }, (_, k) => ({ id: k + 1, name: `c${k + 1}` })) });

describe('sweep request: dataset fields', () => {
  it('takes a dataset with task, preprocess (preset or JSON text) and an evaluation cap', () => {
    expect(parseSweepRequest({ dataset: ' photos ', task: 'detection', preprocess: 'yolox', evaluationImages: '50' })).toMatchObject({ dataset: 'photos', task: 'detection', preprocess: 'yolox', evaluationImages: 50 });
    expect(parseSweepRequest({ evaluationDataset: 'e', preprocess: '{"resize":"stretch","channelOrder":"RGB","scale":1}' }).preprocess).toEqual({ resize: 'stretch', channelOrder: 'RGB', scale: 1 });
    expect(parseSweepRequest({}).evaluationImages).toBe(500);
  });
  it.each<[string, Record<string, unknown>, string, RegExp]>([
    ['dataset with an explicit one', { dataset: 'a', evaluationDataset: 'b' }, 'dataset', /either dataset .* or calibrationDataset \/ evaluationDataset/],
    ['a dataset and a coordinator folder', { variants: 'int8-static', dataset: 'a', calibrationDir: '/cal', calibrationPreprocess: 'yolox' }, 'calibrationDir', /either calibrationDir or dataset/],
    ['a calibration dataset and random calibration', { variants: 'int8-static', calibrationDataset: 'a', calibrationRandom: 4 }, 'calibrationRandom', /calibrationDataset/],
    ['compare none with an evaluation', { evaluationDataset: 'e', compare: 'none' }, 'compare', /all-variants job after its interleaved rounds/],
    ['an external runtime with an evaluation', { dataset: 'a', runtime: 'trtexec' }, 'runtime', /cannot evaluate dataset/],
    ['a task without an evaluation', { task: 'detection' }, 'task', /give dataset or evaluationDataset/],
    ['an unknown task', { dataset: 'a', task: 'segmentation' }, 'task', /detection, classification, fidelity/],
    ['an evaluation cap of 0', { dataset: 'a', evaluationImages: 0 }, 'evaluationImages', />= 1/],
  ])('refuses %s, naming the field', (_name, body, field, message) => {
    expect(() => parseSweepRequest(body)).toThrow(expect.objectContaining({ code: DomainErrorCode.InvalidArgument, field }));
    expect(() => parseSweepRequest(body)).toThrow(message);
  });
  it('lets preprocess serve a coordinator calibration folder (calibrationPreprocess still works)', () => {
    expect(parseSweepRequest({ variants: 'int8-static', calibrationDir: '/cal', preprocess: 'yolo' })).toMatchObject({ calibrationDir: '/cal', preprocess: 'yolo' });
  });
});

describe('resolveSweepDatasets: the deterministic split', () => {
  const catalog = new FakeDatasetCatalog();
  const photos = catalog.add('photos', images(13), { preprocess: 'yolox', labels: labels(3) });

  it('holds out every 3rd image by name from the 2nd, the same way every time, recorded in words', async () => {
    const a = await resolveSweepDatasets(parseSweepRequest({ dataset: 'photos' }), catalog);
    const b = await resolveSweepDatasets(parseSweepRequest({ dataset: photos.id.slice(0, 10) }), catalog);
    expect(a?.evaluation?.images.map((im) => im.name)).toEqual(['img001.jpg', 'img004.jpg', 'img007.jpg', 'img010.jpg']);
    expect(a?.calibration?.images).toHaveLength(9);
    expect(b).toEqual(a);
    const calibration = new Set(a?.calibration?.images.map((im) => im.sha256));
    expect(a?.evaluation?.images.some((im) => calibration.has(im.sha256))).toBe(false);
    expect(a?.split).toMatch(/^dataset photos \([0-9a-f]{12}\): every 3rd image by name from the 2nd held out for evaluation \(4\), the other 9 calibrate$/);
    expect(a?.evaluation?.preprocess).toEqual(PREPROCESS_PRESETS.yolox);
  });

  it('cuts a big evaluation split evenly spaced by name and says so', async () => {
    const split = await resolveSweepDatasets(parseSweepRequest({ dataset: 'photos', evaluationImages: 2 }), catalog);
    expect(split?.evaluation?.images.map((im) => im.name)).toEqual(['img001.jpg', 'img007.jpg']);
    expect(split?.split).toContain('evaluation cut to 2 of 4 images, evenly spaced by name (evaluationImages 2)');
    expect(evenlySpaced([1, 2, 3, 4, 5, 6, 7], 3)).toEqual([1, 3, 5]);
  });

  it('caps calibration at CALIBRATION_IMAGES_MAX', async () => {
    const big = new FakeDatasetCatalog();
    big.add('big', images(CALIBRATION_IMAGES_MAX * 2), { preprocess: 'yolo' });
    const split = await resolveSweepDatasets(parseSweepRequest({ dataset: 'big' }), big);
    expect(split?.calibration?.images).toHaveLength(CALIBRATION_IMAGES_MAX);
    expect(split?.split).toMatch(/calibration cut to 100 of 133 images/);
  });

  it('never puts two names for the same bytes on both sides', async () => {
    const dup = new FakeDatasetCatalog();
    const one = Buffer.from('one');
    dup.add('dup', { 'a.jpg': one, 'b.jpg': one, 'c.jpg': Buffer.from('two'), 'd.jpg': Buffer.from('three') }, { preprocess: 'yolo' });
    const split = await resolveSweepDatasets(parseSweepRequest({ dataset: 'dup' }), dup);
    expect([...(split?.calibration?.images ?? []), ...(split?.evaluation?.images ?? [])].map((im) => im.name)).toEqual(['a.jpg', 'd.jpg', 'c.jpg']);
    expect(split?.split).toContain('1 image(s) with the digest of an earlier one left out');
  });

  it('takes explicit calibration and evaluation datasets, and refuses them when they share an image digest', async () => {
    const two = new FakeDatasetCatalog();
    two.add('cal', images(3), { preprocess: 'yolox' });
    two.add('eval', images(2, 10), { preprocess: 'yolox' });
    two.add('overlap', images(2, 2), { preprocess: 'yolox' });
    const split = await resolveSweepDatasets(parseSweepRequest({ calibrationDataset: 'cal', evaluationDataset: 'eval' }), two);
    expect([split?.calibration?.images.length, split?.evaluation?.images.length]).toEqual([3, 2]);
    expect(split?.split).toMatch(/every image of calibrationDataset cal .*; evaluation: every image of evaluationDataset eval .*; no image digest in both/);
    await expect(resolveSweepDatasets(parseSweepRequest({ calibrationDataset: 'cal', evaluationDataset: 'overlap' }), two)).rejects.toThrow(
      expect.objectContaining({ code: DomainErrorCode.InvalidArgument, field: 'evaluationDataset', message: expect.stringMatching(/shares 1 image\(s\) with calibrationDataset cal .*img002\.jpg/) }),
    );
  });

  it('refuses an unknown dataset, a dataset too small to split and images without preprocessing, naming the field', async () => {
    const small = new FakeDatasetCatalog();
    small.add('one', images(1), { preprocess: 'yolo' });
    small.add('bare', images(3));
    await expect(resolveSweepDatasets(parseSweepRequest({ evaluationDataset: 'nope' }), small)).rejects.toThrow(expect.objectContaining({ code: DomainErrorCode.DatasetNotFound, field: 'evaluationDataset' }));
    await expect(resolveSweepDatasets(parseSweepRequest({ dataset: 'one' }), small)).rejects.toThrow(expect.objectContaining({ field: 'dataset', message: expect.stringMatching(/1 distinct image\(s\); a split needs at least 2/) }));
    await expect(resolveSweepDatasets(parseSweepRequest({ dataset: 'bare' }), small)).rejects.toThrow(expect.objectContaining({ field: 'preprocess', message: expect.stringMatching(/has no preprocessing config/) }));
    await expect(resolveSweepDatasets(parseSweepRequest({ dataset: 'bare', preprocess: 'nope' }), small)).rejects.toThrow(expect.objectContaining({ field: 'preprocess', message: expect.stringMatching(/unknown preset "nope"/) }));
    expect((await resolveSweepDatasets(parseSweepRequest({ dataset: 'bare', preprocess: 'imagenet' }), small))?.evaluation?.preprocess).toEqual(PREPROCESS_PRESETS.imagenet);
    await expect(resolveSweepDatasets(parseSweepRequest({ dataset: 'bare' }), undefined)).rejects.toThrow(expect.objectContaining({ field: 'dataset', message: expect.stringMatching(/keeps no datasets/) }));
  });
});

describe('the evaluation target from the model outputs', () => {
  const yolox = [{ name: 'output', dims: [1, 3549, 8] }];
  it('finds a YOLOX detector and its classes, a classifier, or falls back to fidelity', () => {
    expect(evaluationTargetOf(yolox, [416, 416], undefined)).toEqual({ task: 'detection', detectionLayout: 'yolox', classes: 3 });
    expect(evaluationTargetOf([{ name: 'out', dims: [1, 84, 8400] }], [640, 640], undefined)).toEqual({ task: 'detection', detectionLayout: 'yolov8', classes: 80 });
    expect(evaluationTargetOf([{ name: 'logits', dims: [1, 1000] }], [224, 224], undefined)).toEqual({ task: 'classification', classes: 1000 });
    expect(evaluationTargetOf([{ name: 'maps', dims: [1, 1, 96, 96] }], [96, 96], undefined)).toEqual({ task: 'fidelity' });
    expect(evaluationTargetOf([{ name: 'o', dims: [1, undefined] }], [96, 96], undefined)).toEqual({ task: 'fidelity' });
    expect(evaluationTargetOf(yolox, [416, 416], 'fidelity')).toEqual({ task: 'fidelity' });
  });
  it('refuses detection on outputs that are no YOLO layout, and classification without [1, C], naming task', () => {
    expect(() => evaluationTargetOf(yolox, [320, 320], 'detection')).toThrow(expect.objectContaining({ field: 'task', message: expect.stringMatching(/task detection needs a YOLO-family output for the 320x320 input.*output \[1, 3549, 8\]/) }));
    expect(() => evaluationTargetOf(yolox, [416, 416], 'classification')).toThrow(expect.objectContaining({ field: 'task' }));
  });
  it('refuses labels with more categories than the model outputs, naming the dataset field', async () => {
    const catalog = new FakeDatasetCatalog();
    catalog.add('coco', images(3), { preprocess: 'yolox', labels: labels(80) });
    const part = (await resolveSweepDatasets(parseSweepRequest({ evaluationDataset: 'coco' }), catalog))?.evaluation;
    if (!part) throw new Error('no evaluation part');
    expect(() => assertLabelsFit(part, { task: 'detection', detectionLayout: 'yolox', classes: 3 })).toThrow(expect.objectContaining({ field: 'evaluationDataset', message: expect.stringMatching(/labels name 80 categories .*detector \(yolox layout\) outputs 3 classes/) }));
    expect(() => assertLabelsFit(part, { task: 'detection', detectionLayout: 'yolox', classes: 80 })).not.toThrow();
    expect(() => assertLabelsFit(part, { task: 'fidelity' })).not.toThrow();
  });
  it('builds the EvaluationRequest: the split, the full preprocess config, labels only where the task uses them', async () => {
    const catalog = new FakeDatasetCatalog();
    catalog.add('photos', images(6), { preprocess: 'yolox', labels: labels(3) });
    const datasets = await resolveSweepDatasets(parseSweepRequest({ dataset: 'photos' }), catalog);
    const part = datasets?.evaluation;
    if (!datasets || !part) throw new Error('no evaluation part');
    const request = evaluationRequestOf(part, { task: 'detection', detectionLayout: 'yolox', classes: 3 }, datasets.split, 7);
    expect(request).toMatchObject({ datasetName: 'photos', datasetImages: 6, task: 'detection', detectionLayout: 'yolox', labelsSha256: 'ab'.repeat(32), labelsSizeBytes: 100, bootstrapResamples: 1000, seed: 7, split: datasets.split });
    expect(request.images.map((im) => im.name)).toEqual(['img001.jpg', 'img004.jpg']);
    expect(JSON.parse(request.preprocessJson)).toEqual(PREPROCESS_PRESETS.yolox);
    expect(evaluationRequestOf(part, { task: 'fidelity' }, datasets.split, 7).labelsSha256).toBe('');
  });
});

describe('dataset images against the model input (real JPEG decoding)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bf-fit-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const catalog = new FakeDatasetCatalog();
  catalog.add('photos', images(3, 0, true), { preprocess: 'yolox' });
  const evaluationPart = resolveSweepDatasets(parseSweepRequest({ evaluationDataset: 'photos' }), catalog).then((datasets) => datasets?.evaluation);
  const float = (shape: number[]) => [{ name: 'images', dataType: TensorDataType.TENSOR_DATA_TYPE_FLOAT32, shape }];

  it('accepts images that become the input tensor, and returns the input size', async () => {
    const part = await evaluationPart;
    if (!part) throw new Error('no evaluation part');
    const [path = ''] = await catalog.materialize(part.images.slice(0, 1), dir);
    await expect(assertImagesFitModel(part, float([1, 3, 64, 48]), path)).resolves.toEqual([64, 48]);
  });
  it('refuses a model input images cannot fill, a second input, and a file that is no JPEG, naming the dataset field', async () => {
    const part = await evaluationPart;
    if (!part) throw new Error('no evaluation part');
    const [path = ''] = await catalog.materialize(part.images.slice(0, 1), dir);
    await expect(assertImagesFitModel(part, float([1, 1, 28, 28]), path)).rejects.toMatchObject({ field: 'evaluationDataset', message: expect.stringMatching(/do not fit the model input images \[1, 1, 28, 28\] \(image img000\.jpg, 32x24, preprocess yolox\).*reads 1 channels/) });
    await expect(assertImagesFitModel(part, float([1, 3, 8]), path)).rejects.toMatchObject({ field: 'evaluationDataset' });
    await expect(assertImagesFitModel(part, [...float([1, 3, 8, 8]), ...float([1, 3, 8, 8])], path)).rejects.toMatchObject({ field: 'evaluationDataset', message: expect.stringMatching(/one input; this one has 2/) });
    const broken = join(dir, 'broken.jpg');
    writeFileSync(broken, Buffer.from('not a jpeg at all'));
    await expect(assertImagesFitModel(part, float([1, 3, 8, 8]), broken)).rejects.toMatchObject({ field: 'evaluationDataset', message: expect.stringMatching(/image img000\.jpg does not decode as JPEG/) });
  });
});
