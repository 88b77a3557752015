// Accuracy on every device, end to end on real processes (nats-server
// with JetStream, the coordinator, one agent; gRPC results; onnxruntime-node) with the YOLOX-nano
// detector and labelled photos shipped in examples/yolox-nano (the same file as
// ../shared/models/yolox_nano_3class.onnx). `benchfarm sweep --calibration <dir> --eval <dir>
// --labels` uploads both folders as datasets; the report's recommendation follows the floor;
// every bad input is refused naming the file or field, leaving no dataset behind.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '@benchfarm/messaging';
import { CoordinatorClient, CoordinatorRequestError, type SweepView } from './client';
import { uploadDatasetDir } from './dataset-upload';
import { repoRoot, startEmbeddedFarm, type EmbeddedFarm } from './processes';
import { buildReport, DEFAULT_REPORT_POLICY, type ReportRow } from './report';
import { createDerived, waitForAgent, waitForSweep } from './testing/farm.fixture';

const EXAMPLE = join(repoRoot, 'examples/yolox-nano');
const MODEL = join(EXAMPLE, 'yolox_nano_3class.onnx');
const EVAL_IMAGES = join(EXAMPLE, 'images');
const CALIBRATION = join(EXAMPLE, 'calibration');
const LABELS = join(EXAMPLE, 'labels.coco.json');
const present = [MODEL, EVAL_IMAGES, CALIBRATION, LABELS].every((p) => existsSync(p));
if (!present) process.stdout.write(`accuracy.int-spec: skipped: ${EXAMPLE} lacks the model, images, calibration photos or labels\n`);

/** The coordinator's dataset size limit in this test: the shipped evaluation set (1.9 MB) and calibration set (0.5 MB) fit, both in one folder do not. */
const MAX_DATASET_BYTES = 2_200_000;
const VARIANTS = ['fp32', 'fp16', 'int8-static', 'int8-dynamic'];
// Short latency settings: the point here is accuracy; CI has 2 cores.
const LATENCY = ['--min-queries', '20', '--min-ms', '200', '--max-ms', '20000', '--warmup-queries', '2', '--warmup-ms', '50', '--rounds', '3', '--round-queries', '5'];

describe.skipIf(!present)('accuracy on every device (real nats-server, coordinator and agent processes, onnxruntime-node)', () => {
  let dir: string;
  let farm: EmbeddedFarm;
  let client: CoordinatorClient;
  const cli = (args: string[]) => spawnSync(join(repoRoot, 'bin/benchfarm'), ['--coordinator', farm.httpUrl, ...args], { encoding: 'utf8', cwd: dir, timeout: 120_000 });
  const datasetNames = async (): Promise<string[]> => ((await (await fetch(`${farm.httpUrl}/v1/datasets`)).json()) as { name: string }[]).map((d) => d.name).sort();
  const folder = (name: string, files: Record<string, Buffer | string>): string => {
    const path = join(dir, name);
    mkdirSync(path, { recursive: true });
    for (const [file, data] of Object.entries(files)) writeFileSync(join(path, file), data);
    return path;
  };
  const evalImage = (k: number): string => join(EVAL_IMAGES, readdirSync(EVAL_IMAGES).sort()[k] ?? '');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bf-accuracy-'));
    const before = process.env.BENCHFARM_MAX_DATASET_BYTES;
    process.env.BENCHFARM_MAX_DATASET_BYTES = String(MAX_DATASET_BYTES); // read by the coordinator process (this test file has its own process)
    try {
      farm = await startEmbeddedFarm({ dir, natsPort: await freePort(), httpPort: 0, grpcPort: 0, agent: true });
    } finally {
      if (before === undefined) delete process.env.BENCHFARM_MAX_DATASET_BYTES;
      else process.env.BENCHFARM_MAX_DATASET_BYTES = before;
    }
    client = new CoordinatorClient(farm.httpUrl);
    await waitForAgent(client, farm.agentId);
  }, 120_000);

  afterAll(async () => {
    await farm?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('reports mAP@0.5 agreement with n and a CI for every variant on the device; the default floor keeps int8-dynamic out; the floor moves the recommendation', { timeout: 420_000 }, async () => {
    const run = cli(['sweep', MODEL, '--variants', VARIANTS.join(','), '--calibration', CALIBRATION, '--eval', EVAL_IMAGES, '--labels', LABELS, '--preprocess', 'yolox', ...LATENCY, '--no-wait', '--json']);
    expect(run.status, run.stderr).toBe(0);
    const created = JSON.parse(run.stdout.slice(run.stdout.indexOf('{'))) as SweepView;
    const sweep = await waitForSweep(client, created.id, 360_000);
    expect(sweep.state, JSON.stringify(sweep.jobs.map((j) => [j.variant, j.state, j.error]))).toBe('completed');

    // Calibration and evaluation images are recorded in every recipe and never overlap.
    for (const v of sweep.variants) {
      expect(v.recipe).toMatchObject({ 'calibration.images': '3', 'evaluation.images': '10', 'evaluation.task': 'detection (yolox)' });
      expect(v.recipe.split).toMatch(/no image digest in both/);
    }

    // Each device: every variant's mAP@0.5 agreement with fp32, measured on the 10 real images, with a bootstrap CI.
    expect(sweep.comparisons?.map((c) => c.agentId)).toEqual([farm.agentId]);
    for (const device of sweep.comparisons ?? []) {
      expect(device.evaluation).toMatchObject({ task: 'detection', images: 10, labelledImages: 10, detectionLayout: 'yolox' });
      expect(device.variants.map((v) => v.variant).sort()).toEqual([...VARIANTS].sort());
      for (const v of device.variants) {
        expect(v.accuracy?.measuredOn, v.variant).toBe('real_images');
        const agreement = v.accuracy?.metrics.find((m) => m.metric === 'map50_agreement');
        expect(agreement?.images, v.variant).toBe(10);
        expect(agreement?.value, v.variant).toBeGreaterThanOrEqual(0);
        expect(agreement?.ci?.low, v.variant).toBeLessThanOrEqual(agreement?.value ?? -1);
        expect(agreement?.ci?.high, v.variant).toBeGreaterThanOrEqual(agreement?.value ?? 2);
        expect(v.accuracy?.metrics.find((m) => m.metric === 'map50' && m.against === 'labels')?.images, v.variant).toBe(10);
      }
    }

    for (const device of sweep.comparisons ?? []) {
      const figures = device.variants.map((v) => {
        const m = (name: string) => v.accuracy?.metrics.find((x) => x.metric === name);
        const a = m('map50_agreement');
        return `${v.variant} agreement ${a?.value?.toFixed(3)} [${a?.ci?.low.toFixed(3)}, ${a?.ci?.high.toFixed(3)}] mAP@0.5 ${m('map50')?.value?.toFixed(3)} x${v.ratioToReference.toFixed(2)}`;
      });
      process.stdout.write(`accuracy.int-spec: ${device.device}, n=${device.evaluation?.images}: ${figures.join('; ')}\n`);
    }

    // The default floor (map50_agreement >= 0.95 for a detector) keeps int8-dynamic out.
    const byDefault = buildReport(sweep);
    expect(byDefault.accuracyFloor).toMatchObject({ metric: 'map50_agreement', value: 0.95, source: 'default' });
    const row = (report: typeof byDefault, variant: string): ReportRow | undefined => report.rows.find((r) => r.variant === variant && r.accuracy !== undefined);
    const dynamic = row(byDefault, 'int8-dynamic');
    expect(dynamic?.accuracy?.value).toBeLessThan(0.95);
    expect(dynamic?.belowAccuracyFloor).toBeDefined();
    const chosen = byDefault.recommendations[0]?.variant;
    expect(chosen).toBeDefined();
    expect(chosen).not.toBe('int8-dynamic');
    expect(byDefault.recommendations[0]?.tiedWith ?? []).not.toContain('int8-dynamic');

    // Without a floor int8-dynamic is a candidate again; a floor above the chosen variant's mAP@0.5 on the labels moves the choice.
    expect(row(buildReport(sweep, { ...DEFAULT_REPORT_POLICY, accuracyFloor: 'none' }), 'int8-dynamic')?.belowAccuracyFloor).toBeUndefined();
    // A floor just above the chosen variant's accuracy moves the choice: on its worst output's cosine to fp32 on the same
    // images (fp32 itself has 1, so another variant qualifies), or, when fp32 was chosen, on mAP@0.5 against the labels.
    const chosenRow = row(byDefault, chosen ?? '');
    const floor =
      chosen !== 'fp32' && chosenRow?.fidelity !== undefined && chosenRow.fidelity < 1
        ? { metric: 'cosine' as const, value: chosenRow.fidelity + (1 - chosenRow.fidelity) / 2 }
        : { metric: 'map50' as const, value: (chosenRow?.accuracy?.metrics.find((m) => m.metric === 'map50' && m.against === 'labels')?.value ?? 0) + 0.001 };
    const stricter = buildReport(sweep, { ...DEFAULT_REPORT_POLICY, accuracyFloor: floor });
    expect(stricter.recommendations[0]?.variant).not.toBe(chosen);
    expect(stricter.recommendations[0]?.reason).toBeTruthy();
    if (floor.metric === 'cosine') expect(stricter.recommendations[0]?.variant).toBeDefined();
    process.stdout.write(`accuracy.int-spec: recommended ${chosen} (default floor), ${stricter.recommendations[0]?.variant ?? 'none'} under ${floor.metric} >= ${floor.value.toFixed(4)}: ${stricter.recommendations[0]?.reason}\n`);
  });

  it('refuses every bad input naming the file or field, and keeps no half-stored dataset', { timeout: 180_000 }, async () => {
    const refused = async (work: Promise<unknown>): Promise<CoordinatorRequestError | Error> => {
      const err = await work.then(
        () => new Error('accepted'),
        (e: unknown) => e as Error,
      );
      expect(err.message).not.toBe('accepted');
      return err as CoordinatorRequestError | Error;
    };
    const stored = await datasetNames();

    // A corrupt JPEG, named.
    const corrupt = folder('corrupt', { 'a.jpg': readFileSync(evalImage(0)), 'broken.jpg': Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.from(' not really a jpeg')]) });
    expect((await refused(uploadDatasetDir(client, corrupt, { name: 'corrupt' }))).message).toMatch(/broken\.jpg/);
    // Labels naming an image the folder does not have.
    const labelsMissing = join(dir, 'labels-missing.json');
    writeFileSync(labelsMissing, JSON.stringify({ images: [{ id: 1, file_name: 'not-here.jpg', width: 640, height: 640 }], annotations: [], categories: [{ id: 1, name: 'seedling' }] }));
    const one = folder('one', { 'a.jpg': readFileSync(evalImage(0)), 'b.jpg': readFileSync(evalImage(1)) });
    expect((await refused(uploadDatasetDir(client, one, { name: 'labels-missing', labelsPath: labelsMissing }))).message).toMatch(/not-here\.jpg/);
    // An empty folder.
    expect((await refused(uploadDatasetDir(client, folder('empty', {}), { name: 'empty' }))).message).toMatch(/empty|no .*images|holds no/i);
    // Over the coordinator's size limit (every shipped photo and the calibration ones: more than MAX_DATASET_BYTES).
    const big = join(dir, 'big');
    mkdirSync(big);
    for (const src of [EVAL_IMAGES, CALIBRATION]) for (const f of readdirSync(src)) copyFileSync(join(src, f), join(big, `${src === CALIBRATION ? 'cal-' : ''}${f}`));
    const tooLarge = await refused(uploadDatasetDir(client, big, { name: 'too-large' }));
    expect(tooLarge).toBeInstanceOf(CoordinatorRequestError);
    expect((tooLarge as CoordinatorRequestError).code).toBe('dataset_too_large');
    // A digest mismatch: bytes that are not the declared file (content not stored yet, so the coordinator asks for it).
    const declared = Buffer.concat([readFileSync(evalImage(0)), Buffer.from([0])]);
    const sent = Buffer.concat([readFileSync(evalImage(0)), Buffer.from([1])]);
    const session = await client.postJson<{ uploadId?: string; missing: unknown[] }>('/v1/datasets/uploads', { name: 'mismatch', images: [{ name: 'a.jpg', sha256: sha256(declared), sizeBytes: declared.length }] });
    expect(session.missing).toHaveLength(1);
    const put = await fetch(`${farm.httpUrl}/v1/datasets/uploads/${session.uploadId ?? ''}/files/${sha256(declared)}`, { method: 'PUT', body: new Uint8Array(sent), headers: { 'content-type': 'application/octet-stream' } });
    expect(put.status).toBe(400);
    expect(await put.text()).toMatch(/sha256|digest/i);
    expect(await datasetNames()).toEqual(stored); // nothing half-stored

    // At sweep time: labels naming more categories than the detector outputs (3), and images that do not fit the model input.
    const fourLabels = join(dir, 'four.json');
    writeFileSync(fourLabels, JSON.stringify({ images: [{ id: 1, file_name: 'a.jpg', width: 640, height: 640 }], annotations: [{ image_id: 1, category_id: 4, bbox: [1, 1, 10, 10] }], categories: [1, 2, 3, 4].map((id) => ({ id, name: `c${id}` })) }));
    const four = await uploadDatasetDir(client, one, { name: 'four-classes', labelsPath: fourLabels, preprocess: 'yolox' });
    const fourErr = await refused(createDerived(client, MODEL, { variants: 'fp32', evaluationDataset: four.id }));
    expect(fourErr).toMatchObject({ field: 'evaluationDataset' });
    expect(fourErr.message).toMatch(/labels name 4 categories .* outputs 3 classes/);
    const nhwc = JSON.stringify({ resize: 'letterbox', channelOrder: 'BGR', layout: 'NHWC', scale: 1 });
    const fitErr = await refused(createDerived(client, MODEL, { variants: 'fp32', evaluationDataset: four.id, preprocess: nhwc }));
    expect(fitErr).toMatchObject({ field: 'evaluationDataset' });
    expect(fitErr.message).toMatch(/do not fit the model input images \[1, 3, 416, 416\]/);
    // Calibration and evaluation sets that share an image.
    const overlapErr = await refused(createDerived(client, MODEL, { variants: 'fp32,int8-static', calibrationDataset: four.id, evaluationDataset: four.id }));
    expect(overlapErr).toMatchObject({ field: 'evaluationDataset' });
  });
});

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
