import { PercentileStatus } from '@benchfarm/protocol';
import { compareLatencies } from '@benchfarm/numerics';
import { describe, expect, it } from 'vitest';
import { summarizeLatencies } from './stats';

/** 1, 2, ..., n: the k-th smallest value is k, which makes ranks readable in the tables. */
const oneTo = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);

describe('summarizeLatencies', () => {
  const status = (s: ReturnType<typeof summarizeLatencies>) => s.percentiles.map((p) => [p.quantile, p.status, p.valueMs, p.minSamples]);
  const OK = PercentileStatus.PERCENTILE_STATUS_OK;
  const LOW = PercentileStatus.PERCENTILE_STATUS_INSUFFICIENT_SAMPLES;

  it.each([
    {
      n: 10,
      expected: [
        [0.5, LOW, undefined, 11],
        [0.9, LOW, undefined, 64],
        [0.95, LOW, undefined, 130],
        [0.99, LOW, undefined, 662],
      ],
    },
    {
      n: 11,
      expected: [
        [0.5, OK, 6, 11],
        [0.9, LOW, undefined, 64],
        [0.95, LOW, undefined, 130],
        [0.99, LOW, undefined, 662],
      ],
    },
    {
      n: 64,
      expected: [
        [0.5, OK, 33, 11],
        [0.9, OK, 58, 64], // floor(57.6) = 57
        [0.95, LOW, undefined, 130],
        [0.99, LOW, undefined, 662],
      ],
    },
    {
      n: 661,
      expected: [
        [0.5, OK, 331, 11], // floor(330.5) = 330
        [0.9, OK, 595, 64], // floor(594.9) = 594
        [0.95, OK, 628, 130], // floor(627.95) = 627
        [0.99, LOW, undefined, 662],
      ],
    },
    {
      n: 662,
      expected: [
        [0.5, OK, 332, 11],
        [0.9, OK, 596, 64], // floor(595.8) = 595
        [0.95, OK, 629, 130],
        [0.99, OK, 656, 662],
      ],
    },
  ])('$n samples', ({ n, expected }) => {
    // Reversed so that the function has to sort.
    const stats = summarizeLatencies(oneTo(n).reverse());
    expect(stats.count).toBe(n);
    expect(stats.minMs).toBe(1);
    expect(stats.maxMs).toBe(n);
    expect(stats.meanMs).toBeCloseTo((n + 1) / 2, 10);
    expect(status(stats)).toEqual(expected);
  });

  it('omits valueMs (not just undefined) where samples are insufficient, for the wire encoder', () => {
    const p99 = summarizeLatencies([1, 2, 3]).percentiles.at(-1)!;
    expect('valueMs' in p99).toBe(false);
  });

  it('does not reorder the caller’s samples', () => {
    const samples = Float64Array.of(3, 1, 2);
    summarizeLatencies(samples);
    expect(Array.from(samples)).toEqual([3, 1, 2]);
  });
});

describe("the report's p50 and compare's median are one number", () => {
  it('on an even-length sample: both are the upper middle value, not the mean of the two', () => {
    // 12 latencies (above p50's early-stopping minimum of 11): middle values 6 and 7.
    const baseline = oneTo(12);
    const candidate = oneTo(12).map((v) => v * 2);
    const reportedP50 = (values: number[]) => summarizeLatencies(values).percentiles.find((p) => p.quantile === 0.5)?.valueMs;
    const comparison = compareLatencies(baseline, candidate);
    expect(reportedP50(baseline)).toBe(7);
    expect(comparison.baselineMedianMs).toBe(reportedP50(baseline));
    expect(comparison.candidateMedianMs).toBe(reportedP50(candidate));
    expect(comparison.medianRatio).toBe(2);
  });
});
