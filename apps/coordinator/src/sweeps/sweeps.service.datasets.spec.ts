// SweepsService with datasets: fake model toolkit, store, bus and dataset catalog
// (labelled fakes, sweeps/testing), real SQLite, real work folders, real JPEG decoding.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Logger } from '@nestjs/common';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PREPROCESS_PRESETS, type CalibrationSource } from '@benchfarm/onnx';
import { TensorDataType } from '@benchfarm/protocol';
import { createFarmMetrics } from '@benchfarm/metrics';
import { Registry } from 'prom-client';
import { AgentsService } from '../agents/agents.service';
import { DomainErrorCode } from '../common/domain-error';
import { loadConfig } from '../config';
import { MetricsService } from '../metrics/metrics.service';
import { SqlSeriesHistoryRepository } from '../metrics/series-history.repository';
import { ProgressTracker } from '../results/progress-tracker';
import { openSqlite } from '../storage/sqlite';
import type { SqlDatabase } from '../storage/sql';
import { SqlResultRepository } from '../storage/result.repository';
import { SqlSweepRepository } from '../storage/sweep.repository';
import { LocalWorkspace } from '../variants/workspace';
import type { ModelUpload } from './sweeps.service';
import { FakeDatasetCatalog, syntheticJpeg } from './testing/fake-dataset-catalog';
import { agent, CountingIds, derivingService, FakeRegistry, FakeStore, FakeToolkit, FixedClock, FlakyBus } from './testing/sweep-fakes';

// A YOLOX-shaped detector on a 64x64 input: 8x8 + 4x4 + 2x2 = 84 cells, 5 + 3 classes.
const DETECTOR = {
  inputs: [{ name: 'images', dataType: TensorDataType.TENSOR_DATA_TYPE_FLOAT32, shape: [1, 3, 64, 64] }],
  outputs: [{ name: 'output', dims: [1, 84, 8] }],
};
const labels = (categories: number) => ({ sha256: 'cd'.repeat(32), sizeBytes: 321, labelledImages: 3, annotations: 4, categories: Array.from({ length: categories }, (_, k) => ({ id: k + 1, name: `class${k + 1}` })) });

describe('SweepsService with datasets (fake adapters and catalog, real SQLite and files)', () => {
  const root = mkdtempSync(join(tmpdir(), 'bf-sweep-datasets-'));
  const photos: Record<string, Buffer> = {};
  let db: SqlDatabase;
  let toolkit: FakeToolkit;
  let bus: FlakyBus;
  let catalog: FakeDatasetCatalog;
  let workspace: LocalWorkspace;
  const upload: ModelUpload = { kind: 'upload', path: join(root, 'upload.onnx'), originalName: 'det.onnx', sizeBytes: 1000 };

  const service = () => {
    const config = loadConfig({}, {});
    const clock = new FixedClock();
    const agents = new AgentsService(new FakeRegistry([agent('a1'), agent('a2')]), clock, config);
    const sweeps = new SqlSweepRepository(db);
    const metrics = new MetricsService(createFarmMetrics(new Registry()), sweeps, new SqlResultRepository(db), agents, new SqlSeriesHistoryRepository(db), clock);
    return derivingService({ sweeps, agents, toolkit, models: new FakeStore(), bus, workspace, progress: new ProgressTracker(), metrics, clock, ids: new CountingIds(), config, catalog });
  };
  const count = async (table: string): Promise<number> => (await db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`))!.n;
  const workFolders = (): string[] => readdirSync(join(root, 'data', 'work'));

  beforeAll(() => {
    Logger.overrideLogger(false);
    for (let k = 0; k < 7; k++) photos[`p${k}.jpg`] = syntheticJpeg(k);
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  beforeEach(async () => {
    db = openSqlite(':memory:');
    toolkit = new FakeToolkit();
    toolkit.variants = ['fp32', 'fp16', 'int8-static', 'int8-dynamic'];
    toolkit.model = DETECTOR;
    bus = new FlakyBus();
    catalog = new FakeDatasetCatalog();
    workspace = new LocalWorkspace(join(root, 'data'));
    await workspace.reset();
    writeFileSync(upload.path, 'model bytes');
  });
  afterEach(() => db.close());

  it('splits a dataset, calibrates int8-static on the calibration images only and puts the evaluation on every all-variants job', async () => {
    const dataset = catalog.add('photos', photos, { preprocess: 'yolox', labels: labels(3) });
    const view = await service().create(upload, { dataset: 'photos', variants: 'fp32,int8-static,int8-dynamic', seed: 5 });

    // Calibration: the 5 calibration images fetched into the work folder, never an evaluation image.
    const calibration = toolkit.calibrations.get('int8-static');
    expect(calibration).toMatchObject({ kind: 'images', preprocess: PREPROCESS_PRESETS.yolox });
    const files = calibration?.kind === 'images' ? (calibration.files ?? []).map((f) => basename(f)) : [];
    expect(files).toEqual(['p0.jpg', 'p2.jpg', 'p3.jpg', 'p5.jpg', 'p6.jpg']);

    // Evaluation: on the comparison job of each device, nowhere else.
    const comparisons = bus.published.filter((j) => j.comparison);
    expect(comparisons.map((j) => j.agentId)).toEqual(['a1', 'a2']);
    for (const job of comparisons) {
      expect(job.evaluation).toMatchObject({ datasetId: dataset.id, datasetName: 'photos', datasetImages: 7, task: 'detection', detectionLayout: 'yolox', labelsSha256: 'cd'.repeat(32), labelsSizeBytes: 321, bootstrapResamples: 1000, seed: 5 });
      expect(job.evaluation?.images.map((im) => im.name)).toEqual(['p1.jpg', 'p4.jpg']);
      expect(JSON.parse(job.evaluation?.preprocessJson ?? '{}')).toEqual(PREPROCESS_PRESETS.yolox);
      expect(job.evaluation?.split).toMatch(/every 3rd image by name from the 2nd held out for evaluation \(2\), the other 5 calibrate/);
    }
    expect(bus.published.filter((j) => !j.comparison).every((j) => j.evaluation === undefined)).toBe(true);

    // The split in every variant's recipe and in the sweep's settings.
    for (const variant of view.variants) {
      expect(variant.recipe).toMatchObject({ 'calibration.dataset': `photos (${dataset.id.slice(0, 12)})`, 'calibration.images': '5', 'evaluation.dataset': `photos (${dataset.id.slice(0, 12)})`, 'evaluation.images': '2', 'evaluation.task': 'detection (yolox)' });
      expect(variant.recipe.split).toBe(comparisons[0]?.evaluation?.split);
    }
    expect(view.settings.datasets).toMatchObject({ calibration: { datasetName: 'photos', images: 5 }, evaluation: { datasetName: 'photos', images: 2, datasetImages: 7, task: 'detection', detectionLayout: 'yolox', labelled: true } });
    expect(workFolders()).toEqual([]);
  });

  it('gives int8-auto the calibration split to search on and the evaluation split (the images the agents score) as its held-out images', async () => {
    toolkit.variants = [...toolkit.variants, 'int8-auto', 'int8-auto:floor=0.97'];
    catalog.add('photos', photos, { preprocess: 'yolox' });
    await service().create(upload, { dataset: 'photos', variants: 'fp32,int8-static,int8-auto,int8-auto:floor=0.97' });
    const names = (source: CalibrationSource | undefined): string[] => (source?.kind === 'images' ? (source.files ?? []).map((f) => basename(f)) : []);
    for (const auto of ['int8-auto', 'int8-auto:floor=0.97']) {
      expect(names(toolkit.calibrations.get(auto))).toEqual(['p0.jpg', 'p2.jpg', 'p3.jpg', 'p5.jpg', 'p6.jpg']);
      const holdout = toolkit.holdouts.get(auto);
      expect(holdout?.field).toBe('dataset');
      expect(holdout?.source).toMatchObject({ kind: 'images', preprocess: PREPROCESS_PRESETS.yolox });
      expect(names(holdout?.source)).toEqual(bus.published.find((j) => j.comparison)?.evaluation?.images.map((im) => im.name));
    }
    expect(toolkit.holdouts.get('int8-static')).toBeUndefined();
    expect(toolkit.holdouts.get('fp32')).toBeUndefined();
    expect(workFolders()).toEqual([]);
  });

  it('gives int8-auto no held-out images without an evaluation dataset (it holds out every 3rd calibration image itself)', async () => {
    toolkit.variants = [...toolkit.variants, 'int8-auto'];
    const cal = join(root, 'cal-auto');
    mkdirSync(cal, { recursive: true });
    writeFileSync(join(cal, 'c0.jpg'), syntheticJpeg(41));
    await service().create(upload, { calibrationDir: cal, calibrationPreprocess: 'yolox', variants: 'fp32,int8-auto' });
    expect(toolkit.calibrations.get('int8-auto')).toEqual({ kind: 'images', dir: cal, preprocess: 'yolox' });
    expect(toolkit.holdouts.has('int8-auto')).toBe(true);
    expect(toolkit.holdouts.get('int8-auto')).toBeUndefined();
    rmSync(cal, { recursive: true, force: true });
  });

  it('gives each device the all-variants job even for one variant, and fetches no calibration images nothing needs', async () => {
    catalog.add('photos', photos, { preprocess: 'yolox' });
    const view = await service().create(upload, { dataset: 'photos', variants: 'fp32' });
    expect(view.jobs).toHaveLength(4);
    const comparisons = bus.published.filter((j) => j.comparison);
    expect(comparisons.map((j) => [j.agentId, j.comparison?.variants.map((v) => v.variant), j.evaluation?.labelsSha256])).toEqual([
      ['a1', ['fp32'], ''],
      ['a2', ['fp32'], ''],
    ]);
    expect(catalog.materialized).toHaveLength(1); // the first evaluation image, to check that it fits the model
    expect(toolkit.calibrations.get('fp32')).toBeUndefined();
  });

  it('evaluates an explicit evaluation dataset with a coordinator calibration folder that holds none of its images', async () => {
    const cal = join(root, 'cal');
    mkdirSync(cal, { recursive: true });
    writeFileSync(join(cal, 'c0.jpg'), syntheticJpeg(40));
    catalog.add('eval', { 'e0.jpg': photos['p0.jpg'] as Buffer, 'e1.jpg': photos['p1.jpg'] as Buffer });
    const view = await service().create(upload, { evaluationDataset: 'eval', preprocess: 'yolox', calibrationDir: cal, variants: 'fp32,int8-static' });
    expect(toolkit.calibrations.get('int8-static')).toEqual({ kind: 'images', dir: cal, preprocess: 'yolox' });
    expect(view.variants[0]?.recipe).toMatchObject({ 'evaluation.images': '2', split: expect.stringMatching(/^evaluation: every image of evaluationDataset eval/) });
    expect(view.variants[0]?.recipe['calibration.dataset']).toBeUndefined();

    writeFileSync(join(cal, 'same-as-e1.jpg'), photos['p1.jpg'] as Buffer);
    await expect(service().create(upload, { evaluationDataset: 'eval', preprocess: 'yolox', calibrationDir: cal, variants: 'fp32,int8-static' })).rejects.toMatchObject({
      code: DomainErrorCode.InvalidArgument,
      field: 'evaluationDataset',
      message: expect.stringMatching(/shares 1 image\(s\) with calibrationDir .*e1\.jpg \(= .*same-as-e1\.jpg\)/),
    });
    rmSync(cal, { recursive: true, force: true });
  });

  it.each<[string, () => void, Record<string, unknown>, string, RegExp]>([
    ['labels naming categories the detector cannot output', () => catalog.add('coco', photos, { preprocess: 'yolox', labels: labels(80) }), { dataset: 'coco' }, 'dataset', /labels name 80 categories .* outputs 3 classes/],
    ['a detection task on a model without a YOLO output', () => ((toolkit.model = { ...DETECTOR, outputs: [{ name: 'logits', dims: [1, 10] }] }), catalog.add('photos', photos, { preprocess: 'yolox' })), { dataset: 'photos', task: 'detection' }, 'task', /task detection needs a YOLO-family output/],
    ['images that do not fit the model input', () => ((toolkit.model = { ...DETECTOR, inputs: [{ name: 'x', dataType: TensorDataType.TENSOR_DATA_TYPE_FLOAT32, shape: [1, 1, 28, 28] }] }), catalog.add('photos', photos, { preprocess: 'yolox' })), { dataset: 'photos' }, 'dataset', /do not fit the model input x \[1, 1, 28, 28\]/],
    ['an unknown dataset', () => undefined, { evaluationDataset: 'missing' }, 'evaluationDataset', /no dataset "missing"/],
  ])('refuses %s at sweep time, naming the field, and writes nothing', async (_name, arrange, body, field, message) => {
    arrange();
    await expect(service().create(upload, { variants: 'fp32,int8-static', ...body })).rejects.toMatchObject({ field, message: expect.stringMatching(message) });
    expect([await count('sweeps'), await count('variants'), await count('jobs')]).toEqual([0, 0, 0]);
    expect(bus.published).toEqual([]);
    expect(workFolders()).toEqual([]);
  });
});
