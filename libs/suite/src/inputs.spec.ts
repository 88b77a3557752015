import { TensorDataType } from '@benchfarm/protocol';
import type { TensorSpec } from '@benchfarm/protocol';
import { describe, expect, it } from 'vitest';
import { InvalidTensorSpecError, UnsupportedTensorDataTypeError } from './errors';
import { createInputs } from './inputs';
import { mulberry32 } from '@benchfarm/numerics';
import { formatInputShapes, halfBitsOfGridValue } from './tensor-spec';

const T = TensorDataType;
const spec = (name: string, dataType: TensorDataType, shape: number[]): TensorSpec => ({ name, dataType, shape });

/** Decodes IEEE half bits, independently of the encoder under test. */
function halfToNumber(bits: number): number {
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  const sign = bits & 0x8000 ? -1 : 1;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

describe('mulberry32', () => {
  it('is pinned: a seed must name the same inputs in every release', () => {
    const random = mulberry32(42);
    expect([random(), random(), random()]).toEqual([0.6011037519201636, 0.44829055899754167, 0.8524657934904099]);
  });

  it('stays in [0, 1)', () => {
    const random = mulberry32(7);
    for (let i = 0; i < 10_000; i++) {
      const x = random();
      expect(x >= 0 && x < 1).toBe(true);
    }
  });
});

describe('halfBitsOfGridValue', () => {
  it.each([
    { k: 0, value: 0, bits: 0x0000 },
    { k: 1, value: 2 ** -11, bits: 0x1000 },
    { k: 512, value: 0.25, bits: 0x3400 },
    { k: 1024, value: 0.5, bits: 0x3800 },
    { k: 1536, value: 0.75, bits: 0x3a00 },
    { k: 2047, value: 2047 / 2048, bits: 0x3bff },
  ])('k=$k -> $bits', ({ k, value, bits }) => {
    expect(halfBitsOfGridValue(k)).toBe(bits);
    expect(halfToNumber(bits)).toBe(value);
  });

  it('is exact for the whole grid', () => {
    for (let k = 0; k < 2048; k++) expect(halfToNumber(halfBitsOfGridValue(k))).toBe(k / 2048);
  });
});

describe('createInputs', () => {
  const specs = [
    spec('image', T.TENSOR_DATA_TYPE_FLOAT32, [1, 3, 4, 4]),
    spec('half', T.TENSOR_DATA_TYPE_FLOAT16, [2, 8]),
    spec('double', T.TENSOR_DATA_TYPE_FLOAT64, [5]),
    spec('ids', T.TENSOR_DATA_TYPE_INT64, [1, 16]),
    spec('lengths', T.TENSOR_DATA_TYPE_INT32, [4]),
    spec('small', T.TENSOR_DATA_TYPE_INT8, [4]),
    spec('pixels', T.TENSOR_DATA_TYPE_UINT8, [1, 2, 2, 3]),
    spec('mask', T.TENSOR_DATA_TYPE_BOOL, [32]),
    spec('scalar', T.TENSOR_DATA_TYPE_FLOAT32, []),
  ];

  it('creates every supported type with its shape', () => {
    const feeds = createInputs(specs, 1);
    expect(Object.keys(feeds)).toEqual(specs.map((s) => s.name));
    expect(Object.values(feeds).map((t) => [t.type, t.dims])).toEqual([
      ['float32', [1, 3, 4, 4]],
      ['float16', [2, 8]],
      ['float64', [5]],
      ['int64', [1, 16]],
      ['int32', [4]],
      ['int8', [4]],
      ['uint8', [1, 2, 2, 3]],
      ['bool', [32]],
      ['float32', []],
    ]);
    expect(feeds.scalar!.size).toBe(1);
  });

  it('fills each type within its documented range', () => {
    const feeds = createInputs(specs, 3);
    const values = (name: string) => Array.from(feeds[name]!.data as ArrayLike<number | bigint>, Number);
    for (const name of ['image', 'double', 'scalar']) expect(values(name).every((x) => x >= 0 && x < 1)).toBe(true);
    expect(values('half').map(halfToNumber).every((x) => x >= 0 && x < 1)).toBe(true);
    for (const name of ['ids', 'lengths', 'small']) expect(values(name).every((x) => Number.isInteger(x) && x >= 0 && x < 10)).toBe(true);
    expect(values('pixels').every((x) => x >= 0 && x < 256)).toBe(true);
    expect(new Set(values('mask'))).toEqual(new Set([0, 1]));
  });

  it('is deterministic for a seed and differs across seeds', () => {
    const bytes = (seed: number) => Object.values(createInputs(specs, seed)).map((t) => Array.from(t.data as ArrayLike<number | bigint>, Number));
    expect(bytes(9)).toEqual(bytes(9));
    expect(bytes(9)).not.toEqual(bytes(10));
  });

  it.each([
    { shape: [1, -1, 4], why: 'dynamic' },
    { shape: [1, 0], why: 'zero' },
    { shape: [1.5], why: 'fractional' },
  ])('rejects a $why dimension', ({ shape }) => {
    expect(() => createInputs([spec('x', T.TENSOR_DATA_TYPE_FLOAT32, shape)], 0)).toThrow(InvalidTensorSpecError);
  });

  it('rejects an input listed twice', () => {
    const x = spec('x', T.TENSOR_DATA_TYPE_FLOAT32, [1]);
    expect(() => createInputs([x, x], 0)).toThrow(/listed twice/);
  });

  it.each([T.TENSOR_DATA_TYPE_UNSPECIFIED, T.UNRECOGNIZED])('rejects data type %s by name', (dataType) => {
    const attempt = () => createInputs([spec('x', dataType, [1])], 0);
    expect(attempt).toThrow(UnsupportedTensorDataTypeError);
    expect(attempt).toThrow(/input "x": tensor data type/);
  });
});

describe('formatInputShapes', () => {
  it.each([
    { specs: [spec('images', T.TENSOR_DATA_TYPE_FLOAT32, [1, 3, 320, 320])], text: 'images:1x3x320x320' },
    { specs: [spec('a', T.TENSOR_DATA_TYPE_INT64, [1, 7]), spec('b', T.TENSOR_DATA_TYPE_BOOL, [])], text: 'a:1x7;b:' },
    { specs: [], text: '' },
  ])('$text', ({ specs, text }) => {
    expect(formatInputShapes(specs)).toBe(text);
  });
});
