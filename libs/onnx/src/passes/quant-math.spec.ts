import { describe, expect, it } from 'vitest';
import { computeScaleZp, entropyRange, HISTOGRAM_BINS, accumulateHistogram, percentileRange, quantizeBias, quantizeValue, quantizeWeightsPerChannel, roundHalfEven } from './quant-math';

describe('roundHalfEven (numpy round, not Math.round)', () => {
  it.each([
    [0.5, 0],
    [1.5, 2],
    [2.5, 2],
    [-0.5, -0],
    [-1.5, -2],
    [-2.5, -2],
    [63.5, 64],
    [64.5, 64],
    [2.4999, 2],
    [-2.6, -3],
  ])('%d -> %d', (x, expected) => {
    expect(roundHalfEven(x)).toBe(expected);
  });
});

describe('computeScaleZp (onnxruntime compute_scale_zp), hand-computed', () => {
  it('uint8 asymmetric: [-1, 3] -> scale 4/255, zp round(1 / (4/255)) = round(63.75) = 64', () => {
    const r = computeScaleZp(-1, 3, 'uint8', false);
    expect(r.scale).toBe(Math.fround(4 / 255));
    expect(r.zeroPoint).toBe(64);
  });
  it('the range is widened to include 0: [0.5, 2] quantizes as [0, 2], zp 0', () => {
    expect(computeScaleZp(0.5, 2, 'uint8', false)).toEqual({ scale: Math.fround(2 / 255), zeroPoint: 0 });
  });
  it('int8 symmetric: [-2, 1] -> +-2 over [-127, 127], zp 0', () => {
    expect(computeScaleZp(-2, 1, 'int8', true)).toEqual({ scale: Math.fround(4 / 254), zeroPoint: 0 });
  });
  it('uint8 symmetric: zp is 127.5 rounded half-to-even = 128', () => {
    expect(computeScaleZp(-1, 1, 'uint8', true).zeroPoint).toBe(128);
  });
  it('a constant-zero tensor gets scale 1, zp 0 (not a division by zero)', () => {
    expect(computeScaleZp(0, 0, 'uint8', false)).toEqual({ scale: 1, zeroPoint: 0 });
  });
  it('int8 asymmetric over [-128, 127]: [-1, 1] -> float32 scale 0.0078431377 (just above 2/255), rmin/scale = -127.49999 in float32, zp round(-0.50001) = -1 as numpy gives', () => {
    const r = computeScaleZp(-1, 1, 'int8', false);
    expect(r.scale).toBe(Math.fround(2 / 255));
    expect(r.zeroPoint).toBe(-1);
  });
});

describe('quantization of values, weights and biases', () => {
  it('rounds x/scale half-to-even and saturates', () => {
    expect(quantizeValue(2.5, 1, 0, 'int8', true)).toBe(2);
    expect(quantizeValue(3.5, 1, 0, 'int8', true)).toBe(4);
    expect(quantizeValue(1000, 1, 0, 'int8', true)).toBe(127);
    expect(quantizeValue(-1000, 1, 0, 'int8', true)).toBe(-127);
    expect(quantizeValue(-1000, 1, 10, 'uint8')).toBe(0);
  });
  it('per-channel symmetric int8 along axis 0, one scale per output channel', () => {
    // channel 0: max|w| = 2 -> scale 2/127; 1 / (2/127) = 63.5 -> 64 (even)
    // channel 1: max|w| = 0.5 -> scale 0.5/127; 0.25 / (0.5/127) = 63.5 -> 64
    const { data, scales } = quantizeWeightsPerChannel(Float32Array.of(1, -2, 0.5, 0.25), [2, 2], 0);
    expect([...scales]).toEqual([Math.fround(2 / 127), Math.fround(0.5 / 127)]);
    expect([...data]).toEqual([64, -127, 127, 64]);
  });
  it('per-channel along axis 1 (ConvTranspose layout)', () => {
    const { scales } = quantizeWeightsPerChannel(Float32Array.of(1, 4, -3, 2), [2, 2], 1);
    expect([...scales]).toEqual([Math.fround(3 / 127), Math.fround(4 / 127)]);
  });
  it('bias to int32 at input_scale x weight_scale, zp 0', () => {
    const { data, scales } = quantizeBias(Float32Array.of(1, -0.5), 0.1, Float32Array.of(0.02, 0.05));
    expect(scales[0]).toBeCloseTo(0.002, 9);
    expect([...data]).toEqual([500, -100]);
  });
});

describe('histogram calibration', () => {
  const values = new Float32Array(100_000);
  for (let i = 0; i < values.length; i++) values[i] = ((i % 1000) / 1000) * (i % 2 ? 1 : -1);
  values[7] = 50; // one outlier
  const stats = { min: -0.999, max: 50, absMax: 50, histogram: new Float64Array(HISTOGRAM_BINS) };
  accumulateHistogram(stats.histogram, values, stats.absMax);

  it('the histogram counts every value', () => {
    expect(stats.histogram.reduce((a, b) => a + b, 0)).toBe(values.length);
  });
  it('percentile 99.9 cuts the outlier: the range ends near 1, not at 50', () => {
    const r = percentileRange(stats, 99.9);
    expect(r.rmax).toBeGreaterThan(0.9);
    expect(r.rmax).toBeLessThan(1.1);
    // symmetric |x| threshold, clipped to the observed minimum
    expect(r.rmin).toBe(-r.rmax);
  });
  it('percentile 100 keeps the outlier', () => {
    expect(percentileRange(stats, 100).rmax).toBeGreaterThan(49);
  });
  it('entropy picks a threshold well below the outlier', () => {
    const r = entropyRange(stats);
    expect(r.rmax).toBeLessThan(25);
    expect(r.rmax).toBeGreaterThan(0.5);
  });
});
