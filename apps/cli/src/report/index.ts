/** Reports of sweeps (table data, Markdown, CSV, HTML with charts) and sweep comparisons. */
export { COMPARISON_HEADERS, compareSweeps, comparisonRows, type ComparedSeries, type SamplesReader, type SweepComparison, type UncomparedSeries } from './compare';
export { esc, reportHtml, ticks } from './report.html';
export { AUTO_QUANT_NOTE, autoQuantLines, autoQuantSummaries, autoQuantText, parseAutoFloor, type AutoQuantDevice, type AutoQuantSummary } from './report.auto';
export {
  ACCURACY_METRICS,
  DEFAULT_ACCURACY_FLOORS,
  DEFAULT_REPORT_POLICY,
  ReportOptionError,
  SLO_QUANTILES,
  accuracyValue,
  buildReport,
  checkPolicy,
  comparisonJobIds,
  dominates,
  latencyVerdict,
  markPareto,
  parseAccuracyFloor,
  recommend,
  resolveAccuracyFloor,
  withCi,
  type AccuracyFloor,
  type AccuracyMetric,
  type DeviceRecommendation,
  type FloorMetric,
  type ReportPolicy,
  type ReportRow,
  type ResolvedAccuracyFloor,
  type RowAccuracy,
  type SweepReport,
} from './report.model';
export { PARETO_NOTE, REPORT_COLUMNS, TIE_NOTE, accuracyCell, accuracyCiCell, accuracyImagesCell, cell, fidelityCell, measuredOnCell, policyLine, ratioCell, reportCsv, reportMarkdown } from './report.text';
