import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { defaultModelSourcePath, fixInputShapes, inspectModel, readModel, writeModel } from '../index';

describe('fixInputShapes with onnxruntime', () => {
  it('fixes the real PaddleOCR detector to a non-square size that ORT then plans and runs', async () => {
    const { model, inputs } = fixInputShapes(readModel(readFileSync(defaultModelSourcePath())), { x: [1, 3, 256, 480] });
    expect(inspectModel(model).inputs[0]?.dims).toEqual([1, 3, 256, 480]);
    const session = await ort.InferenceSession.create(writeModel(model), { executionProviders: ['cpu'] });
    try {
      const meta = session.inputMetadata[0];
      expect(meta?.isTensor && meta.shape).toEqual(inputs[0]?.shape);
      const out = await session.run({ x: new ort.Tensor('float32', new Float32Array(3 * 256 * 480), [1, 3, 256, 480]) });
      expect(out['sigmoid_0.tmp_0']?.dims).toEqual([1, 1, 256, 480]);
    } finally {
      await session.release();
    }
  });
});
