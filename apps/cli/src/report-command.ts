import { InvalidArgumentError } from 'commander';
import type { SweepView } from './client';
import { table } from './format';
import { COMPARISON_HEADERS, ReportOptionError, buildReport, comparisonRows, reportCsv, reportHtml, reportMarkdown, type SweepComparison } from './report';

/** Formats `benchfarm report --format` takes besides the terminal table. */
export const REPORT_FORMATS = ['markdown', 'html', 'csv', 'json'] as const;

/** The report flags of the CLI. */
export interface ReportFlags {
  format: string;
  output?: string;
  fidelityFloor?: number;
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

/** Renders a sweep report in one of {@link REPORT_FORMATS}. Thrown: {@link ReportOptionError} for a bad format or policy. */
export function renderReport(sweep: SweepView, flags: ReportFlags): string {
  const report = buildReport(sweep, { fidelityFloor: flags.fidelityFloor, latencySloMs: flags.latencySloMs, sloQuantile: flags.sloPercentile / 100 });
  switch (flags.format) {
    case 'markdown':
      return reportMarkdown(report);
    case 'html':
      return reportHtml(report);
    case 'csv':
      return reportCsv(report);
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
