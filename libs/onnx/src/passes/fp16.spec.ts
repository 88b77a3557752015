import { describe, expect, it } from 'vitest';
import { clipToFloat16Range, FP16_MAX, FP16_MIN_POSITIVE } from './fp16';
import { float16BitsToFloat32, float32ToFloat16Bits } from '../model-io/tensor-data';

describe('fp16 conversion', () => {
  it.each([
    [1, 0x3c00],
    [-2, 0xc000],
    [0.5, 0x3800],
    [65504, 0x7bff],
    [0, 0],
    [5.960464477539063e-8, 0x0001],
    [Number.POSITIVE_INFINITY, 0x7c00],
  ])('%d -> bits 0x%s', (value, bits) => {
    expect(float32ToFloat16Bits(value)).toBe(bits);
  });
  it('rounds to nearest even: 2049 lies halfway between 2048 and 2050 and becomes 2048; 2051 becomes 2052', () => {
    expect(float16BitsToFloat32(float32ToFloat16Bits(2049))).toBe(2048);
    expect(float16BitsToFloat32(float32ToFloat16Bits(2051))).toBe(2052);
  });
  it('values past 65504 overflow to infinity unless clipped first', () => {
    expect(float16BitsToFloat32(float32ToFloat16Bits(70000))).toBe(Number.POSITIVE_INFINITY);
    expect(float16BitsToFloat32(float32ToFloat16Bits(clipToFloat16Range(70000)))).toBe(FP16_MAX);
  });
  it('clips to the fp16 range, not to onnxconverter-common default 1e4', () => {
    expect(clipToFloat16Range(1e6)).toBe(FP16_MAX);
    expect(clipToFloat16Range(-1e6)).toBe(-FP16_MAX);
    expect(clipToFloat16Range(2e4)).toBe(2e4);
    expect(clipToFloat16Range(1e-9)).toBe(FP16_MIN_POSITIVE);
    expect(clipToFloat16Range(-1e-9)).toBe(-FP16_MIN_POSITIVE);
    expect(clipToFloat16Range(0)).toBe(0);
  });
});
