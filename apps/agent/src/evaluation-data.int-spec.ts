// The agent's evaluation data: images and labels fetched by digest from a real
// nats-server's object store into the cache, once per digest, and a missing object refused by name.
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { ModelFetchError, ensureFarmStore, putModel, startNatsServer, type FarmStore, type NatsServerHandle } from '@benchfarm/messaging';
import type { EvaluationRequest } from '@benchfarm/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATASET_CACHE_FOLDER, fetchEvaluationData } from './evaluation-data';

const IMAGES = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../../shared/models/images');

describe('fetchEvaluationData (real nats-server object store)', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let farm: FarmStore;
  let dir: string;
  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    farm = await ensureFarmStore(nc);
    dir = mkdtempSync(join(tmpdir(), 'bf-agent-eval-'));
  });
  afterAll(async () => {
    await nc?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Two images (real photos when ../shared/models is there, else made-up bytes: only digests matter here) and labels. */
  async function storeDataset(): Promise<{ request: EvaluationRequest; bytes: Buffer[]; labels: Buffer }> {
    const sources = existsSync(IMAGES) ? readdirSync(IMAGES).filter((f) => f.endsWith('.jpg')).sort().slice(0, 2).map((f) => join(IMAGES, f)) : [];
    const files = ['a.jpg', 'b.jpg'].map((name, i) => {
      const path = join(dir, name);
      if (sources[i]) copyFileSync(sources[i], path);
      else writeFileSync(path, Buffer.alloc(50_000 + i, i + 1));
      return path;
    });
    const labelsFile = join(dir, 'labels.json');
    writeFileSync(labelsFile, JSON.stringify({ images: [{ id: 1, file_name: 'a.jpg', width: 640, height: 640 }], annotations: [], categories: [{ id: 1, name: 'x' }] }));
    const stored = await Promise.all(files.map((f) => putModel(farm.models, f)));
    const labels = await putModel(farm.models, labelsFile);
    const request: EvaluationRequest = {
      datasetId: 'd'.repeat(64),
      datasetName: 'photos',
      // The first image listed twice: fetched once.
      images: [
        { name: 'a.jpg', ...stored[0]! },
        { name: 'b.jpg', ...stored[1]! },
        { name: 'a-again.jpg', ...stored[0]! },
      ],
      datasetImages: 3,
      split: 'all',
      preprocessJson: '"yolox"',
      task: 'detection',
      detectionLayout: 'yolox',
      labelsSha256: labels.sha256,
      labelsSizeBytes: labels.sizeBytes,
      bootstrapResamples: 0,
      seed: 0,
    };
    return { request, bytes: files.map((f) => readFileSync(f)), labels: readFileSync(labelsFile) };
  }

  it('fetches every image and the labels into <cache>/datasets verified, in request order, and a second sweep reads nothing', async () => {
    const { request, bytes, labels } = await storeDataset();
    const cache = join(dir, 'cache');
    const first = await fetchEvaluationData(farm.models, request, cache);
    expect(first.imagePaths).toHaveLength(3);
    expect(first.imagePaths[0]).toBe(first.imagePaths[2]);
    expect(first.imagePaths.every((p) => p.startsWith(join(cache, DATASET_CACHE_FOLDER)))).toBe(true);
    expect(readFileSync(first.imagePaths[0]!)).toEqual(bytes[0]);
    expect(readFileSync(first.imagePaths[1]!)).toEqual(bytes[1]);
    expect(readFileSync(first.labelsPath!)).toEqual(labels);
    expect(readdirSync(join(cache, DATASET_CACHE_FOLDER)).sort()).toHaveLength(3);

    // The objects leave the store: the same dataset again comes from the cache alone.
    for (const digest of [request.images[0]!.sha256, request.images[1]!.sha256, request.labelsSha256]) await farm.models.delete(digest);
    const second = await fetchEvaluationData(farm.models, request, cache);
    expect(second).toEqual(first);
  });

  it('refuses a missing object naming the image and the dataset, as a model fetch does (not transient)', async () => {
    const { request } = await storeDataset();
    const missing: EvaluationRequest = { ...request, images: [...request.images, { name: 'gone.jpg', sha256: 'e'.repeat(64), sizeBytes: 1 }] };
    const err = (await fetchEvaluationData(farm.models, missing, join(dir, 'cache2')).catch((e: unknown) => e)) as ModelFetchError;
    expect(err).toBeInstanceOf(ModelFetchError);
    expect(err.message).toMatch(/evaluation image gone\.jpg of dataset photos: model e{64} is not in the object store/);
    expect(err.transient).toBe(false);
  });
});
