import { compareLatencies, type LatencyComparison, type RegressionPolicy } from '@benchfarm/numerics';
import type { SweepView } from '../client';
import { aggregateJobIds } from './report.model';

/** One variant x device present in both sweeps, compared on the raw samples. */
export interface ComparedSeries {
  variant: string;
  device: string;
  baselineJobId: string;
  candidateJobId: string;
  comparison: LatencyComparison;
}

/** A variant x device that could not be compared, and why. */
export interface UncomparedSeries {
  variant: string;
  device: string;
  reason: string;
}

/** The comparison of a candidate sweep against a baseline sweep. */
export interface SweepComparison {
  baselineSweepId: string;
  candidateSweepId: string;
  policy: RegressionPolicy;
  compared: ComparedSeries[];
  uncompared: UncomparedSeries[];
  regressions: number;
}

/** Reads the raw latencies of a job's result. */
export type SamplesReader = (sweepId: string, jobId: string) => Promise<number[]>;

const key = (variant: string, device: string): string => JSON.stringify([variant, device]);

function doneJobs(sweep: SweepView): Map<string, { jobId: string; variant: string; device: string }> {
  const out = new Map<string, { jobId: string; variant: string; device: string }>();
  const skip = aggregateJobIds(sweep);
  for (const job of sweep.jobs) {
    if (job.state !== 'done' || !job.result || skip.has(job.id)) continue;
    out.set(key(job.variant, job.result.device), { jobId: job.id, variant: job.variant, device: job.result.device });
  }
  return out;
}

/**
 * Compares every variant x device that has a result in both sweeps, on the raw samples
 * (Mann-Whitney U, median ratio); lists the others with the reason. A device is matched by
 * its name, so a re-registered agent keeps its history.
 */
export async function compareSweeps(baseline: SweepView, candidate: SweepView, readSamples: SamplesReader, policy: RegressionPolicy): Promise<SweepComparison> {
  const a = doneJobs(baseline);
  const b = doneJobs(candidate);
  const compared: ComparedSeries[] = [];
  const uncompared: UncomparedSeries[] = [];
  for (const [k, base] of a) {
    const cand = b.get(k);
    if (!cand) {
      uncompared.push({ variant: base.variant, device: base.device, reason: `no result in ${candidate.id}` });
      continue;
    }
    const [baseSamples, candSamples] = await Promise.all([readSamples(baseline.id, base.jobId), readSamples(candidate.id, cand.jobId)]);
    compared.push({ variant: base.variant, device: base.device, baselineJobId: base.jobId, candidateJobId: cand.jobId, comparison: compareLatencies(baseSamples, candSamples, policy) });
  }
  for (const [k, cand] of b) if (!a.has(k)) uncompared.push({ variant: cand.variant, device: cand.device, reason: `no result in ${baseline.id}` });
  compared.sort((x, y) => x.variant.localeCompare(y.variant) || x.device.localeCompare(y.device));
  return {
    baselineSweepId: baseline.id,
    candidateSweepId: candidate.id,
    policy,
    compared,
    uncompared,
    regressions: compared.filter((c) => c.comparison.verdict === 'regression').length,
  };
}

/** Rows of the `benchfarm compare` table. */
export function comparisonRows(result: SweepComparison): string[][] {
  return result.compared.map((c) => [
    c.variant,
    c.device,
    String(c.comparison.baselineCount),
    String(c.comparison.candidateCount),
    c.comparison.baselineMedianMs.toFixed(3),
    c.comparison.candidateMedianMs.toFixed(3),
    `${((c.comparison.medianRatio - 1) * 100).toFixed(1)}%`,
    c.comparison.pValue < 1e-4 ? c.comparison.pValue.toExponential(1) : c.comparison.pValue.toFixed(4),
    c.comparison.verdict === 'regression' ? 'REGRESSION' : c.comparison.verdict,
  ]);
}

/** Headers of {@link comparisonRows}. */
export const COMPARISON_HEADERS = ['variant', 'device', 'n A', 'n B', 'median A ms', 'median B ms', 'change', 'p-value', 'verdict'];
