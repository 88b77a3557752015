// onnxruntime's profiler on the real YOLOX detector in ../shared/models (the file fails
// naming the path when absent): every Conv gets kernel time, and the stem conv, at the highest
// resolution, is among the most expensive layers.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sharedModelFile } from '@benchfarm/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { inferShapesByRunning } from './activations';
import { foldBatchNorm } from '../passes/fold-bn';
import { constantsToInitializers } from '../passes/graph-edit';
import { readModel } from '../model-io/model-io';
import { upgradeOpset } from '../model-io/opset';
import { layerTimes, profileNodeTimes } from './ort-profile';
import { listImages, loadImageFeeds, PREPROCESS_PRESETS } from '../model-io/preprocess';
import { deriveVariant } from '../passes/variants';

// Thrown here when ../shared/models is absent: the file fails naming the path (SharedModelsMissingError).
const YOLOX = sharedModelFile('yolox_nano_3class.onnx');
const IMAGES = sharedModelFile('images');

const dir = mkdtempSync(join(tmpdir(), 'bf-ort-profile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('onnxruntime profile of the YOLOX-nano detector', () => {
  it('attributes kernel time to every Conv; layer shares stay within the total; the stem conv is among the 5 largest (a preempted kernel on a loaded machine can spike one other)', { timeout: 180_000 }, async () => {
    // The form int8-auto quantizes: Constants as initializers, BatchNorm folded, opset 13.
    const source = readModel(readFileSync(YOLOX));
    constantsToInitializers(source);
    const model = upgradeOpset(foldBatchNorm(source).model, 13).model;
    const convs = (model.graph?.node ?? []).filter((n) => n.opType === 'Conv').map((n) => n.name ?? '');
    const feeds = await loadImageFeeds((await listImages(IMAGES)).slice(0, 1), 'images', [1, 3, 416, 416], PREPROCESS_PRESETS.yolox);
    const t = await layerTimes(model, convs, feeds, { runs: 5, warmup: 1, intraOpThreads: 1 });

    const top = [...t.layers].sort((a, b) => b[1] - a[1]);
    process.stdout.write(`YOLOX profile (level all, 1 thread, 5 runs): total ${(t.totalUs / 1000).toFixed(2)} ms/run, layers ${((t.totalUs - t.unattributedUs) / 1000).toFixed(2)} ms, unattributed ${(t.unattributedUs / 1000).toFixed(2)} ms; top layers: ${top
      .slice(0, 8)
      .map(([n, us]) => `${n} ${(us / 1000).toFixed(2)} ms (${((100 * us) / t.totalUs).toFixed(1)}%)`)
      .join(', ')}\n`);

    expect(convs.length).toBeGreaterThan(100);
    for (const c of convs) expect(t.layers.get(c), `kernel time of ${c}`).toBeGreaterThan(0);
    const layerSum = [...t.layers.values()].reduce((a, b) => a + b, 0);
    expect(layerSum).toBeLessThanOrEqual(t.totalUs * (1 + 1e-9));
    expect(layerSum + t.unattributedUs).toBeCloseTo(t.totalUs, 3);

    // The highest-resolution convs (largest output H x W), from a run of the model.
    const dims = await inferShapesByRunning(model, feeds[0] ?? {});
    const area = (c: string) => {
      const d = dims.get(model.graph?.node?.find((n) => n.name === c)?.output?.[0] ?? '') ?? [];
      return (d[2] ?? 0) * (d[3] ?? 0);
    };
    const maxArea = Math.max(...convs.map(area));
    const stem = convs.filter((c) => area(c) === maxArea);
    expect(stem.length).toBeGreaterThan(0);
    expect(top.slice(0, 5).some(([n]) => stem.includes(n)), `stem convs ${stem.join(',')} among the 5 largest layers`).toBe(true);
  });

  it('profileNodeTimes reads a model from its path; kernel times per node of the optimized graph add up to the total', { timeout: 120_000 }, async () => {
    const feeds = await loadImageFeeds((await listImages(IMAGES)).slice(0, 1), 'images', [1, 3, 416, 416], PREPROCESS_PRESETS.yolox);
    const p = await profileNodeTimes(YOLOX, feeds, { runs: 3, warmup: 1, intraOpThreads: 1, optimization: 'extended' });
    expect(p.nodes.length).toBeGreaterThan(100);
    expect(p.nodes.some((n) => n.opType === 'QuickGelu')).toBe(true);
    expect(p.nodes.reduce((a, n) => a + n.us, 0)).toBeCloseTo(p.totalUs, 3);
  });

  it('on the int8-static QDQ model, every Conv gets its QLinearConv/QLinearSigmoid/QLinearMul or float time, so int8 and fp32 layer times compare', { timeout: 180_000 }, async () => {
    const files = await listImages(IMAGES);
    const v = await deriveVariant('int8-static', YOLOX, dir, { isolated: false, calibration: { kind: 'images', files: files.slice(0, 1), preprocess: 'yolox' } });
    const qdq = readModel(readFileSync(v.path));
    const convs = (qdq.graph?.node ?? []).filter((n) => n.opType === 'Conv').map((n) => n.name ?? '');
    const feeds = await loadImageFeeds(files.slice(1, 2), 'images', [1, 3, 416, 416], PREPROCESS_PRESETS.yolox);
    const t = await layerTimes(qdq, convs, feeds, { runs: 3, warmup: 1, intraOpThreads: 1 });
    const qlinear = t.nodes.filter((n) => n.opType === 'QLinearConv').length;
    process.stdout.write(`YOLOX int8-static profile: total ${(t.totalUs / 1000).toFixed(2)} ms/run, layers ${((t.totalUs - t.unattributedUs) / 1000).toFixed(2)} ms, ${qlinear} QLinearConv\n`);
    expect(qlinear).toBe(Number(v.recipe.quantizedNodes));
    for (const c of convs) expect(t.layers.get(c), `kernel time of ${c}`).toBeGreaterThan(0);
    expect(t.nodes.filter((n) => n.opType === 'QuantizeLinear' || n.opType === 'DequantizeLinear').reduce((a, n) => a + n.us, 0)).toBeLessThanOrEqual(t.unattributedUs);
  });
});
