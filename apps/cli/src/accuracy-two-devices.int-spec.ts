// Accuracy on EVERY device: two real agent processes (distinct ids, names and
// caches) on one real nats-server (JetStream) and coordinator, a dataset uploaded from the
// CLI's machine (4 labelled photos of examples/yolox-nano), a sweep of the YOLOX-nano detector
// in fp32 and int8-dynamic. Each device must get its own accuracy (one comparison per agent,
// measured on the real images, with n and a bootstrap CI), its own recommendation that keeps
// int8-dynamic out under the default floor, its own copy of the images in its own cache, and
// its own benchfarm_accuracy series. Short latency settings: the point here is accuracy.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '@benchfarm/messaging';
import { CoordinatorClient } from './client';
import { uploadDatasetDir } from './dataset-upload';
import { startProcess, type TestProcess } from './faults/harness';
import { repoRoot, startEmbeddedFarm, type EmbeddedFarm } from './processes';
import { buildReport } from './report';
import { createDerived, waitForAgent, waitForSweep } from './testing/farm.fixture';

const EXAMPLE = join(repoRoot, 'examples/yolox-nano');
const MODEL = join(EXAMPLE, 'yolox_nano_3class.onnx');
const EVAL_IMAGES = join(EXAMPLE, 'images');
const LABELS = join(EXAMPLE, 'labels.coco.json');
const present = [MODEL, EVAL_IMAGES, LABELS].every((p) => existsSync(p));
if (!present) process.stdout.write(`accuracy-two-devices.int-spec: skipped: ${EXAMPLE} lacks the model, images or labels\n`);

/** Evaluation images per device: enough for a bootstrap CI, few enough for 2 CI cores. */
const IMAGES = 4;
const VARIANTS = ['fp32', 'int8-dynamic'];
const AGENTS = ['device-a', 'device-b'] as const;

interface CocoFile {
  images: { id: number; file_name: string }[];
  annotations: { image_id: number }[];
  categories: unknown[];
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

describe.skipIf(!present)('accuracy on two devices (real nats-server, coordinator and two agent processes, onnxruntime-node)', () => {
  let dir: string;
  let farm: EmbeddedFarm;
  let client: CoordinatorClient;
  const agents: TestProcess[] = [];
  const cacheOf = (id: string): string => join(dir, 'cache', id);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bf-accuracy-2-'));
    farm = await startEmbeddedFarm({ dir, natsPort: await freePort(), httpPort: 0, grpcPort: 0, agent: false });
    client = new CoordinatorClient(farm.httpUrl);
    // Production timings (heartbeat 5 s, the registry's 15 s TTL): real agents keep themselves fresh.
    agents.push(
      ...(await Promise.all(
        AGENTS.map((id) =>
          startProcess(
            id,
            join(repoRoot, 'apps/agent/src/main.ts'),
            { BENCHFARM_NATS_URL: farm.natsUrl, BENCHFARM_GRPC_ADDRESS: farm.grpcAddress, BENCHFARM_AGENT_ID: id, BENCHFARM_AGENT_NAME: `bench-${id}`, BENCHFARM_AGENT_LABELS: `site=test,box=${id}`, BENCHFARM_AGENT_CACHE: cacheOf(id) },
            farm.logDir,
          ),
        ),
      )),
    );
    for (const id of AGENTS) await waitForAgent(client, id);
  }, 120_000);

  afterAll(async () => {
    for (const agent of agents) await agent.stop();
    await farm?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('each device reports mAP@0.5 agreement of every variant on the real images, keeps int8-dynamic out under the default floor, caches the images itself and exports its own accuracy series', { timeout: 240_000 }, async () => {
    // The dataset: the first IMAGES labelled photos, labels filtered to them.
    const coco = JSON.parse(readFileSync(LABELS, 'utf8')) as CocoFile;
    const chosen = coco.images.filter((im) => existsSync(join(EVAL_IMAGES, im.file_name))).slice(0, IMAGES);
    expect(chosen).toHaveLength(IMAGES);
    const ids = new Set(chosen.map((im) => im.id));
    const imagesDir = join(dir, 'eval');
    mkdirSync(imagesDir);
    for (const im of chosen) copyFileSync(join(EVAL_IMAGES, im.file_name), join(imagesDir, im.file_name));
    const labelsPath = join(dir, 'labels.json');
    writeFileSync(labelsPath, JSON.stringify({ ...coco, images: chosen, annotations: coco.annotations.filter((a) => ids.has(a.image_id)) }));
    const dataset = await uploadDatasetDir(client, imagesDir, { name: 'two-devices-eval', labelsPath, preprocess: 'yolox' });
    const labelsDigest = sha256(readFileSync(labelsPath));
    const digests = new Set([...chosen.map((im) => sha256(readFileSync(join(imagesDir, im.file_name)))), labelsDigest]);

    const created = await createDerived(client, MODEL, {
      variants: VARIANTS.join(','),
      targets: 'all',
      evaluationDataset: dataset.id,
      warmupMinQueries: 2,
      warmupMinDurationMs: 50,
      minQueries: 12, // p50 is reported from 11 queries (early stopping at 99% confidence)
      minDurationMs: 100,
      maxDurationMs: 20_000,
      rounds: 2,
      roundMinQueries: 3,
    });
    const sweep = await waitForSweep(client, created.id, 200_000);
    expect(sweep.state, JSON.stringify(sweep.jobs.map((j) => [j.agentId, j.variant, j.state, j.error]))).toBe('completed');

    // One comparison per device, each from its own agent, each with every variant's accuracy on the real images.
    const comparisons = sweep.comparisons ?? [];
    expect(comparisons.map((c) => c.agentId).sort()).toEqual([...AGENTS]);
    expect(comparisons.map((c) => c.device).sort()).toEqual(AGENTS.map((id) => `bench-${id}`));
    expect(new Set(comparisons.map((c) => c.jobId)).size).toBe(AGENTS.length);
    for (const device of comparisons) {
      expect(device.evaluation, device.device).toMatchObject({ datasetId: dataset.id, task: 'detection', images: IMAGES, labelledImages: IMAGES, detectionLayout: 'yolox' });
      expect(device.variants.map((v) => v.variant).sort()).toEqual([...VARIANTS].sort());
      for (const v of device.variants) {
        const where = `${device.device} ${v.variant}`;
        expect(v.accuracy?.measuredOn, where).toBe('real_images');
        expect(v.accuracy?.images, where).toBe(IMAGES);
        const agreement = v.accuracy?.metrics.find((m) => m.metric === 'map50_agreement');
        expect(agreement?.images, where).toBe(IMAGES);
        expect(agreement?.value, where).toBeGreaterThanOrEqual(0);
        expect(agreement?.ci?.low, where).toBeLessThanOrEqual(agreement?.value ?? -1);
        expect(agreement?.ci?.high, where).toBeGreaterThanOrEqual(agreement?.value ?? 2);
        expect(v.accuracy?.fidelity.every((f) => f.measuredOn === 'real_images' && f.images === IMAGES), where).toBe(true);
      }
      const a = (variant: string) => device.variants.find((v) => v.variant === variant)?.accuracy?.metrics.find((m) => m.metric === 'map50_agreement');
      process.stdout.write(`accuracy-two-devices.int-spec: ${device.device} (${device.agentId}), n=${IMAGES}: ${VARIANTS.map((v) => `${v} ${a(v)?.value?.toFixed(3)} [${a(v)?.ci?.low.toFixed(3)}, ${a(v)?.ci?.high.toFixed(3)}]`).join('; ')}\n`);
    }

    // The report recommends per device, and the default floor (map50_agreement >= 0.95) keeps int8-dynamic out on both.
    const report = buildReport(sweep);
    expect(report.accuracyFloor).toMatchObject({ metric: 'map50_agreement', value: 0.95, source: 'default' });
    expect(report.recommendations.map((r) => r.device)).toEqual(AGENTS.map((id) => `bench-${id}`));
    for (const name of AGENTS.map((id) => `bench-${id}`)) {
      const rows = report.rows.filter((r) => r.device === name);
      expect(rows.map((r) => r.variant).sort(), name).toEqual([...VARIANTS].sort());
      // Each row's accuracy is its own device's: the same figure as that device's comparison.
      const own = comparisons.find((c) => c.device === name);
      for (const row of rows) {
        const reported = own?.variants.find((v) => v.variant === row.variant)?.accuracy?.metrics.find((m) => m.metric === 'map50_agreement')?.value;
        expect(row.accuracy?.value, `${name} ${row.variant}`).toBe(reported);
      }
      expect(rows.find((r) => r.variant === 'int8-dynamic')?.belowAccuracyFloor, name).toBeDefined();
      const rec = report.recommendations.find((r) => r.device === name);
      expect(rec?.variant, `${name}: ${rec?.reason}`).toBe('fp32');
      expect(rec?.tiedWith ?? []).not.toContain('int8-dynamic');
    }

    // Each agent ran exactly the jobs filed under it (its comparison included), no other agent's.
    for (const [i, id] of AGENTS.entries()) {
      const finished = agents[i]?.lines().filter((l) => l.message === 'job finished').map((l) => String(l.jobId)) ?? [];
      expect(finished.sort(), id).toEqual(sweep.jobs.filter((j) => j.agentId === id).map((j) => j.id).sort());
      expect(finished, id).toContain(comparisons.find((c) => c.agentId === id)?.jobId);
    }

    // Each agent fetched the evaluation images and labels into its own cache, one file per digest, verified.
    for (const id of AGENTS) {
      const datasets = join(cacheOf(id), 'datasets');
      const files = readdirSync(datasets).sort();
      expect(files, id).toEqual([...digests].map((d) => `${d}${d === labelsDigest ? '.json' : '.jpg'}`).sort());
      for (const file of files) expect(sha256(readFileSync(join(datasets, file))), `${id} ${file}`).toBe(file.slice(0, 64));
    }

    // /metrics: benchfarm_accuracy{metric="map50_agreement"} of both variants on both devices.
    const metrics = (await client.metricsText()).split('\n').filter((l) => l.startsWith('benchfarm_accuracy{') && l.includes('metric="map50_agreement"'));
    for (const name of AGENTS.map((id) => `bench-${id}`)) {
      for (const variant of VARIANTS) expect(metrics.filter((l) => l.includes(`device="${name}"`) && l.includes(`variant="${variant}"`)), `${name} ${variant}: ${metrics.join('\n')}`).toHaveLength(1);
    }
  });
});
