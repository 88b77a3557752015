// int8-auto on the real YOLOX-nano detector (the file of ../shared/models, shipped with its
// photos in examples/yolox-nano, so this never skips), in real onnxruntime-node. Lean: minmax
// only, a short refinement, 6 search images and 4 held-out ones; each search takes ~30 s on
// one quiet core.
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Feeds } from '../runtime/activations';
import { readModelFile } from '../model-io/model-io';
import type { ModelProto } from '../model-io/proto';
import { loadImageFeeds, parsePreprocessConfig } from '../model-io/preprocess';
import { parseAutoParams, quantizeAuto, type AutoQuantResult } from './quantize-auto';
import { runModel } from '../runtime/activations';

const EXAMPLE = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../../examples/yolox-nano');
const jpegs = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.jpg')).sort().map((f) => join(dir, f));

describe('int8-auto on the YOLOX-nano detector', () => {
  let source: ModelProto;
  let search: Feeds[];
  let holdout: Feeds[];
  let standard: AutoQuantResult;
  let strict: AutoQuantResult;

  beforeAll(async () => {
    source = (await readModelFile(join(EXAMPLE, 'yolox_nano_3class.onnx'))).model;
    const images = jpegs(join(EXAMPLE, 'images'));
    const config = parsePreprocessConfig('yolox');
    search = await loadImageFeeds([...jpegs(join(EXAMPLE, 'calibration')), ...images.slice(0, 3)], 'images', [1, 3, 416, 416], config);
    holdout = await loadImageFeeds(images.slice(6), 'images', [1, 3, 416, 416], config);
    standard = await quantizeAuto(source, search, holdout, parseAutoParams('int8-auto', 'methods=minmax+refine=4'), 'real images: examples/yolox-nano');
    strict = await quantizeAuto(source, search, holdout, parseAutoParams('int8-auto', 'metric=cosine+floor=0.9995+methods=minmax+refine=4'), 'real images: examples/yolox-nano');
  }, 600_000);

  it('ranks every quantizable layer by time share per accuracy lost, from a profile and one-layer-at-a-time scores', () => {
    const layers = standard.report.layers;
    expect(layers).toHaveLength(113);
    expect(layers.map((l) => l.rank)).toEqual(layers.map((_, i) => i + 1));
    const priority = layers.map((l) => l.timeShare / l.loss);
    for (let i = 1; i < priority.length; i++) expect(priority[i]).toBeLessThanOrEqual((priority[i - 1] ?? 0) * (1 + 1e-9));
    for (const l of layers) {
      expect(l.fp32Us).toBeGreaterThan(0);
      expect(l.cosine).toBeGreaterThan(0.5);
      expect(l.cosine).toBeLessThanOrEqual(1 + 1e-9);
    }
    // Layers differ by orders of magnitude in what they cost: the ranking is not flat.
    const losses = layers.map((l) => l.loss).sort((a, b) => a - b);
    expect(losses.at(-1) ?? 0).toBeGreaterThan(100 * (losses[Math.floor(losses.length / 2)] ?? 1));
    // The stem conv sees raw 0..255 pixels: among the most damaging layers to quantize alone.
    const stem = layers.find((l) => l.index === 0);
    expect(losses.indexOf(stem?.loss ?? -1)).toBeGreaterThanOrEqual(Math.floor(0.75 * losses.length));
  });

  it('meets its floor on held-out images it did not search on, and says so in the recipe', async () => {
    const r = standard.report;
    expect(r.floor).toEqual({ metric: 'map50_agreement', value: 0.95 });
    expect(r.searchMetric).toBeGreaterThanOrEqual(0.95);
    expect(r.holdoutImages).toBe(4);
    expect(r.holdoutMetric ?? 0).toBeGreaterThanOrEqual(0.95);
    expect(r.holdoutMet).toBe(true);
    const quantized = r.layers.filter((l) => l.quantized).length;
    expect(quantized).toBeGreaterThan(56); // more than half of the layers
    expect(standard.recipe.floatLayers?.split(',')).toHaveLength(113 - quantized);
    expect(standard.recipe['accuracy.holdout']).toMatch(/map50_agreement 1\.0000|map50_agreement 0\.9[5-9]/);
    expect(standard.recipe['accuracy.holdout']).toContain('n=4, floor met');
    expect(standard.recipe['latency.here']).toMatch(/x fp32 \(p50/);
    // The model is what the report says: its own run on the held-out images agrees with fp32.
    const [ref, got] = [await runModel(source, holdout.slice(0, 1)), await runModel(standard.model, holdout.slice(0, 1))];
    const a = ref[0]?.get('output')?.data ?? new Float32Array();
    const b = got[0]?.get('output')?.data ?? new Float32Array();
    let dot = 0;
    let na = 0;
    let nb = 0;
    for (let i = 0; i < a.length; i++) {
      dot += (a[i] ?? 0) * (b[i] ?? 0);
      na += (a[i] ?? 0) ** 2;
      nb += (b[i] ?? 0) ** 2;
    }
    expect(dot / Math.sqrt(na * nb)).toBeGreaterThan(0.98);
    const ops = new Set((standard.model.graph?.node ?? []).map((n) => n.opType));
    expect(ops.has('QuantizeLinear') && ops.has('DequantizeLinear')).toBe(true);
  });

  it('keeps more layers in float under a stricter floor', () => {
    const floatCount = (r: AutoQuantResult) => r.report.layers.filter((l) => !l.quantized).length;
    expect(strict.report.floor).toEqual({ metric: 'cosine', value: 0.9995 });
    expect(strict.report.searchMetric).toBeGreaterThanOrEqual(0.9995);
    expect(floatCount(strict)).toBeGreaterThan(floatCount(standard));
  });
});
