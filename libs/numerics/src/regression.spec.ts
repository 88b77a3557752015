import { describe, expect, it } from 'vitest';
import { median } from './descriptive';
import { InvalidSamplesError, compareLatencies, erfc, mannWhitneyU } from './regression';

// Expected U and p-values from SciPy 1.17: mannwhitneyu(a, b, alternative='two-sided', method='asymptotic', use_continuity=True).
describe.each([
  { a: [1, 2, 3, 4, 5], b: [6, 7, 8, 9, 10], u: 0, p: 0.012185780355344813 },
  { a: [1, 2, 3, 4, 5], b: [1, 2, 3, 4, 5], u: 12.5, p: 1 },
  { a: [1, 1, 2, 2, 3], b: [2, 3, 3, 4, 4, 5], u: 3, p: 0.031633423039876964 },
  { a: [10.1, 10.3, 9.8, 10.0, 10.2, 10.4, 9.9, 10.05], b: [10.6, 10.9, 10.7, 11.2, 10.5, 10.8, 11.0, 10.65], u: 0, p: 0.0009391056991171899 },
  { a: [3.1, 2.9, 3.0, 3.2, 2.8, 3.05, 3.15], b: [3.0, 3.1, 2.95, 3.2, 2.85, 3.05, 3.1], u: 24.5, p: 1 },
])('mannWhitneyU($a, $b)', ({ a, b, u, p }) => {
  it(`U = ${u}, p = ${p} (as SciPy)`, () => {
    const result = mannWhitneyU(a, b);
    expect(result.u).toBe(u);
    expect(result.pValue).toBeCloseTo(p, 6);
  });
  it('is symmetric in p', () => expect(mannWhitneyU(b, a).pValue).toBeCloseTo(mannWhitneyU(a, b).pValue, 12));
});

describe.each([
  [0, 1],
  [0.5, 0.4795001221869535],
  [1, 0.15729920705028513],
  [2, 0.004677734981047266],
  [-1, 1.8427007929497148],
])('erfc(%s)', (x, expected) => {
  it(`is ${expected} within 1.2e-7 relative`, () => expect(Math.abs(erfc(x) - expected) / expected).toBeLessThan(1.2e-7));
});

describe('compareLatencies', () => {
  // Deterministic pseudo-random samples around a centre (a small LCG: no flaky tests).
  const around = (centre: number, n: number, seed: number): number[] => {
    let state = seed;
    return Array.from({ length: n }, () => {
      state = (state * 1664525 + 1013904223) % 2 ** 32;
      return centre * (1 + ((state / 2 ** 32) - 0.5) * 0.04);
    });
  };

  it.each([
    { name: '10% slower on 200 samples', baseline: around(10, 200, 1), candidate: around(11, 200, 2), verdict: 'regression' },
    { name: '10% faster on 200 samples', baseline: around(10, 200, 3), candidate: around(9, 200, 4), verdict: 'improvement' },
    { name: 'same distribution', baseline: around(10, 200, 5), candidate: around(10, 200, 6), verdict: 'unchanged' },
    // 1% slower is significant on 5000 samples but below the 5% minimum effect.
    { name: '1% slower on 5000 samples', baseline: around(10, 5000, 7), candidate: around(10.1, 5000, 8), verdict: 'unchanged' },
    // 20% slower on 3 samples is not significant at 0.01.
    { name: '20% slower on 3 samples', baseline: [10, 10.1, 9.9], candidate: [12, 12.1, 11.9], verdict: 'unchanged' },
  ] as const)('$name -> $verdict', ({ baseline, candidate, verdict }) => {
    const c = compareLatencies(baseline, candidate);
    expect(c.verdict).toBe(verdict);
    expect(c.baselineCount).toBe(baseline.length);
    expect(c.medianRatio).toBeCloseTo(median(candidate) / median(baseline), 12);
  });

  it.each([
    [[], [1], 'baseline'],
    [[1], [], 'candidate'],
    [[1, Number.NaN], [1], 'baseline'],
  ])('refuses %j vs %j naming %s', (baseline, candidate, field) => {
    expect(() => compareLatencies(baseline, candidate)).toThrow(InvalidSamplesError);
    expect(() => compareLatencies(baseline, candidate)).toThrow(new RegExp(`^${field}:`));
  });

  it('refuses a bad policy naming the field', () => {
    expect(() => compareLatencies([1], [1], { alpha: 2, minRelativeChange: 0 })).toThrow(/policy\.alpha/);
  });
});
