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
  const below = (n: number): number => Math.floor(random() * n);
  switch (spec.dataType) {
    case TensorDataType.TENSOR_DATA_TYPE_FLOAT32:
      return new ort.Tensor('float32', filled(new Float32Array(size), random), dims);
    case TensorDataType.TENSOR_DATA_TYPE_FLOAT64:
      return new ort.Tensor('float64', filled(new Float64Array(size), random), dims);
    case TensorDataType.TENSOR_DATA_TYPE_FLOAT16:
      // Node 20 has no Float16Array; onnxruntime-node takes the raw half bits in a Uint16Array.
      return new ort.Tensor('float16', filled(new Uint16Array(size), () => halfBitsOfGridValue(below(2048))), dims);
    case TensorDataType.TENSOR_DATA_TYPE_INT64:
      return new ort.Tensor('int64', filled(new BigInt64Array(size), () => BigInt(below(10))), dims);
    case TensorDataType.TENSOR_DATA_TYPE_INT32:
      return new ort.Tensor('int32', filled(new Int32Array(size), () => below(10)), dims);
    case TensorDataType.TENSOR_DATA_TYPE_INT8:
      return new ort.Tensor('int8', filled(new Int8Array(size), () => below(10)), dims);
    case TensorDataType.TENSOR_DATA_TYPE_UINT8:
      return new ort.Tensor('uint8', filled(new Uint8Array(size), () => below(256)), dims);
    case TensorDataType.TENSOR_DATA_TYPE_BOOL:
      return new ort.Tensor('bool', filled(new Uint8Array(size), (): number => (random() < 0.5 ? 0 : 1)), dims);
    default:
      throw new UnsupportedTensorDataTypeError(spec.name, spec.dataType);
  }
}

/** `data` with every element set from `next`, first to last (one draw each, so the stream's order is kept). */
function filled<V, A extends { length: number; [index: number]: V }>(data: A, next: () => V): A {
  for (let i = 0; i < data.length; i++) data[i] = next();
  return data;
}

