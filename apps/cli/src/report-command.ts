import { InvalidArgumentError } from 'commander';
import type { SweepView } from './client';
import { table } from './format';
import {
  COMPARISON_HEADERS,
  PARETO_NOTE,
  ReportOptionError,
  TIE_NOTE,
  accuracyCell,
  accuracyCiCell,
  accuracyImagesCell,
  autoQuantText,
  buildReport,
  comparisonRows,
  configSearchCsv,
  configSearchText,
  fidelityCell,
  measuredOnCell,
  parseAccuracyFloor,
  policyLine,
  ratioCell,
  reportCsv,
  reportHtml,
  reportMarkdown,
  type AccuracyFloor,
  type SweepComparison,
  type SweepReport,
} from './report';

/**
 * Formats `benchfarm report --format` takes besides the terminal table. `csv` is one row per
 * variant x device; `config-csv` one row per point of the runtime-settings search (a CSV holds one
 * table, so the points have their own format).
 */
export const REPORT_FORMATS = ['markdown', 'html', 'csv', 'config-csv', 'json'] as const;

/** The report flags of the CLI. */
export interface ReportFlags {
  format: string;
  output?: string;
  fidelityFloor?: number;
  /** `--accuracy-floor`, parsed by {@link accuracyFloorOption}. */
  accuracyFloor?: AccuracyFloor | 'none';
  latencySloMs?: number;
  sloPercentile: number;
}

/** A commander parser of a finite number, naming the option when it is not one. */
export function num(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number, got "${value}"`);
    return n;
  };
}

/** A commander parser of `--accuracy-floor` (`0.95`, `map50=0.5`, `none`), naming the option when the value is bad. */
export function accuracyFloorOption(value: string): AccuracyFloor | 'none' {
  try {
    return parseAccuracyFloor(value);
  } catch (err) {
    throw new InvalidArgumentError(err instanceof Error ? err.message : String(err));
  }
}

/** Builds the report of a sweep under the CLI's flags. Thrown: {@link ReportOptionError} for a bad policy. */
export function reportOf(sweep: SweepView, flags: Omit<ReportFlags, 'format'>): SweepReport {
  return buildReport(sweep, {
    ...(flags.fidelityFloor !== undefined ? { fidelityFloor: flags.fidelityFloor } : {}),
    ...(flags.accuracyFloor !== undefined ? { accuracyFloor: flags.accuracyFloor } : {}),
    ...(flags.latencySloMs !== undefined ? { latencySloMs: flags.latencySloMs } : {}),
    sloQuantile: flags.sloPercentile / 100,
  });
}

/**
 * Latency, size and accuracy side by side, per device, with the recommendation: what the
 * terminal shows after the variant x device table (`benchfarm report`, `sweep --wait`, `demo`).
 */
export function tradeOffText(report: SweepReport): string {
  const lines = [report.accuracyNote, `Policy: ${policyLine(report)}.`];
  const devices = [...new Set(report.rows.map((r) => r.device))].sort();
  for (const device of devices) {
    const rows = report.rows.filter((r) => r.device === device);
    const reference = rows.find((r) => r.referenceVariant)?.referenceVariant;
    const headers = ['variant', 'p50 ms', reference ? `ratio to ${reference} (95% CI)` : 'ratio', 'size MB', 'accuracy', '95% CI', 'n', 'fidelity (95% CI)', 'measured on', 'Pareto', 'floor'];
    const cells = rows.map((r) => [
      r.variant,
      r.p50Ms === undefined ? '-' : r.p50Ms.toFixed(3),
      ratioCell(r),
      r.sizeBytes === undefined ? '-' : (r.sizeBytes / 1024 / 1024).toFixed(2),
      accuracyCell(r),
      accuracyCiCell(r),
      accuracyImagesCell(r),
      fidelityCell(r),
      measuredOnCell(r),
      r.pareto ? 'yes' : '',
      r.belowAccuracyFloor ? 'BELOW' : '',
    ]);
    const rec = report.recommendations.find((x) => x.device === device);
    lines.push('', `${device} (${rows[0]?.provider ?? ''}):`, table(headers, cells));
    if (rec) lines.push(`recommended on ${device}: ${rec.variant ?? 'none'}${rec.tiedWith ? ` (tied with ${rec.tiedWith.join(', ')})` : ''}: ${rec.reason}`);
  }
  lines.push(...autoQuantText(report.autoQuant ?? []));
  lines.push(...configSearchText(report.configSearch, table));
  lines.push('', PARETO_NOTE, TIE_NOTE);
  return `${lines.join('\n')}\n`;
}

/** Renders a sweep report in one of {@link REPORT_FORMATS}. Thrown: {@link ReportOptionError} for a bad format or policy. */
export function renderReport(sweep: SweepView, flags: ReportFlags): string {
  const report = reportOf(sweep, flags);
  switch (flags.format) {
    case 'markdown':
      return reportMarkdown(report);
    case 'html':
      return reportHtml(report);
    case 'csv':
      return reportCsv(report);
    case 'config-csv':
      if (!report.configSearch) throw new ReportOptionError('--format', `config-csv lists the points of a runtime-settings search, and sweep ${report.sweepId} has none; use csv`);
      return configSearchCsv(report.sweepId, report.configSearch);
    case 'json':
      return `${JSON.stringify(report, null, 2)}\n`;
    default:
      throw new ReportOptionError('--format', `must be table, ${REPORT_FORMATS.join(', ')}; got ${flags.format}`);
  }
}

/** Renders a sweep comparison as a terminal table, Markdown or JSON. */
export function renderComparison(result: SweepComparison, format: string): string {
  if (format === 'json') return JSON.stringify(result, null, 2);
  const rows = comparisonRows(result);
  const summary = `${result.compared.length} compared, ${result.regressions} regression(s) (p < ${result.policy.alpha} and median >= ${(result.policy.minRelativeChange * 100).toFixed(0)}% slower; Mann-Whitney U on the raw samples)`;
  const missing = result.uncompared.map((u) => `  ${u.variant} @ ${u.device}: ${u.reason}`);
  if (format === 'markdown') {
    const md = [`| ${COMPARISON_HEADERS.join(' | ')} |`, `| ${COMPARISON_HEADERS.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)];
    return [`## ${result.candidateSweepId} vs ${result.baselineSweepId}`, '', summary, '', ...md, ...(missing.length ? ['', 'Not compared:', '', ...missing.map((m) => `-${m.trimStart()}`)] : [])].join('\n');
  }
  return [`${result.candidateSweepId} (B) vs ${result.baselineSweepId} (A): ${summary}`, '', table(COMPARISON_HEADERS, rows), ...(missing.length ? ['', 'not compared:', ...missing] : [])].join('\n');
}
