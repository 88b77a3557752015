import type { TensorSpec } from '@benchfarm/protocol';
import { TensorDataType } from '@benchfarm/protocol';
import * as ort from 'onnxruntime-node';
import { InvalidTensorSpecError, UnsupportedTensorDataTypeError } from './errors';
import { mulberry32 } from '@benchfarm/numerics';
import { elementCount, halfBitsOfGridValue } from './tensor-spec';

/** Feeds for `InferenceSession.run`, one tensor per model input. */
export type Feeds = Record<string, ort.Tensor>;

/**
 * Input tensors for a job, filled from one mulberry32 stream seeded with `seed`, input by
 * input in spec order, so the same specs and seed always give the same bytes. Floats are
 * uniform in [0, 1) (a normalised image's range); int8/int32/int64 are in [0, 10), small
 * enough to be valid indices or lengths for most models; uint8 spans [0, 256) because
 * uint8 inputs are almost always raw pixels; bool is 0/1.
 *
 * Thrown errors: UnsupportedTensorDataTypeError for types onnxruntime-node cannot feed
 * (UNSPECIFIED, UNRECOGNIZED), InvalidTensorSpecError for non-fixed shapes or repeated names.
 */
export function createInputs(specs: readonly TensorSpec[], seed: number): Feeds {
  const random = mulberry32(seed);
  const feeds: Feeds = {};
  for (const spec of specs) {
    if (Object.hasOwn(feeds, spec.name)) throw new InvalidTensorSpecError(spec.name, 'the input is listed twice');
    feeds[spec.name] = createTensor(spec, random);
  }
  return feeds;
}

function createTensor(spec: TensorSpec, random: () => number): ort.Tensor {
  const size = elementCount(spec);
  const dims = spec.shape;
  switch (spec.dataType) {
    case TensorDataType.TENSOR_DATA_TYPE_FLOAT32: {
      const data = new Float32Array(size);
      for (let i = 0; i < size; i++) data[i] = random();
      return new ort.Tensor('float32', data, dims);
    }
    case TensorDataType.TENSOR_DATA_TYPE_FLOAT64: {
      const data = new Float64Array(size);
      for (let i = 0; i < size; i++) data[i] = random();
      return new ort.Tensor('float64', data, dims);
    }
    case TensorDataType.TENSOR_DATA_TYPE_FLOAT16: {
      // Node 20 has no Float16Array; onnxruntime-node takes the raw half bits in a Uint16Array.
      const data = new Uint16Array(size);
      for (let i = 0; i < size; i++) data[i] = halfBitsOfGridValue(Math.floor(random() * 2048));
      return new ort.Tensor('float16', data, dims);
    }
    case TensorDataType.TENSOR_DATA_TYPE_INT64: {
      const data = new BigInt64Array(size);
      for (let i = 0; i < size; i++) data[i] = BigInt(Math.floor(random() * 10));
      return new ort.Tensor('int64', data, dims);
    }
    case TensorDataType.TENSOR_DATA_TYPE_INT32: {
      const data = new Int32Array(size);
      for (let i = 0; i < size; i++) data[i] = Math.floor(random() * 10);
      return new ort.Tensor('int32', data, dims);
    }
    case TensorDataType.TENSOR_DATA_TYPE_INT8: {
      const data = new Int8Array(size);
      for (let i = 0; i < size; i++) data[i] = Math.floor(random() * 10);
      return new ort.Tensor('int8', data, dims);
    }
    case TensorDataType.TENSOR_DATA_TYPE_UINT8: {
      const data = new Uint8Array(size);
      for (let i = 0; i < size; i++) data[i] = Math.floor(random() * 256);
      return new ort.Tensor('uint8', data, dims);
    }
    case TensorDataType.TENSOR_DATA_TYPE_BOOL: {
      const data = new Uint8Array(size);
      for (let i = 0; i < size; i++) data[i] = random() < 0.5 ? 0 : 1;
      return new ort.Tensor('bool', data, dims);
    }
    default:
      throw new UnsupportedTensorDataTypeError(spec.name, spec.dataType);
  }
}

