import { describe, expect, it } from 'vitest';
import { bootstrapCounts, bootstrapLatencyIntervals, coefficientOfVariation, pairedRatio, percentileInterval, stabilityOf } from './confidence';

const oneTo = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);

describe('coefficientOfVariation', () => {
  it.each([
    // hand-computed: sample std / mean
    { values: [2, 4, 4, 4, 5, 5, 7, 9], cv: Math.sqrt(32 / 7) / 5 },
    { values: [10, 10, 10], cv: 0 },
    { values: [1, 3], cv: Math.SQRT2 / 2 },
    { values: [5], cv: Number.NaN },
    { values: [-1, 1], cv: Number.NaN },
  ])('$values -> $cv', ({ values, cv }) => {
    if (Number.isNaN(cv)) expect(coefficientOfVariation(values)).toBeNaN();
    else expect(coefficientOfVariation(values)).toBeCloseTo(cv, 12);
  });
});

describe('percentileInterval', () => {
  it.each([
    // B, level, expected (low, high) as values of 0..B-1: floor(B * a / 2) and ceil(B * (1 - a / 2)) - 1
    { count: 1000, level: 0.95, low: 25, high: 974 },
    { count: 40, level: 0.95, low: 1, high: 38 },
    { count: 10, level: 0.9, low: 0, high: 9 },
    { count: 1, level: 0.95, low: 0, high: 0 },
  ])('B=$count level=$level -> [$low, $high]', ({ count, level, low, high }) => {
    const sorted = Array.from({ length: count }, (_, i) => i);
    expect(percentileInterval(sorted, level)).toEqual({ low, high, level });
  });
});

describe('bootstrapLatencyIntervals', () => {
  it('is a point for a constant sample', () => {
    const ci = bootstrapLatencyIntervals([4, 4, 4, 4, 4], { resamples: 200 });
    expect(ci.p50).toEqual({ low: 4, high: 4, level: 0.95 });
    expect(ci.mean.low).toBeCloseTo(4, 12);
    expect(ci.mean.high).toBeCloseTo(4, 12);
  });

  it('is reproducible from its seed and changes with it', () => {
    const values = oneTo(101).map((v) => v * 0.37);
    const a = bootstrapLatencyIntervals(values, { seed: 7 });
    expect(bootstrapLatencyIntervals(values, { seed: 7 })).toEqual(a);
    expect(bootstrapLatencyIntervals(values, { seed: 8 })).not.toEqual(a);
    expect(a).toMatchObject({ resamples: 1000, seed: 7 });
  });

  it('brackets the statistic with a width of the order of its standard error', () => {
    // 1..101: p50 = 51, mean = 51; the median's standard error is ~ 1.25 * 29.3 / sqrt(101) = 3.6,
    // the mean's 29.3 / sqrt(101) = 2.9, so a 95% CI spans roughly +-7 and +-6.
    const ci = bootstrapLatencyIntervals(oneTo(101));
    expect(ci.p50.low).toBeLessThan(51);
    expect(ci.p50.high).toBeGreaterThan(51);
    expect(ci.p50.low).toBeGreaterThan(38);
    expect(ci.p50.high).toBeLessThan(64);
    expect(ci.mean.low).toBeGreaterThan(43);
    expect(ci.mean.high).toBeLessThan(59);
    expect(ci.mean.low).toBeLessThan(51);
    expect(ci.mean.high).toBeGreaterThan(51);
  });

  it('draws p50 values from the sample (no interpolation)', () => {
    const values = [1, 2, 3, 100, 200];
    const ci = bootstrapLatencyIntervals(values, { resamples: 300 });
    expect(values).toContain(ci.p50.low);
    expect(values).toContain(ci.p50.high);
  });

  it('refuses an empty sample and bad options', () => {
    expect(() => bootstrapLatencyIntervals([])).toThrow(RangeError);
    expect(() => bootstrapLatencyIntervals([1], { resamples: 0 })).toThrow(/resamples/);
    expect(() => bootstrapLatencyIntervals([1], { level: 1 })).toThrow(/level/);
  });
});

describe('pairedRatio', () => {
  it.each([
    { reference: [10, 10, 10, 10], variant: [5, 5, 5, 5], ratio: 0.5, low: 0.5, high: 0.5 },
    { reference: [10, 20, 40], variant: [10, 40, 120], ratio: 2, low: 1, high: 3 },
  ])('$variant / $reference -> $ratio in [$low, $high]', ({ reference, variant, ratio, low, high }) => {
    const estimate = pairedRatio(reference, variant, { resamples: 500 });
    expect(estimate.ratio).toBeCloseTo(ratio, 12);
    expect(estimate.interval?.low).toBeCloseTo(low, 12);
    expect(estimate.interval?.high).toBeCloseTo(high, 12);
    expect(estimate.rounds).toBe(reference.length);
  });

  it('cancels drift that hits both alike: the ratio stays tight while both latencies double', () => {
    const reference = [10, 12, 15, 20, 20, 15, 12, 10];
    const variant = reference.map((r) => r * 0.8);
    const estimate = pairedRatio(reference, variant);
    expect(estimate.interval?.low).toBeCloseTo(0.8, 12);
    expect(estimate.interval?.high).toBeCloseTo(0.8, 12);
  });

  it('gives no interval for one round', () => {
    expect(pairedRatio([10], [12])).toEqual({ ratio: 1.2, rounds: 1 });
  });

  it('refuses unpaired or empty rounds and a non-positive reference', () => {
    expect(() => pairedRatio([1, 2], [1])).toThrow(/differ in length/);
    expect(() => pairedRatio([], [])).toThrow(/at least one round/);
    expect(() => pairedRatio([0, 1], [1, 1])).toThrow(/round 0/);
  });
});

describe('stabilityOf (last 3 windows within tolerance)', () => {
  const repeat = (value: number, times: number): number[] => Array.from({ length: times }, () => value);

  it.each([
    // window means [10, 10, 10, 11]: last three spread 1 / 10.333 = 9.68%
    { values: [...repeat(10, 12), ...repeat(11, 4)], windows: 4, tolerance: 10, stable: true, spread: (1 / (31 / 3)) * 100 },
    { values: [...repeat(10, 12), ...repeat(11, 4)], windows: 4, tolerance: 9, stable: false, spread: (1 / (31 / 3)) * 100 },
    // means [20, 10, 10, 10]: the first window (drift at start) does not count
    { values: [...repeat(20, 4), ...repeat(10, 12)], windows: 4, tolerance: 1, stable: true, spread: 0 },
  ])('$windows windows at $tolerance% -> $stable', ({ values, windows, tolerance, stable, spread }) => {
    const verdict = stabilityOf(values, windows, tolerance);
    expect(verdict.stable).toBe(stable);
    expect(verdict.lastWindowsSpreadPct).toBeCloseTo(spread, 9);
    expect(verdict.windowCount).toBe(windows);
  });

  it('gives the remainder to the last window', () => {
    const verdict = stabilityOf([1, 1, 1, 2, 2, 2, 3, 3, 3, 7], 3, 10);
    expect(verdict.windowQueries).toBe(3);
    expect(verdict.windowMeanMs).toEqual([1, 2, 4]);
  });

  it('is never stable below 3 windows', () => {
    const verdict = stabilityOf([5, 5], 5, 10);
    expect(verdict).toMatchObject({ windowCount: 2, stable: false });
    expect(verdict.lastWindowsSpreadPct).toBeUndefined();
  });
});

describe('bootstrapCounts', () => {
  it('draws n images per resample, the same for the same seed', () => {
    const a = bootstrapCounts(7, 50, 42);
    expect(a).toHaveLength(50);
    for (const counts of a) expect(counts.reduce((s, c) => s + c, 0)).toBe(7);
    expect(bootstrapCounts(7, 50, 42)).toEqual(a);
    expect(bootstrapCounts(7, 50, 43)).not.toEqual(a);
    expect(() => bootstrapCounts(7, 0, 1)).toThrow(/resamples/);
  });
});
