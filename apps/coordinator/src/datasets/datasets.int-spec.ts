// Datasets end to end on a real coordinator (real nats-server with JetStream, SQLite): chunked,
// resumable uploads stored once by content in the models bucket, list/show/rm, the catalog
// sweeps use, and every refusal leaving nothing behind (no record, no session, no staged bytes,
// no object). Images are small JPEGs made here with jpeg-js, plus the 13 shared photos when present.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import Database from 'better-sqlite3';
import jpeg from 'jpeg-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureFarmStore, fetchModel, startNatsServer, type FarmStore, type NatsServerHandle } from '@benchfarm/messaging';
import { sharedModelFile } from '@benchfarm/testing';
import { startCoordinator, type RunningCoordinator } from '../app';
import { loadConfig } from '../config';
import { SystemClock } from '../common/clock';
import { openSqlite } from '../storage/sqlite';
import type { SqlDatabase } from '../storage/sql';
import { NatsDatasetObjects } from './dataset-objects';
import { SqlDatasetRepository } from './dataset.repository';
import { DatasetsService, type DatasetRemovalView, type DatasetView, type FileProgressView, type UploadView } from './datasets.service';
import { LocalUploadStaging } from './upload-staging';


interface TestFile {
  name: string;
  bytes: Buffer;
}

const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** A small real JPEG: a colour field with a stripe pattern that depends on `seed`. */
function jpegFile(name: string, seed: number, width = 40, height = 30): TestFile {
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) rgba.set((i % width) % (3 + seed) < 2 ? [20, 20 + seed * 20, 30, 255] : [200, 180 - seed * 10, 40 + seed * 15, 255], i * 4);
  return { name, bytes: Buffer.from(jpeg.encode({ width, height, data: rgba }, 85).data) };
}

const entry = (f: TestFile) => ({ name: f.name, sha256: sha(f.bytes), sizeBytes: f.bytes.length });

describe('datasets against a real coordinator (nats-server, SQLite)', () => {
  let nats: NatsServerHandle;
  let dir: string;
  let coordinator: RunningCoordinator;
  let nc: NatsConnection;
  let farm: FarmStore;

  const call = async <T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: T }> => {
    const raw = body instanceof Uint8Array;
    const response = await fetch(`${coordinator.httpUrl}${path}`, {
      method,
      ...(body === undefined ? {} : { body: raw ? body : JSON.stringify(body) }),
      headers: { ...(body === undefined ? {} : { 'content-type': raw ? 'application/octet-stream' : 'application/json' }), ...headers },
    });
    return { status: response.status, body: (await response.json()) as T };
  };
  const createUpload = (manifest: unknown) => call<UploadView & { code?: string; field?: string; message?: string }>('POST', '/v1/datasets/uploads', manifest);
  const put = (uploadId: string, file: TestFile, bytes: Uint8Array = file.bytes, headers: Record<string, string> = {}) =>
    call<FileProgressView & { code?: string; field?: string; message?: string }>('PUT', `/v1/datasets/uploads/${uploadId}/files/${sha(file.bytes)}`, bytes, headers);
  const complete = (uploadId: string) => call<UploadView & { code?: string; field?: string; message?: string }>('POST', `/v1/datasets/uploads/${uploadId}/complete`);
  /** Uploads every missing file whole and completes. */
  const uploadAll = async (manifest: { name?: string; images: ReturnType<typeof entry>[] } & Record<string, unknown>, files: TestFile[]): Promise<UploadView> => {
    const created = await createUpload(manifest);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    if (created.body.state === 'complete') return created.body;
    for (const missing of created.body.missing) {
      const file = files.find((f) => sha(f.bytes) === missing.sha256);
      if (!file) throw new Error(`no test file for ${missing.name}`);
      const r = await put(created.body.uploadId!, file);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
    }
    const done = await complete(created.body.uploadId!);
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    return done.body;
  };

  const count = (table: string): number => {
    const db = new Database(coordinator.config.dbPath, { readonly: true });
    try {
      return (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
    } finally {
      db.close();
    }
  };
  const objectNames = async (): Promise<string[]> => (await farm.models.list()).filter((o) => !o.deleted).map((o) => o.name).sort();
  const stagedUploads = (): string[] => (existsSync(join(coordinator.config.dataDir, 'dataset-uploads')) ? readdirSync(join(coordinator.config.dataDir, 'dataset-uploads')) : []);
  /** Runs a refusal and checks that nothing of it remains: records, sessions, staged bytes, objects. */
  const leavesNothing = async (refusal: () => Promise<void>): Promise<void> => {
    const before = { datasets: count('datasets'), uploads: count('dataset_uploads'), objects: await objectNames() };
    await refusal();
    expect(count('datasets')).toBe(before.datasets);
    expect(count('dataset_uploads')).toBe(before.uploads);
    expect(count('dataset_upload_files')).toBe(0);
    expect(stagedUploads()).toEqual([]);
    expect(await objectNames()).toEqual(before.objects);
  };

  const photos = [jpegFile('a.jpg', 1), jpegFile('b.jpg', 2), jpegFile('c (1).jpeg', 3, 24, 36)];

  beforeAll(async () => {
    nats = await startNatsServer();
    dir = mkdtempSync(join(tmpdir(), 'bf-datasets-'));
    coordinator = await startCoordinator({
      natsUrl: nats.url,
      httpPort: 0,
      grpcPort: 0,
      dbPath: join(dir, 'coordinator.db'),
      dataDir: join(dir, 'data'),
      logLevel: 'error',
      maxDatasetImageBytes: 400_000,
      maxDatasetImages: 20,
      maxDatasetBytes: 3_000_000,
    });
    nc = await connect({ servers: nats.url });
    farm = await ensureFarmStore(nc);
  });

  afterAll(async () => {
    await nc?.close();
    await coordinator?.close();
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('uploads images and inline labels, stores each once by digest where agents fetch models, and reuses every object for the same images again', async () => {
    const labels = {
      images: [{ id: 1, file_name: 'a.jpg', width: 40, height: 30 }],
      annotations: [{ image_id: 1, category_id: 3, bbox: [1, 2, 10, 8] }],
      categories: [{ id: 3, name: 'dog' }],
    };
    const done = await uploadAll({ name: 'three', preprocess: 'yolox', labels, images: photos.map(entry) }, photos);
    expect(done).toMatchObject({ state: 'complete', reused: false, name: 'three', files: 4, reusedFiles: 0 });
    expect(done.dataset).toMatchObject({ name: 'three', imageCount: 3, preprocess: 'yolox', labels: { labelledImages: 1, annotations: 1, categories: [{ id: 3, name: 'dog' }] } });
    const shown = await call<DatasetView>('GET', '/v1/datasets/three');
    expect(shown.body.images?.map((i) => [i.name, i.width, i.height])).toEqual([
      ['a.jpg', 40, 30],
      ['b.jpg', 40, 30],
      ['c (1).jpeg', 24, 36],
    ]);
    for (const f of photos) {
      // The agent's own path: fetchModel from the models bucket, verified by digest.
      const path = await fetchModel(farm.models, sha(f.bytes), join(dir, 'agent-cache'));
      expect(readFileSync(path).equals(f.bytes)).toBe(true);
    }
    expect(await objectNames()).toContain(shown.body.labels!.sha256);
    expect(stagedUploads()).toEqual([]);

    // The same content under another name: that dataset, no upload at all.
    const again = await createUpload({ name: 'three-again', preprocess: 'yolox', labels, images: photos.map(entry) });
    expect(again.body).toMatchObject({ state: 'complete', reused: true, datasetId: done.datasetId, name: 'three', missing: [] });
    expect(again.body.uploadId).toBeUndefined();

    // Other content with the same images (no labels): every image is reused, nothing to send.
    const objectsBefore = await objectNames();
    const subset = await createUpload({ name: 'two', images: photos.slice(0, 2).map(entry) });
    expect(subset.body).toMatchObject({ state: 'open', files: 2, reusedFiles: 2, missing: [] });
    const subsetDone = await complete(subset.body.uploadId!);
    expect(subsetDone.body).toMatchObject({ state: 'complete', reused: false, dataset: { imageCount: 2 } });
    expect(await objectNames()).toEqual(objectsBefore);
  });

  it('uploads the 13 shared photos in 64 KiB chunks and the catalog materializes them verified', { timeout: 60_000 }, async () => {
    // Fails naming ../shared/models when it is absent (SharedModelsMissingError), never skips.
    const sharedImages = sharedModelFile('images');
    const files = readdirSync(sharedImages)
      .sort()
      .map((name) => ({ name, bytes: readFileSync(join(sharedImages, name)) }));
    expect(files).toHaveLength(13);
    const created = await createUpload({ name: 'shared-photos', preprocess: 'yolox', images: files.map(entry) });
    expect(created.body.missing).toHaveLength(13);
    const chunk = 64 * 1024;
    for (const f of files) {
      for (let start = 0; start < f.bytes.length; start += chunk) {
        const end = Math.min(start + chunk, f.bytes.length) - 1;
        const r = await put(created.body.uploadId!, f, f.bytes.subarray(start, end + 1), { 'content-range': `bytes ${start}-${end}/${f.bytes.length}` });
        expect(r.body).toMatchObject({ receivedBytes: end + 1, complete: end + 1 === f.bytes.length });
      }
    }
    const done = await complete(created.body.uploadId!);
    expect(done.body.dataset).toMatchObject({ imageCount: 13, totalBytes: files.reduce((s, f) => s + f.bytes.length, 0) });

    const service = catalogService();
    const record = await service.resolve(done.body.datasetId.slice(0, 10), 'dataset');
    expect(record.images.every((i) => i.width > 0 && i.height > 0)).toBe(true);
    const target = join(dir, 'materialized');
    const paths = await service.materialize(record.images.slice(0, 3), target);
    expect(paths).toEqual(record.images.slice(0, 3).map((i) => join(target, i.name)));
    for (const [k, p] of paths.entries()) expect(sha(readFileSync(p))).toBe(record.images[k]!.sha256);
    expect(readdirSync(target).sort()).toEqual(record.images.slice(0, 3).map((i) => i.name).sort());
    expect(await service.readLabels(record)).toBeUndefined();
  });

  it('resumes a file whose connection broke mid-way from the bytes the coordinator kept; a chunk at the wrong offset is refused with 409', async () => {
    const big = jpegFile('big.jpg', 4, 400, 300);
    const created = await createUpload({ name: 'resumed', images: [entry(big)] });
    const uploadId = created.body.uploadId!;
    const half = Math.floor(big.bytes.length / 2);
    // Send half of the declared body, then break the connection (a client that crashed).
    await new Promise<void>((resolve) => {
      const url = new URL(`${coordinator.httpUrl}/v1/datasets/uploads/${uploadId}/files/${sha(big.bytes)}`);
      const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'PUT', headers: { 'content-type': 'application/octet-stream', 'content-length': big.bytes.length } });
      req.on('error', () => resolve());
      req.write(big.bytes.subarray(0, half), () => {
        setTimeout(() => {
          req.destroy();
          resolve();
        }, 300);
      });
    });
    let received = 0;
    for (let i = 0; i < 50 && received < half; i++) {
      received = (await call<UploadView>('GET', `/v1/datasets/uploads/${uploadId}`)).body.missing[0]?.receivedBytes ?? 0;
      if (received < half) await sleep(100);
    }
    expect(received).toBe(half);
    // The client lost its upload id: the same manifest finds the same upload.
    const again = await createUpload({ name: 'resumed', images: [entry(big)] });
    expect(again.body.uploadId).toBe(uploadId);
    const wrong = await put(uploadId, big, big.bytes.subarray(10), { 'content-range': `bytes 10-${big.bytes.length - 1}/${big.bytes.length}` });
    expect(wrong.status).toBe(409);
    expect(wrong.body).toMatchObject({ code: 'resume_mismatch', field: 'content-range' });
    expect(wrong.body.message).toContain(`send from byte ${half}`);
    const early = await complete(uploadId);
    expect(early.status).toBe(400);
    expect(early.body).toMatchObject({ code: 'invalid_dataset', field: 'files' });
    expect(early.body.message).toContain('big.jpg');
    const rest = await put(uploadId, big, big.bytes.subarray(half), { 'content-range': `bytes ${half}-${big.bytes.length - 1}/${big.bytes.length}` });
    expect(rest.body).toMatchObject({ receivedBytes: big.bytes.length, complete: true });
    const done = await complete(uploadId);
    expect(done.body).toMatchObject({ state: 'complete', dataset: { imageCount: 1 } });
    expect(sha(readFileSync(await fetchModel(farm.models, sha(big.bytes), join(dir, 'agent-cache'))))).toBe(sha(big.bytes));
  });

  it('lists, shows by name, id and id prefix, and removes a dataset: objects another dataset uses stay', async () => {
    const list = (await call<DatasetView[]>('GET', '/v1/datasets')).body;
    expect(list.map((d) => d.name)).toEqual(expect.arrayContaining(['three', 'two', 'resumed']));
    expect(list.every((d) => d.images === undefined)).toBe(true);
    const three = list.find((d) => d.name === 'three')!;
    expect((await call<DatasetView>('GET', `/v1/datasets/${three.id}`)).body.name).toBe('three');
    expect((await call<DatasetView>('GET', `/v1/datasets/${three.id.slice(0, 8)}`)).body.name).toBe('three');
    expect((await call('GET', '/v1/datasets/nope')).body).toMatchObject({ statusCode: 404, code: 'dataset_not_found', field: 'idOrName' });
    expect((await call('GET', '/v1/datasets/1234567')).status).toBe(404);

    // A running sweep evaluating on "three" (a row written here, as the sweeps service records it) keeps it.
    const writer = new Database(coordinator.config.dbPath);
    try {
      writer
        .prepare("INSERT INTO sweeps (id, name, state, created_at_ms, updated_at_ms, model_name, model_sha256, model_size_bytes, inputs_json, settings_json, targets_json, agent_ids_json) VALUES ('sweep_uses_three', 's', 'running', 0, 0, 'm', ?, 1, '[]', ?, '[]', '[]')")
        .run('0'.repeat(64), JSON.stringify({ datasets: { evaluation: { datasetId: three.id, datasetName: 'three', images: 1 }, split: 'test' } }));
      const refused = await call<{ code: string; field: string; message: string }>('DELETE', '/v1/datasets/three');
      expect(refused.body).toMatchObject({ code: 'invalid_argument', field: 'idOrName' });
      expect(refused.body.message).toContain('sweep_uses_three');
      writer.prepare("UPDATE sweeps SET state = 'completed' WHERE id = 'sweep_uses_three'").run();
    } finally {
      writer.close();
    }
    // "three" shares a.jpg and b.jpg with "two": those stay; c and the labels go.
    const removed = await call<DatasetRemovalView>('DELETE', '/v1/datasets/three');
    expect(removed.body).toMatchObject({ name: 'three', deletedObjects: 2, keptObjects: 2, failedObjects: 0 });
    const objects = await objectNames();
    expect(objects).toEqual(expect.arrayContaining([sha(photos[0]!.bytes), sha(photos[1]!.bytes)]));
    expect(objects).not.toContain(sha(photos[2]!.bytes));
    expect((await call('GET', '/v1/datasets/three')).status).toBe(404);
    const two = await call<DatasetRemovalView>('DELETE', '/v1/datasets/two');
    expect(two.body).toMatchObject({ deletedObjects: 2, keptObjects: 0 });
    expect(await objectNames()).not.toContain(sha(photos[0]!.bytes));
  });

  it('lists the dataset routes and schemas in the OpenAPI document', async () => {
    const doc = (await call<{ paths: Record<string, Record<string, unknown>>; components: { schemas: Record<string, unknown> } }>('GET', '/openapi.json')).body;
    expect(Object.keys(doc.paths['/v1/datasets/uploads/{id}/files/{sha256}']!)).toEqual(['put']);
    expect(Object.keys(doc.paths['/v1/datasets/{idOrName}']!).sort()).toEqual(['delete', 'get']);
    expect(doc.components.schemas).toHaveProperty('DatasetManifest');
    expect(JSON.stringify(doc.paths['/v1/datasets/uploads']!.post)).toContain('#/components/schemas/DatasetUpload');
  });

  describe('refusals name the field or file and leave nothing behind', () => {
    const good = [jpegFile('x.jpg', 5), jpegFile('y.jpg', 6)];

    it('in the manifest: no images, duplicate names or contents, unsafe names, bad digests, bad preprocess, labels naming missing images or unknown categories', async () => {
      const cases: Array<[unknown, string, RegExp]> = [
        [{ name: 'e', images: [] }, 'images', /no images/],
        [{ name: 'd', images: [entry(good[0]!), { ...entry(good[1]!), name: 'x.jpg' }] }, 'images[1].name', /"x\.jpg" appears twice/],
        [{ name: 'd', images: [entry(good[0]!), { ...entry(good[0]!), name: 'z.jpg' }] }, 'images[1] (z.jpg).sha256', /same content as "x\.jpg"/],
        [{ name: 't', images: [{ ...entry(good[0]!), name: '../x.jpg' }] }, 'images[0].name', /not a base name/],
        [{ name: 't', images: [{ ...entry(good[0]!), name: 'x;rm.jpg' }] }, 'images[0].name', /characters outside/],
        [{ name: 't', images: [{ ...entry(good[0]!), name: '.hidden.jpg' }] }, 'images[0].name', /starts with a dot/],
        [{ name: 't', images: [{ ...entry(good[0]!), name: 'x.png' }] }, 'images[0].name', /not a \.jpg/],
        [{ name: 't', images: [{ ...entry(good[0]!), sha256: 'ABC' }] }, 'images[0] (x.jpg).sha256', /SHA-256/],
        [{ name: 'bad name!', images: [entry(good[0]!)] }, 'name', /characters of/],
        [{ name: 'p', preprocess: 'resnet', images: [entry(good[0]!)] }, 'preprocess', /unknown preset "resnet"/],
        [{ name: 'p', preprocess: { resize: 'crop', channelOrder: 'RGB', scale: 1 }, images: [entry(good[0]!)] }, 'preprocess.resize', /preprocess\.resize/],
        [{ name: 'l', labels: { images: [{ id: 1, file_name: 'missing.jpg', width: 40, height: 30 }], annotations: [], categories: [] }, images: [entry(good[0]!)] }, 'labels.images[0].file_name', /"missing\.jpg" is not an image of this dataset/],
        [
          { name: 'l', labels: { images: [{ id: 1, file_name: 'x.jpg', width: 40, height: 30 }], annotations: [{ image_id: 1, category_id: 9, bbox: [0, 0, 1, 1] }], categories: [{ id: 1, name: 'cat' }] }, images: [entry(good[0]!)] },
          'labels.annotations[0].category_id',
          /9 is not a category id/,
        ],
        [{ name: 'l', labels: { images: 'nope', annotations: [], categories: [] }, images: [entry(good[0]!)] }, 'labels', /COCO JSON needs arrays/],
      ];
      for (const [manifest, field, message] of cases) {
        await leavesNothing(async () => {
          const r = await createUpload(manifest);
          expect(r.status, JSON.stringify(r.body)).toBe(400);
          expect(r.body, JSON.stringify(r.body)).toMatchObject({ code: 'invalid_dataset', field });
          expect(r.body.message).toMatch(message);
        });
      }
    });

    it('over the size limits: an image, the image count, the whole dataset (413 dataset_too_large)', async () => {
      const big = { name: 'huge.jpg', sha256: 'a'.repeat(64), sizeBytes: 400_001 };
      const many = Array.from({ length: 21 }, (_, i) => ({ name: `i${i}.jpg`, sha256: i.toString(16).padStart(64, '0'), sizeBytes: 10 }));
      const heavy = Array.from({ length: 10 }, (_, i) => ({ name: `h${i}.jpg`, sha256: i.toString(16).padStart(64, 'f'), sizeBytes: 350_000 }));
      for (const [images, field] of [
        [[big], 'images[0] (huge.jpg).sizeBytes'],
        [many, 'images'],
        [heavy, 'images'],
      ] as const) {
        await leavesNothing(async () => {
          const r = await createUpload({ name: 'big', images });
          expect(r.status).toBe(413);
          expect(r.body).toMatchObject({ code: 'dataset_too_large', field });
        });
      }
    });

    it('at upload: a corrupt JPEG, a digest mismatch, more bytes than declared, labels that are not JSON; each drops the whole upload', async () => {
      const corrupt = { name: 'broken.jpg', bytes: Buffer.concat([good[0]!.bytes.subarray(0, 200), Buffer.alloc(300, 7)]) };
      const cases: Array<[TestFile[], TestFile, Uint8Array, string, RegExp, unknown?]> = [
        [[good[0]!, corrupt], corrupt, corrupt.bytes, 'images[0]', /broken\.jpg: not a decodable JPEG/],
        [[good[0]!, good[1]!], good[1]!, Buffer.from(good[1]!.bytes).fill(0, 100, 110), 'images[1]', /y\.jpg: the \d+ bytes received hash to [0-9a-f]{64}, not the declared sha256/],
        [[good[0]!], good[0]!, Buffer.concat([good[0]!.bytes, Buffer.from('extra')]), 'images[0]', /x\.jpg: more bytes than the \d+ declared/],
      ];
      for (const [files, target, bytes, field, message] of cases) {
        await leavesNothing(async () => {
          const created = await createUpload({ name: 'refused', images: files.map(entry) });
          expect(created.status, JSON.stringify(created.body)).toBe(201);
          for (const f of files) if (f !== target) expect((await put(created.body.uploadId!, f)).status).toBe(200);
          const r = await put(created.body.uploadId!, target, bytes);
          expect(r.status, JSON.stringify(r.body)).toBe(400);
          expect(r.body).toMatchObject({ code: 'invalid_dataset', field });
          expect(r.body.message).toMatch(message);
          expect(r.body.message).toContain('was discarded');
          expect((await call('GET', `/v1/datasets/uploads/${created.body.uploadId}`)).status).toBe(404);
        });
      }
      const notJson = { name: 'labels.json', bytes: Buffer.from('{"images": [') };
      await leavesNothing(async () => {
        const created = await createUpload({ name: 'refused', labels: { sha256: sha(notJson.bytes), sizeBytes: notJson.bytes.length }, images: [entry(good[0]!)] });
        const r = await put(created.body.uploadId!, notJson);
        expect(r.body).toMatchObject({ code: 'invalid_dataset', field: 'labels' });
        expect(r.body.message).toMatch(/labels: not JSON/);
      });
    });

    it('at complete: labels whose image size differs from the decoded JPEG; nothing reaches the object store', async () => {
      const labels = Buffer.from(JSON.stringify({ images: [{ id: 1, file_name: 'x.jpg', width: 640, height: 480 }], annotations: [], categories: [] }));
      const labelsFile = { name: 'labels.json', bytes: labels };
      await leavesNothing(async () => {
        const created = await createUpload({ name: 'refused', labels: { sha256: sha(labels), sizeBytes: labels.length }, images: good.map(entry) });
        for (const f of [...good, labelsFile]) expect((await put(created.body.uploadId!, f)).status).toBe(200);
        const r = await complete(created.body.uploadId!);
        expect(r.status).toBe(400);
        expect(r.body).toMatchObject({ code: 'invalid_dataset', field: 'labels.images[0]' });
        expect(r.body.message).toMatch(/x\.jpg is labelled 640x480 but the image is 40x30/);
      });
    });

    it('a name taken by other content; an unknown upload id; a file not in the upload', async () => {
      await uploadAll({ name: 'taken', images: [entry(good[0]!)] }, [good[0]!]);
      await leavesNothing(async () => {
        const r = await createUpload({ name: 'taken', images: [entry(good[1]!)] });
        expect(r.body).toMatchObject({ code: 'invalid_dataset', field: 'name' });
      });
      expect((await complete('upload_00000000000000000000000000000000')).body).toMatchObject({ code: 'dataset_not_found', field: 'uploadId' });
      expect((await call('GET', '/v1/datasets/uploads/../../etc')).status).toBe(404);
      const created = await createUpload({ name: 'other', images: [entry(good[1]!)] });
      const stray = await put(created.body.uploadId!, good[0]!);
      expect(stray.body).toMatchObject({ code: 'invalid_dataset', field: 'sha256' });
      expect((await call('DELETE', `/v1/datasets/uploads/${created.body.uploadId}`)).body).toMatchObject({ aborted: true });
      expect(stagedUploads()).toEqual([]);
      await call('DELETE', '/v1/datasets/taken');
    });
  });

  it('keeps an open upload and its bytes across a coordinator restart', { timeout: 30_000 }, async () => {
    const f = jpegFile('restart.jpg', 8, 200, 100);
    const created = await createUpload({ name: 'restarted', images: [entry(f)] });
    const half = Math.floor(f.bytes.length / 2);
    await put(created.body.uploadId!, f, f.bytes.subarray(0, half), { 'content-range': `bytes 0-${half - 1}/${f.bytes.length}` });
    const config = coordinator.config;
    await coordinator.close();
    coordinator = await startCoordinator({ ...config, httpPort: 0, grpcPort: 0 });
    const resumed = await call<UploadView>('GET', `/v1/datasets/uploads/${created.body.uploadId}`);
    expect(resumed.body.missing).toEqual([{ sha256: sha(f.bytes), sizeBytes: f.bytes.length, receivedBytes: half, name: 'restart.jpg' }]);
    await put(created.body.uploadId!, f, f.bytes.subarray(half), { 'content-range': `bytes ${half}-${f.bytes.length - 1}/${f.bytes.length}` });
    expect((await complete(created.body.uploadId!)).body).toMatchObject({ state: 'complete', dataset: { name: 'restarted', imageCount: 1 } });
  });

  it('drops an upload left without activity past its TTL, with its bytes', { timeout: 30_000 }, async () => {
    const short = await startCoordinator({ ...coordinator.config, httpPort: 0, grpcPort: 0, dbPath: join(dir, 'ttl.db'), dataDir: join(dir, 'ttl-data'), datasetUploadTtlMs: 1_000 });
    try {
      const f = jpegFile('slow.jpg', 7);
      const created = (await (await fetch(`${short.httpUrl}/v1/datasets/uploads`, { method: 'POST', body: JSON.stringify({ name: 'slow', images: [entry(f)] }), headers: { 'content-type': 'application/json' } })).json()) as UploadView;
      await fetch(`${short.httpUrl}/v1/datasets/uploads/${created.uploadId}/files/${sha(f.bytes)}`, { method: 'PUT', body: f.bytes.subarray(0, 100), headers: { 'content-type': 'application/octet-stream', 'content-range': `bytes 0-99/${f.bytes.length}` } });
      expect(readdirSync(join(dir, 'ttl-data', 'dataset-uploads'))).toEqual([created.uploadId]);
      // The sweep runs every second; within 3 s the session and its bytes are gone without any request.
      let left = 1;
      for (let i = 0; i < 30 && left > 0; i++) {
        await sleep(100);
        left = readdirSync(join(dir, 'ttl-data', 'dataset-uploads')).length;
      }
      expect(left).toBe(0);
      expect((await fetch(`${short.httpUrl}/v1/datasets/uploads/${created.uploadId}`)).status).toBe(404);
      // The same manifest again starts a new upload.
      const fresh = (await (await fetch(`${short.httpUrl}/v1/datasets/uploads`, { method: 'POST', body: JSON.stringify({ name: 'slow', images: [entry(f)] }), headers: { 'content-type': 'application/json' } })).json()) as UploadView;
      expect(fresh).toMatchObject({ state: 'open', missing: [{ receivedBytes: 0 }] });
      expect(fresh.uploadId).not.toBe(created.uploadId);
    } finally {
      await short.close();
    }
  });

  /** The DatasetCatalog the sweeps module injects, on the same database and object store (a medium test of the service). */
  let db: SqlDatabase | undefined;
  const catalogService = (): DatasetsService => {
    db ??= openSqlite(coordinator.config.dbPath);
    const config = loadConfig({ ...coordinator.config }, {});
    return new DatasetsService(new SqlDatasetRepository(db), new NatsDatasetObjects(farm.models), new LocalUploadStaging(join(dir, 'catalog-staging')), new SystemClock(), config);
  };
  afterAll(() => db?.close());
});
