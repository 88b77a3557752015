import type { ReportRow, SweepReport } from './report.model';

const MB = 1024 * 1024;

/** A figure for a table cell, or `-` when it was not measured. */
export function cell(value: number | undefined, digits: number, scale = 1): string {
  return value === undefined ? '-' : (value / scale).toFixed(digits);
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
  { header: 'fidelity', csv: 'fidelity_cosine', value: (r) => cell(r.fidelity, 4) },
  { header: 'avg W', csv: 'average_power_watts', value: (r) => cell(r.averagePowerWatts, 2) },
  { header: 'mJ/inference', csv: 'energy_per_inference_joules', value: (r) => cell(r.energyPerInferenceJoules, 3, 1e-3) },
  { header: 'Pareto', csv: 'pareto', value: (r) => (r.pareto ? 'yes' : '') },
];

function policyLine(report: SweepReport): string {
  const p = report.policy;
  const parts = [
    p.fidelityFloor !== undefined ? `fidelity floor ${p.fidelityFloor}` : 'no fidelity floor',
    p.latencySloMs !== undefined ? `latency SLO p${Math.round(p.sloQuantile * 100)} <= ${p.latencySloMs} ms` : 'no latency SLO',
  ];
  return parts.join(', ');
}

const escapeMd = (s: string): string => s.replace(/\|/g, '\\|');

/** The report as GitHub-flavoured Markdown. */
export function reportMarkdown(report: SweepReport): string {
  const head = REPORT_COLUMNS.map((c) => c.header);
  const lines = [
    `# benchfarm report: ${escapeMd(report.name || report.sweepId)}`,
    '',
    `Sweep \`${report.sweepId}\` of model \`${report.model}\`, created ${report.createdAt}, ${report.state}.`,
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
    ...report.recommendations.map((r) => `| ${escapeMd(r.device)} | ${r.variant ? `**${escapeMd(r.variant)}**` : 'none'} | ${escapeMd(r.reason)} |`),
  ];
  const notes = [...new Set(report.rows.flatMap((r) => r.unmeasured))];
  if (notes.length > 0) lines.push('', '## Not measured', '', ...notes.map((n) => `- ${escapeMd(n)}`));
  lines.push('', 'A percentile is shown only where the sample count supports it (MLPerf early stopping: p90 needs 64 queries, p99 662). Pareto: not beaten on p50 latency, size and (where measured) fidelity by another variant on the same device.');
  return `${lines.join('\n')}\n`;
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
  };
  const header = Object.keys(raw);
  const rows = report.rows.map((r) => header.map((h) => csvField(String(raw[h]?.(r) ?? ''))).join(','));
  return `${['sweep_id', ...header].join(',')}\n${rows.map((row) => `${csvField(report.sweepId)},${row}`).join('\n')}\n`;
}
