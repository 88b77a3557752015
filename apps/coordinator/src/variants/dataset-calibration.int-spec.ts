// POST /sweeps naming a dataset on a real coordinator (real nats-server object
// store, SQLite, variant derivation in child processes) with the YOLOX-nano detector and the
// labelled photos of examples/yolox-nano: the dataset is split deterministically, int8-static
// is calibrated on the calibration images only, and the split is recorded.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentConsumer, ensureAgentConsumer, ensureFarmStore, startNatsServer, type FarmStore, type NatsServerHandle } from '@benchfarm/messaging';
import { AgentRecord, BenchJob } from '@benchfarm/protocol';
import { startCoordinator, type RunningCoordinator } from '../app';
import { fakeAgentRecord } from '../testing/fake-agent';
import type { SweepView } from '../sweeps/sweep.view';
import { untilDerived } from '../testing/derived';

const EXAMPLE = resolve(import.meta.dirname, '../../../../examples/yolox-nano');
const MODEL = join(EXAMPLE, 'yolox_nano_3class.onnx');
const IMAGES = join(EXAMPLE, 'images');
const present = existsSync(MODEL) && existsSync(IMAGES);
if (!present) process.stdout.write(`dataset-calibration.int-spec: skipped: ${EXAMPLE} lacks the model or its images\n`);
const AGENT = 'dataset-calibration-agent';

describe.skipIf(!present)('sweeps naming a dataset against a real coordinator', () => {
  let nats: NatsServerHandle;
  let dir: string;
  let coordinator: RunningCoordinator;
  let nc: NatsConnection;
  let farm: FarmStore;

  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }): Promise<{ status: number; body: Record<string, unknown> }> => {
    const response = await fetch(`${coordinator.httpUrl}${path}`, { method, ...(body === undefined ? {} : { body: body instanceof Uint8Array ? body : JSON.stringify(body), headers }) });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  /** Uploads the files through the REST API as a client does (manifest, PUT each missing file, complete). */
  const upload = async (name: string, files: string[], extra: Record<string, unknown> = {}): Promise<string> => {
    const bytes = new Map(files.map((f) => [f, readFileSync(f)]));
    const digest = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    const images = files.map((f) => ({ name: f.split('/').pop() ?? f, sha256: digest(bytes.get(f) as Buffer), sizeBytes: (bytes.get(f) as Buffer).length }));
    const opened = await call('POST', '/v1/datasets/uploads', { name, images, ...extra });
    expect(opened.status, JSON.stringify(opened.body)).toBe(201);
    // The same images and preprocessing stored already (an earlier test): the dataset is reused, no upload opens.
    if (opened.body.uploadId === undefined) return String(opened.body.datasetId);
    for (const f of files) {
      const b = bytes.get(f) as Buffer;
      const put = await call('PUT', `/v1/datasets/uploads/${String(opened.body.uploadId)}/files/${digest(b)}`, new Uint8Array(b), { 'content-type': 'application/octet-stream' });
      expect(put.status, JSON.stringify(put.body)).toBe(200);
    }
    const done = await call('POST', `/v1/datasets/uploads/${String(opened.body.uploadId)}/complete`);
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    return String(done.body.datasetId);
  };

  beforeAll(async () => {
    nats = await startNatsServer();
    dir = mkdtempSync(join(tmpdir(), 'bf-dataset-cal-'));
    coordinator = await startCoordinator({ natsUrl: nats.url, httpPort: 0, grpcPort: 0, dbPath: join(dir, 'coordinator.db'), dataDir: join(dir, 'data'), logLevel: 'error' });
    nc = await connect({ servers: nats.url });
    farm = await ensureFarmStore(nc);
    await farm.agents.put(AGENT, AgentRecord.encode(fakeAgentRecord(AGENT, { name: 'fake device (test)' })).finish());
    await ensureAgentConsumer(farm.jsm, AGENT);
  }, 60_000);

  afterAll(async () => {
    await nc?.close();
    await coordinator?.close();
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('calibrates int8-static on the calibration split only and puts the evaluation split on the all-variants job', { timeout: 180_000 }, async () => {
    const files = readdirSync(IMAGES).sort().map((f) => join(IMAGES, f));
    const datasetId = await upload('plants', files, { preprocess: 'yolox' });
    const created = await call('POST', '/sweeps', { modelPath: MODEL, targets: AGENT, variants: 'fp32,int8-static', dataset: 'plants', minQueries: 1, minDurationMs: 0, maxDurationMs: 1000 });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const sweep = await untilDerived(coordinator.httpUrl, created.body as unknown as SweepView);

    const held = files.filter((_, i) => i % 3 === 1).length;
    const int8 = sweep.variants.find((v) => v.name === 'int8-static');
    expect(int8?.recipe).toMatchObject({ pass: 'int8-static', calibrationData: `images: ${files.length - held}`, 'calibration.images': String(files.length - held), 'evaluation.images': String(held), 'evaluation.task': 'detection (yolox)' });
    expect(int8?.recipe['split']).toMatch(/^dataset plants \([0-9a-f]{12}\): every 3rd image by name from the 2nd held out/);
    expect(sweep.settings.datasets).toMatchObject({ evaluation: { datasetId, images: held, datasetImages: files.length, task: 'detection', detectionLayout: 'yolox', labelled: false } });

    // The all-variants job as the agent receives it, read from its JetStream consumer.
    const comparisonJobId = sweep.settings.comparisonJobs?.[0]?.jobId;
    const consumer = await agentConsumer(farm.js, AGENT);
    const jobs: BenchJob[] = [];
    for (let i = 0; i < sweep.jobs.length; i++) {
      const msg = await consumer.next({ expires: 5000 });
      expect(msg, `job message ${i}`).not.toBeNull();
      jobs.push(BenchJob.decode(msg!.data));
      msg!.ack();
    }
    const comparison = jobs.find((j) => j.jobId === comparisonJobId);
    expect(comparison?.evaluation?.images.map((im) => im.name)).toEqual(files.filter((_, i) => i % 3 === 1).map((f) => f.split('/').pop()));
    expect(JSON.parse(comparison?.evaluation?.preprocessJson ?? '{}')).toMatchObject({ resize: 'letterbox', padValue: 114, channelOrder: 'BGR' });
    expect(jobs.filter((j) => j.jobId !== comparisonJobId).every((j) => j.evaluation === undefined)).toBe(true);
  });

  // int8-auto searches on the calibration split and checks its choice on the evaluation split: ~1 min of derivation on 2 cores.
  it('derives int8-auto searching on the calibration split, checked on the evaluation split, and records its search in the recipe', { timeout: 600_000 }, async () => {
    await farm.agents.put(AGENT, AgentRecord.encode(fakeAgentRecord(AGENT, { name: 'fake device (test)' })).finish());
    const files = readdirSync(IMAGES).sort().map((f) => join(IMAGES, f));
    const datasetId = await upload('plants-auto', files, { preprocess: 'yolox' });
    const created = await call('POST', '/sweeps', { modelPath: MODEL, targets: AGENT, variants: 'fp32,int8-auto', dataset: datasetId, minQueries: 1, minDurationMs: 0, maxDurationMs: 1000 });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const sweep = await untilDerived(coordinator.httpUrl, created.body as unknown as SweepView);
    const held = files.filter((_, i) => i % 3 === 1).length;
    const auto = sweep.variants.find((v) => v.name === 'int8-auto');
    expect(auto?.recipe).toMatchObject({ pass: 'int8-auto', floor: 'map50_agreement >= 0.95', searchImages: String(files.length - held), holdoutImages: String(held), 'evaluation.images': String(held), holdoutData: `images: ${held}` });
    const recipe = auto?.recipe ?? {};
    expect(recipe['accuracy.holdout']).toMatch(new RegExp(`^map50_agreement \\d\\.\\d{4}( \\[[^\\]]+\\])?, cosine \\d\\.\\d{4}, n=${held}, floor (met|NOT met)$`));
    expect(recipe['accuracy.search']).toMatch(/^map50_agreement \d\.\d{4}, cosine \d\.\d{4}$/);
    // The search kept something float or quantized everything; either way the list is explicit.
    expect(recipe['floatLayers']).toMatch(/^(none|[^,]+(,[^,]+)*)$/);
    const [quantized, total] = (/^(\d+) of (\d+) /.exec(recipe['quantizedLayers'] ?? '') ?? []).slice(1).map(Number);
    expect(quantized).toBeGreaterThan(0);
    expect((recipe['floatLayers'] === 'none' ? 0 : recipe['floatLayers']?.split(',').length ?? 0) + (quantized ?? 0)).toBe(total);
    expect(recipe['sensitivity']).toMatch(new RegExp(`^${total} layers ranked for the search .* on ${files.length - held} search images\\) \\| most sensitive alone: .* \\| largest time shares: `));
  });
});
