import { ACCURACY_METRIC_NAMES } from '@benchfarm/metrics';
import type { DeviceComparisonView, IntervalView, ResultView, SweepView } from '../client';
import { autoQuantSummaries, type AutoQuantSummary } from './report.auto';
import { configSearchReport, type ConfigSearchReport } from './report.config-search';
import type { AccuracyStandingOf, FloorMetric, ReportRow, RowAccuracy } from './report.types';

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

/** Task metrics the agents report (proto TaskMetric.metric), in the order reports list them: the `metric` label values of benchfarm_accuracy. */
export const ACCURACY_METRICS = ACCURACY_METRIC_NAMES;
const FLOOR_METRICS: readonly FloorMetric[] = [...ACCURACY_METRICS, 'cosine'];

/**
 * The floor a variant's accuracy must meet when the sweep measured it on real images and no
 * `--accuracy-floor` is given: agreement with fp32 on this device for detectors and classifiers,
 * the worst output's cosine for models without a decoded task.
 */
export const DEFAULT_ACCURACY_FLOORS: Readonly<Record<string, { metric: FloorMetric; value: number }>> = {
  detection: { metric: 'map50_agreement', value: 0.95 },
  classification: { metric: 'top1_agreement', value: 0.99 },
  fidelity: { metric: 'cosine', value: 0.99 },
};

/** An accuracy floor as given: `metric` absent means the task's default metric. */
export interface AccuracyFloor {
  metric?: FloorMetric;
  value: number;
}

/** How the recommendation is chosen. */
export interface ReportPolicy {
  /** Lowest acceptable fidelity (cosine similarity to the fp32 reference, 0..1, real images or random inputs); undefined: no floor. */
  fidelityFloor?: number;
  /** Lowest acceptable accuracy on real images; undefined: the task's default when the sweep has real data; `none`: no floor. */
  accuracyFloor?: AccuracyFloor | 'none';
  /** Latency SLO in ms at {@link sloQuantile}; undefined: no SLO. */
  latencySloMs?: number;
  /** The percentile the SLO is stated on (default 0.9: reportable from 64 queries). */
  sloQuantile: number;
}

/** The default policy: no floor, no SLO, p90. */
export const DEFAULT_REPORT_POLICY: ReportPolicy = { sloQuantile: 0.9 };

/** The accuracy floor a report applied, and where it came from. */
export interface ResolvedAccuracyFloor {
  /** Absent when the floor names no metric and the sweep has no evaluation to take the task's default from. */
  metric?: FloorMetric;
  value: number;
  source: 'flag' | 'default';
}

/** The recommendation for one device. */
export interface DeviceRecommendation {
  device: string;
  /** The chosen variant, or undefined when none meets the policy. */
  variant?: string;
  /** Variants whose latency could not be told apart from the chosen one's (interleaved ratio CIs overlap). */
  tiedWith?: string[];
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
  /** The accuracy floor applied (given, or the task's default when the sweep measured accuracy on real images). */
  accuracyFloor?: ResolvedAccuracyFloor;
  /** What the accuracy figures of this report were measured on, in one sentence. */
  accuracyNote: string;
  rows: ReportRow[];
  recommendations: DeviceRecommendation[];
  /** int8-auto variants: the coordinator's search from the recipe next to each device's accuracy; absent without one. */
  autoQuant?: AutoQuantSummary[];
  /** The runtime-settings search per device (best configuration per variant and overall, every point, every skip); absent without one. */
  configSearch?: ConfigSearchReport;
}

/**
 * Parses `--accuracy-floor`: `0.95` (the task's default metric), `map50=0.5`, `cosine=0.99`,
 * or `none` (no floor, not even the default). Thrown: {@link ReportOptionError}.
 */
export function parseAccuracyFloor(text: string): AccuracyFloor | 'none' {
  const trimmed = text.trim();
  if (trimmed === 'none') return 'none';
  const [name, raw] = trimmed.includes('=') ? (trimmed.split('=', 2) as [string, string]) : [undefined, trimmed];
  if (name !== undefined && !FLOOR_METRICS.includes(name.trim() as FloorMetric)) {
    throw new ReportOptionError('--accuracy-floor', `unknown metric "${name}"; use one of ${FLOOR_METRICS.join(', ')} (e.g. map50=0.5), a bare value for the task's default metric, or none`);
  }
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value)) throw new ReportOptionError('--accuracy-floor', `must be a number in [0, 1] or metric=value, got "${text}"`);
  return name === undefined ? { value } : { metric: name.trim() as FloorMetric, value };
}

/** Checks a policy, naming the first bad field. Thrown: {@link ReportOptionError}. */
export function checkPolicy(policy: ReportPolicy): ReportPolicy {
  if (policy.fidelityFloor !== undefined && !(policy.fidelityFloor >= 0 && policy.fidelityFloor <= 1)) {
    throw new ReportOptionError('--fidelity-floor', `must be a cosine similarity in [0, 1], got ${policy.fidelityFloor}`);
  }
  const floor = policy.accuracyFloor;
  if (floor !== undefined && floor !== 'none') {
    if (!(floor.value >= 0 && floor.value <= 1)) throw new ReportOptionError('--accuracy-floor', `must be in [0, 1] (a share or mAP), got ${floor.value}`);
    if (floor.metric !== undefined && !FLOOR_METRICS.includes(floor.metric)) throw new ReportOptionError('--accuracy-floor', `unknown metric ${floor.metric}`);
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

/** A finite number at `path` of an object, or undefined: results gain optional sections (power) as the farm grows. */
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

/** The accuracy a row is compared on: its floor/task metric on real images; undefined when not measured there. */
export function accuracyValue(row: ReportRow): number | undefined {
  return row.accuracy?.measuredOn === 'real_images' ? row.accuracy.value : undefined;
}

/** Whether `a` dominates `b`: no worse on latency, size and (when both have it) accuracy, else fidelity; better on one. */
export function dominates(a: ReportRow, b: ReportRow): boolean {
  const la = rankingLatencyMs(a);
  const lb = rankingLatencyMs(b);
  if (la === undefined || lb === undefined || a.sizeBytes === undefined || b.sizeBytes === undefined) return false;
  const qa = accuracyValue(a) ?? (a.fidelityOn === b.fidelityOn ? a.fidelity : undefined);
  const qb = accuracyValue(b) ?? (a.fidelityOn === b.fidelityOn ? b.fidelity : undefined);
  const withQuality = (accuracyValue(a) !== undefined) === (accuracyValue(b) !== undefined) && qa !== undefined && qb !== undefined;
  const noWorse = la <= lb && a.sizeBytes <= b.sizeBytes && (!withQuality || (qa as number) >= (qb as number));
  const better = la < lb || a.sizeBytes < b.sizeBytes || (withQuality && (qa as number) > (qb as number));
  return noWorse && better;
}

/**
 * Marks the rows on the Pareto front of their device over latency, size and measured accuracy.
 * Rows without a latency, and rows whose measured accuracy is below the floor (a variant that
 * is small because it is broken is not a trade-off), are never on it.
 */
export function markPareto(rows: ReportRow[]): ReportRow[] {
  const candidates = rows.filter((r) => rankingLatencyMs(r) !== undefined && r.sizeBytes !== undefined && r.belowAccuracyFloor === undefined);
  return rows.map((row) => ({
    ...row,
    pareto: candidates.includes(row) && !candidates.some((other) => other !== row && other.device === row.device && dominates(other, row)),
  }));
}

function sloLatency(row: ReportRow, quantile: number): number | undefined {
  if (quantile === 0.5) return row.p50Ms;
  if (quantile === 0.9) return row.p90Ms;
  if (quantile === 0.99) return row.p99Ms;
  return undefined;
}

const pct = (q: number): string => `p${Math.round(q * 100)}`;
/** `0.620 [0.580, 0.660]`, or the value alone without a CI. */
export function withCi(value: number, ci: { low: number; high: number } | undefined, digits = 3): string {
  return ci ? `${value.toFixed(digits)} [${ci.low.toFixed(digits)}, ${ci.high.toFixed(digits)}]` : value.toFixed(digits);
}

/** The interleaved ratio interval of a row; the reference is exactly 1 (it is what the ratios divide by). */
function ratioInterval(row: ReportRow): { low: number; high: number } | undefined {
  if (row.ratioToReference === undefined) return undefined;
  if (row.referenceVariant === row.variant) return { low: 1, high: 1 };
  return row.ratioCi;
}

/**
 * How `a`'s latency compares with `b`'s on the same device, from the interleaved comparison:
 * `tied` when their ratio CIs overlap (for the reference: the other's CI includes 1), `faster`
 * / `slower` only when they do not; `unknown` without CIs.
 */
export function latencyVerdict(a: ReportRow, b: ReportRow): 'faster' | 'slower' | 'tied' | 'unknown' {
  const ia = ratioInterval(a);
  const ib = ratioInterval(b);
  if (!ia || !ib) return 'unknown';
  if (ia.high < ib.low) return 'faster';
  if (ib.high < ia.low) return 'slower';
  return 'tied';
}

/** Whether a floor is applied on a device: one given always, the default one only where the device measured accuracy on real images. */
export function floorApplies(floor: ResolvedAccuracyFloor | undefined, anyAccuracyOnDevice: boolean): floor is ResolvedAccuracyFloor & { metric: FloorMetric } {
  return floor !== undefined && floor.metric !== undefined && (floor.source === 'flag' || anyAccuracyOnDevice);
}

/** `map50_agreement >= 0.95 (default)`. */
export function floorText(floor: ResolvedAccuracyFloor): string {
  return `${floor.metric ?? "the task's default metric"} >= ${floor.value}${floor.source === 'default' ? ' (default)' : ''}`;
}

function accuracyText(row: ReportRow): string {
  const a = row.accuracy;
  if (!a) return `accuracy NOT measured on this device (${row.unmeasured.find((u) => u.startsWith('accuracy:'))?.slice('accuracy: '.length) ?? 'no comparison job'})`;
  if (a.measuredOn === 'random_inputs') {
    return `accuracy NOT measured (fidelity on random inputs only${row.fidelity !== undefined ? `: cosine ${row.fidelity.toFixed(4)}` : ''}, which is not accuracy)`;
  }
  if (a.value === undefined) return `${a.metric ?? 'accuracy'} not measured: ${a.reason ?? 'not reported'}`;
  if (a.metric === 'cosine' && row.referenceVariant === row.variant && a.ci === undefined) return `cosine 1 (the reference itself; ${a.images} real images)`;
  return `${a.metric} ${withCi(a.value, a.ci, a.metric === 'cosine' ? 4 : 3)} on ${a.valueImages ?? a.images} real images`;
}

function latencyText(row: ReportRow): string {
  if (row.ratioToReference === undefined || row.referenceVariant === undefined) return `p50 ${(row.p50Ms as number).toFixed(3)} ms`;
  if (row.referenceVariant === row.variant) return `p50 ${(row.p50Ms as number).toFixed(3)} ms, the interleaved reference`;
  return `p50 ${(row.p50Ms as number).toFixed(3)} ms, ${withCi(row.ratioToReference, row.ratioCi)} x ${row.referenceVariant} interleaved`;
}

/**
 * Chooses a variant per device. Eligible: meets the fidelity floor, the accuracy floor (on real
 * images) and the latency SLO. Then the fastest by the interleaved ratio to the reference (p50
 * when a variant lacks one); variants whose latency cannot be told apart from the fastest's
 * (ratio CIs overlap, or the CI includes 1 against the reference) are tied, and among tied ones
 * the more accurate, then the smaller, wins. A variant is called faster only when the CIs are
 * apart. A condition that cannot be checked (accuracy or fidelity not measured, the SLO
 * percentile not reportable) is said in the reason, never assumed met silently.
 */
export function recommend(rows: readonly ReportRow[], policy: ReportPolicy, floor?: ResolvedAccuracyFloor): DeviceRecommendation[] {
  const devices = [...new Set(rows.map((r) => r.device))].sort();
  return devices.map((device): DeviceRecommendation => {
    const measured = rows.filter((r) => r.device === device && rankingLatencyMs(r) !== undefined);
    if (measured.length === 0) return { device, reason: 'no variant has a result on this device' };
    const notes: string[] = [];
    // A default floor holds where the device measured accuracy; a floor the user gave holds everywhere.
    const anyAccuracy = measured.some((r) => accuracyValue(r) !== undefined);
    const applyFloor = floorApplies(floor, anyAccuracy);
    if (floor && floor.source === 'default' && !applyFloor) notes.push(`accuracy not measured on real images on this device: the default floor ${floorText(floor)} was not checked`);
    const eligible = measured.filter((r) => {
      if (policy.fidelityFloor !== undefined) {
        if (r.fidelity === undefined) notes.push(`${r.variant}: fidelity not measured, floor not checked`);
        else if (r.fidelity < policy.fidelityFloor) return false;
      }
      if (floor && floor.source === 'flag' && floor.metric === undefined) return false;
      if (applyFloor) {
        const value = accuracyValue(r);
        if (value === undefined) {
          notes.push(`${r.variant}: ${floor.metric} not measured on real images, not eligible under the accuracy floor`);
          return false;
        }
        if (value < floor.value) return false;
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
        floor && (applyFloor || floor.source === 'flag') ? `accuracy ${floorText(floor)}${floor.metric === undefined ? ' (the sweep measured no accuracy on real images, so the task is unknown)' : ''}` : '',
        policy.latencySloMs !== undefined ? `${pct(policy.sloQuantile)} <= ${policy.latencySloMs} ms (a percentile the sample count does not support counts as not met)` : '',
      ].filter(Boolean);
      const below = measured.filter((r) => r.belowAccuracyFloor).map((r) => `${r.variant}: ${r.belowAccuracyFloor}`);
      return { device, reason: [`no variant meets ${why.join(' and ')}`, ...below, ...notes].join('; ') };
    }
    // The interleaved ratio is measured with every variant in one process, alternating: the fairer ranking when all have it.
    const byRatio = eligible.every((r) => r.ratioToReference !== undefined);
    const key = (r: ReportRow): number => (byRatio ? (r.ratioToReference as number) : (rankingLatencyMs(r) as number));
    eligible.sort((a, b) => key(a) - key(b) || (a.sizeBytes ?? Infinity) - (b.sizeBytes ?? Infinity));
    const fastest = eligible[0] as ReportRow;
    const tied = eligible.filter((r) => r === fastest || latencyVerdict(r, fastest) === 'tied');
    tied.sort((a, b) => (accuracyValue(b) ?? -Infinity) - (accuracyValue(a) ?? -Infinity) || (a.sizeBytes ?? Infinity) - (b.sizeBytes ?? Infinity) || key(a) - key(b));
    const best = tied[0] as ReportRow;
    const others = tied.filter((r) => r !== best);
    const parts: string[] = [];
    if (others.length > 0) {
      const bestAcc = accuracyValue(best);
      const digits = best.accuracy?.metric === 'cosine' ? 4 : 3;
      const moreAccurate = bestAcc !== undefined && others.every((o) => (accuracyValue(o) ?? -Infinity) < bestAcc);
      const smaller = others.every((o) => (best.sizeBytes ?? Infinity) < (o.sizeBytes ?? Infinity));
      const tiebreak = moreAccurate
        ? `the more accurate (${best.accuracy?.metric} ${bestAcc.toFixed(digits)} vs ${others.map((o) => `${o.variant} ${accuracyValue(o)?.toFixed(digits) ?? 'not measured'}`).join(', ')})`
        : smaller
          ? 'the smaller'
          : 'the faster by the point estimate';
      parts.push(
        `tied on latency with ${others.map((o) => o.variant).join(', ')} (interleaved ratio CIs overlap: ${[best, ...others].map((r) => `${r.variant} ${r.referenceVariant === r.variant ? '1 (reference)' : withCi(r.ratioToReference as number, r.ratioCi)}`).join(' vs ')}); chosen as ${tiebreak}`,
      );
    } else if (eligible.length > 1) {
      const next = eligible.find((r) => r !== best) as ReportRow;
      const verdict = latencyVerdict(best, next);
      if (verdict === 'faster') parts.push(`faster than ${next.variant} (interleaved ratio CIs apart: ${withCi(best.ratioToReference as number, ratioInterval(best))} vs ${withCi(next.ratioToReference as number, ratioInterval(next))})`);
      else parts.push(`fastest p50 of ${eligible.length} eligible variant(s); no interleaved CI, so the difference to ${next.variant} is not checked against noise`);
    } else parts.push(`the only eligible variant of ${measured.length}`);
    parts.push(latencyText(best), `${best.sizeBytes === undefined ? 'size unknown' : `${(best.sizeBytes / 1024 / 1024).toFixed(2)} MB`}`);
    parts.push(`${accuracyText(best)}${applyFloor && floor && accuracyValue(best) !== undefined ? ` >= floor ${floor.value}${floor.source === 'default' ? ' (default)' : ''}` : ''}`);
    if (policy.fidelityFloor !== undefined && best.fidelity !== undefined) parts.push(`fidelity ${best.fidelity.toFixed(4)} >= ${policy.fidelityFloor}${best.fidelityOn === 'random_inputs' ? ' (random inputs)' : ''}`);
    if (policy.latencySloMs !== undefined) parts.push(`${pct(policy.sloQuantile)} ${sloLatency(best, policy.sloQuantile)?.toFixed(3)} ms <= ${policy.latencySloMs} ms`);
    const excluded = measured.filter((r) => r.belowAccuracyFloor).map((r) => `excluded ${r.variant}: ${r.belowAccuracyFloor}`);
    const bestNotes = notes.filter((n) => n.startsWith(`${best.variant}:`) || !eligible.some((r) => n.startsWith(`${r.variant}:`)));
    return { device, variant: best.variant, ...(others.length > 0 ? { tiedWith: others.map((o) => o.variant) } : {}), reason: [...parts, ...excluded, ...new Set(bestNotes)].join('; ') };
  });
}

type ComparedVariant = DeviceComparisonView['variants'][number];

function interval(ci: IntervalView | undefined): { low: number; high: number } | undefined {
  return ci ? { low: ci.low, high: ci.high } : undefined;
}

/** The row's accuracy from its device's comparison, ranked on `metric` (the floor's or the task's default). */
function rowAccuracy(v: ComparedVariant, metric: FloorMetric | undefined): RowAccuracy | undefined {
  const a = v.accuracy;
  if (!a) return undefined;
  const base = { measuredOn: a.measuredOn, inputs: a.inputs, images: a.images, ...(a.task ? { task: a.task } : {}), metrics: a.metrics };
  if (a.measuredOn === 'random_inputs') return { ...base, reason: 'measured on random inputs only: fidelity, not accuracy' };
  const chosen = metric ?? (a.task ? DEFAULT_ACCURACY_FLOORS[a.task]?.metric : undefined) ?? 'cosine';
  if (a.error) return { ...base, metric: chosen, reason: a.error };
  if (chosen === 'cosine') {
    if (v.reference) return { ...base, metric: chosen, value: 1, valueImages: a.images, reason: 'the reference: identical to itself' };
    const worst = [...a.fidelity].sort((x, y) => x.cosine - y.cosine)[0];
    if (!worst) return { ...base, metric: chosen, reason: 'no output fidelity reported' };
    const ci = interval(worst.cosineCi);
    return { ...base, metric: chosen, value: worst.cosine, ...(ci ? { ci } : {}), valueImages: worst.images };
  }
  const m = a.metrics.find((x) => x.metric === chosen);
  if (!m || m.value === undefined) return { ...base, metric: chosen, reason: m?.reason ?? `${chosen} not reported for a ${a.task ?? 'model'} task` };
  const ci = interval(m.ci);
  return { ...base, metric: chosen, value: m.value, ...(ci ? { ci } : {}), valueImages: m.images };
}

function comparisonOf(sweep: SweepView, job: SweepView['jobs'][number]): DeviceComparisonView | undefined {
  return (sweep.comparisons ?? []).find((c) => c.agentId === job.agentId);
}

/**
 * Each agent's device label in a report: its name, or `name (agent id)` when another agent of the
 * sweep has the same name. Rows are grouped, ranked and recommended per label, so two boards
 * registered under one name must not read as one device (one board's results would decide for both).
 */
export function deviceLabels(sweep: SweepView): Map<string, string> {
  const names = new Map<string, string>();
  // A device that only ran a configuration search is known by the name it registered with.
  for (const d of sweep.configSearch?.devices ?? []) if (d.agentName) names.set(d.agentId, d.agentName);
  for (const c of sweep.comparisons ?? []) names.set(c.agentId, c.device);
  for (const j of sweep.jobs) if (j.result) names.set(j.agentId, j.result.device);
  const agentsNamed = new Map<string, number>();
  for (const name of names.values()) agentsNamed.set(name, (agentsNamed.get(name) ?? 0) + 1);
  return new Map([...names].map(([agentId, name]) => [agentId, (agentsNamed.get(name) ?? 0) > 1 ? `${name} (${agentId})` : name]));
}

function rowOf(sweep: SweepView, job: SweepView['jobs'][number], floorMetric: FloorMetric | undefined, devices: ReadonlyMap<string, string>): ReportRow {
  const r = job.result;
  const variant = sweep.variants.find((v) => v.name === job.variant);
  const unmeasured = (r?.unmeasured ?? []).map((u) => `${u.field}: ${u.reason}`);
  const comparison = comparisonOf(sweep, job);
  const compared = comparison?.variants.find((v) => v.variant === job.variant);
  const accuracy = compared ? rowAccuracy(compared, floorMetric) : undefined;
  // Worst output against the reference on this device; the reference is identical to itself.
  const worst = compared?.accuracy ? [...compared.accuracy.fidelity].sort((x, y) => x.cosine - y.cosine)[0] : undefined;
  const fidelityOn = compared?.accuracy?.measuredOn;
  const fidelity = worst ? worst.cosine : compared?.reference && compared.accuracy ? 1 : undefined;
  const fidelityCi = interval(worst?.cosineCi);
  const energy = r ? numberAt(r, 'power', 'energyPerInferenceJoules') : undefined;
  const watts = r ? numberAt(r, 'power', 'averagePowerWatts') : undefined;
  const external = r?.externalRuntime;
  if (r && fidelity === undefined && !unmeasured.some((u) => u.startsWith('fidelity'))) unmeasured.push('fidelity: not measured by this sweep');
  if (r && (!accuracy || accuracy.measuredOn !== 'real_images') && !unmeasured.some((u) => u.startsWith('accuracy'))) {
    const reason = comparison?.unmeasured.find((u) => u.field === 'accuracy' || u.field === 'comparison')?.reason;
    unmeasured.push(`accuracy: ${reason ?? (comparison ? 'not measured on this device' : 'no interleaved comparison job on this device (compare: none)')}`);
  }
  if (r && energy === undefined && !unmeasured.some((u) => u.startsWith('power') || u.startsWith('energy'))) unmeasured.push('energy: no power reading in the result');
  const ratioCi = interval(compared?.ratioCi);
  return {
    variant: job.variant,
    device: devices.get(job.agentId) ?? r?.device ?? comparison?.device ?? job.agentId,
    provider: external?.runtime ? [external.runtime, external.precision].filter(Boolean).join(' ') : (r?.provider ?? ''),
    state: job.state,
    ...(r ? { count: r.count, meanMs: r.meanMs, throughputQps: r.throughputQps } : {}),
    ...(r && percentileMs(r, 0.5) !== undefined ? { p50Ms: percentileMs(r, 0.5) } : {}),
    ...(r && percentileMs(r, 0.9) !== undefined ? { p90Ms: percentileMs(r, 0.9) } : {}),
    ...(r && percentileMs(r, 0.99) !== undefined ? { p99Ms: percentileMs(r, 0.99) } : {}),
    ...(r?.peakRssBytes !== undefined ? { peakRssBytes: r.peakRssBytes } : {}),
    ...((r?.modelFileSizeBytes || variant?.sizeBytes) ? { sizeBytes: r?.modelFileSizeBytes || variant?.sizeBytes } : {}),
    ...(fidelity !== undefined ? { fidelity, fidelityImages: compared?.accuracy?.images ?? 0, ...(fidelityOn ? { fidelityOn } : {}) } : {}),
    ...(fidelityCi ? { fidelityCi } : {}),
    ...(compared && comparison?.referenceVariant ? { ratioToReference: compared.ratioToReference, referenceVariant: comparison.referenceVariant } : {}),
    ...(ratioCi ? { ratioCi } : {}),
    ...(accuracy ? { accuracy } : {}),
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
  return new Set([...(settings?.comparisonJobs ?? []).map((c) => c.jobId), ...(sweep.comparisons ?? []).map((c) => c.jobId)]);
}

/** Ids of the sweep's configuration-search jobs (one per device, every variant at many settings). */
export function configSearchJobIds(sweep: SweepView): Set<string> {
  return new Set((sweep.configSearch?.devices ?? []).map((d) => d.jobId).filter((id) => id !== ''));
}

/**
 * Ids of the jobs whose result is not one variant's measurement under the sweep's settings (the
 * interleaved comparisons and the configuration searches): left out of the variant x device rows,
 * recommendations and sweep comparisons; each has its own section.
 */
export function aggregateJobIds(sweep: SweepView): Set<string> {
  return new Set([...comparisonJobIds(sweep), ...configSearchJobIds(sweep)]);
}

/**
 * How each variant stands against the accuracy floor on each device, from the device's
 * interleaved comparison, with {@link recommend}'s rules: a floor given holds everywhere; the
 * default floor holds where the device measured accuracy on real images; a variant whose accuracy
 * was not measured there is not eligible under a floor that holds.
 */
export function accuracyStandings(sweep: SweepView, floor: ResolvedAccuracyFloor | undefined): AccuracyStandingOf {
  return (agentId, variant) => {
    const comparison = (sweep.comparisons ?? []).find((c) => c.agentId === agentId);
    const onReal = (v: ComparedVariant): RowAccuracy | undefined => {
      const a = rowAccuracy(v, floor?.metric);
      return a?.measuredOn === 'real_images' ? a : undefined;
    };
    const compared = comparison?.variants.find((v) => v.variant === variant);
    const accuracy = compared ? onReal(compared) : undefined;
    const value = accuracy?.value;
    const anyAccuracy = (comparison?.variants ?? []).some((v) => onReal(v)?.value !== undefined);
    const digits = accuracy?.metric === 'cosine' ? 4 : 3;
    const why =
      (compared ? rowAccuracy(compared, floor?.metric)?.reason : undefined) ??
      comparison?.unmeasured.find((u) => u.field === 'accuracy' || u.field === 'comparison')?.reason ??
      (comparison ? `${variant} is not in the device's interleaved comparison` : 'no interleaved comparison on this device');
    const text = value !== undefined && accuracy ? `${accuracy.metric} ${withCi(value, accuracy.ci, digits)} on ${accuracy.valueImages ?? accuracy.images} real images` : `accuracy not measured on real images on this device (${why})`;
    const measured = value !== undefined ? { value } : {};
    if (!floor) return { eligible: true, text, ...measured };
    if (floor.source === 'flag' && floor.metric === undefined) return { eligible: false, text, ...measured, excluded: `accuracy floor ${floorText(floor)} cannot be checked: the sweep measured no accuracy on real images, so the task is unknown` };
    if (!floorApplies(floor, anyAccuracy)) return { eligible: true, text, ...measured, note: `the default accuracy floor ${floorText(floor)} was not checked on this device` };
    if (value === undefined) return { eligible: false, text, excluded: `${floor.metric} not measured on real images, not eligible under the accuracy floor` };
    if (value < floor.value) return { eligible: false, text, value, excluded: `${floor.metric} ${withCi(value, accuracy?.ci, digits)} < floor ${floor.value}${floor.source === 'default' ? ' (default)' : ''}` };
    return { eligible: true, text: `${text} >= floor ${floor.value}${floor.source === 'default' ? ' (default)' : ''}`, value };
  };
}

/** The floor the report applies: the one given, else the task's default when the sweep measured accuracy on real images. */
export function resolveAccuracyFloor(sweep: SweepView, policy: ReportPolicy): ResolvedAccuracyFloor | undefined {
  if (policy.accuracyFloor === 'none') return undefined;
  const task = (sweep.comparisons ?? []).find((c) => c.evaluation)?.evaluation?.task;
  const byTask = task ? DEFAULT_ACCURACY_FLOORS[task] : undefined;
  if (policy.accuracyFloor) {
    const metric = policy.accuracyFloor.metric ?? byTask?.metric;
    return { ...(metric ? { metric } : {}), value: policy.accuracyFloor.value, source: 'flag' };
  }
  return byTask ? { ...byTask, source: 'default' } : undefined;
}

/** One sentence on what the report's accuracy figures were measured on. */
function accuracyNoteOf(sweep: SweepView): string {
  const comparisons = sweep.comparisons ?? [];
  const evaluated = comparisons.filter((c) => c.evaluation);
  if (evaluated.length > 0) {
    const sets = [...new Set(evaluated.map((c) => `${(c.evaluation?.inputs || `dataset ${c.evaluation?.datasetName}`).replace(/^real images:\s*/, '')} (${c.evaluation?.images} images per variant${c.evaluation?.labelledImages ? `, ${c.evaluation.labelledImages} labelled` : ''})`))];
    const missing = comparisons.filter((c) => !c.evaluation).map((c) => `${c.device} (${c.unmeasured.map((u) => u.reason).join('; ') || c.state})`);
    return `Accuracy measured on real images: ${sets.join('; ')}, on each device with its own execution provider, after its latency rounds; figures are value [bootstrap 95% CI over images].${missing.length > 0 ? ` Not measured on: ${missing.join(', ')}.` : ''}`;
  }
  if (comparisons.some((c) => c.variants.some((v) => v.accuracy?.measuredOn === 'random_inputs'))) {
    return 'Accuracy NOT measured: the sweep has no evaluation dataset. Fidelity (cosine to fp32) was measured on random inputs only, which can make a good variant look broken; it is not accuracy.';
  }
  return 'Accuracy NOT measured: the sweep has no evaluation dataset and no interleaved comparison.';
}

/** Builds the report of a sweep under a policy. Thrown: {@link ReportOptionError} for a bad policy. */
export function buildReport(sweep: SweepView, policy: ReportPolicy = DEFAULT_REPORT_POLICY): SweepReport {
  checkPolicy(policy);
  const floor = resolveAccuracyFloor(sweep, policy);
  const skip = aggregateJobIds(sweep);
  const devices = deviceLabels(sweep);
  const rows = sweep.jobs
    .filter((job) => !skip.has(job.id))
    .map((job) => rowOf(sweep, job, floor?.metric, devices))
    .map((row): ReportRow => {
      const value = accuracyValue(row);
      return floor && value !== undefined && value < floor.value ? { ...row, belowAccuracyFloor: `${floor.metric} ${withCi(value, row.accuracy?.ci)} < floor ${floor.value}${floor.source === 'default' ? ' (default)' : ''}` } : row;
    });
  const marked = markPareto(rows);
  const autoQuant = autoQuantSummaries(sweep, marked);
  const configSearch = sweep.configSearch ? configSearchReport(sweep, { labels: devices, accuracy: accuracyStandings(sweep, floor), ...(floor ? { floorText: floorText(floor) } : {}) }) : undefined;
  return {
    sweepId: sweep.id,
    name: sweep.name,
    model: sweep.model.name,
    state: sweep.state,
    createdAt: sweep.createdAt,
    policy,
    ...(floor ? { accuracyFloor: floor } : {}),
    accuracyNote: accuracyNoteOf(sweep),
    rows: marked,
    recommendations: recommend(marked, policy, floor),
    ...(autoQuant.length > 0 ? { autoQuant } : {}),
    ...(configSearch ? { configSearch } : {}),
  };
}
