// Q/DQ counts of the default int8-static of the real YOLOX detector in ../shared/models
// (the file fails naming the path when absent), as written and as onnxruntime's CPU EP runs it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sharedModelFile } from '@benchfarm/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { listImages } from '../model-io/preprocess';
import { qdqIslands } from './qdq-islands';
import { deriveVariant } from './variants';

// Thrown here when ../shared/models is absent: the file fails naming the path (SharedModelsMissingError).
const YOLOX = sharedModelFile('yolox_nano_3class.onnx');
const IMAGES = sharedModelFile('images');

const dir = mkdtempSync(join(tmpdir(), 'bf-qdq-islands-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('QDQ islands of the YOLOX-nano int8-static', () => {
  it('every quantized tensor has a Q->DQ pair in the file; onnxruntime runs the quantized part as QLinear* ops with no Q->DQ left, Q/DQ only at the float stem and head', { timeout: 180_000 }, async () => {
    const files = (await listImages(IMAGES)).slice(0, 2);
    const v = await deriveVariant('int8-static', YOLOX, dir, { isolated: false, calibration: { kind: 'images', files, preprocess: 'yolox' } });
    const r = await qdqIslands(v.path, 'extended');
    const sum = (c: Readonly<Record<string, number>>) => Object.values(c).reduce((a, b) => a + b, 0);
    process.stdout.write(`YOLOX int8-static QDQ islands (extended): file Q ${r.before.quantizeLinear} DQ ${r.before.dequantizeLinear} (Q->DQ ${r.before.qdqPairs}); run Q ${r.after.quantizeLinear} DQ ${r.after.dequantizeLinear} (Q->DQ ${r.after.qdqPairs}), integer ${JSON.stringify(r.after.integerOps)}, float ${JSON.stringify(r.after.floatOps)}\n`);

    expect(r.before.qdqPairs).toBeGreaterThan(100);
    expect(r.before.qdqPairs).toBe(r.before.quantizeLinear);
    expect(sum(r.before.integerOps)).toBe(0);
    expect(r.after.integerOps.QLinearConv).toBe(Number(v.recipe.quantizedNodes));
    expect(r.after.integerOps['com.microsoft:QLinearSigmoid']).toBeGreaterThan(0);
    expect(r.after.integerOps['com.microsoft:QLinearMul']).toBeGreaterThan(0);
    expect(r.after.qdqPairs).toBe(0);
    expect(r.after.constantDequantize).toBe(0);
    // The stem and head stay float: the islands have entries and exits, but few.
    expect(r.after.quantizeLinear).toBeGreaterThan(0);
    expect(r.after.dequantizeLinear).toBeGreaterThan(0);
    expect(r.after.quantizeLinear + r.after.dequantizeLinear).toBeLessThan((r.before.quantizeLinear + r.before.dequantizeLinear) / 10);
    expect(sum(r.after.integerOps)).toBeGreaterThan(sum(r.after.floatOps));
  });
});
