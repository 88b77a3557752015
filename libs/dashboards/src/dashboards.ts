/**
 * benchfarm's Grafana dashboards as code, built with the Grafana Foundation SDK: a fleet
 * overview, a sweep comparison (variant x device), a device drill-down and a trend view.
 */
import * as barchart from '@grafana/grafana-foundation-sdk/barchart';
import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import * as xychart from '@grafana/grafana-foundation-sdk/xychart';
import { AGREEMENT_METRICS, COORDINATOR_JOB, DATASOURCE, METRIC, RUN_CONFIG_SETTINGS, SERIES_FILTER } from './queries';

const ds: dashboard.DataSourceRef = { ...DATASOURCE };

/** An instant query whose result is a table (one row per series): what tables, bars and scatters need. */
function instant(expr: string, refId = 'A', legend?: string): prometheus.DataqueryBuilder {
  const q = new prometheus.DataqueryBuilder().expr(expr).instant().format(prometheus.PromQueryFormat.Table).refId(refId).datasource(ds);
  return legend ? q.legendFormat(legend) : q;
}

/** A range query for a time series panel. */
function range(expr: string, legend: string, refId = 'A'): prometheus.DataqueryBuilder {
  return new prometheus.DataqueryBuilder().expr(expr).range().legendFormat(legend).refId(refId).datasource(ds);
}

function variable(name: string, label: string, metric: string, dependsOn = ''): dashboard.QueryVariableBuilder {
  return new dashboard.QueryVariableBuilder(name)
    .label(label)
    .datasource(ds)
    .query({ query: `label_values(${metric}${dependsOn}, ${name})`, refId: `${name}-values` })
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(dashboard.VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .allValue('.*')
    .current({ text: 'All', value: '$__all' });
}

const seriesVariables = (): dashboard.QueryVariableBuilder[] => [
  variable('model', 'Model', METRIC.throughputQps),
  variable('variant', 'Variant', METRIC.throughputQps, '{model=~"$model"}'),
  variable('device', 'Device', METRIC.throughputQps, '{model=~"$model"}'),
];

/** Turns a series table (labels as columns, one `Value` column) into a variant x device matrix: the "heatmap". */
function matrix(title: string, description: string, expr: string, unit: string, gridPos: dashboard.GridPos): table.PanelBuilder {
  return new table.PanelBuilder()
    .title(title)
    .description(description)
    .datasource(ds)
    .withTarget(instant(expr))
    .withTransformation({ id: 'groupingToMatrix', options: { columnField: 'device', rowField: 'variant', valueField: 'Value', emptyValue: 'null' } })
    .unit(unit)
    .cellOptions({ type: common.TableCellDisplayMode.ColorBackground, mode: common.TableCellBackgroundDisplayMode.Gradient } as common.TableCellOptions)
    .colorScheme(new dashboard.FieldColorBuilder().mode(dashboard.FieldColorModeId.ContinuousGrYlRd))
    .gridPos(gridPos);
}

/** Bars per variant x device (one bar group per series, legend names it). */
function bars(title: string, description: string, expr: string, unit: string, gridPos: dashboard.GridPos): barchart.PanelBuilder {
  return new barchart.PanelBuilder()
    .title(title)
    .description(description)
    .datasource(ds)
    .withTarget(instant(expr))
    .withTransformation({ id: 'joinByField', options: { mode: 'outer' } })
    .withTransformation({ id: 'calculateField', options: { mode: 'binary', binary: { left: 'variant', operator: '+', right: 'device' }, alias: 'series', replaceFields: false } })
    .withTransformation({ id: 'organize', options: { excludeByName: { Time: true, __name__: true, job: true, instance: true, quantile: true }, renameByName: { Value: title } } })
    .xField('variant')
    .unit(unit)
    .orientation(common.VizOrientation.Horizontal)
    .showValue(common.VisibilityMode.Auto)
    .legend(new common.VizLegendOptionsBuilder().showLegend(true).displayMode(common.LegendDisplayMode.List).placement(common.LegendPlacement.Bottom))
    .gridPos(gridPos);
}

const bySeries = (expr: string): string => `max by (model, variant, device, provider) (${expr})`;

/**
 * A scatter of two per-series values: query A gives x, query B gives y, both reduced to the
 * same four series labels (so extra labels such as quantile or domain cannot split a row),
 * merged into one row per series.
 */
function scatter(title: string, description: string, x: { expr: string; unit: string; label: string }, y: { expr: string; unit: string; label: string }, gridPos: dashboard.GridPos): xychart.PanelBuilder {
  return new xychart.PanelBuilder()
    .title(title)
    .description(description)
    .datasource(ds)
    .withTarget(instant(bySeries(x.expr), 'A'))
    .withTarget(instant(bySeries(y.expr), 'B'))
    .withTransformation({ id: 'merge', options: {} })
    .withTransformation({ id: 'organize', options: { excludeByName: { Time: true }, renameByName: { 'Value #A': x.label, 'Value #B': y.label } } })
    .mapping(xychart.SeriesMapping.Manual)
    .series([
      new xychart.XYSeriesConfigBuilder()
        .name({ fixed: `${y.label} vs ${x.label}` })
        .x({ matcher: { id: 'byName', options: x.label } })
        .y({ matcher: { id: 'byName', options: y.label } }),
    ])
    .show(xychart.XYShowMode.Points)
    .pointSize({ fixed: 8, min: 4, max: 16 })
    .overrideByName(x.label, [{ id: 'unit', value: x.unit }])
    .overrideByName(y.label, [{ id: 'unit', value: y.unit }])
    .tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi))
    .gridPos(gridPos);
}

function statPanel(title: string, description: string, expr: string, legend: string, unit: string, gridPos: dashboard.GridPos): stat.PanelBuilder {
  return new stat.PanelBuilder()
    .title(title)
    .description(description)
    .datasource(ds)
    .withTarget(range(expr, legend))
    .unit(unit)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
    .graphMode(common.BigValueGraphMode.Area)
    .gridPos(gridPos);
}

function timeSeries(title: string, description: string, expr: string, legend: string, unit: string, gridPos: dashboard.GridPos): timeseries.PanelBuilder {
  return new timeseries.PanelBuilder()
    .title(title)
    .description(description)
    .datasource(ds)
    .withTarget(range(expr, legend))
    .unit(unit)
    .legend(new common.VizLegendOptionsBuilder().showLegend(true).displayMode(common.LegendDisplayMode.Table).placement(common.LegendPlacement.Bottom).calcs(['lastNotNull', 'min', 'max']))
    .gridPos(gridPos);
}

function base(uid: string, title: string, description: string): dashboard.DashboardBuilder {
  return new dashboard.DashboardBuilder(title)
    .uid(uid)
    .description(description)
    .tags(['benchfarm'])
    .refresh('30s')
    .time({ from: 'now-6h', to: 'now' })
    .timezone('browser')
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .editable()
    .link(new dashboard.DashboardLinkBuilder('benchfarm').type(dashboard.DashboardLinkType.Dashboards).tags(['benchfarm']).asDropdown(true).includeVars(true).keepTime(true));
}

const seriesLegend = '{{variant}} @ {{device}} ({{provider}})';
const LATENCY_P50 = `${METRIC.latencySeconds}{${SERIES_FILTER}, quantile="0.5"}`;

/** Fleet overview: agents, queue, job outcomes, ingest, regressions, freshness. */
export function fleetOverview(): dashboard.DashboardBuilder {
  return base('benchfarm-fleet', 'benchfarm / Fleet overview', 'Agents by state, job queue, upload outcomes, ingest rate and flagged regressions of the whole farm.')
    .withRow(new dashboard.RowBuilder('Fleet'))
    .withPanel(statPanel('Agents idle', 'Agents ready for a job.', `sum(${METRIC.agents}{state="idle"})`, 'idle', 'none', { x: 0, y: 1, w: 4, h: 4 }))
    .withPanel(statPanel('Agents busy', 'Agents running a job.', `sum(${METRIC.agents}{state="busy"})`, 'busy', 'none', { x: 4, y: 1, w: 4, h: 4 }))
    .withPanel(statPanel('Agents stale or offline', 'Agents whose heartbeat is too old, or that said they go offline.', `sum(${METRIC.agents}{state=~"stale|offline|unhealthy"})`, 'down', 'none', { x: 8, y: 1, w: 4, h: 4 }))
    .withPanel(statPanel('Queue depth', 'Jobs waiting for an agent (queued, including failed attempts awaiting redelivery).', `sum(${METRIC.jobs}{state="queued"})`, 'queued', 'none', { x: 12, y: 1, w: 4, h: 4 }))
    .withPanel(statPanel('Regressions flagged', 'Series whose latest result is a significant latency regression against the previous one.', `sum(${METRIC.regressionFlagged})`, 'flagged', 'none', { x: 16, y: 1, w: 4, h: 4 }))
    .withPanel(statPanel('Coordinator up', 'Whether Prometheus reaches the coordinator.', `up{job="${COORDINATOR_JOB}"}`, '{{instance}}', 'bool_yes_no', { x: 20, y: 1, w: 4, h: 4 }))
    .withPanel(timeSeries('Agents by state', 'Agents in the registry, by state.', `sum by (state) (${METRIC.agents})`, '{{state}}', 'none', { x: 0, y: 5, w: 12, h: 8 }))
    .withPanel(timeSeries('Jobs by state', 'Jobs in the store by state: queued is the queue depth.', `sum by (state) (${METRIC.jobs})`, '{{state}}', 'none', { x: 12, y: 5, w: 12, h: 8 }))
    .withRow(new dashboard.RowBuilder('Ingest'))
    .withPanel(timeSeries('Result uploads by outcome', 'Uploads per second: committed, duplicate (a retried upload), error_recorded (a failed run), rejected (bad upload).', `sum by (outcome) (rate(${METRIC.resultsTotal}[$__rate_interval]))`, '{{outcome}}', 'reqps', { x: 0, y: 14, w: 12, h: 8 }))
    .withPanel(timeSeries('Ingest rate', 'Results committed to the store per second.', `sum(rate(${METRIC.resultsIngestedTotal}[$__rate_interval]))`, 'committed', 'reqps', { x: 12, y: 14, w: 12, h: 8 }))
    .withPanel(
      new table.PanelBuilder()
        .title('Result age per series')
        .description('Time since the latest result of each series; series without a result for 30 days are retired from /metrics.')
        .datasource(ds)
        .withTarget(instant(`time() - ${METRIC.resultTimestampSeconds}`))
        .withTransformation({ id: 'organize', options: { excludeByName: { Time: true, job: true, instance: true }, renameByName: { Value: 'age' } } })
        .unit('s')
        .gridPos({ x: 0, y: 22, w: 24, h: 8 }),
    );
}

/** Sweep comparison: variant x device matrices and bars, and the trade-off scatters. */
export function sweepComparison(): dashboard.DashboardBuilder {
  const builder = base('benchfarm-comparison', 'benchfarm / Variant x device comparison', 'Latest result of every variant on every device: latency, throughput, memory, size, and the accuracy and energy trade-offs.');
  for (const v of seriesVariables()) builder.withVariable(v);
  return builder
    .withRow(new dashboard.RowBuilder('Variant x device'))
    .withPanel(matrix('p50 latency (variant x device)', 'Median single-stream latency of the latest result; greener is faster.', LATENCY_P50, 's', { x: 0, y: 1, w: 12, h: 8 }))
    .withPanel(matrix('Throughput (variant x device)', 'Queries per second of the latest result.', `${METRIC.throughputQps}{${SERIES_FILTER}}`, 'reqps', { x: 12, y: 1, w: 12, h: 8 }))
    .withPanel(bars('p50 latency', 'Median latency per variant, one bar per device.', LATENCY_P50, 's', { x: 0, y: 9, w: 8, h: 9 }))
    .withPanel(bars('Peak memory', 'Peak resident memory of the suite process; absent where it could not be measured.', `${METRIC.peakMemoryBytes}{${SERIES_FILTER}}`, 'bytes', { x: 8, y: 9, w: 8, h: 9 }))
    .withPanel(bars('Model size', 'Size of each variant file.', `${METRIC.modelSizeBytes}{model=~"$model", variant=~"$variant"}`, 'bytes', { x: 16, y: 9, w: 8, h: 9 }))
    .withRow(new dashboard.RowBuilder('Trade-offs'))
    .withPanel(
      scatter(
        'Latency vs model size',
        'Each point is a variant on a device: lower-left is smaller and faster.',
        { expr: LATENCY_P50, unit: 's', label: 'p50 latency' },
        { expr: `(${LATENCY_P50} * 0) + on (model, variant) group_left ${METRIC.modelSizeBytes}`, unit: 'bytes', label: 'model size' },
        { x: 0, y: 19, w: 8, h: 10 },
      ),
    )
    .withPanel(
      scatter(
        'Latency vs fidelity on real images',
        'Each point is a variant on a device; fidelity is the lowest cosine similarity of its outputs to the fp32 reference on the evaluation images of the sweep\'s dataset. No data where the sweep had no dataset: fidelity on random inputs (inputs="random_inputs") can make a good variant look broken and is not shown as accuracy.',
        { expr: LATENCY_P50, unit: 's', label: 'p50 latency' },
        { expr: `${METRIC.fidelityCosineSimilarity}{${SERIES_FILTER}, inputs="real_images"}`, unit: 'percentunit', label: 'fidelity (real images)' },
        { x: 8, y: 19, w: 8, h: 10 },
      ),
    )
    .withPanel(
      scatter(
        'Energy vs latency',
        'Energy per inference against median latency. No data on devices without a power sensor (the result says so; it is never shown as 0 J).',
        { expr: LATENCY_P50, unit: 's', label: 'p50 latency' },
        { expr: `${METRIC.energyPerInferenceJoules}{${SERIES_FILTER}, idle="included"}`, unit: 'joule', label: 'energy per inference' },
        { x: 16, y: 19, w: 8, h: 10 },
      ),
    )
    .withRow(new dashboard.RowBuilder('Accuracy on real images'))
    .withPanel(
      scatter(
        'Accuracy vs latency on $device',
        "Each point is a variant on this device: its p50 latency against its agreement with the fp32 reference on the sweep's evaluation images (mAP@0.5 agreement for detectors, top-1 agreement for classifiers), run with the device's own execution provider after the latency rounds. The image count and bootstrap 95% CI are in benchfarm_accuracy_images / _ci_low / _ci_high and in `benchfarm report`. No data where the sweep had no evaluation dataset: random inputs never feed this panel.",
        { expr: LATENCY_P50, unit: 's', label: 'p50 latency' },
        { expr: `${METRIC.accuracy}{${SERIES_FILTER}, metric=~"${AGREEMENT_METRICS}"}`, unit: 'percentunit', label: 'agreement with fp32 (real images)' },
        { x: 0, y: 30, w: 8, h: 10 },
      )
        .repeat('device')
        .repeatDirection('h')
        .maxPerRow(3),
    )
    .withRow(new dashboard.RowBuilder('Run configuration'))
    .withPanel(bestConfigurationTable({ x: 0, y: 41, w: 24, h: 9 }));
}

/**
 * A best configuration's series with its settings: the info metric joined on the config id,
 * so the table shows what the id means without one label per setting on the best's series.
 */
export function withRunConfigSettings(expr: string): string {
  return `${expr} * on (config) group_left (${RUN_CONFIG_SETTINGS}) ${METRIC.runConfigInfo}`;
}

/** The best run configuration per variant x device against onnxruntime's defaults, with its settings. */
function bestConfigurationTable(gridPos: dashboard.GridPos): table.PanelBuilder {
  const filter = `{${SERIES_FILTER}}`;
  return new table.PanelBuilder()
    .title('Best run configuration vs onnxruntime defaults')
    .description(
      "Latest runtime-settings search of each variant on each device (sweeps with dimensions): the best configuration's settings, its ratio to onnxruntime's defaults confirmed in interleaved rounds (below 1 is faster; p50 latency, or time per sample for the throughput objective) with the bootstrap 95% CI, and its p50. No data where no sweep searched settings.",
    )
    .datasource(ds)
    .withTarget(instant(withRunConfigSettings(`${METRIC.configBestRatio}${filter}`), 'A'))
    .withTarget(instant(withRunConfigSettings(`${METRIC.configBestRatioCiLow}${filter}`), 'B'))
    .withTarget(instant(withRunConfigSettings(`${METRIC.configBestRatioCiHigh}${filter}`), 'C'))
    .withTarget(instant(withRunConfigSettings(`${METRIC.configBestP50Seconds}${filter}`), 'D'))
    .withTransformation({ id: 'merge', options: {} })
    .withTransformation({
      id: 'organize',
      options: {
        excludeByName: { Time: true, job: true, instance: true },
        renameByName: { 'Value #A': 'ratio to defaults', 'Value #B': 'CI low', 'Value #C': 'CI high', 'Value #D': 'best p50' },
      },
    })
    .overrideByName('best p50', [{ id: 'unit', value: 's' }])
    .gridPos(gridPos);
}

/** Device drill-down: everything about one device. */
export function deviceDrillDown(): dashboard.DashboardBuilder {
  const builder = base('benchfarm-device', 'benchfarm / Device drill-down', 'Latency percentiles, throughput, memory, power and regressions of the variants measured on the chosen devices.');
  for (const v of seriesVariables()) builder.withVariable(v);
  return builder
    .withPanel(
      new table.PanelBuilder()
        .title('Latency percentiles')
        .description('Latency percentiles of the latest result (only those the sample count supports: p99 needs 662 queries).')
        .datasource(ds)
        .withTarget(instant(`${METRIC.latencySeconds}{${SERIES_FILTER}}`))
        .withTransformation({ id: 'groupingToMatrix', options: { columnField: 'quantile', rowField: 'variant', valueField: 'Value', emptyValue: 'null' } })
        .unit('s')
        .gridPos({ x: 0, y: 0, w: 12, h: 8 }),
    )
    .withPanel(timeSeries('Throughput', 'Queries per second of the latest result, over time.', `${METRIC.throughputQps}{${SERIES_FILTER}}`, seriesLegend, 'reqps', { x: 12, y: 0, w: 12, h: 8 }))
    .withPanel(timeSeries('Peak memory', 'Peak resident memory of the suite process.', `${METRIC.peakMemoryBytes}{${SERIES_FILTER}}`, seriesLegend, 'bytes', { x: 0, y: 8, w: 12, h: 8 }))
    .withPanel(timeSeries('Average power', 'Average power during the measured phase. No data on devices without a power sensor.', `${METRIC.powerWatts}{${SERIES_FILTER}}`, '{{variant}} @ {{device}} ({{domain}})', 'watt', { x: 12, y: 8, w: 12, h: 8 }))
    .withPanel(
      new table.PanelBuilder()
        .title('Regression status')
        .description('Latest result against the previous one of the same series: median ratio, Mann-Whitney p-value, flagged.')
        .datasource(ds)
        .withTarget(instant(`${METRIC.latencyMedianRatio}{${SERIES_FILTER}}`, 'A'))
        .withTarget(instant(`${METRIC.regressionPValue}{${SERIES_FILTER}}`, 'B'))
        .withTarget(instant(`${METRIC.regressionFlagged}{${SERIES_FILTER}}`, 'C'))
        .withTransformation({ id: 'merge', options: {} })
        .withTransformation({ id: 'organize', options: { excludeByName: { Time: true, job: true, instance: true }, renameByName: { 'Value #A': 'median ratio', 'Value #B': 'p-value', 'Value #C': 'flagged' } } })
        .gridPos({ x: 0, y: 16, w: 24, h: 8 }),
    );
}

/** Trend view: how each series moved over time, and where it regressed. */
export function trendView(): dashboard.DashboardBuilder {
  const builder = base('benchfarm-trend', 'benchfarm / Trends and regressions', 'Each series over time (every new result moves its gauges), with the regression verdicts that drive the alert.');
  for (const v of seriesVariables()) builder.withVariable(v);
  return builder
    .time({ from: 'now-7d', to: 'now' })
    .withPanel(timeSeries('p50 latency over time', 'Median latency of the latest result of each series.', LATENCY_P50, seriesLegend, 's', { x: 0, y: 0, w: 12, h: 9 }))
    .withPanel(timeSeries('Throughput over time', 'Queries per second of the latest result of each series.', `${METRIC.throughputQps}{${SERIES_FILTER}}`, seriesLegend, 'reqps', { x: 12, y: 0, w: 12, h: 9 }))
    .withPanel(timeSeries('Median latency ratio to the previous result', '1.0 = unchanged; above 1.05 with p < 0.01 is flagged.', `${METRIC.latencyMedianRatio}{${SERIES_FILTER}}`, seriesLegend, 'none', { x: 0, y: 9, w: 12, h: 9 }))
    .withPanel(timeSeries('Regressions flagged', '1 while the latest result of a series is a flagged regression.', `${METRIC.regressionFlagged}{${SERIES_FILTER}}`, seriesLegend, 'none', { x: 12, y: 9, w: 12, h: 9 }))
    .withPanel(timeSeries('Energy per inference over time', 'No data on devices without a power sensor.', `${METRIC.energyPerInferenceJoules}{${SERIES_FILTER}, idle="included"}`, seriesLegend, 'joule', { x: 0, y: 18, w: 24, h: 8 }));
}

/** Every dashboard, keyed by the file name it is written to under deploy/grafana/dashboards. */
export function allDashboards(): Record<string, cog.Builder<dashboard.Dashboard>> {
  return {
    'fleet-overview.json': fleetOverview(),
    'sweep-comparison.json': sweepComparison(),
    'device-drill-down.json': deviceDrillDown(),
    'trend.json': trendView(),
  };
}
