/**
 * benchfarm's Grafana dashboards as code (Grafana Foundation SDK) and the PromQL they run.
 * `npm run dashboards` writes them to deploy/grafana/dashboards; `--check` fails when the
 * committed JSON is stale.
 */
export { allDashboards, deviceDrillDown, fleetOverview, sweepComparison, trendView, withRunConfigSettings } from './dashboards';
export { CONDITIONAL_METRICS, COORDINATOR_JOB, DATASOURCE, METRIC, RUN_CONFIG_SETTINGS, SERIES_FILTER, conditionalMetricsOf, expandTemplateVariables } from './queries';
export { DashboardBuildError, panelQueries, renderAllDashboards, renderDashboard, variableQueries, type PanelQuery, type VariableQuery } from './render';
