import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { afterAll, describe, expect, it } from 'vitest';
import { loadImagesAhead, type LoadedImage } from './evaluation-images';
import { decodeJpeg, imageToTensor, PREPROCESS_PRESETS } from '../model-io/preprocess';

// Small JPEGs encoded here (jpeg-js), so that the test needs no shared files.
const dir = mkdtempSync(join(tmpdir(), 'bf-load-ahead-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const paths = [0, 1, 2].map((k) => {
  const width = 40 + k * 8;
  const height = 30;
  const data = Buffer.alloc(width * height * 4);
  for (let i = 0; i < width * height; i++) data.set([(i * 7 + k * 50) % 256, (i * 3) % 256, (i * 11) % 256, 255], i * 4);
  const path = join(dir, `img${k}.jpg`);
  writeFileSync(path, jpeg.encode({ data, width, height }, 90).data);
  return path;
});
const dims = [1, 3, 32, 32];

async function all(iterable: AsyncIterable<LoadedImage>): Promise<LoadedImage[]> {
  const out: LoadedImage[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

describe('loadImagesAhead', () => {
  it.each([{ worker: true }, { worker: false }])('yields each image as imageToTensor makes it, in order, and a missing file as an error (worker $worker)', { timeout: 30_000 }, async ({ worker }) => {
    const loaded = await all(loadImagesAhead([...paths, join(dir, 'missing.jpg')], dims, PREPROCESS_PRESETS.yolox, { worker, depth: 2 }));
    expect(loaded.map((l) => l.index)).toEqual([0, 1, 2, 3]);
    for (const [i, path] of paths.entries()) {
      const l = loaded[i]!;
      if ('error' in l) throw new Error(l.error);
      expect(l.path).toBe(path);
      expect(Array.from(l.tensor.data)).toEqual(Array.from(imageToTensor(decodeJpeg(readFileSync(path)), dims, PREPROCESS_PRESETS.yolox).data));
      // The loader thread really ran (a thread that cannot start falls back silently to this one).
      expect(l.loadedAhead).toBe(worker);
    }
    expect(loaded[3]).toMatchObject({ index: 3, error: expect.stringMatching(/ENOENT/) });
  });

  it('stops cleanly when the consumer breaks off', { timeout: 30_000 }, async () => {
    let seen = 0;
    for await (const l of loadImagesAhead(paths, dims, PREPROCESS_PRESETS.yolox)) {
      expect('tensor' in l).toBe(true);
      seen++;
      break;
    }
    expect(seen).toBe(1);
  });
});
