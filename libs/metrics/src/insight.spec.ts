import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { compareLatencies } from '@benchfarm/numerics';
import { createFarmMetrics, createInsightMetrics, recordRegression, recordResult, recordResultTime, retireSeries, seriesToRetire } from './index';

const a = { model: 'det', variant: 'fp32', device: 'pi-1', provider: 'cpu' };
const b = { model: 'det', variant: 'fp32', device: 'jetson-1', provider: 'cpu' };

describe('insight metrics', () => {
  it('flags a regression and removes the comparison when there is none', async () => {
    const registry = new Registry();
    const insight = createInsightMetrics(registry);
    recordRegression(insight, a, compareLatencies([10, 10.1, 9.9, 10, 10.2, 9.8, 10, 10.1, 9.9, 10], [12, 12.1, 11.9, 12, 12.2, 11.8, 12, 12.1, 11.9, 12]));
    let text = await registry.metrics();
    expect(text).toContain('benchfarm_regression_flagged{model="det",variant="fp32",device="pi-1",provider="cpu"} 1');
    expect(text).toMatch(/benchfarm_latency_median_ratio\{[^}]*device="pi-1"[^}]*\} 1\.2/);
    recordRegression(insight, a, undefined);
    text = await registry.metrics();
    expect(text).not.toContain('benchfarm_regression_flagged{');
    expect(text).not.toContain('benchfarm_regression_p_value{');
  });

  it('retires every gauge of a series, and the size only with the last device of the variant', async () => {
    const registry = new Registry();
    const metrics = createFarmMetrics(registry);
    const insight = createInsightMetrics(registry);
    for (const s of [a, b]) {
      recordResult(metrics, s, { percentiles: [{ quantile: 0.5, valueMs: 3 }], throughputQps: 300, peakRssBytes: 1e8, modelSizeBytes: 4e6 });
      recordResultTime(insight, s, 1_000_000);
    }
    const retire = seriesToRetire([{ series: a, lastResultMs: 0 }, { series: b, lastResultMs: 900_000 }], 1_000_000, 500_000);
    expect(retire).toEqual([{ series: a, lastOfVariant: false }]);
    for (const r of retire) retireSeries(metrics, insight, r.series, r.lastOfVariant);
    let text = await registry.metrics();
    expect(text).not.toContain('device="pi-1"');
    expect(text).toContain('benchfarm_throughput_queries_per_second{model="det",variant="fp32",device="jetson-1",provider="cpu"} 300');
    expect(text).toContain('benchfarm_model_size_bytes{model="det",variant="fp32"} 4000000');
    expect(text).toContain('benchfarm_series_retired_total 1');

    const rest = seriesToRetire([{ series: b, lastResultMs: 0 }], 1_000_000, 500_000);
    expect(rest).toEqual([{ series: b, lastOfVariant: true }]);
    retireSeries(metrics, insight, b, true);
    text = await registry.metrics();
    expect(text).not.toContain('benchfarm_model_size_bytes{');
    expect(text).not.toContain('benchfarm_inference_latency_seconds{');
    expect(text).toContain('benchfarm_series_retired_total 2');
  });
});
