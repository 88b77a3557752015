import type { ResultView, SweepView } from '../client';

/** Thrown when a report option is out of range; names the option. */
export class ReportOptionError extends Error {
  override name = 'ReportOptionError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

/** Percentiles a latency SLO may be stated on (those the suite reports). */
export const SLO_QUANTILES = [0.5, 0.9, 0.99] as const;

/** How the recommendation is chosen. */
export interface ReportPolicy {
  /** Lowest acceptable fidelity (cosine similarity to the fp32 reference, 0..1); undefined: no floor. */
  fidelityFloor?: number;
  /** Latency SLO in ms at {@link sloQuantile}; undefined: no SLO. */
  latencySloMs?: number;
  /** The percentile the SLO is stated on (default 0.9: reportable from 64 queries). */
  sloQuantile: number;
}

/** The default policy: no floor, no SLO, p90. */
export const DEFAULT_REPORT_POLICY: ReportPolicy = { sloQuantile: 0.9 };

/** One variant on one device, every figure in its unit; a figure not measured is undefined with the reason in `unmeasured`. */
export interface ReportRow {
  variant: string;
  device: string;
  provider: string;
  state: string;
  count?: number;
  p50Ms?: number;
  p90Ms?: number;
  p99Ms?: number;
  meanMs?: number;
  throughputQps?: number;
  peakRssBytes?: number;
  sizeBytes?: number;
  /** Cosine similarity of the outputs to the fp32 reference, when the sweep measured it. */
  fidelity?: number;
  energyPerInferenceJoules?: number;
  /** Average power over the measured window (issue 6), when the device has a power sensor. */
  averagePowerWatts?: number;
  /** Why figures are missing: `field: reason`. */
  unmeasured: string[];
  /** Not dominated on (latency, size, fidelity) by another variant on the same device. */
  pareto: boolean;
}

/** The recommendation for one device. */
export interface DeviceRecommendation {
  device: string;
  /** The chosen variant, or undefined when none meets the policy. */
  variant?: string;
  /** Why it was chosen, or why none was; says when a condition could not be checked. */
  reason: string;
}

/** A sweep's report: rows, Pareto fronts and recommendations. */
export interface SweepReport {
  sweepId: string;
  name: string;
  model: string;
  state: string;
  createdAt: string;
  policy: ReportPolicy;
  rows: ReportRow[];
  recommendations: DeviceRecommendation[];
}

/** Checks a policy, naming the first bad field. Thrown: {@link ReportOptionError}. */
export function checkPolicy(policy: ReportPolicy): ReportPolicy {
  if (policy.fidelityFloor !== undefined && !(policy.fidelityFloor >= 0 && policy.fidelityFloor <= 1)) {
    throw new ReportOptionError('--fidelity-floor', `must be a cosine similarity in [0, 1], got ${policy.fidelityFloor}`);
  }
  if (policy.latencySloMs !== undefined && !(policy.latencySloMs > 0 && Number.isFinite(policy.latencySloMs))) {
    throw new ReportOptionError('--latency-slo-ms', `must be a positive number of milliseconds, got ${policy.latencySloMs}`);
  }
  if (!SLO_QUANTILES.some((q) => q === policy.sloQuantile)) {
    throw new ReportOptionError('--slo-percentile', `must be one of ${SLO_QUANTILES.map((q) => q * 100).join(', ')}, got ${policy.sloQuantile * 100}`);
  }
  return policy;
}

function percentileMs(result: ResultView, quantile: number): number | undefined {
  const p = result.percentiles.find((x) => Math.abs(x.quantile - quantile) < 1e-9);
  return p?.status === 'ok' ? p.valueMs : undefined;
}

/** A finite number at `path` of an object, or undefined: results gain optional sections (fidelity, power) as the farm grows. */
function numberAt(value: unknown, ...path: string[]): number | undefined {
  let current: unknown = value;
  for (const key of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return typeof current === 'number' && Number.isFinite(current) ? current : undefined;
}

/** Latency used for ranking: p50, the most stable percentile every result reports. */
export function rankingLatencyMs(row: ReportRow): number | undefined {
  return row.p50Ms;
}

/** Whether `a` dominates `b`: no worse on latency, size and (when both have it) fidelity, better on one. */
export function dominates(a: ReportRow, b: ReportRow): boolean {
  const la = rankingLatencyMs(a);
  const lb = rankingLatencyMs(b);
  if (la === undefined || lb === undefined || a.sizeBytes === undefined || b.sizeBytes === undefined) return false;
  const withFidelity = a.fidelity !== undefined && b.fidelity !== undefined;
  const noWorse = la <= lb && a.sizeBytes <= b.sizeBytes && (!withFidelity || (a.fidelity as number) >= (b.fidelity as number));
  const better = la < lb || a.sizeBytes < b.sizeBytes || (withFidelity && (a.fidelity as number) > (b.fidelity as number));
  return noWorse && better;
}

/** Marks the rows on the Pareto front of their device (rows without a latency are never on it). */
export function markPareto(rows: ReportRow[]): ReportRow[] {
  return rows.map((row) => ({
    ...row,
    pareto: rankingLatencyMs(row) !== undefined && row.sizeBytes !== undefined && !rows.some((other) => other !== row && other.device === row.device && dominates(other, row)),
  }));
}

function sloLatency(row: ReportRow, quantile: number): number | undefined {
  if (quantile === 0.5) return row.p50Ms;
  if (quantile === 0.9) return row.p90Ms;
  if (quantile === 0.99) return row.p99Ms;
  return undefined;
}

const pct = (q: number): string => `p${Math.round(q * 100)}`;

/**
 * Chooses a variant per device: those meeting the fidelity floor and the latency SLO, then
 * the fastest (p50), then the smallest. A condition that cannot be checked (fidelity not
 * measured, the SLO percentile not reportable from the sample count) is said in the reason,
 * never assumed met silently.
 */
export function recommend(rows: readonly ReportRow[], policy: ReportPolicy): DeviceRecommendation[] {
  const devices = [...new Set(rows.map((r) => r.device))].sort();
  return devices.map((device) => {
    const measured = rows.filter((r) => r.device === device && rankingLatencyMs(r) !== undefined);
    if (measured.length === 0) return { device, reason: 'no variant has a result on this device' };
    const notes: string[] = [];
    const eligible = measured.filter((r) => {
      if (policy.fidelityFloor !== undefined) {
        if (r.fidelity === undefined) notes.push(`${r.variant}: fidelity not measured, floor not checked`);
        else if (r.fidelity < policy.fidelityFloor) return false;
      }
      if (policy.latencySloMs !== undefined) {
        const latency = sloLatency(r, policy.sloQuantile);
        if (latency === undefined) return false;
        if (latency > policy.latencySloMs) return false;
      }
      return true;
    });
    if (eligible.length === 0) {
      const why = [
        policy.fidelityFloor !== undefined ? `fidelity >= ${policy.fidelityFloor}` : '',
        policy.latencySloMs !== undefined ? `${pct(policy.sloQuantile)} <= ${policy.latencySloMs} ms (a percentile the sample count does not support counts as not met)` : '',
      ].filter(Boolean);
      return { device, reason: `no variant meets ${why.join(' and ')}` };
    }
    eligible.sort((a, b) => (rankingLatencyMs(a) as number) - (rankingLatencyMs(b) as number) || (a.sizeBytes ?? Infinity) - (b.sizeBytes ?? Infinity));
    const best = eligible[0] as ReportRow;
    const conditions = [
      policy.fidelityFloor !== undefined && best.fidelity !== undefined ? `fidelity ${best.fidelity.toFixed(4)} >= ${policy.fidelityFloor}` : '',
      policy.latencySloMs !== undefined ? `${pct(policy.sloQuantile)} ${sloLatency(best, policy.sloQuantile)?.toFixed(3)} ms <= ${policy.latencySloMs} ms` : '',
    ].filter(Boolean);
    const bestNotes = notes.filter((n) => n.startsWith(`${best.variant}:`));
    return {
      device,
      variant: best.variant,
      reason: [`fastest p50 (${(best.p50Ms as number).toFixed(3)} ms) of ${eligible.length} eligible variant(s)`, ...conditions, ...bestNotes].join('; '),
    };
  });
}

function rowOf(sweep: SweepView, job: SweepView['jobs'][number]): ReportRow {
  const r = job.result;
  const variant = sweep.variants.find((v) => v.name === job.variant);
  const unmeasured = (r?.unmeasured ?? []).map((u) => `${u.field}: ${u.reason}`);
  const fidelity = r ? (numberAt(r, 'fidelity', 'cosineSimilarity') ?? numberAt(r, 'fidelity', 'cosine')) : undefined;
  const energy = r ? numberAt(r, 'power', 'energyPerInferenceJoules') : undefined;
  const watts = r ? numberAt(r, 'power', 'averagePowerWatts') : undefined;
  const external = r?.externalRuntime;
  if (r && fidelity === undefined && !unmeasured.some((u) => u.startsWith('fidelity'))) unmeasured.push('fidelity: not measured by this sweep');
  if (r && energy === undefined && !unmeasured.some((u) => u.startsWith('power') || u.startsWith('energy'))) unmeasured.push('energy: no power reading in the result');
  return {
    variant: job.variant,
    device: r?.device ?? job.agentId,
    provider: external?.runtime ? [external.runtime, external.precision].filter(Boolean).join(' ') : (r?.provider ?? ''),
    state: job.state,
    ...(r ? { count: r.count, meanMs: r.meanMs, throughputQps: r.throughputQps } : {}),
    ...(r && percentileMs(r, 0.5) !== undefined ? { p50Ms: percentileMs(r, 0.5) } : {}),
    ...(r && percentileMs(r, 0.9) !== undefined ? { p90Ms: percentileMs(r, 0.9) } : {}),
    ...(r && percentileMs(r, 0.99) !== undefined ? { p99Ms: percentileMs(r, 0.99) } : {}),
    ...(r?.peakRssBytes !== undefined ? { peakRssBytes: r.peakRssBytes } : {}),
    ...((r?.modelFileSizeBytes || variant?.sizeBytes) ? { sizeBytes: r?.modelFileSizeBytes || variant?.sizeBytes } : {}),
    ...(fidelity !== undefined ? { fidelity } : {}),
    ...(energy !== undefined ? { energyPerInferenceJoules: energy } : {}),
    ...(watts !== undefined ? { averagePowerWatts: watts } : {}),
    unmeasured,
    pareto: false,
  };
}

/**
 * Ids of the sweep's interleaved comparison jobs (one per device, carrying every variant in
 * one process): their result is filed under the reference variant but is not a measurement
 * of it alone, so reports and comparisons leave them out.
 */
export function comparisonJobIds(sweep: SweepView): Set<string> {
  const settings = (sweep as SweepView & { settings?: { comparisonJobs?: Array<{ jobId: string }> } }).settings;
  return new Set((settings?.comparisonJobs ?? []).map((c) => c.jobId));
}

/** Builds the report of a sweep under a policy. Thrown: {@link ReportOptionError} for a bad policy. */
export function buildReport(sweep: SweepView, policy: ReportPolicy = DEFAULT_REPORT_POLICY): SweepReport {
  checkPolicy(policy);
  const skip = comparisonJobIds(sweep);
  const rows = markPareto(sweep.jobs.filter((job) => !skip.has(job.id)).map((job) => rowOf(sweep, job)));
  return {
    sweepId: sweep.id,
    name: sweep.name,
    model: sweep.model.name,
    state: sweep.state,
    createdAt: sweep.createdAt,
    policy,
    rows,
    recommendations: recommend(rows, policy),
  };
}
