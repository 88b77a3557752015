import { describe, expect, it } from 'vitest';
import { binomialCdf, earlyStoppingMinSamples, max, mean, median, min, percentileOfSorted, sampleStd } from './descriptive';

/** 1, 2, ..., n: the k-th smallest value is k, which makes ranks readable in the tables. */
const oneTo = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);

/** toBeCloseTo that also lets NaN stand for "undefined for this sample". */
function expectClose(actual: number, expected: number): void {
  if (Number.isNaN(expected)) expect(actual).toBeNaN();
  else expect(actual).toBeCloseTo(expected, 12);
}

describe('mean, sampleStd, min, max', () => {
  it.each([
    // values, mean, sample std (hand-computed: sqrt(sum of squared deviations / (n - 1)))
    { values: [1, 2, 3, 4], mean: 2.5, std: Math.sqrt(5 / 3), min: 1, max: 4 },
    { values: [2, 4, 4, 4, 5, 5, 7, 9], mean: 5, std: Math.sqrt(32 / 7), min: 2, max: 9 },
    { values: [3, 3, 3], mean: 3, std: 0, min: 3, max: 3 },
    { values: [5], mean: 5, std: Number.NaN, min: 5, max: 5 },
    { values: [0.5, -1.5], mean: -0.5, std: Math.sqrt(2), min: -1.5, max: 0.5 },
    { values: [], mean: Number.NaN, std: Number.NaN, min: Number.NaN, max: Number.NaN },
  ])('$values', ({ values, ...expected }) => {
    expectClose(mean(values), expected.mean);
    expectClose(sampleStd(values), expected.std);
    expect(min(values)).toBe(expected.min);
    expect(max(values)).toBe(expected.max);
  });

  it('keeps the digits of a tiny spread around a large mean', () => {
    // The one-pass formula returns garbage here; the two-pass one gives the exact 1.
    expect(sampleStd([1e9 + 1, 1e9 + 2, 1e9 + 3])).toBeCloseTo(1, 9);
  });

  it('accepts typed arrays', () => {
    expect(mean(Float64Array.of(1, 2, 3))).toBe(2);
  });
});

describe('percentileOfSorted (LoadGen: sorted[floor(n * q)])', () => {
  it.each([
    // n samples 1..n, quantile, expected value (= 0-based index + 1)
    { n: 1, q: 0.5, value: 1 },
    { n: 1, q: 0.99, value: 1 },
    { n: 10, q: 0.5, value: 6 }, // floor(5) = 5
    { n: 10, q: 0.9, value: 10 }, // floor(9) = 9
    { n: 10, q: 0.99, value: 10 }, // floor(9.9) = 9
    { n: 11, q: 0.5, value: 6 }, // floor(5.5) = 5
    { n: 20, q: 0.9, value: 19 }, // floor(18) = 18
    { n: 20, q: 0.95, value: 20 }, // floor(19) = 19
    { n: 100, q: 0.5, value: 51 },
    { n: 100, q: 0.9, value: 91 }, // whole n*q: one above the textbook nearest rank (90)
    { n: 100, q: 0.95, value: 96 },
    { n: 100, q: 0.99, value: 100 },
    { n: 662, q: 0.99, value: 656 }, // floor(655.38) = 655
    { n: 662, q: 0.95, value: 629 }, // floor(628.9) = 628
  ])('n=$n q=$q -> $value', ({ n, q, value }) => {
    expect(percentileOfSorted(oneTo(n), q)).toBe(value);
  });

  it('is NaN for no samples', () => {
    expect(percentileOfSorted([], 0.5)).toBeNaN();
  });

  it.each([0, 1, -0.1, 1.5, Number.NaN])('rejects quantile %s', (q) => {
    expect(() => percentileOfSorted([1], q)).toThrow(RangeError);
  });
});

describe('binomialCdf', () => {
  it.each([
    { k: 0, n: 3, p: 0.5, cdf: 1 / 8 },
    { k: 2, n: 4, p: 0.5, cdf: (1 + 4 + 6) / 16 },
    { k: 1, n: 10, p: 0.5, cdf: 11 / 1024 },
    { k: 1, n: 11, p: 0.5, cdf: 12 / 2048 },
    { k: 1, n: 2, p: 0.1, cdf: 1 - 0.01 }, // 1 - P(both)
    { k: 3, n: 3, p: 0.7, cdf: 1 },
  ])('P(Bin($n, $p) <= $k) = $cdf', ({ k, n, p, cdf }) => {
    expect(binomialCdf(k, n, p)).toBeCloseTo(cdf, 14);
  });
});

describe('earlyStoppingMinSamples (0.99 confidence, one over-latency query)', () => {
  // P(Bin(n, 1-q) <= 1) = q^n + n(1-q)q^(n-1) = q^(n-1) * (q + n(1-q)).
  // p50: n=10 -> 11/1024 = 0.01074 > 0.01; n=11 -> 12/2048 = 0.00586 <= 0.01.
  // p95: n=129 -> 0.95^128 * 7.40 = 0.01042 > 0.01; n=130 -> 0.95^129 * 7.45 = 0.00997 <= 0.01.
  it.each([
    { q: 0.5, minSamples: 11 },
    { q: 0.9, minSamples: 64 },
    { q: 0.95, minSamples: 130 },
    { q: 0.99, minSamples: 662 },
  ])('q=$q needs $minSamples', ({ q, minSamples }) => {
    expect(earlyStoppingMinSamples(q)).toBe(minSamples);
  });

  it('gives the MLPerf figures the docs quote: 64 for p90 and 662 for p99', () => {
    expect(earlyStoppingMinSamples(0.9)).toBe(64);
    expect(earlyStoppingMinSamples(0.99)).toBe(662);
  });

  it('the boundary is tight on both sides', () => {
    for (const q of [0.5, 0.9, 0.95, 0.99]) {
      const n = earlyStoppingMinSamples(q);
      expect(binomialCdf(1, n, 1 - q)).toBeLessThanOrEqual(0.01);
      expect(binomialCdf(1, n - 1, 1 - q)).toBeGreaterThan(0.01);
    }
  });

  it('needs fewer samples when no over-latency query is tolerated', () => {
    // q^n <= 0.01: 0.9^43 = 0.01078, 0.9^44 = 0.00970.
    expect(earlyStoppingMinSamples(0.9, { toleratedOverLatencyQueries: 0 })).toBe(44);
  });

  it('rejects bad options', () => {
    expect(() => earlyStoppingMinSamples(0.9, { confidence: 1 })).toThrow(RangeError);
    expect(() => earlyStoppingMinSamples(0.9, { toleratedOverLatencyQueries: -1 })).toThrow(RangeError);
  });
});

describe.each([
  [[3, 1, 2], 2],
  // LoadGen's p50 of an even count is the upper middle value (sorted[floor(4 / 2)]), not 2.5.
  [[4, 1, 3, 2], 3],
  [[10, 20], 20],
  [[7], 7],
  [[], Number.NaN],
])('median(%j)', (values, expected) => {
  it(`is ${expected}, as percentileOfSorted(sorted, 0.5)`, () => {
    expect(median(values)).toBe(expected);
    expectClose(percentileOfSorted([...values].sort((a, b) => a - b), 0.5), expected);
  });
});
