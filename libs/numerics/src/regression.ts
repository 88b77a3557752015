/**
 * The significance test behind `benchfarm compare` and `benchfarm_regression_flagged`: a
 * two-sided Mann-Whitney U test on the raw latency samples of two results, plus the ratio of
 * their medians as the effect size. The medians are LoadGen's p50 ({@link median}), so the
 * effect size compares the very numbers the report shows as p50. Pure functions; no I/O.
 *
 * Why Mann-Whitney and not a t-test: inference latencies are skewed with a long right tail
 * (GC, scheduler, thermal), so a test on ranks is the honest choice; it needs no
 * distribution assumption and one outlier cannot flip it.
 */
import { median } from './descriptive';

/** Thrown when a comparison is asked of samples it cannot use; names the offending argument. */
export class InvalidSamplesError extends Error {
  override name = 'InvalidSamplesError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

/** The result of {@link mannWhitneyU}. */
export interface MannWhitneyResult {
  /** U of the first sample (the number of pairs where the first sample's value is larger, ties counting one half). */
  u: number;
  /** Standard score of U under the null hypothesis (normal approximation, tie-corrected, with continuity correction). */
  z: number;
  /** Two-sided p-value. */
  pValue: number;
}

function checkSamples(field: string, values: ArrayLike<number>): void {
  if (values.length === 0) throw new InvalidSamplesError(field, 'is empty');
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) throw new InvalidSamplesError(field, `value ${i} is not a finite number (${String(values[i])})`);
  }
}

/**
 * Complementary error function, after W. J. Cody's rational Chebyshev approximation as given
 * in Numerical Recipes (`erfcc`): relative error below 1.2e-7 everywhere, which is ample for
 * p-values compared against thresholds like 0.01.
 */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/**
 * Two-sided Mann-Whitney U test of `a` against `b` with the normal approximation, the tie
 * correction of the variance and a continuity correction (the same as SciPy's
 * `mannwhitneyu(a, b, method='asymptotic', use_continuity=True)`). Thrown:
 * {@link InvalidSamplesError} when a sample is empty or holds a non-finite value.
 */
export function mannWhitneyU(a: ArrayLike<number>, b: ArrayLike<number>): MannWhitneyResult {
  checkSamples('a', a);
  checkSamples('b', b);
  const n1 = a.length;
  const n2 = b.length;
  const n = n1 + n2;
  const all: Array<{ value: number; first: boolean }> = [];
  for (let i = 0; i < n1; i++) all.push({ value: a[i] as number, first: true });
  for (let i = 0; i < n2; i++) all.push({ value: b[i] as number, first: false });
  all.sort((x, y) => x.value - y.value);
  const sorted = Float64Array.from(all, (e) => e.value);
  const fromA = all.map((e) => e.first);
  let rankSumA = 0;
  let tieTerm = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && sorted[j + 1] === sorted[i]) j++;
    const ties = j - i + 1;
    const averageRank = (i + j + 2) / 2;
    for (let k = i; k <= j; k++) if (fromA[k]) rankSumA += averageRank;
    tieTerm += ties * ties * ties - ties;
    i = j + 1;
  }
  const u = rankSumA - (n1 * (n1 + 1)) / 2;
  const mu = (n1 * n2) / 2;
  const variance = ((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1) || 1));
  if (variance <= 0) return { u, z: 0, pValue: 1 };
  const distance = Math.max(0, Math.abs(u - mu) - 0.5);
  const z = (Math.sign(u - mu) * distance) / Math.sqrt(variance);
  const pValue = Math.min(1, erfc(Math.abs(z) / Math.SQRT2));
  return { u, z, pValue };
}

/** How a comparison is judged. */
export interface RegressionPolicy {
  /** Significance level of the two-sided test (default 0.01). */
  alpha: number;
  /** Smallest relative change of the median that counts (default 0.05: 5 %). */
  minRelativeChange: number;
}

/** The default {@link RegressionPolicy}: p < 0.01 and a median at least 5 % slower. */
export const DEFAULT_REGRESSION_POLICY: RegressionPolicy = { alpha: 0.01, minRelativeChange: 0.05 };

/** The verdict of {@link compareLatencies}. */
export type LatencyVerdict = 'regression' | 'improvement' | 'unchanged';

/** A comparison of a candidate's latencies against a baseline's. */
export interface LatencyComparison {
  baselineCount: number;
  candidateCount: number;
  baselineMedianMs: number;
  candidateMedianMs: number;
  /** candidate median / baseline median: 1.10 is 10 % slower. */
  medianRatio: number;
  /** Mann-Whitney U of the candidate against the baseline. */
  u: number;
  pValue: number;
  verdict: LatencyVerdict;
}

/**
 * Compares the raw latencies of a candidate result against a baseline: `regression` when
 * the difference is significant (p < alpha) and the candidate's median is slower by at least
 * `minRelativeChange`, `improvement` for the mirror case, else `unchanged`. Both conditions
 * are needed: with thousands of samples a 0.5 % shift is "significant" yet irrelevant, and a
 * 20 % shift on ten noisy samples may be chance. Thrown: {@link InvalidSamplesError}.
 */
export function compareLatencies(baselineMs: ArrayLike<number>, candidateMs: ArrayLike<number>, policy: RegressionPolicy = DEFAULT_REGRESSION_POLICY): LatencyComparison {
  if (!(policy.alpha > 0 && policy.alpha < 1)) throw new InvalidSamplesError('policy.alpha', `must be in (0, 1), got ${policy.alpha}`);
  if (!(policy.minRelativeChange >= 0)) throw new InvalidSamplesError('policy.minRelativeChange', `must be >= 0, got ${policy.minRelativeChange}`);
  checkSamples('baseline', baselineMs);
  checkSamples('candidate', candidateMs);
  const test = mannWhitneyU(candidateMs, baselineMs);
  const baselineMedianMs = median(baselineMs);
  const candidateMedianMs = median(candidateMs);
  const medianRatio = candidateMedianMs / baselineMedianMs;
  const significant = test.pValue < policy.alpha;
  const verdict: LatencyVerdict =
    significant && medianRatio >= 1 + policy.minRelativeChange ? 'regression' : significant && medianRatio <= 1 - policy.minRelativeChange ? 'improvement' : 'unchanged';
  return {
    baselineCount: baselineMs.length,
    candidateCount: candidateMs.length,
    baselineMedianMs,
    candidateMedianMs,
    medianRatio,
    u: test.u,
    pValue: test.pValue,
    verdict,
  };
}
