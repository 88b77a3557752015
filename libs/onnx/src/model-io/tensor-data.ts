import { onnx, OnnxElemType, toNumber, type TensorProto } from './proto';

/** Thrown when a tensor's data cannot be read as the type a pass needs (external data, an odd type). */
export class TensorDataError extends Error {
  override name = 'TensorDataError';
  constructor(
    readonly tensor: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`tensor ${JSON.stringify(tensor)}: ${message}`, options);
  }
}

/** The dims of a stored tensor as numbers. */
export function dimsOf(tensor: TensorProto): number[] {
  return (tensor.dims ?? []).map((d) => toNumber(d));
}

function rawView(tensor: TensorProto): DataView | undefined {
  const raw = tensor.rawData;
  if (!raw || raw.length === 0) return undefined;
  return new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
}

/**
 * The values of a FLOAT, FLOAT16 or DOUBLE tensor as float32 (from `float_data`/`double_data`/
 * `int32_data` (fp16 bits) or little-endian `raw_data`). Thrown ({@link TensorDataError}) for
 * external data and other types.
 */
export function floatsOf(tensor: TensorProto): Float32Array {
  const name = tensor.name ?? '';
  if (tensor.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) throw new TensorDataError(name, 'its data is external; inline it first');
  const count = dimsOf(tensor).reduce((a, b) => a * b, 1);
  const view = rawView(tensor);
  const out = new Float32Array(count);
  switch (tensor.dataType) {
    case OnnxElemType.FLOAT:
      if (view) for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
      else out.set(tensor.floatData ?? []);
      return out;
    case OnnxElemType.DOUBLE:
      if (view) for (let i = 0; i < count; i++) out[i] = view.getFloat64(i * 8, true);
      else out.set(tensor.doubleData ?? []);
      return out;
    case OnnxElemType.FLOAT16:
      for (let i = 0; i < count; i++) out[i] = float16BitsToFloat32(view ? view.getUint16(i * 2, true) : (tensor.int32Data?.[i] ?? 0));
      return out;
    default:
      throw new TensorDataError(name, `is of ONNX element type ${tensor.dataType ?? 0}, not a float type`);
  }
}

/** The values of an INT64 or INT32 tensor (shape and axis constants) as numbers. */
export function integersOf(tensor: TensorProto): number[] {
  const name = tensor.name ?? '';
  const count = dimsOf(tensor).reduce((a, b) => a * b, 1);
  const view = rawView(tensor);
  const out: number[] = [];
  if (tensor.dataType === OnnxElemType.INT64) {
    for (let i = 0; i < count; i++) out.push(view ? Number(view.getBigInt64(i * 8, true)) : toNumber(tensor.int64Data?.[i]));
    return out;
  }
  if (tensor.dataType === OnnxElemType.INT32) {
    for (let i = 0; i < count; i++) out.push(view ? view.getInt32(i * 4, true) : (tensor.int32Data?.[i] ?? 0));
    return out;
  }
  throw new TensorDataError(name, `is of ONNX element type ${tensor.dataType ?? 0}, not INT64/INT32`);
}

function rawTensor(name: string, dims: readonly number[], dataType: number, bytes: Uint8Array): TensorProto {
  return onnx.TensorProto.create({ name, dims: [...dims], dataType, rawData: bytes });
}

/** A FLOAT tensor stored as `raw_data`. */
export function floatTensor(name: string, dims: readonly number[], values: Float32Array): TensorProto {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i] ?? 0, true);
  return rawTensor(name, dims, OnnxElemType.FLOAT, bytes);
}

/** A FLOAT16 tensor from fp16 bit patterns. */
export function float16Tensor(name: string, dims: readonly number[], bits: Uint16Array): TensorProto {
  const bytes = new Uint8Array(bits.length * 2);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < bits.length; i++) view.setUint16(i * 2, bits[i] ?? 0, true);
  return rawTensor(name, dims, OnnxElemType.FLOAT16, bytes);
}

/** An INT8 tensor. */
export function int8Tensor(name: string, dims: readonly number[], values: Int8Array): TensorProto {
  return rawTensor(name, dims, OnnxElemType.INT8, new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength)));
}

/** A UINT8 tensor. */
export function uint8Tensor(name: string, dims: readonly number[], values: Uint8Array): TensorProto {
  return rawTensor(name, dims, OnnxElemType.UINT8, Uint8Array.from(values));
}

/** An INT32 tensor. */
export function int32Tensor(name: string, dims: readonly number[], values: Int32Array): TensorProto {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setInt32(i * 4, values[i] ?? 0, true);
  return rawTensor(name, dims, OnnxElemType.INT32, bytes);
}

/** An INT64 tensor (shape/axes constants). */
export function int64Tensor(name: string, dims: readonly number[], values: readonly number[]): TensorProto {
  const bytes = new Uint8Array(values.length * 8);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setBigInt64(i * 8, BigInt(values[i] ?? 0), true);
  return rawTensor(name, dims, OnnxElemType.INT64, bytes);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * IEEE binary16 bits of a float32, rounded to nearest even as numpy's `astype(np.float16)`;
 * values past the fp16 range become +-Infinity (callers clip first).
 */
export function float32ToFloat16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0] ?? 0;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let h = mant >>> shift;
    if (rest > half || (rest === half && (h & 1) === 1)) h += 1;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1)) h += 1;
  return sign | h;
}

/** float32 value of IEEE binary16 bits. */
export function float16BitsToFloat32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}
