// `benchfarm dataset add|list|show|rm` as a user runs them (the real bin/benchfarm) against a real
// coordinator process with a real nats-server; uploadDatasetDir in chunks and resuming an upload
// another run left half-done. Images: small JPEGs made here with jpeg-js.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoordinatorClient, type DatasetView } from './client';
import { DatasetUploadError, uploadDatasetDir } from './dataset-upload';
import { repoRoot, startEmbeddedFarm, type EmbeddedFarm } from './processes';

const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

function jpegBytes(seed: number, width = 64, height = 48): Buffer {
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) rgba.set((i % width) % (4 + seed) < 2 ? [10, 30 + seed * 25, 60, 255] : [220, 200 - seed * 20, 30 + seed * 10, 255], i * 4);
  return Buffer.from(jpeg.encode({ width, height, data: rgba }, 90).data);
}

describe('benchfarm dataset (real coordinator and nats-server processes)', () => {
  let dir: string;
  let farm: EmbeddedFarm;
  let client: CoordinatorClient;
  const cli = (args: string[]) => spawnSync(join(repoRoot, 'bin/benchfarm'), ['--coordinator', farm.httpUrl, ...args], { encoding: 'utf8', cwd: dir, timeout: 120_000 });
  const folder = (name: string, files: Record<string, Buffer | string>): string => {
    const path = join(dir, name);
    mkdirSync(path, { recursive: true });
    for (const [file, data] of Object.entries(files)) writeFileSync(join(path, file), data);
    return path;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bf-dataset-cli-'));
    farm = await startEmbeddedFarm({ dir, httpPort: 0, grpcPort: 0, agent: false });
    client = new CoordinatorClient(farm.httpUrl);
  }, 120_000);

  afterAll(async () => {
    await farm?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('adds a folder with labels and a preset, lists, shows, adds it again (reused), removes it', { timeout: 120_000 }, () => {
    const photos = folder('photos', { 'one.jpg': jpegBytes(1), 'two.JPEG': jpegBytes(2), 'notes.txt': 'not an image' });
    const labels = join(dir, 'labels.json');
    writeFileSync(labels, JSON.stringify({ images: [{ id: 7, file_name: 'one.jpg', width: 64, height: 48 }], annotations: [{ image_id: 7, category_id: 1, bbox: [2, 2, 20, 10] }], categories: [{ id: 1, name: 'leaf' }] }));
    const add = cli(['dataset', 'add', photos, '--labels', labels, '--preprocess', 'yolox']);
    expect(add.status, add.stderr).toBe(0);
    expect(add.stdout).toMatch(/2 images, 0\.0 MB, labels labels\.json/);
    expect(add.stdout).toMatch(/3 of 3 files to send/);
    expect(add.stdout).toMatch(/dataset stored: photos \([0-9a-f]{12}\), 2 images/);

    const list = cli(['dataset', 'list']);
    expect(list.stdout).toMatch(/^[0-9a-f]{12} +photos +2 +0\.\d\d MB +1 images, 1 boxes, 1 categories +yolox /m);
    const show = cli(['dataset', 'show', 'photos', '--json']);
    const shown = JSON.parse(show.stdout) as DatasetView;
    expect(shown.images?.map((i) => [i.name, i.width, i.height])).toEqual([
      ['one.jpg', 64, 48],
      ['two.JPEG', 64, 48],
    ]);
    expect(cli(['dataset', 'show', shown.id.slice(0, 8)]).stdout).toMatch(/categories {2}1:leaf/);

    const again = cli(['dataset', 'add', photos, '--labels', labels, '--preprocess', 'yolox', '--name', 'photos-again']);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/dataset exists already: photos/);
    expect(again.stdout).toMatch(/note: the same images, labels and preprocessing are stored as photos/);

    const rm = cli(['dataset', 'rm', 'photos']);
    expect(rm.status, rm.stderr).toBe(0);
    expect(rm.stdout).toMatch(/removed dataset photos \([0-9a-f]{12}\): 3 files deleted, 0 kept/);
    const gone = cli(['dataset', 'show', 'photos']);
    expect(gone.status).toBe(2);
    expect(gone.stderr).toMatch(/no dataset has the id or name "photos" \(field: idOrName\) \[dataset_not_found, HTTP 404\]/);
  });

  it('refuses an empty folder and a corrupt JPEG with exit 2, naming the folder or file', { timeout: 60_000 }, async () => {
    const empty = cli(['dataset', 'add', folder('empty', { 'readme.md': '# nothing' })]);
    expect(empty.status).toBe(2);
    expect(empty.stderr).toMatch(/error: the folder .*empty holds no \.jpg\/\.jpeg images/);
    const corrupt = cli(['dataset', 'add', folder('corrupt', { 'good.jpg': jpegBytes(3), 'bad.jpg': Buffer.from('\xff\xd8\xff\xe0 not a jpeg at all') })]);
    expect(corrupt.status).toBe(2);
    expect(corrupt.stderr).toMatch(/bad\.jpg: not a decodable JPEG.*\[invalid_dataset, HTTP 400\]/);
    expect(await client.listDatasets()).toEqual([]);
    await expect(uploadDatasetDir(client, join(dir, 'no-such-folder'))).rejects.toThrow(DatasetUploadError);
  });

  it('uploadDatasetDir sends files in chunks and resumes an upload an earlier run left half-done', { timeout: 60_000 }, async () => {
    const big = jpegBytes(4, 320, 240);
    const small = jpegBytes(5);
    const path = folder('resume', { 'big.jpg': big, 'small.jpg': small });
    // An earlier run that sent half of big.jpg and then died.
    const manifest = { name: 'resume', images: [{ name: 'big.jpg', sha256: sha(big), sizeBytes: big.length }, { name: 'small.jpg', sha256: sha(small), sizeBytes: small.length }] };
    const first = await client.createDatasetUpload(manifest);
    const half = Math.floor(big.length / 2);
    await client.putDatasetFile(first.uploadId!, sha(big), new Blob([big.subarray(0, half)]).stream(), { start: 0, length: half, sizeBytes: big.length });

    const lines: string[] = [];
    const result = await uploadDatasetDir(client, path, { name: 'resume', chunkBytes: 1000 }, (line) => lines.push(line));
    expect(lines.join('\n')).toMatch(new RegExp(`upload ${first.uploadId}: 2 of 2 files to send \\(0\\.0 MB\\), 0 stored already, 1 resumed`));
    expect(result).toMatchObject({ name: 'resume', images: 2, reused: false });
    const stored = await client.getDataset('resume');
    expect(stored.images?.map((i) => i.sha256)).toEqual([sha(big), sha(small)]);
    expect(stored.images?.[0]).toMatchObject({ width: 320, height: 240 });
    // A later sweep's --eval of the same folder: nothing sent, the dataset reused.
    expect(await uploadDatasetDir(client, path, { name: 'resume' })).toEqual({ id: result.id, name: 'resume', images: 2, reused: true });
  });
});
