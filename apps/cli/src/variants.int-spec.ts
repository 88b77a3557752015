// `benchfarm variants` as a user runs it (the real bin/benchfarm, real onnxruntime-node) on the
// real PaddleOCR detector from npm, with JPEG calibration images written by the test.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeYolo, loadImageFeeds, paddleOcrModelPath, PREPROCESS_PRESETS, runModel } from '@benchfarm/onnx';
import { sharedModelFile } from '@benchfarm/testing';
import { repoRoot } from './processes';

const dir = mkdtempSync(join(tmpdir(), 'bf-variants-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cli = (args: string[]) => spawnSync(join(repoRoot, 'bin/benchfarm'), args, { encoding: 'utf8', cwd: dir, timeout: 240_000 });

function writeImages(folder: string, count: number): void {
  mkdirSync(folder, { recursive: true });
  for (let k = 0; k < count; k++) {
    const w = 48;
    const rgba = new Uint8Array(w * w * 4);
    for (let i = 0; i < w * w; i++) rgba.set((Math.floor(i / w) + 5 * k) % 12 < 3 ? [15, 15, 15, 255] : [230, 220 - k * 9, 200, 255], i * 4);
    writeFileSync(join(folder, `img${k}.jpg`), jpeg.encode({ width: w, height: w, data: rgba }, 90).data);
  }
}

describe('benchfarm variants', () => {
  it('scores YOLOX variants against COCO labels: labels made from the reference detections give the reference mAP 1', { timeout: 240_000 }, async () => {
    // Fails naming ../shared/models when it is absent (SharedModelsMissingError), never skips.
    const yolox = sharedModelFile('yolox_nano_3class.onnx');
    const sharedImages = sharedModelFile('images');
    const images = join(dir, 'yolo-images');
    mkdirSync(images, { recursive: true });
    for (const f of ['capture_20240913_124002_jpg.jpg', 'capture_20240913_124020_jpg.jpg', 'dog.jpg']) writeFileSync(join(images, f), readFileSync(join(sharedImages, f)));
    // Sorted, the second image is the held-out one. Its reference detections, mapped back
    // through the letterbox (640 -> 416) into original pixels, are the labels.
    const held = 'capture_20240913_124020_jpg.jpg';
    const feeds = await loadImageFeeds([join(images, held)], 'images', [1, 3, 416, 416], PREPROCESS_PRESETS.yolox);
    const [outputs] = await runModel(yolox, feeds);
    const output = outputs?.get('output');
    if (!output) throw new Error('YOLOX gave no output');
    const r = 416 / 640;
    const dets = decodeYolo(output, { layout: 'yolox', inputHw: [416, 416], scoreThreshold: 0.25, iouThreshold: 0.45 });
    expect(dets.length).toBeGreaterThan(0);
    const labels = join(dir, 'labels.json');
    writeFileSync(
      labels,
      JSON.stringify({
        images: [{ id: 1, file_name: held, width: 640, height: 640 }],
        annotations: dets.map((d) => ({ image_id: 1, category_id: d.classId + 1, bbox: [d.box[0] / r, d.box[1] / r, (d.box[2] - d.box[0]) / r, (d.box[3] - d.box[1]) / r] })),
        categories: [1, 2, 3].map((id) => ({ id, name: `class${id}` })),
      }),
    );
    const res = cli(['variants', yolox, '--calibration', images, '--preprocess', 'yolox', '--variants', 'fp16', '--out', join(dir, 'yolo-out'), '--labels', labels]);
    expect(res.status, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/^fp32 \(reference\) +1\.000 +1\.000 /m);
    expect(res.stdout).toMatch(/^fp16 +\d\.\d{3} +\d\.\d{3} /m);
  });

  it('derives fp16 and int8-static, writes the files and prints the table with fidelity on held-out images', { timeout: 240_000 }, () => {
    const images = join(dir, 'images');
    writeImages(images, 4);
    const out = join(dir, 'out');
    const r = cli(['variants', paddleOcrModelPath('det'), '--shapes', 'x:1x3x64x64', '--calibration', images, '--preprocess', 'imagenet', '--variants', 'fp16,int8-static,prune-l1:0.5', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/fidelity on 1 held-out images \(img1\.jpg\); calibration on 3 others/);
    for (const name of ['fp32 \\(reference\\)', 'fp16', 'int8-static', 'prune-l1:0\\.5']) expect(r.stdout).toMatch(new RegExp(`^${name} .* yes `, 'm'));
    const files = readdirSync(out).filter((f) => f.endsWith('.onnx'));
    expect(files).toHaveLength(4);
    for (const f of files) expect(existsSync(join(out, f))).toBe(true);
    expect(readdirSync(out).some((f) => f.endsWith('.part'))).toBe(false);
  });

  it('bad input exits 2 naming the option: an empty calibration folder, a ratio outside (0, 1), no preprocessing config', { timeout: 120_000 }, () => {
    const empty = join(dir, 'empty');
    mkdirSync(empty, { recursive: true });
    const a = cli(['variants', paddleOcrModelPath('det'), '--shapes', 'x:1x3x64x64', '--calibration', empty, '--preprocess', 'imagenet', '--out', join(dir, 'out2')]);
    expect(a.status).toBe(2);
    expect(a.stderr).toMatch(/--calibration: the folder .* holds no \.jpg\/\.jpeg images/);
    const b = cli(['variants', paddleOcrModelPath('det'), '--shapes', 'x:1x3x64x64', '--variants', 'prune-channels:1.5', '--out', join(dir, 'out2')]);
    expect(b.status).toBe(2);
    expect(b.stderr).toMatch(/prune-channels: the ratio must be a number in \(0, 1\), got "1\.5"/);
    const images = join(dir, 'images2');
    writeImages(images, 2);
    const c = cli(['variants', paddleOcrModelPath('det'), '--shapes', 'x:1x3x64x64', '--calibration', images, '--out', join(dir, 'out2')]);
    expect(c.status).toBe(2);
    expect(c.stderr).toMatch(/--preprocess: images need a preprocessing config/);
    expect(existsSync(join(dir, 'out2')) ? readdirSync(join(dir, 'out2')).filter((f) => f !== 'fp32-reference.onnx') : []).toEqual([]);
  });

  it('takes a bring-your-own variant with the checks POST /sweeps makes (prepareModel), and exits 2 naming --add for one that computes other outputs', { timeout: 120_000 }, () => {
    const out = join(dir, 'out-own');
    const own = cli(['variants', paddleOcrModelPath('det'), '--shapes', 'x:1x3x64x64', '--variants', 'fp16', '--add', `mine=${paddleOcrModelPath('det')}`, '--out', out]);
    expect(own.status, own.stderr).toBe(0);
    expect(own.stdout).toMatch(/^mine \(brought\) .* yes /m);
    expect(existsSync(join(out, 'own-mine.onnx'))).toBe(true);
    const other = cli(['variants', paddleOcrModelPath('det'), '--shapes', 'x:1x3x64x64', '--variants', 'fp16', '--add', `other=${paddleOcrModelPath('cls')}`, '--out', out]);
    expect(other.status, other.stderr).toBe(2);
    expect(other.stderr).toMatch(/--add: own variant other \(.*\): its (inputs|outputs|input shapes)/);
  });

  it('--sensitivity without real images exits 2 naming the option, before deriving anything', { timeout: 120_000 }, () => {
    const r = cli(['variants', paddleOcrModelPath('det'), '--shapes', 'x:1x3x64x64', '--variants', 'int8-static', '--random-calibration', '2', '--sensitivity', '--out', join(dir, 'out3')]);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/--sensitivity: the sensitivity table is measured on real images: give --calibration <dir>/);
    expect(existsSync(join(dir, 'out3')) ? readdirSync(join(dir, 'out3')).filter((f) => f !== 'fp32-reference.onnx') : []).toEqual([]);
  });
});
