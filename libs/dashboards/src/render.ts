import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { allDashboards } from './dashboards';

/** Thrown when a dashboard cannot be rendered (a builder produced no uid or a panel without a query). */
export class DashboardBuildError extends Error {
  override name = 'DashboardBuildError';
}

/** One PromQL query of a dashboard panel. */
export interface PanelQuery {
  dashboard: string;
  panel: string;
  refId: string;
  expr: string;
}

/** A template variable's `label_values(metric{...}, label)` query. */
export interface VariableQuery {
  dashboard: string;
  name: string;
  metricSelector: string;
  label: string;
}

/** Renders one dashboard as the JSON Grafana's file provisioning reads (stable key order, trailing newline). */
export function renderDashboard(builder: cog.Builder<dashboard.Dashboard>): string {
  const built = builder.build();
  if (!built.uid) throw new DashboardBuildError(`dashboard "${built.title}" has no uid: provisioning needs a stable one`);
  return `${JSON.stringify(built, null, 2)}\n`;
}

/** Every dashboard rendered, keyed by file name (under deploy/grafana/dashboards). */
export function renderAllDashboards(): Map<string, string> {
  return new Map(Object.entries(allDashboards()).map(([file, builder]) => [file, renderDashboard(builder)]));
}

interface PanelJson {
  type?: string;
  title?: string;
  targets?: Array<{ expr?: string; refId?: string }>;
  panels?: PanelJson[];
}

/** Every PromQL query of every panel of a rendered dashboard. Thrown: {@link DashboardBuildError} for a panel without one. */
export function panelQueries(json: string): PanelQuery[] {
  const parsed = JSON.parse(json) as { title: string; panels?: PanelJson[] };
  const out: PanelQuery[] = [];
  const visit = (panels: PanelJson[] | undefined): void => {
    for (const panel of panels ?? []) {
      if (panel.type === 'row') {
        visit(panel.panels);
        continue;
      }
      const targets = panel.targets ?? [];
      if (targets.length === 0) throw new DashboardBuildError(`panel "${panel.title}" of "${parsed.title}" has no query`);
      for (const t of targets) {
        if (!t.expr) throw new DashboardBuildError(`query ${t.refId} of panel "${panel.title}" of "${parsed.title}" has no expr`);
        out.push({ dashboard: parsed.title, panel: panel.title ?? '', refId: t.refId ?? '', expr: t.expr });
      }
    }
  };
  visit(parsed.panels);
  return out;
}

/** The `label_values(...)` queries of a rendered dashboard's template variables. */
export function variableQueries(json: string): VariableQuery[] {
  const parsed = JSON.parse(json) as { title: string; templating?: { list?: Array<{ name: string; query?: { query?: string } | string }> } };
  return (parsed.templating?.list ?? []).flatMap((v) => {
    const query = typeof v.query === 'string' ? v.query : (v.query?.query ?? '');
    const match = /^label_values\((.+),\s*(\w+)\)$/.exec(query);
    if (!match) throw new DashboardBuildError(`variable ${v.name} of "${parsed.title}" is not a label_values() query: ${query}`);
    return [{ dashboard: parsed.title, name: v.name, metricSelector: match[1] ?? '', label: match[2] ?? '' }];
  });
}
