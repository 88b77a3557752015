// `benchfarm variants` as a user runs it (the real bin/benchfarm, real onnxruntime-node) on the
// real PaddleOCR detector from npm, with JPEG calibration images written by the test.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { afterAll, describe, expect, it } from 'vitest';
import { paddleOcrModelPath } from '@benchfarm/onnx';
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
});
