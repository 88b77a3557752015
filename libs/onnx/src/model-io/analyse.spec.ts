import { readFileSync } from 'node:fs';
import { TensorDataType } from '@benchfarm/protocol';
import { describe, expect, it } from 'vitest';
import { defaultModelSourcePath, inspectModel, readModel } from '../index';
import { tinyAddModel } from '../tiny-model.fixture';

describe('inspectModel', () => {
  it('leaves initializers listed as graph inputs out of the inputs', () => {
    const info = inspectModel(tinyAddModel({ initializerAsInput: true, inputDims: ['batch', 4] }), 123);
    expect(info.inputs).toEqual([{ name: 'X', elemType: 1, dataType: TensorDataType.TENSOR_DATA_TYPE_FLOAT32, dims: ['batch', 4] }]);
    expect(info.outputs.map((o) => o.name)).toEqual(['Y']);
    expect(info).toMatchObject({ irVersion: 8, producer: 'benchfarm-test 1', opsets: [{ domain: '', version: 13 }], nodeCount: 1, opHistogram: { Add: 1 } });
    expect(info).toMatchObject({ parameterCount: 4, initializerParameterCount: 4, initializerBytes: 16, constantBytes: 0, fileSizeBytes: 123 });
  });

  it('counts weights held in Constant nodes as parameters', () => {
    const info = inspectModel(tinyAddModel({ weightInConstant: true }));
    expect(info).toMatchObject({ parameterCount: 4, initializerParameterCount: 0, constantParameterCount: 4, constantBytes: 16, opHistogram: { Constant: 1, Add: 1 } });
  });

  it('describes the real PaddleOCR detector', () => {
    const bytes = readFileSync(defaultModelSourcePath());
    const info = inspectModel(readModel(bytes), bytes.length);
    expect(info.inputs).toEqual([{ name: 'x', elemType: 1, dataType: TensorDataType.TENSOR_DATA_TYPE_FLOAT32, dims: ['p2o.DynamicDimension.0', 3, 'p2o.DynamicDimension.1', 'p2o.DynamicDimension.2'] }]);
    expect(info.nodeCount).toBe(672);
    expect(info.opHistogram.Conv).toBe(62);
    // paddle2onnx stores every weight in a Constant node: ~1.17M parameters, none in initializers.
    expect(info.initializerParameterCount).toBe(0);
    expect(info.parameterCount).toBeGreaterThan(1_000_000);
    expect(info.constantBytes).toBeLessThan(bytes.length);
  });
});
