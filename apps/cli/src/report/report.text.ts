import { AUTO_QUANT_NOTE, autoQuantLines } from './report.auto';
import { configSearchMarkdown } from './report.config-search';
import { ACCURACY_METRICS, withCi, type SweepReport } from './report.model';
import type { ReportRow } from './report.types';

const MB = 1024 * 1024;

/** A figure for a table cell, or `-` when it was not measured. */
export function cell(value: number | undefined, digits: number, scale = 1): string {
  return value === undefined ? '-' : (value / scale).toFixed(digits);
}

/** The interleaved ratio to the reference with its 95% CI, `1 (reference)`, or `-`. */
export function ratioCell(r: ReportRow): string {
  if (r.ratioToReference === undefined) return '-';
  return r.referenceVariant === r.variant ? '1 (reference)' : withCi(r.ratioToReference, r.ratioCi);
}

/** `map50_agreement 0.982`, `not measured` (random inputs only / absent with a reason), or `-`. */
export function accuracyCell(r: ReportRow): string {
  const a = r.accuracy;
  if (!a || a.measuredOn !== 'real_images') return a ? 'not measured' : '-';
  if (a.value === undefined) return `${a.metric ?? 'accuracy'} n/a`;
  return `${a.metric} ${a.value.toFixed(3)}`;
}

/** `[0.951, 1.000]` or `-`. */
export function accuracyCiCell(r: ReportRow): string {
  const ci = r.accuracy?.measuredOn === 'real_images' ? r.accuracy.ci : undefined;
  return ci ? `[${ci.low.toFixed(3)}, ${ci.high.toFixed(3)}]` : '-';
}

/** Images behind the accuracy figure, or `-`. */
export function accuracyImagesCell(r: ReportRow): string {
  const a = r.accuracy;
  return a?.measuredOn === 'real_images' && a.value !== undefined ? String(a.valueImages ?? a.images) : '-';
}

/** `real images` / `random inputs` / `-`: what accuracy and fidelity were measured on. */
export function measuredOnCell(r: ReportRow): string {
  const on = r.accuracy?.measuredOn ?? r.fidelityOn;
  return on === 'real_images' ? 'real images' : on === 'random_inputs' ? 'random inputs' : '-';
}

/** Fidelity (worst output's cosine) with its CI over images when it has one. */
export function fidelityCell(r: ReportRow): string {
  if (r.fidelity === undefined) return '-';
  return r.referenceVariant === r.variant && r.fidelityCi === undefined ? '1 (reference)' : withCi(r.fidelity, r.fidelityCi, 4);
}

/** The columns every text report shows, with units in the header. */
export const REPORT_COLUMNS: ReadonlyArray<{ header: string; csv: string; value: (r: ReportRow) => string }> = [
  { header: 'variant', csv: 'variant', value: (r) => r.variant },
  { header: 'device', csv: 'device', value: (r) => r.device },
  { header: 'provider', csv: 'provider', value: (r) => r.provider },
  { header: 'state', csv: 'state', value: (r) => r.state },
  { header: 'queries', csv: 'queries', value: (r) => (r.count === undefined ? '-' : String(r.count)) },
  { header: 'p50 ms', csv: 'p50_ms', value: (r) => cell(r.p50Ms, 3) },
  { header: 'p90 ms', csv: 'p90_ms', value: (r) => cell(r.p90Ms, 3) },
  { header: 'p99 ms', csv: 'p99_ms', value: (r) => cell(r.p99Ms, 3) },
  { header: 'qps', csv: 'throughput_qps', value: (r) => cell(r.throughputQps, 1) },
  { header: 'peak MB', csv: 'peak_rss_bytes', value: (r) => cell(r.peakRssBytes, 1, MB) },
  { header: 'size MB', csv: 'size_bytes', value: (r) => cell(r.sizeBytes, 2, MB) },
  { header: 'ratio to ref (95% CI)', csv: 'ratio_to_reference', value: ratioCell },
  { header: 'accuracy', csv: 'accuracy', value: accuracyCell },
  { header: 'accuracy 95% CI', csv: 'accuracy_ci', value: accuracyCiCell },
  { header: 'n images', csv: 'accuracy_images', value: accuracyImagesCell },
  { header: 'fidelity (95% CI)', csv: 'fidelity_cosine', value: fidelityCell },
  { header: 'measured on', csv: 'accuracy_measured_on', value: measuredOnCell },
  { header: 'avg W', csv: 'average_power_watts', value: (r) => cell(r.averagePowerWatts, 2) },
  { header: 'mJ/inference', csv: 'energy_per_inference_joules', value: (r) => cell(r.energyPerInferenceJoules, 3, 1e-3) },
  { header: 'Pareto', csv: 'pareto', value: (r) => (r.pareto ? 'yes' : '') },
];

/** The policy in words: floors and SLO. */
export function policyLine(report: SweepReport): string {
  const p = report.policy;
  const f = report.accuracyFloor;
  const parts = [
    f ? `accuracy floor ${f.metric ?? "task's default metric"} >= ${f.value}${f.source === 'default' ? ' (default for real data)' : ''}` : 'no accuracy floor',
    p.fidelityFloor !== undefined ? `fidelity floor ${p.fidelityFloor}` : 'no fidelity floor',
    p.latencySloMs !== undefined ? `latency SLO p${Math.round(p.sloQuantile * 100)} <= ${p.latencySloMs} ms` : 'no latency SLO',
  ];
  return parts.join(', ');
}

/** How the Pareto front is drawn, for the footnote of every format. */
export const PARETO_NOTE =
  'Pareto: not beaten on p50 latency, size and measured accuracy on real images (else fidelity) by another variant on the same device; a variant below the accuracy floor is never on the front.';
/** How ties are called, for the footnote of every format. */
export const TIE_NOTE =
  'Latency is "tied" when the interleaved ratio CIs overlap (or include 1 against the reference): then the more accurate, then the smaller variant is preferred; a variant is called faster only when the CIs are apart.';

const escapeMd = (s: string): string => s.replace(/\|/g, '\\|');

/** The report as GitHub-flavoured Markdown. */
export function reportMarkdown(report: SweepReport): string {
  const head = REPORT_COLUMNS.map((c) => c.header);
  const lines = [
    `# benchfarm report: ${escapeMd(report.name || report.sweepId)}`,
    '',
    `Sweep \`${report.sweepId}\` of model \`${report.model}\`, created ${report.createdAt}, ${report.state}.`,
    '',
    escapeMd(report.accuracyNote),
  ];
  if (report.rows.length === 0 && report.configSearch) lines.push('', "No variant was measured under the sweep's own settings: this sweep is a runtime-settings search, reported below.");
  else {
    lines.push(
      '',
      '## Variant x device',
      '',
      `| ${head.join(' | ')} |`,
      `| ${head.map((_, i) => (i < 4 ? '---' : '---:')).join(' | ')} |`,
      ...report.rows.map((r) => `| ${REPORT_COLUMNS.map((c) => escapeMd(c.value(r))).join(' | ')} |`),
      '',
      `## Recommended variant per device (${policyLine(report)})`,
      '',
      '| device | variant | why |',
      '| --- | --- | --- |',
      ...report.recommendations.map((r) => `| ${escapeMd(r.device)} | ${r.variant ? `**${escapeMd(r.variant)}**${r.tiedWith ? ` (tied with ${escapeMd(r.tiedWith.join(', '))})` : ''}` : 'none'} | ${escapeMd(r.reason)} |`),
    );
  }
  if (report.autoQuant) lines.push('', '## int8-auto', '', escapeMd(AUTO_QUANT_NOTE), '', ...report.autoQuant.flatMap((s) => autoQuantLines(s).map((l) => `${l.startsWith('  ') ? '  - ' : '- '}${escapeMd(l.trim())}`)));
  lines.push(...configSearchMarkdown(report.configSearch));
  const notes = [...new Set(report.rows.flatMap((r) => r.unmeasured))];
  if (notes.length > 0) lines.push('', '## Not measured', '', ...notes.map((n) => `- ${escapeMd(n)}`));
  lines.push('', `A percentile is shown only where the sample count supports it (MLPerf early stopping: p90 needs 64 queries, p99 662). ${PARETO_NOTE} ${TIE_NOTE}`);
  return `${lines.join('\n')}\n`;
}

function accuracyOf(r: ReportRow): ReportRow['accuracy'] {
  return r.accuracy?.measuredOn === 'real_images' ? r.accuracy : undefined;
}

function csvField(value: string): string {
  return /[",\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** The report rows as CSV (RFC 4180), raw units (ms, bytes, joules); an unmeasured figure is an empty field. */
export function reportCsv(report: SweepReport): string {
  const raw: Record<string, (r: ReportRow) => string | number | undefined> = {
    variant: (r) => r.variant,
    device: (r) => r.device,
    provider: (r) => r.provider,
    state: (r) => r.state,
    queries: (r) => r.count,
    p50_ms: (r) => r.p50Ms,
    p90_ms: (r) => r.p90Ms,
    p99_ms: (r) => r.p99Ms,
    throughput_qps: (r) => r.throughputQps,
    peak_rss_bytes: (r) => r.peakRssBytes,
    size_bytes: (r) => r.sizeBytes,
    fidelity_cosine: (r) => r.fidelity,
    energy_per_inference_joules: (r) => r.energyPerInferenceJoules,
    average_power_watts: (r) => r.averagePowerWatts,
    pareto: (r) => (r.pareto ? 'true' : 'false'),
    unmeasured: (r) => r.unmeasured.join('; '),
    // Comparison and accuracy columns, appended so existing columns keep their place.
    ratio_to_reference: (r) => r.ratioToReference,
    ratio_ci_low: (r) => (r.referenceVariant === r.variant ? undefined : r.ratioCi?.low),
    ratio_ci_high: (r) => (r.referenceVariant === r.variant ? undefined : r.ratioCi?.high),
    reference_variant: (r) => r.referenceVariant,
    fidelity_ci_low: (r) => r.fidelityCi?.low,
    fidelity_ci_high: (r) => r.fidelityCi?.high,
    fidelity_images: (r) => (r.fidelity === undefined ? undefined : r.fidelityImages),
    fidelity_measured_on: (r) => r.fidelityOn,
    accuracy_measured_on: (r) => r.accuracy?.measuredOn,
    accuracy_inputs: (r) => r.accuracy?.inputs,
    accuracy_metric: (r) => (r.accuracy?.measuredOn === 'real_images' ? r.accuracy.metric : undefined),
    accuracy: (r) => accuracyOf(r)?.value,
    accuracy_ci_low: (r) => accuracyOf(r)?.ci?.low,
    accuracy_ci_high: (r) => accuracyOf(r)?.ci?.high,
    accuracy_images: (r) => (accuracyOf(r)?.value === undefined ? undefined : (accuracyOf(r)?.valueImages ?? accuracyOf(r)?.images)),
    below_accuracy_floor: (r) => r.belowAccuracyFloor,
  };
  // Every task metric any row reports, each with its CI and image count.
  const present = ACCURACY_METRICS.filter((m) => report.rows.some((r) => r.accuracy?.metrics.some((x) => x.metric === m)));
  for (const m of present) {
    const of = (r: ReportRow) => r.accuracy?.metrics.find((x) => x.metric === m);
    raw[m] = (r) => of(r)?.value;
    raw[`${m}_ci_low`] = (r) => of(r)?.ci?.low;
    raw[`${m}_ci_high`] = (r) => of(r)?.ci?.high;
    raw[`${m}_images`] = (r) => (of(r)?.value === undefined ? undefined : of(r)?.images);
  }
  const header = Object.keys(raw);
  const rows = report.rows.map((r) => header.map((h) => csvField(String(raw[h]?.(r) ?? ''))).join(','));
  return `${['sweep_id', ...header].join(',')}\n${rows.map((row) => `${csvField(report.sweepId)},${row}`).join('\n')}\n`;
}
