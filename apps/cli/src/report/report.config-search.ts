// The runtime-settings search of a sweep in a report: per device, each variant's best
// configuration as the agent confirmed it against onnxruntime's defaults (interleaved rounds,
// ratio with its CI), the device's best overall under the latency bound and the accuracy floor,
// every point measured and every value or point skipped with its reason.
import type { ConfigPoint, ConfigSearchResult, RunConfig } from '@benchfarm/protocol';
import { configLabel, providerSpecText } from '@benchfarm/suite';
import type { ConfigSearchDeviceView, SweepView } from '../client';
import type { AccuracyStandingOf } from './report.types';

/** What the confirmation says of a variant's best configuration against onnxruntime's defaults. */
export type ConfigVerdict = 'faster' | 'slower' | 'tied' | 'baseline' | 'unconfirmed';

/** One point of a device's search, every figure in its unit; a figure not measured is absent. */
export interface ConfigPointRow {
  device: string;
  agentId: string;
  variant: string;
  configId: string;
  /** The settings in words (`cpu t2 basic`); the config id when the result does not carry them. */
  label: string;
  /** The settings; absent when the result does not name this configuration. */
  settings?: Omit<RunConfig, 'id'>;
  measured: boolean;
  /** Why the point was not measured. */
  skipReason?: string;
  /** 1-based position in the measuring order. */
  order?: number;
  queries?: number;
  p50Ms?: number;
  p50CiMs?: { low: number; high: number };
  /** Absent with too few samples for p99. */
  p99Ms?: number;
  meanMs?: number;
  queriesPerSecond?: number;
  samplesPerSecond?: number;
  /** Against the latency bound (p99 <= bound); absent without a bound or for an unmeasured point. */
  meetsBound?: boolean;
  /** The variant's best configuration by the search. */
  best: boolean;
  /** onnxruntime's defaults. */
  baseline: boolean;
}

/** One variant's best configuration on one device, and how it compares with onnxruntime's defaults. */
export interface VariantConfigBest {
  variant: string;
  configId: string;
  label: string;
  baselineConfigId: string;
  baselineLabel: string;
  /** The search's figure for the best and for the defaults: p50 (latency objective) or samples/s (throughput); absent when that point was not measured. */
  bestP50Ms?: number;
  baselineP50Ms?: number;
  bestSamplesPerSecond?: number;
  baselineSamplesPerSecond?: number;
  /** Medians over the interleaved confirmation rounds, ms: the best and the defaults measured alternately. */
  confirmedBestMs?: number;
  confirmedBaselineMs?: number;
  /** best / defaults in the interleaved confirmation (p50, or time per sample for throughput). */
  ratio?: number;
  ratioCi?: { low: number; high: number };
  rounds: number;
  /** Read from the CI: `faster` only when the whole CI is below 1. */
  verdict: ConfigVerdict;
  /** The verdict as the agent wrote it, when it differs from what the CI says. */
  reportedVerdict?: string;
  /** The gain in words with its CI. */
  gain: string;
  note?: string;
  pointsMeasured: number;
  /** Points in this device's space (after value skips). */
  spacePoints?: number;
}

/** The device's best configuration over all variants, under the latency bound and the accuracy floor. */
export interface OverallConfigBest {
  variant?: string;
  configId?: string;
  label?: string;
  p50Ms?: number;
  p99Ms?: number;
  samplesPerSecond?: number;
  /** The variant's confirmation against defaults, when this is the variant's confirmed best. */
  verdict?: ConfigVerdict;
  /** Other qualifying points whose p50 CI overlaps this one's: not told apart. */
  tiedWith?: string[];
  /** Why it was chosen, or why none was; says what could not be checked. */
  reason: string;
}

/** A value or a point not measured on a device, and why. */
export interface ConfigSkipRow {
  kind: 'value' | 'point';
  /** The axis of a skipped value. */
  axis?: string;
  /** The value, or the point's config id. */
  value: string;
  /** The point's settings in words. */
  label?: string;
  /** The variant of a point skipped for one variant. */
  variant?: string;
  reason: string;
}

/** One device's search. */
export interface DeviceConfigSearch {
  device: string;
  agentId: string;
  jobId: string;
  state: string;
  /** The coordinator's estimate of the search's time on this device, ms. */
  estimatedMs: number;
  /** Set when the device has no result: its state, and the job's error when it failed. */
  missing?: string;
  strategy?: string;
  objective?: string;
  /** p99 bound a point must meet to qualify as best overall; absent: none. */
  latencyBoundMs?: number;
  budgetMs?: number;
  spentMs?: number;
  budgetExhausted?: boolean;
  spacePoints?: number;
  pointsMeasured?: number;
  notes: string[];
  variants: VariantConfigBest[];
  best: OverallConfigBest;
  skipped: ConfigSkipRow[];
  points: ConfigPointRow[];
}

/** A sweep's runtime-settings search in a report. */
export interface ConfigSearchReport {
  strategy: string;
  objective: string;
  budgetMs: number;
  latencyBoundMs?: number;
  /** The report's accuracy floor in words (`map50_agreement >= 0.95 (default)`); absent without one. */
  accuracyFloor?: string;
  /** The axes as requested, `name=v1,v2`. */
  axes: string[];
  devices: DeviceConfigSearch[];
}

/** How the configuration search is read, for the footnote of every format. */
export const CONFIG_SEARCH_NOTE =
  "Runtime settings: each variant's best point by the search is confirmed against onnxruntime's defaults in interleaved rounds (best, defaults, best, ...); the ratio is best / defaults with its bootstrap 95% CI over rounds. It is called faster only when the whole CI is below 1; a CI that holds 1 is a tie (no gain shown). Points are single windows: differences between points whose p50 CIs overlap are not told apart.";

/** What {@link configSearchReport} needs from the rest of the report. */
export interface ConfigSearchContext {
  /** Each agent's device label, as the variant rows use it. */
  labels: ReadonlyMap<string, string>;
  /** How a variant stands against the report's accuracy floor on an agent's device. */
  accuracy: AccuracyStandingOf;
  /** The report's accuracy floor in words; absent without one. */
  floorText?: string;
}

const interval = (ci: { low: number; high: number } | undefined): { low: number; high: number } | undefined => (ci ? { low: ci.low, high: ci.high } : undefined);

/** `0.852 [0.820, 0.880]`, or the value alone without a CI. */
export function ratioText(value: number, ci: { low: number; high: number } | undefined): string {
  return ci ? `${value.toFixed(3)} [${ci.low.toFixed(3)}, ${ci.high.toFixed(3)}]` : value.toFixed(3);
}

/** `42 s`, `3 min 05 s`, `1 h 02 min`. */
export function durationText(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

/** The verdict a confirmation supports, read from its CI: the agent's word is not taken over the interval. */
export function confirmedVerdict(best: { configId: string; baselineConfigId: string; verdict: string; ratioCi?: { low: number; high: number } | undefined }): ConfigVerdict {
  if (best.verdict === 'baseline' || best.configId === best.baselineConfigId) return 'baseline';
  const ci = best.ratioCi;
  if (!ci) return 'unconfirmed';
  if (ci.high < 1) return 'faster';
  if (ci.low > 1) return 'slower';
  return 'tied';
}

function gainText(verdict: ConfigVerdict, ratio: number, ci: { low: number; high: number } | undefined, rounds: number, throughput: boolean): string {
  const what = throughput ? 'time per sample' : 'p50';
  const figure = `${what} ratio ${ratioText(ratio, ci)}, ${rounds} interleaved round${rounds === 1 ? '' : 's'}`;
  switch (verdict) {
    case 'baseline':
      return "onnxruntime's defaults were the best point: nothing to gain";
    case 'faster':
      return `${(1 / ratio).toFixed(2)}x faster than onnxruntime's defaults (${figure})`;
    case 'slower':
      return `slower than onnxruntime's defaults when confirmed (${figure}): keep the defaults`;
    case 'tied':
      return `tied with onnxruntime's defaults (${figure}; the CI holds 1): no gain shown`;
    case 'unconfirmed':
      return `not confirmed against onnxruntime's defaults (${figure}; fewer than 2 rounds, no CI): no gain shown`;
  }
}

function settingsOf(config: RunConfig | undefined): Omit<RunConfig, 'id'> | undefined {
  if (!config) return undefined;
  const { id: _id, ...settings } = config;
  return settings;
}

/** A point's figures: a point not measured carries none (its zeros are not measurements). */
function pointRow(p: ConfigPoint, device: string, agentId: string, configs: ReadonlyMap<string, RunConfig>, bestIds: ReadonlySet<string>, baselineIds: ReadonlySet<string>, boundMs: number | undefined, skipLabels: ReadonlyMap<string, string>): ConfigPointRow {
  const settings = settingsOf(configs.get(p.configId));
  const label = settings ? configLabel(settings) : (skipLabels.get(p.configId) || p.configId);
  const base = { device, agentId, variant: p.variant, configId: p.configId, label, ...(settings ? { settings } : {}), best: bestIds.has(`${p.variant}\u0000${p.configId}`), baseline: baselineIds.has(p.configId) };
  if (!p.measured) return { ...base, measured: false, skipReason: p.skipReason || 'not measured (no reason given)', ...(p.order > 0 ? { order: p.order } : {}) };
  const ci = interval(p.p50CiMs);
  return {
    ...base,
    measured: true,
    order: p.order,
    queries: p.queries,
    p50Ms: p.p50Ms,
    ...(ci ? { p50CiMs: ci } : {}),
    ...(p.p99Ms !== undefined ? { p99Ms: p.p99Ms } : {}),
    meanMs: p.meanMs,
    queriesPerSecond: p.queriesPerSecond,
    samplesPerSecond: p.samplesPerSecond,
    ...(boundMs !== undefined ? { meetsBound: p.p99Ms !== undefined && p.p99Ms <= boundMs } : {}),
  };
}

function skipRows(device: ConfigSearchDeviceView, result: ConfigSearchResult | undefined, points: readonly ConfigPointRow[]): ConfigSkipRow[] {
  const seen = new Set<string>();
  const out: ConfigSkipRow[] = [];
  const pointReasons = new Set(points.filter((p) => !p.measured).map((p) => `${p.configId}\u0000${p.skipReason}`));
  for (const s of [...device.skipped, ...(result?.skipped ?? [])]) {
    const key = `${s.axis}\u0000${s.value}\u0000${s.reason}`;
    // A point skip the agent also wrote per variant is listed there, with its variant.
    if (seen.has(key) || (!s.axis && pointReasons.has(`${s.value}\u0000${s.reason}`))) continue;
    seen.add(key);
    out.push(s.axis ? { kind: 'value', axis: s.axis, value: s.value, reason: s.reason || 'no reason given' } : { kind: 'point', value: s.value, ...(s.label ? { label: s.label } : {}), reason: s.reason || 'no reason given' });
  }
  for (const p of points) if (!p.measured) out.push({ kind: 'point', value: p.configId, label: p.label, variant: p.variant, reason: p.skipReason ?? 'not measured' });
  return out;
}

const overlaps = (a: { low: number; high: number }, b: { low: number; high: number }): boolean => a.low <= b.high && b.low <= a.high;

/**
 * The device's best point over all variants: among measured points whose p99 meets the bound (a
 * p99 the sample count does not support does not meet it) of variants eligible under the accuracy
 * floor, the lowest p50 (or the highest samples/s for throughput). Qualifying points whose p50 CI
 * overlaps the winner's are named as not told apart.
 */
function overallBest(points: readonly ConfigPointRow[], variants: readonly VariantConfigBest[], agentId: string, ctx: ConfigSearchContext, boundMs: number | undefined, throughput: boolean): OverallConfigBest {
  const measured = points.filter((p) => p.measured);
  if (measured.length === 0) return { reason: 'no point was measured on this device' };
  const standing = new Map([...new Set(measured.map((p) => p.variant))].map((v) => [v, ctx.accuracy(agentId, v)]));
  const notes: string[] = [];
  const excluded = [...standing].filter(([, s]) => !s.eligible).map(([v, s]) => `excluded ${v}: ${s.excluded ?? 'not eligible'}`);
  for (const s of standing.values()) if (s.note) notes.push(s.note);
  const eligible = measured.filter((p) => standing.get(p.variant)?.eligible);
  const underBound = boundMs === undefined ? eligible : eligible.filter((p) => p.meetsBound);
  const overBound = eligible.length - underBound.length;
  const boundText = boundMs === undefined ? '' : `p99 <= ${boundMs} ms`;
  if (underBound.length === 0) {
    const why = eligible.length === 0 ? 'no variant is eligible under the accuracy floor' : `no point of an eligible variant meets ${boundText} (${overBound} over it or with too few queries for p99)`;
    return { reason: [why, ...excluded, ...new Set(notes)].join('; ') };
  }
  const key = (p: ConfigPointRow): number => (throughput ? -(p.samplesPerSecond as number) : (p.p50Ms as number));
  const ranked = [...underBound].sort((a, b) => key(a) - key(b) || (a.p99Ms ?? Infinity) - (b.p99Ms ?? Infinity) || (a.order ?? 0) - (b.order ?? 0));
  const winner = ranked[0] as ConfigPointRow;
  const parts: string[] = [];
  const figure = throughput
    ? `${(winner.samplesPerSecond as number).toFixed(1)} samples/s`
    : `p50 ${(winner.p50Ms as number).toFixed(3)} ms${winner.p50CiMs ? ` [${winner.p50CiMs.low.toFixed(3)}, ${winner.p50CiMs.high.toFixed(3)}]` : ''}`;
  parts.push(`${throughput ? 'highest samples/s' : 'lowest p50'} of ${underBound.length} qualifying point(s): ${figure}${winner.p99Ms !== undefined ? `, p99 ${winner.p99Ms.toFixed(3)} ms` : ''}`);
  if (boundMs !== undefined) parts.push(`${boundText}${overBound > 0 ? ` (${overBound} point(s) over it or with too few queries for p99 left out)` : ''}`);
  let tiedWith: string[] | undefined;
  if (!throughput && winner.p50CiMs) {
    const wci = winner.p50CiMs;
    const tied = ranked.slice(1).filter((p) => p.p50CiMs && overlaps(p.p50CiMs, wci));
    if (tied.length > 0) {
      tiedWith = tied.map((p) => `${p.variant} ${p.label}`);
      const shown = tiedWith.slice(0, 5).join(', ');
      parts.push(`not told apart from ${shown}${tiedWith.length > 5 ? ` and ${tiedWith.length - 5} more` : ''} (p50 CIs overlap)`);
    }
  } else if (ranked.length > 1) {
    parts.push(throughput ? 'samples/s of a point has no CI: a single window, the margin to the next point is not checked against noise' : 'no p50 CI on this point: the margin to the next point is not checked against noise');
  }
  const confirmed = variants.find((v) => v.variant === winner.variant);
  let verdict: ConfigVerdict | undefined;
  if (confirmed && confirmed.configId === winner.configId) {
    verdict = confirmed.verdict;
    parts.push(`against defaults: ${confirmed.gain}`);
  } else if (confirmed) {
    const confirmedPoint = points.find((p) => p.variant === winner.variant && p.configId === confirmed.configId);
    const why = confirmedPoint?.meetsBound === false ? `its p99 is ${confirmedPoint.p99Ms === undefined ? 'not reportable' : 'over the bound'}` : 'ranked lower here';
    parts.push(`not ${winner.variant}'s confirmed best (${confirmed.label}: ${why}), so not confirmed against onnxruntime's defaults`);
  } else parts.push(`no confirmation against onnxruntime's defaults for ${winner.variant}`);
  const accuracy = standing.get(winner.variant);
  if (accuracy) parts.push(accuracy.text);
  // A variant whose accuracy was not measured is never chosen as the more accurate one: say it won on speed alone.
  const measuredOthers = [...standing].filter(([v, s]) => v !== winner.variant && s.eligible && s.value !== undefined).map(([v]) => v);
  if (accuracy?.value === undefined && measuredOthers.length > 0) {
    parts.push(`chosen on ${throughput ? 'throughput' : 'latency'} alone: its accuracy was not measured, so it is not shown to be as accurate as ${measuredOthers.join(', ')}`);
  }
  return {
    variant: winner.variant,
    configId: winner.configId,
    label: winner.label,
    ...(winner.p50Ms !== undefined ? { p50Ms: winner.p50Ms } : {}),
    ...(winner.p99Ms !== undefined ? { p99Ms: winner.p99Ms } : {}),
    ...(winner.samplesPerSecond !== undefined ? { samplesPerSecond: winner.samplesPerSecond } : {}),
    ...(verdict ? { verdict } : {}),
    ...(tiedWith ? { tiedWith } : {}),
    reason: [...parts, ...excluded, ...new Set(notes)].join('; '),
  };
}

function deviceSearch(sweep: SweepView, d: ConfigSearchDeviceView, ctx: ConfigSearchContext): DeviceConfigSearch {
  const device = ctx.labels.get(d.agentId) ?? (d.agentName || d.agentId);
  const r = d.result;
  const base = { device, agentId: d.agentId, jobId: d.jobId, state: d.state, estimatedMs: d.estimatedMs, notes: [...d.notes] };
  const boundFromSweep = sweep.configSearch?.latencyBoundMs;
  const boundMs = boundFromSweep !== undefined && boundFromSweep > 0 ? boundFromSweep : r && r.latencyBoundMs > 0 ? r.latencyBoundMs : undefined;
  if (!r) {
    const error = d.jobId ? sweep.jobs.find((j) => j.id === d.jobId)?.error : undefined;
    // The coordinator plans no job for a device where no point of the space can run.
    const missing = d.state === 'skipped' ? 'no search on this device: no point of the space can run here (the skipped values say why)' : `no result: the search is ${d.state}${error ? `: ${error}` : ''}`;
    return { ...base, missing, variants: [], best: { reason: missing }, skipped: skipRows(d, undefined, []), points: [], ...(boundMs !== undefined ? { latencyBoundMs: boundMs } : {}) };
  }
  const throughput = r.objective === 'throughput';
  const configs = new Map(r.configs.map((c) => [c.id, c]));
  const skipLabels = new Map([...d.skipped, ...r.skipped].filter((s) => !s.axis && s.label).map((s) => [s.value, s.label]));
  const bestIds = new Set(r.best.map((b) => `${b.variant}\u0000${b.configId}`));
  const baselineIds = new Set(r.best.map((b) => b.baselineConfigId));
  const points = r.points.map((p) => pointRow(p, device, d.agentId, configs, bestIds, baselineIds, boundMs, skipLabels));
  const labelOf = (id: string): string => {
    const settings = settingsOf(configs.get(id));
    return settings ? configLabel(settings) : (skipLabels.get(id) || id);
  };
  const variants = r.best.map((b): VariantConfigBest => {
    const point = (id: string): ConfigPointRow | undefined => points.find((p) => p.variant === b.variant && p.configId === id && p.measured);
    const best = point(b.configId);
    const baseline = point(b.baselineConfigId);
    const ci = interval(b.ratioCi);
    const verdict = confirmedVerdict(b);
    const hasRatio = verdict !== 'baseline' && b.rounds > 0;
    return {
      variant: b.variant,
      configId: b.configId,
      label: labelOf(b.configId),
      baselineConfigId: b.baselineConfigId,
      baselineLabel: labelOf(b.baselineConfigId),
      ...(best?.p50Ms !== undefined ? { bestP50Ms: best.p50Ms } : {}),
      ...(baseline?.p50Ms !== undefined ? { baselineP50Ms: baseline.p50Ms } : {}),
      ...(best?.samplesPerSecond !== undefined ? { bestSamplesPerSecond: best.samplesPerSecond } : {}),
      ...(baseline?.samplesPerSecond !== undefined ? { baselineSamplesPerSecond: baseline.samplesPerSecond } : {}),
      ...(hasRatio ? { confirmedBestMs: b.bestMedianMs, confirmedBaselineMs: b.baselineMedianMs, ratio: b.ratioToBaseline } : {}),
      ...(hasRatio && ci ? { ratioCi: ci } : {}),
      rounds: b.rounds,
      verdict,
      ...(b.verdict !== verdict ? { reportedVerdict: b.verdict || '(none)' } : {}),
      gain: hasRatio || verdict === 'baseline' ? gainText(verdict, b.ratioToBaseline, ci, b.rounds, throughput) : 'not confirmed against onnxruntime\'s defaults: no interleaved rounds ran',
      ...(b.note ? { note: b.note } : {}),
      pointsMeasured: points.filter((p) => p.variant === b.variant && p.measured).length,
      spacePoints: r.spacePoints,
    };
  });
  // A variant searched but without a best (every point skipped) still gets its line.
  for (const v of [...new Set(points.map((p) => p.variant))].filter((v) => !variants.some((x) => x.variant === v))) {
    variants.push({
      variant: v,
      configId: '',
      label: 'none',
      baselineConfigId: '',
      baselineLabel: '',
      rounds: 0,
      verdict: 'unconfirmed',
      gain: 'no best configuration: no point of this variant was measured',
      pointsMeasured: points.filter((p) => p.variant === v && p.measured).length,
      spacePoints: r.spacePoints,
    });
  }
  return {
    ...base,
    strategy: r.strategy,
    objective: r.objective,
    ...(boundMs !== undefined ? { latencyBoundMs: boundMs } : {}),
    budgetMs: r.budgetMs,
    spentMs: r.spentMs,
    budgetExhausted: r.budgetExhausted,
    spacePoints: r.spacePoints,
    pointsMeasured: r.pointsMeasured,
    variants,
    best: overallBest(points, variants, d.agentId, ctx, boundMs, throughput),
    skipped: skipRows(d, r, points),
    points,
  };
}

/** Builds the configuration-search section of a sweep's report; the sweep must have one. Pure. */
export function configSearchReport(sweep: SweepView, ctx: ConfigSearchContext): ConfigSearchReport | undefined {
  const cs = sweep.configSearch;
  if (!cs) return undefined;
  const devices = cs.devices.map((d) => deviceSearch(sweep, d, ctx)).sort((a, b) => a.device.localeCompare(b.device));
  return {
    strategy: cs.strategy,
    objective: cs.objective,
    budgetMs: cs.budgetMs,
    ...(cs.latencyBoundMs !== undefined && cs.latencyBoundMs > 0 ? { latencyBoundMs: cs.latencyBoundMs } : {}),
    ...(ctx.floorText ? { accuracyFloor: ctx.floorText } : {}),
    axes: cs.axes.map((a) => `${a.name}=${a.values.join(',')}`),
    devices,
  };
}

// ---- Renderers shared by the text, Markdown and CSV formats.

const fixed = (v: number | undefined, digits: number): string => (v === undefined ? '-' : v.toFixed(digits));

/** The search's settings in one line: strategy, objective, budget, bound, axes. */
export function configSearchHeadline(cs: ConfigSearchReport): string {
  return `Runtime settings search: ${cs.strategy}, objective ${cs.objective === 'throughput' ? 'throughput (samples/s)' : 'p50 latency'}, budget ${durationText(cs.budgetMs)} per device, ${cs.latencyBoundMs !== undefined ? `latency bound p99 <= ${cs.latencyBoundMs} ms` : 'no latency bound'}; axes ${cs.axes.join('; ') || 'none'}`;
}

/** A device's search in one line: measured points, budget spent. */
export function deviceSummary(d: DeviceConfigSearch): string {
  if (d.missing) return `${d.device}: ${d.missing} (estimated ${durationText(d.estimatedMs)})`;
  const perVariant = d.variants.map((v) => `${v.variant} ${v.pointsMeasured}/${d.spacePoints ?? '?'}`).join(', ');
  return `${d.device}: ${d.strategy} search, points measured per variant ${perVariant} (${d.pointsMeasured} in all); ${durationText(d.spentMs ?? 0)} of the ${durationText(d.budgetMs ?? 0)} budget spent${d.budgetExhausted ? ', budget EXHAUSTED: points left unmeasured are listed as skipped' : ''} (estimated ${durationText(d.estimatedMs)})`;
}

/** The overall best in one line, with the conditions it was chosen under. */
export function overallText(d: DeviceConfigSearch, accuracyFloor: string | undefined): string {
  const under = [d.latencyBoundMs !== undefined ? `p99 <= ${d.latencyBoundMs} ms` : 'no latency bound', accuracyFloor ? `accuracy floor ${accuracyFloor}` : 'no accuracy floor'].join(', ');
  const b = d.best;
  return `best overall on ${d.device} (${under}): ${b.variant ? `${b.variant} ${b.label} (${b.configId})` : 'none'}: ${b.reason}`;
}

/** A skip in one line. */
export function skipText(s: ConfigSkipRow): string {
  if (s.kind === 'value') return `${s.axis}=${s.value}: ${s.reason}`;
  return `${s.variant ? `${s.variant} ` : ''}${s.label && s.label !== s.value ? `${s.label} (${s.value})` : s.value}: ${s.reason}`;
}

/** Headers of the per-variant best table. */
export const BEST_HEADERS = ['variant', 'best configuration', 'id', 'search: best', 'search: defaults', 'interleaved median ms best / defaults', 'best / defaults (95% CI)', 'verdict', 'points'];

/** The per-variant best table's cells (objective figure for best and defaults). */
export function bestCells(d: DeviceConfigSearch, v: VariantConfigBest): string[] {
  const throughput = d.objective === 'throughput';
  const figure = (ms: number | undefined, sps: number | undefined): string => (throughput ? (sps === undefined ? '-' : `${sps.toFixed(1)} samples/s`) : ms === undefined ? '-' : `p50 ${ms.toFixed(3)} ms`);
  return [
    v.variant,
    v.label,
    v.configId || '-',
    figure(v.bestP50Ms, v.bestSamplesPerSecond),
    figure(v.baselineP50Ms, v.baselineSamplesPerSecond),
    v.confirmedBestMs === undefined || v.confirmedBaselineMs === undefined ? '-' : `${v.confirmedBestMs.toFixed(3)} / ${v.confirmedBaselineMs.toFixed(3)}`,
    v.ratio === undefined ? (v.verdict === 'baseline' ? '1 (defaults)' : '-') : ratioText(v.ratio, v.ratioCi),
    v.verdict === 'faster' && v.ratio !== undefined ? `faster ${(1 / v.ratio).toFixed(2)}x` : v.verdict === 'baseline' ? 'defaults best' : v.verdict,
    `${v.pointsMeasured}/${v.spacePoints ?? '?'}`,
  ];
}

/** Headers of the points table. */
export const POINT_HEADERS = ['variant', 'configuration', 'id', 'measured', 'queries', 'p50 ms', 'p99 ms', 'mean ms', 'qps', 'samples/s', 'p99 bound', 'note'];

/** One point's cells; an unmeasured figure is `-`, never 0. */
export function pointCells(p: ConfigPointRow): string[] {
  const note = [p.best ? 'best' : '', p.baseline ? 'defaults' : '', p.skipReason ?? ''].filter(Boolean).join(', ');
  return [
    p.variant,
    p.label,
    p.configId,
    p.measured ? 'yes' : 'no',
    p.queries === undefined ? '-' : String(p.queries),
    fixed(p.p50Ms, 3),
    p.measured && p.p99Ms === undefined ? 'n/a' : fixed(p.p99Ms, 3),
    fixed(p.meanMs, 3),
    fixed(p.queriesPerSecond, 1),
    fixed(p.samplesPerSecond, 1),
    p.meetsBound === undefined ? '-' : p.meetsBound ? 'meets' : p.p99Ms === undefined ? 'unknown' : 'OVER',
    note,
  ];
}

/** The device's section as plain lines: summary, best per variant (cells), overall, skips, notes. */
export function deviceLines(d: DeviceConfigSearch, accuracyFloor: string | undefined, table: (headers: string[], rows: string[][]) => string): string[] {
  const lines = [deviceSummary(d)];
  if (d.variants.length > 0) lines.push(table(BEST_HEADERS, d.variants.map((v) => bestCells(d, v))));
  for (const v of d.variants) {
    lines.push(`  ${v.variant}: ${v.gain}${v.reportedVerdict ? ` (the agent wrote "${v.reportedVerdict}"; the CI says ${v.verdict})` : ''}${v.note ? `; ${v.note}` : ''}`);
  }
  lines.push(overallText(d, accuracyFloor));
  if (d.skipped.length > 0) lines.push(`skipped on ${d.device}:`, ...d.skipped.map((s) => `  ${skipText(s)}`));
  if (d.notes.length > 0) lines.push(...d.notes.map((n) => `note: ${n}`));
  if (d.points.length > 0) lines.push(`every point on ${d.device}:`, table(POINT_HEADERS, d.points.map(pointCells)));
  return lines;
}

/** The configuration search in the terminal report (after the other tables); empty without one. */
export function configSearchText(cs: ConfigSearchReport | undefined, table: (headers: string[], rows: string[][]) => string): string[] {
  if (!cs) return [];
  return ['', configSearchHeadline(cs), ...cs.devices.flatMap((d) => ['', ...deviceLines(d, cs.accuracyFloor, table)]), '', CONFIG_SEARCH_NOTE];
}

const escapeMd = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function mdTable(headers: string[], rows: string[][]): string {
  return [`| ${headers.map(escapeMd).join(' | ')} |`, `| ${headers.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.map(escapeMd).join(' | ')} |`)].join('\n');
}

/** The configuration search as Markdown lines (a `##` section); empty without one. */
export function configSearchMarkdown(cs: ConfigSearchReport | undefined): string[] {
  if (!cs) return [];
  const lines = ['', '## Runtime settings per device', '', escapeMd(configSearchHeadline(cs))];
  for (const d of cs.devices) {
    lines.push('', `### ${escapeMd(d.device)}`, '', escapeMd(deviceSummary(d)));
    if (d.variants.length > 0) lines.push('', mdTable(BEST_HEADERS, d.variants.map((v) => bestCells(d, v))), '', ...d.variants.map((v) => `- ${escapeMd(`${v.variant}: ${v.gain}${v.note ? `; ${v.note}` : ''}`)}`));
    lines.push('', `**${escapeMd(overallText(d, cs.accuracyFloor))}**`);
    if (d.skipped.length > 0) lines.push('', 'Skipped:', '', ...d.skipped.map((s) => `- ${escapeMd(skipText(s))}`));
    if (d.notes.length > 0) lines.push('', ...d.notes.map((n) => `- note: ${escapeMd(n)}`));
    if (d.points.length > 0) lines.push('', mdTable(POINT_HEADERS, d.points.map(pointCells)));
  }
  lines.push('', escapeMd(CONFIG_SEARCH_NOTE));
  return lines;
}

function csvField(value: string): string {
  return /[",\n\r]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** Columns of {@link configSearchCsv}, raw units (ms, queries/s); a figure not measured is an empty field. */
export const CONFIG_CSV_COLUMNS: ReadonlyArray<[string, (p: ConfigPointRow) => string | number | boolean | undefined]> = [
  ['device', (p) => p.device],
  ['agent_id', (p) => p.agentId],
  ['variant', (p) => p.variant],
  ['config_id', (p) => p.configId],
  ['label', (p) => p.label],
  ['execution_provider', (p) => p.settings?.executionProvider],
  ['provider_spec', (p) => (p.settings ? providerSpecText({ name: p.settings.executionProvider, options: p.settings.providerOptions }) : undefined)],
  ['intra_op_threads', (p) => p.settings?.intraOpThreads],
  ['inter_op_threads', (p) => p.settings?.interOpThreads],
  ['execution_mode', (p) => p.settings?.executionMode],
  ['graph_optimization_level', (p) => p.settings?.graphOptimizationLevel],
  ['batch_size', (p) => p.settings?.batchSize],
  ['concurrency', (p) => p.settings?.concurrency],
  ['measured', (p) => p.measured],
  ['skip_reason', (p) => p.skipReason],
  ['order', (p) => p.order],
  ['queries', (p) => p.queries],
  ['p50_ms', (p) => p.p50Ms],
  ['p50_ci_low_ms', (p) => p.p50CiMs?.low],
  ['p50_ci_high_ms', (p) => p.p50CiMs?.high],
  ['p99_ms', (p) => p.p99Ms],
  ['mean_ms', (p) => p.meanMs],
  ['queries_per_second', (p) => p.queriesPerSecond],
  ['samples_per_second', (p) => p.samplesPerSecond],
  ['meets_latency_bound', (p) => p.meetsBound],
  ['best_for_variant', (p) => p.best],
  ['is_defaults', (p) => p.baseline],
];

/** Every point of every device's search as CSV (RFC 4180), one row per point. */
export function configSearchCsv(sweepId: string, cs: ConfigSearchReport | undefined): string {
  const header = ['sweep_id', ...CONFIG_CSV_COLUMNS.map(([name]) => name)].join(',');
  const rows = (cs?.devices ?? []).flatMap((d) => d.points).map((p) => [sweepId, ...CONFIG_CSV_COLUMNS.map(([, value]) => String(value(p) ?? ''))].map(csvField).join(','));
  return `${[header, ...rows].join('\n')}\n`;
}
