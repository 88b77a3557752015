import { readFileSync } from 'node:fs';
import { TensorDataType } from '@benchfarm/protocol';
import { describe, expect, it } from 'vitest';
import { InvalidModelError, defaultModelSourcePath, defaultShapes, fixInputShapes, inspectModel, readModel, writeModel, type InputShapes, type ModelInfo } from '../index';
import { tinyAddModel } from '../tiny-model.fixture';

function refusal(fn: () => unknown): InvalidModelError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidModelError);
    return err as InvalidModelError;
  }
  throw new Error('expected an InvalidModelError');
}

describe('fixInputShapes', () => {
  const dynamic = tinyAddModel({ inputDims: ['batch', 4] });

  it('makes every input dim concrete in a copy, and returns the specs', () => {
    const { model, inputs } = fixInputShapes(dynamic, { X: [2, 4] });
    expect(inputs).toEqual([{ name: 'X', dataType: TensorDataType.TENSOR_DATA_TYPE_FLOAT32, shape: [2, 4] }]);
    expect(inspectModel(readModel(writeModel(model))).inputs[0]?.dims).toEqual([2, 4]);
    expect(inspectModel(dynamic).inputs[0]?.dims).toEqual(['batch', 4]);
  });

  it('fixes the real PaddleOCR detector', () => {
    const { model, inputs } = fixInputShapes(readModel(readFileSync(defaultModelSourcePath())), { x: [1, 3, 320, 320] });
    expect(inputs).toEqual([{ name: 'x', dataType: TensorDataType.TENSOR_DATA_TYPE_FLOAT32, shape: [1, 3, 320, 320] }]);
    expect(inspectModel(model).inputs[0]?.dims).toEqual([1, 3, 320, 320]);
  });

  it.each<[string, InputShapes, string, string]>([
    ['an unknown input', { X: [1, 4], images: [1, 3, 8, 8] }, 'invalid_shape', 'shapes.images'],
    ['a wrong rank', { X: [1, 4, 1] }, 'invalid_shape', 'shapes.X'],
    ['a conflict with a fixed dim', { X: [1, 5] }, 'invalid_shape', 'shapes.X[1]'],
    ['a zero size', { X: [0, 4] }, 'invalid_shape', 'shapes.X[0]'],
    ['a fractional size', { X: [1.5, 4] }, 'invalid_shape', 'shapes.X[0]'],
    ['no shape for a dynamic input', {}, 'invalid_shape', 'shapes.X'],
  ])('refuses %s, naming the field', (_what, shapes, code, field) => {
    const err = refusal(() => fixInputShapes(dynamic, shapes));
    expect(err.code).toBe(code);
    expect(err.field).toBe(field);
  });

  it('needs no shape for an input that is fixed already', () => {
    expect(fixInputShapes(tinyAddModel(), {}).inputs[0]?.shape).toEqual([1, 4]);
  });
});

describe('defaultShapes', () => {
  const info = (dims: ModelInfo['inputs'][number]['dims']): Pick<ModelInfo, 'inputs'> => ({
    inputs: [{ name: 'x', elemType: 1, dataType: TensorDataType.TENSOR_DATA_TYPE_FLOAT32, dims }],
  });

  it.each<[string, ModelInfo['inputs'][number]['dims'], { batch: number; spatial?: number }, number[]]>([
    ['NCHW with dynamic batch and size', ['n', 3, 'h', 'w'], { batch: 1, spatial: 320 }, [1, 3, 320, 320]],
    ['NHWC', [null, 'h', 'w', 3], { batch: 2, spatial: 224 }, [2, 224, 224, 3]],
    ['fixed dims kept', [1, 3, 416, 416], { batch: 4 }, [1, 3, 416, 416]],
    ['only the batch dynamic', ['batch', 3, 640, 640], { batch: 1 }, [1, 3, 640, 640]],
  ])('fills %s', (_what, dims, options, expected) => {
    expect(defaultShapes(info(dims), options)).toEqual({ x: expected });
  });

  it.each<[string, ModelInfo['inputs'][number]['dims'], { batch: number; spatial?: number }, string]>([
    ['an image size without spatial', ['n', 3, 'h', 'w'], { batch: 1 }, 'inputs.x[2]'],
    ['a sequence length', ['batch', 'sequence'], { batch: 1, spatial: 320 }, 'inputs.x[1]'],
    ['an input of unknown rank', null, { batch: 1 }, 'inputs.x'],
  ])('refuses to guess %s', (_what, dims, options, field) => {
    const err = refusal(() => defaultShapes(info(dims), options));
    expect(err.code).toBe('ambiguous_shape');
    expect(err.field).toBe(field);
  });

  it('picks [1,3,320,320] for the real PaddleOCR detector', () => {
    const model = readModel(readFileSync(defaultModelSourcePath()));
    expect(defaultShapes(inspectModel(model), { batch: 1, spatial: 320 })).toEqual({ x: [1, 3, 320, 320] });
  });
});
