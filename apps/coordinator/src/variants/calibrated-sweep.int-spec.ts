// POST /sweeps with int8-static end to end on a real coordinator (real nats-server, SQLite,
// variant derivation in child processes): calibration from a folder of images on the
// coordinator, random calibration only when asked, and clear refusals otherwise.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import Database from 'better-sqlite3';
import jpeg from 'jpeg-js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ensureAgentConsumer, ensureFarmStore, startNatsServer, type FarmStore, type NatsServerHandle } from '@benchfarm/messaging';
import { AgentRecord } from '@benchfarm/protocol';
import { deriveVariant, fixInputShapes, paddleOcrModelPath, readModelFile, writeModel } from '@benchfarm/onnx';
import { startCoordinator, type RunningCoordinator } from '../app';
import type { SweepView } from '../sweeps/sweep.view';
import { fakeAgentRecord } from '../testing/fake-agent';
import { untilDerived } from '../testing/derived';

const AGENT = 'calibration-test-agent';

describe('sweeps with int8-static (calibration) against a real coordinator', () => {
  let nats: NatsServerHandle;
  let dir: string;
  let coordinator: RunningCoordinator;
  let nc: NatsConnection;
  let images: string;
  let farm: FarmStore;

  const post = async (body: object): Promise<{ status: number; body: Record<string, unknown> }> => {
    const response = await fetch(`${coordinator.httpUrl}/sweeps`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    return { status: response.status, body: await untilDerived(coordinator.httpUrl, (await response.json()) as Record<string, unknown>) };
  };
  const sweepRows = (): number => {
    const db = new Database(coordinator.config.dbPath, { readonly: true });
    try {
      return (db.prepare('SELECT COUNT(*) AS n FROM sweeps').get() as { n: number }).n;
    } finally {
      db.close();
    }
  };
  const base = { modelPath: paddleOcrModelPath('det'), targets: AGENT, shapes: 'x:1x3x96x96', minQueries: 1, minDurationMs: 0, maxDurationMs: 1000 };

  /** The registry entry a live agent keeps fresh (heartbeat now), so that derivations longer than the staleness limit do not orphan the next test. */
  const putAgent = async (): Promise<void> => {
    const record = fakeAgentRecord(AGENT, { name: 'fake device (test)' });
    await farm.agents.put(AGENT, AgentRecord.encode(record).finish());
  };

  beforeEach(async () => {
    if (farm) await putAgent();
  });

  beforeAll(async () => {
    nats = await startNatsServer();
    dir = mkdtempSync(join(tmpdir(), 'bf-calibrated-'));
    coordinator = await startCoordinator({ natsUrl: nats.url, httpPort: 0, grpcPort: 0, dbPath: join(dir, 'coordinator.db'), dataDir: join(dir, 'data'), logLevel: 'error' });
    nc = await connect({ servers: nats.url });
    farm = await ensureFarmStore(nc);
    await putAgent();
    await ensureAgentConsumer(farm.jsm, AGENT);
    // Three synthetic photos (gradients with dark strokes), written as real JPEGs.
    images = join(dir, 'images');
    mkdirSync(images);
    for (let k = 0; k < 3; k++) {
      const w = 64;
      const rgba = new Uint8Array(w * w * 4);
      for (let i = 0; i < w * w; i++) {
        const dark = (Math.floor(i / w) + k * 7) % 16 < 3 && i % w > 8 && i % w < 56;
        rgba.set(dark ? [20, 20, 20, 255] : [200 + k * 10, 180 + (i % w), 150, 255], i * 4);
      }
      writeFileSync(join(images, `p${k}.jpg`), jpeg.encode({ width: w, height: w, data: rgba }, 90).data);
    }
  }, 60_000);

  afterAll(async () => {
    await nc?.close();
    await coordinator?.close();
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('refuses int8-static without calibration data, naming the fields, and writes no sweep', async () => {
    const { status, body } = await post({ ...base, variants: 'fp32,int8-static' });
    expect(status, JSON.stringify(body)).toBe(400);
    expect(body).toMatchObject({ code: 'invalid_argument', field: 'calibrationDir' });
    expect(String(body.message)).toMatch(/calibrationDir \+ calibrationPreprocess, or calibrationRandom/);
    expect(sweepRows()).toBe(0);
  });

  it('refuses calibration images without a preprocessing config, and an empty folder', async () => {
    const noPre = await post({ ...base, variants: 'int8-static', calibrationDir: images });
    expect(noPre).toMatchObject({ status: 400, body: { code: 'invalid_argument', field: 'calibrationPreprocess' } });
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    const none = await post({ ...base, variants: 'int8-static', calibrationDir: empty, calibrationPreprocess: 'imagenet' });
    expect(none).toMatchObject({ status: 400, body: { code: 'invalid_argument', field: 'calibrationDir' } });
    expect(String(none.body.message)).toMatch(/holds no \.jpg/);
    expect(sweepRows()).toBe(0);
  });

  it('accepts variants=fp32,int8-static calibrated on a folder of images on the coordinator', { timeout: 180_000 }, async () => {
    const { status, body } = await post({ ...base, variants: 'fp32,int8-static', calibrationDir: images, calibrationPreprocess: 'imagenet' });
    expect(status, JSON.stringify(body)).toBe(201);
    const sweep = body as unknown as SweepView;
    expect(sweep.variants.map((v) => v.name)).toEqual(['fp32', 'int8-static']);
    const int8 = sweep.variants[1];
    expect(int8?.recipe).toMatchObject({ pass: 'int8-static', format: 'QDQ', calibrationData: `images: 3 from ${images}`, preprocess: 'imagenet', weights: 'int8 per-channel symmetric' });
    expect(int8?.sizeBytes).toBeLessThan(sweep.variants[0]?.sizeBytes ?? 0);
    expect(new Set(sweep.jobs.map((j) => j.variant))).toEqual(new Set(['fp32', 'int8-static']));
  });

  it('takes a bring-your-own variant of the same model into the sweep, and refuses one with other inputs', { timeout: 180_000 }, async () => {
    // "Made elsewhere": the detector fixed to the sweep's shape and converted to fp16 by libs/onnx.
    const fixed = join(dir, 'det-96.onnx');
    const src = await readModelFile(paddleOcrModelPath('det'));
    writeFileSync(fixed, writeModel(fixInputShapes(src.model, { x: [1, 3, 96, 96] }).model));
    const own = await deriveVariant('fp16', fixed, join(dir, 'own'), { isolated: false });
    await putAgent();
    const { status, body } = await post({ ...base, variants: 'fp32', ownVariants: { 'distilled-fp16': own.path } });
    expect(status, JSON.stringify(body)).toBe(201);
    const sweep = body as unknown as SweepView;
    expect(sweep.variants.map((v) => v.name)).toEqual(['fp32', 'distilled-fp16']);
    expect(sweep.variants[1]?.recipe).toMatchObject({ pass: 'bring-your-own', source: own.path });
    const other = await post({ ...base, variants: 'fp32', ownVariants: `other=${paddleOcrModelPath('cls')}` });
    expect(other).toMatchObject({ status: 400, body: { code: 'invalid_argument', field: 'ownVariants' } });
    const clash = await post({ ...base, variants: 'fp32', ownVariants: { fp32: own.path } });
    expect(clash).toMatchObject({ status: 400, body: { field: 'ownVariants' } });
  });

  it('uses random calibration only when asked, labelled RANDOM in the recipe', { timeout: 180_000 }, async () => {
    const { status, body } = await post({ ...base, variants: 'int8-static:entropy', calibrationRandom: 2 });
    expect(status, JSON.stringify(body)).toBe(201);
    const recipe = (body as unknown as SweepView).variants[0]?.recipe;
    expect(recipe?.calibrationData).toMatch(/^RANDOM uniform/);
    expect(recipe?.calibrationMethod).toBe('entropy');
  });
});
