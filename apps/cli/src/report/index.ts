/** Reports of sweeps (table data, Markdown, CSV, HTML with charts) and sweep comparisons. */
export { COMPARISON_HEADERS, compareSweeps, comparisonRows, type ComparedSeries, type SamplesReader, type SweepComparison, type UncomparedSeries } from './compare';
export { esc, reportHtml, ticks } from './report.html';
export {
  BEST_HEADERS,
  CONFIG_CSV_COLUMNS,
  CONFIG_SEARCH_NOTE,
  POINT_HEADERS,
  configSearchCsv,
  configSearchMarkdown,
  configSearchReport,
  configSearchText,
  confirmedVerdict,
  durationText,
  type ConfigPointRow,
  type ConfigSearchReport,
  type ConfigSkipRow,
  type ConfigVerdict,
  type DeviceConfigSearch,
  type OverallConfigBest,
  type VariantConfigBest,
} from './report.config-search';
export { AUTO_QUANT_NOTE, autoQuantLines, autoQuantSummaries, autoQuantText, parseAutoFloor, type AutoQuantDevice, type AutoQuantSummary } from './report.auto';
export {
  ACCURACY_METRICS,
  DEFAULT_ACCURACY_FLOORS,
  DEFAULT_REPORT_POLICY,
  ReportOptionError,
  SLO_QUANTILES,
  accuracyStandings,
  accuracyValue,
  aggregateJobIds,
  buildReport,
  checkPolicy,
  comparisonJobIds,
  configSearchJobIds,
  deviceLabels,
  dominates,
  floorApplies,
  floorText,
  latencyVerdict,
  markPareto,
  parseAccuracyFloor,
  recommend,
  resolveAccuracyFloor,
  withCi,
  type AccuracyFloor,
  type DeviceRecommendation,
  type ReportPolicy,
  type ResolvedAccuracyFloor,
  type SweepReport,
} from './report.model';
export type { AccuracyMetric, AccuracyStanding, AccuracyStandingOf, FloorMetric, ReportRow, RowAccuracy } from './report.types';
export { PARETO_NOTE, REPORT_COLUMNS, TIE_NOTE, accuracyCell, accuracyCiCell, accuracyImagesCell, cell, fidelityCell, measuredOnCell, policyLine, ratioCell, reportCsv, reportMarkdown } from './report.text';
