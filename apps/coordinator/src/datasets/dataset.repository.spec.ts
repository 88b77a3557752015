import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TensorDataType } from '@benchfarm/protocol';
import { SqlSweepRepository } from '../storage/sweep.repository';
import { STORE_KINDS, testStores } from '../testing/stores';
import { SqlDatasetRepository, type UploadSessionRecord } from './dataset.repository';
import type { SqlDatabase } from '../storage/sql';
import type { DatasetRecord } from './dataset.types';

const hex = (c: string): string => c.repeat(64);

function session(id: string, datasetId: string, expiresAtMs: number): UploadSessionRecord {
  return {
    id,
    datasetId,
    name: `set-${id}`,
    images: [
      { name: 'b.jpg', sha256: hex('b'), sizeBytes: 2 },
      { name: 'a.jpg', sha256: hex('a'), sizeBytes: 1 },
    ],
    labels: { sha256: hex('l'), sizeBytes: 3 },
    preprocess: 'yolox',
    createdAtMs: 10,
    expiresAtMs,
    // Declared out of digest order: the session must list them as declared.
    files: [
      { sha256: hex('b'), sizeBytes: 2, kind: 'image', state: 'missing' },
      { sha256: hex('a'), sizeBytes: 1, kind: 'image', state: 'stored', width: 4, height: 3 },
      { sha256: hex('l'), sizeBytes: 3, kind: 'labels', state: 'missing' },
    ],
  };
}

function dataset(id: string, name: string, createdAtMs: number): DatasetRecord {
  return {
    id,
    name,
    createdAtMs,
    images: [
      { name: 'a.jpg', sha256: hex('a'), sizeBytes: 1, width: 4, height: 3 },
      { name: 'c.jpg', sha256: hex('c'), sizeBytes: 5, width: 8, height: 6 },
    ],
    labels: { sha256: hex('l'), sizeBytes: 3, labelledImages: 2, annotations: 4, categories: [{ id: 1, name: 'cat' }] },
    preprocess: { size: [4, 3] },
    totalBytes: 9,
  };
}

describe.each(STORE_KINDS)('SqlDatasetRepository on %s', (kind) => {
  const stores = testStores(kind);
  let db: SqlDatabase;
  let repo: SqlDatasetRepository;

  beforeEach(async () => {
    db = await stores.open();
    repo = new SqlDatasetRepository(db);
  });
  afterEach(() => db.close());

  it('keeps an upload session with its files in declared order, their states and its expiry (never shortened)', async () => {
    await repo.insertUpload(session('upload_1', hex('d'), 1_000));
    const stored = await repo.findUpload('upload_1');
    expect(stored).toMatchObject({ id: 'upload_1', datasetId: hex('d'), name: 'set-upload_1', labels: { sha256: hex('l'), sizeBytes: 3 }, preprocess: 'yolox', expiresAtMs: 1_000 });
    expect(stored?.files.map((f) => f.sha256[0])).toEqual(['b', 'a', 'l']);
    expect(stored?.files[1]).toEqual({ sha256: hex('a'), sizeBytes: 1, kind: 'image', state: 'stored', width: 4, height: 3 });
    await repo.setFileState('upload_1', hex('b'), 'verified', { width: 7, height: 5 });
    expect((await repo.findUpload('upload_1'))?.files[0]).toEqual({ sha256: hex('b'), sizeBytes: 2, kind: 'image', state: 'verified', width: 7, height: 5 });
    await repo.touchUpload('upload_1', 500);
    expect((await repo.findUpload('upload_1'))?.expiresAtMs).toBe(1_000);
    await repo.touchUpload('upload_1', 2_000);
    expect((await repo.findUpload('upload_1'))?.expiresAtMs).toBe(2_000);
    expect(await repo.findUploadFor(hex('d'), 'set-upload_1')).toBe('upload_1');
    expect(await repo.findUploadFor(hex('d'), 'other')).toBeUndefined();
    expect(await repo.findUpload('nope')).toBeUndefined();
  });

  it('lists expired sessions and every session, and deletes one with its files', async () => {
    await repo.insertUpload(session('upload_2', hex('e'), 300));
    await repo.insertUpload(session('upload_1', hex('d'), 100));
    expect(await repo.expiredUploads(99)).toEqual([]);
    expect(await repo.expiredUploads(300)).toEqual(['upload_1', 'upload_2']);
    expect(await repo.uploadIds()).toEqual(['upload_1', 'upload_2']);
    await repo.deleteUpload('upload_1');
    expect(await repo.uploadIds()).toEqual(['upload_2']);
    expect(await db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM dataset_upload_files WHERE upload_id = 'upload_1'`)).toEqual({ n: 0 });
  });

  it('stores a dataset and drops its upload in one go; finds it by id, name and prefix; lists newest first', async () => {
    await repo.insertUpload(session('upload_1', hex('d'), 100));
    const first = dataset(hex('d'), 'first', 10);
    await repo.insertDataset(first, 'upload_1');
    await repo.insertDataset({ ...dataset(`${'d'.repeat(8)}${'0'.repeat(56)}`, 'second', 20), images: [] }, undefined);
    expect(await repo.findUpload('upload_1')).toBeUndefined();
    expect(await repo.findById(hex('d'))).toEqual(first);
    expect(await repo.findByName('first')).toEqual(first);
    expect(await repo.findByName('none')).toBeUndefined();
    expect(await repo.idsWithPrefix('dddddddd', 2)).toEqual([`${'d'.repeat(8)}${'0'.repeat(56)}`, hex('d')]);
    expect(await repo.idsWithPrefix('ddddddddd', 2)).toEqual([hex('d')]);
    expect((await repo.list()).map((d) => [d.name, d.imageCount])).toEqual([
      ['second', 0],
      ['first', 2],
    ]);
    expect(await repo.knownImage(hex('c'))).toEqual({ width: 8, height: 6 });
    expect(await repo.knownImage(hex('9'))).toBeUndefined();
    await repo.deleteDataset(hex('d'));
    expect(await repo.findById(hex('d'))).toBeUndefined();
  });

  it('tells which objects are still referenced (datasets, labels, stored files of other uploads, sweeps) and which running sweeps use a dataset', async () => {
    await repo.insertDataset(dataset(hex('d'), 'first', 10), undefined);
    await repo.insertUpload(session('upload_1', hex('e'), 100));
    expect(await repo.isObjectReferenced(hex('c'))).toBe(true);
    expect(await repo.isObjectReferenced(hex('l'))).toBe(true);
    // hex('a') is in the dataset too; hex('b') only as a missing file of the upload: not referenced.
    expect(await repo.isObjectReferenced(hex('b'))).toBe(false);
    await repo.deleteDataset(hex('d'));
    expect(await repo.isObjectReferenced(hex('a'))).toBe(true);
    expect(await repo.isObjectReferenced(hex('a'), 'upload_1')).toBe(false);

    const sweeps = new SqlSweepRepository(db);
    await sweeps.create({
      id: 'sweep_1',
      name: 's',
      createdAtMs: 1,
      model: { name: 'm', sha256: hex('f'), sizeBytes: 1 },
      inputs: [{ name: 'x', dataType: TensorDataType.TENSOR_DATA_TYPE_FLOAT32, shape: [1] }],
      settings: {
        scenario: 'single_stream', executionProvider: 'cpu', intraOpThreads: 0, interOpThreads: 0, batch: 1, warmupMinQueries: 1, warmupMinDurationMs: 1, minQueries: 1, minDurationMs: 1, maxDurationMs: 10, seed: 0,
        datasets: { calibration: { datasetId: hex('d'), datasetName: 'first', images: 2 }, split: 'all' },
      },
      targets: ['all'],
      agentIds: ['a1'],
      variants: [{ name: 'fp32', sha256: hex('9'), sizeBytes: 1, recipe: {} }],
      jobs: [{ id: 'job_1', variant: 'fp32', agentId: 'a1', agentName: 'A1' }],
    });
    expect(await repo.isObjectReferenced(hex('f'))).toBe(true);
    expect(await repo.isObjectReferenced(hex('9'))).toBe(true);
    expect(await repo.runningSweepsUsing(hex('d'))).toEqual(['sweep_1']);
    expect(await repo.runningSweepsUsing(hex('e'))).toEqual([]);
    await sweeps.markFailed('sweep_1', 'stopped', [], 2);
    expect(await repo.runningSweepsUsing(hex('d'))).toEqual([]);
  });
});
