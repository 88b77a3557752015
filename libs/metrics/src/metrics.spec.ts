import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { boundedLabelValue, countUpload, createFarmMetrics, quantileLabel, recordResult, setAgentCounts, setJobCounts } from './index';

const series = { model: 'det', variant: 'fp32', device: 'jetson-1', provider: 'cpu' };

describe('createFarmMetrics', () => {
  it('registers every metric on the given registry only', async () => {
    const registry = new Registry();
    createFarmMetrics(registry);
    const names = (await registry.getMetricsAsJSON()).map((m) => m.name).sort();
    expect(names).toEqual([
      'benchfarm_agents',
      'benchfarm_inference_latency_seconds',
      'benchfarm_jobs',
      'benchfarm_model_size_bytes',
      'benchfarm_peak_memory_bytes',
      'benchfarm_results_ingested_total',
      'benchfarm_results_total',
      'benchfarm_throughput_queries_per_second',
    ]);
    // a second registry gets its own copies: nothing is global
    expect(() => createFarmMetrics(new Registry())).not.toThrow();
  });

  it('sets only the reported quantiles, in seconds, and drops ones the latest result lacks', async () => {
    const metrics = createFarmMetrics(new Registry());
    recordResult(metrics, series, {
      percentiles: [
        { quantile: 0.5, valueMs: 12.5 },
        { quantile: 0.9, valueMs: 20 },
        { quantile: 0.99 },
      ],
      throughputQps: 80,
      peakRssBytes: 1_000_000,
      modelSizeBytes: 5000,
    });
    let text = await metrics.registry.metrics();
    expect(text).toContain('benchfarm_inference_latency_seconds{model="det",variant="fp32",device="jetson-1",provider="cpu",quantile="0.5"} 0.0125');
    expect(text).toContain('quantile="0.9"} 0.02');
    expect(text).not.toContain('quantile="0.99"');
    expect(text).toContain('benchfarm_peak_memory_bytes{model="det",variant="fp32",device="jetson-1",provider="cpu"} 1000000');
    expect(text).toContain('benchfarm_model_size_bytes{model="det",variant="fp32"} 5000');

    recordResult(metrics, series, { percentiles: [{ quantile: 0.5, valueMs: 10 }], throughputQps: 100, modelSizeBytes: 5000 });
    text = await metrics.registry.metrics();
    expect(text).not.toContain('quantile="0.9"');
    expect(text).not.toContain('benchfarm_peak_memory_bytes{');
    expect(text).toContain('benchfarm_throughput_queries_per_second{model="det",variant="fp32",device="jetson-1",provider="cpu"} 100');
  });

  it('keeps the number of series bounded however many results arrive', async () => {
    const metrics = createFarmMetrics(new Registry());
    for (let i = 0; i < 1000; i++) {
      recordResult(metrics, series, { percentiles: [{ quantile: 0.5, valueMs: i }, { quantile: 0.123, valueMs: i }], throughputQps: i, modelSizeBytes: 1 });
      countUpload(metrics, i % 2 === 0 ? 'committed' : 'duplicate');
    }
    const json = await metrics.registry.getMetricsAsJSON();
    const latency = json.find((m) => m.name === 'benchfarm_inference_latency_seconds');
    expect((latency as unknown as { values: unknown[] }).values).toHaveLength(1);
    const text = await metrics.registry.metrics();
    expect(text).toContain('benchfarm_results_total{outcome="committed"} 500');
    expect(text).toContain('benchfarm_results_total{outcome="rejected"} 0');
    expect(text).toContain('benchfarm_results_ingested_total 500');
  });

  it('sets job and agent counts, zero for states not given', async () => {
    const metrics = createFarmMetrics(new Registry());
    setJobCounts(metrics, { queued: 3, done: 2 });
    setAgentCounts(metrics, { idle: 1, stale: 2 });
    const text = await metrics.registry.metrics();
    expect(text).toContain('benchfarm_jobs{state="queued"} 3');
    expect(text).toContain('benchfarm_jobs{state="failed"} 0');
    expect(text).toContain('benchfarm_agents{state="stale"} 2');
    expect(text).toContain('benchfarm_agents{state="busy"} 0');
  });
});

describe.each([
  [0.5, '0.5'],
  [0.9, '0.9'],
  [0.95, '0.95'],
  [0.99, '0.99'],
  [0.99000000001, '0.99'],
  [0.42, undefined],
  [1, undefined],
])('quantileLabel(%s)', (quantile, expected) => {
  it(`is ${String(expected)}`, () => expect(quantileLabel(quantile)).toBe(expected));
});

describe('boundedLabelValue', () => {
  it.each([
    ['', 'unknown'],
    ['cpu', 'cpu'],
    ['x'.repeat(200), 'x'.repeat(128)],
  ])('%s', (input, expected) => expect(boundedLabelValue(input)).toBe(expected));
});
