import { describe, expect, it } from 'vitest';
import { CONDITIONAL_METRICS, DashboardBuildError, METRIC, conditionalMetricsOf, expandTemplateVariables, panelQueries, renderAllDashboards, variableQueries } from './index';

const rendered = renderAllDashboards();

describe('dashboards', () => {
  it('are the fleet overview, the comparison, the device drill-down and the trend view', () => {
    const titles = [...rendered.values()].map((json) => (JSON.parse(json) as { title: string }).title);
    expect(titles).toEqual(['benchfarm / Fleet overview', 'benchfarm / Variant x device comparison', 'benchfarm / Device drill-down', 'benchfarm / Trends and regressions']);
  });

  it('give every panel a query on a benchfarm metric (or the scrape health)', () => {
    for (const json of rendered.values()) {
      const queries = panelQueries(json);
      expect(queries.length).toBeGreaterThan(3);
      for (const q of queries) expect(q.expr, `${q.dashboard} / ${q.panel}`).toMatch(/benchfarm_\w+|up\{/);
    }
  });

  it('compare variants x devices with a matrix, bars and the three scatters', () => {
    const comparison = JSON.parse(rendered.get('sweep-comparison.json')!) as { panels: Array<{ type: string; title: string; transformations?: Array<{ id: string }> }> };
    const types = comparison.panels.map((p) => p.type);
    expect(types.filter((t) => t === 'xychart')).toHaveLength(4);
    expect(types.filter((t) => t === 'barchart').length).toBeGreaterThanOrEqual(2);
    expect(comparison.panels.filter((p) => p.transformations?.some((t) => t.id === 'groupingToMatrix')).map((p) => p.title)).toHaveLength(2);
    const exprs = panelQueries(rendered.get('sweep-comparison.json')!).map((q) => q.expr).join('\n');
    expect(exprs).toContain(METRIC.fidelityCosineSimilarity);
    expect(exprs).toContain(METRIC.energyPerInferenceJoules);
  });

  it('plot accuracy on real images against latency, one panel per device, never from random inputs', () => {
    const comparison = JSON.parse(rendered.get('sweep-comparison.json')!) as { panels: Array<{ type: string; title: string; repeat?: string }> };
    const panel = comparison.panels.find((p) => p.type === 'xychart' && p.title.startsWith('Accuracy vs latency'));
    expect(panel?.repeat).toBe('device');
    const exprs = panelQueries(rendered.get('sweep-comparison.json')!).filter((q) => q.panel === panel?.title).map((q) => q.expr);
    expect(exprs[1]).toMatch(new RegExp(`${METRIC.accuracy}\\{.*metric=~"map50_agreement\\|top1_agreement"`));
    // Fidelity panels read real-image fidelity only.
    const fidelity = panelQueries(rendered.get('sweep-comparison.json')!).filter((q) => q.expr.includes(METRIC.fidelityCosineSimilarity));
    expect(fidelity.length).toBeGreaterThan(0);
    for (const q of fidelity) expect(q.expr).toContain('inputs="real_images"');
    expect(conditionalMetricsOf(exprs[1]!)).toEqual([METRIC.accuracy]);
  });

  it('show the best run configuration per variant x device with its settings joined from the info metric, never one label per setting', () => {
    const queries = panelQueries(rendered.get('sweep-comparison.json')!).filter((q) => q.panel === 'Best run configuration vs onnxruntime defaults');
    expect(queries.map((q) => q.refId)).toEqual(['A', 'B', 'C', 'D']);
    expect(queries[0]!.expr).toBe(
      `${METRIC.configBestRatio}{model=~"$model", variant=~"$variant", device=~"$device"} * on (config) group_left (provider_options, intra_op_threads, inter_op_threads, execution_mode, graph_optimization_level, batch_size, concurrency) ${METRIC.runConfigInfo}`,
    );
    expect(queries.map((q) => conditionalMetricsOf(q.expr))).toEqual([
      [METRIC.configBestRatio, METRIC.runConfigInfo],
      [METRIC.configBestRatioCiLow, METRIC.runConfigInfo],
      [METRIC.configBestRatioCiHigh, METRIC.runConfigInfo],
      [METRIC.configBestP50Seconds, METRIC.runConfigInfo],
    ]);
  });

  it('use label_values() variables on a benchmark metric', () => {
    const vars = variableQueries(rendered.get('trend.json')!);
    expect(vars.map((v) => v.name)).toEqual(['model', 'variant', 'device']);
    expect(vars[0]).toMatchObject({ metricSelector: METRIC.throughputQps, label: 'model' });
  });

  it('refuse a panel without a query, naming it', () => {
    const broken = JSON.stringify({ title: 'x', panels: [{ type: 'stat', title: 'lonely', targets: [] }] });
    expect(() => panelQueries(broken)).toThrow(DashboardBuildError);
    expect(() => panelQueries(broken)).toThrow(/lonely/);
  });
});

describe.each([
  ['rate(x{model=~"$model"}[$__rate_interval])', 'rate(x{model=~".*"}[1m])'],
  ['y{device=~"${device}", variant=~"$variant"}', 'y{device=~".*", variant=~".*"}'],
  ['time() - z', 'time() - z'],
])('expandTemplateVariables(%s)', (input, expected) => {
  it(`is ${expected}`, () => expect(expandTemplateVariables(input)).toBe(expected));
});

describe('conditionalMetricsOf', () => {
  it('names the conditional metrics a query reads, and only those', () => {
    expect(conditionalMetricsOf(`${METRIC.energyPerInferenceJoules}{device="a"}`)).toEqual([METRIC.energyPerInferenceJoules]);
    expect(conditionalMetricsOf(`${METRIC.latencySeconds}{quantile="0.5"}`)).toEqual([]);
    expect(Object.values(CONDITIONAL_METRICS).every((reason) => reason.length > 10)).toBe(true);
  });
});
