/** Reports of sweeps (table data, Markdown, CSV, HTML with charts) and sweep comparisons. */
export { COMPARISON_HEADERS, compareSweeps, comparisonRows, type ComparedSeries, type SamplesReader, type SweepComparison, type UncomparedSeries } from './compare';
export { esc, reportHtml, ticks } from './report.html';
export { DEFAULT_REPORT_POLICY, ReportOptionError, SLO_QUANTILES, buildReport, checkPolicy, comparisonJobIds, dominates, markPareto, recommend, type DeviceRecommendation, type ReportPolicy, type ReportRow, type SweepReport } from './report.model';
export { REPORT_COLUMNS, cell, reportCsv, reportMarkdown } from './report.text';
