import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { baselineConfig, withId, BASELINE_SETTINGS } from '@benchfarm/suite';
import type { ConfigBest, ConfigSearchResult, RunConfig } from '@benchfarm/protocol';
import { ConfigSearchGauges, createConfigSearchMetrics } from './config-search.metrics';

const baseline = baselineConfig();
const t1 = withId({ ...BASELINE_SETTINGS, intraOpThreads: 1, graphOptimizationLevel: 'basic' });
const t2 = withId({ ...BASELINE_SETTINGS, intraOpThreads: 2 });
const trt = withId({ ...BASELINE_SETTINGS, executionProvider: 'tensorrt', providerOptions: { fp16: '1', workspace_mb: '2048' } });

/** FABRICATED: a device's search report with one best per variant. */
function report(bests: Array<{ variant: string; config: RunConfig; ratio: number; ci?: [number, number] }>): ConfigSearchResult {
  const configs = [baseline, ...new Map(bests.map((b) => [b.config.id, b.config])).values()].filter((c, i, all) => all.findIndex((x) => x.id === c.id) === i);
  return {
    strategy: 'grid',
    objective: 'p50_latency',
    spacePoints: 4,
    pointsMeasured: 4 * bests.length,
    budgetMs: 60_000,
    spentMs: 30_000,
    budgetExhausted: false,
    configs,
    points: [],
    best: bests.map(
      (b): ConfigBest => ({
        variant: b.variant,
        configId: b.config.id,
        baselineConfigId: baseline.id,
        ratioToBaseline: b.ratio,
        ...(b.ci ? { ratioCi: { low: b.ci[0], high: b.ci[1], level: 0.95 } } : {}),
        rounds: 10,
        roundQueries: 20,
        bestMedianMs: 8 * b.ratio,
        baselineMedianMs: 8,
        verdict: b.ratio < 1 ? 'faster' : 'tied',
        note: '',
      }),
    ),
    skipped: [],
    latencyBoundMs: 0,
  };
}

async function lines(registry: Registry): Promise<string[]> {
  return (await registry.metrics()).split('\n').filter((l) => l !== '' && !l.startsWith('#'));
}

describe('configuration-search gauges', () => {
  it('set the best per variant with its ratio, CI and p50 under the config id, and one info series per id named', async () => {
    const registry = new Registry();
    const gauges = new ConfigSearchGauges(createConfigSearchMetrics(registry));
    gauges.record({ model: 'det', device: 'box' }, report([{ variant: 'fp32', config: t1, ratio: 0.8, ci: [0.75, 0.85] }, { variant: 'int8', config: trt, ratio: 0.5 }]));
    const text = await lines(registry);
    expect(text).toContain(`benchfarm_config_best_ratio{model="det",variant="fp32",device="box",provider="cpu",config="${t1.id}"} 0.8`);
    expect(text).toContain(`benchfarm_config_best_ratio_ci_low{model="det",variant="fp32",device="box",provider="cpu",config="${t1.id}"} 0.75`);
    expect(text).toContain(`benchfarm_config_best_p50_seconds{model="det",variant="fp32",device="box",provider="cpu",config="${t1.id}"} 0.0064`);
    expect(text).toContain(`benchfarm_config_best_ratio{model="det",variant="int8",device="box",provider="tensorrt",config="${trt.id}"} 0.5`);
    // No CI below 2 rounds: absent, never 0.
    expect(text.some((l) => l.startsWith('benchfarm_config_best_ratio_ci_low{') && l.includes('variant="int8"'))).toBe(false);
    expect(text).toContain(
      `benchfarm_run_config_info{config="${trt.id}",provider="tensorrt",provider_options="fp16=1,workspace_mb=2048",intra_op_threads="0",inter_op_threads="0",execution_mode="sequential",graph_optimization_level="all",batch_size="0",concurrency="0"} 1`,
    );
    expect(text.filter((l) => l.startsWith('benchfarm_run_config_info{')).map((l) => /config="(c[0-9a-f]{10})"/.exec(l)?.[1]).sort()).toEqual([baseline.id, t1.id, trt.id].sort());
  });

  it('stay bounded: a newer search of the same series replaces the old best, and an id no best names loses its info series', async () => {
    const registry = new Registry();
    const gauges = new ConfigSearchGauges(createConfigSearchMetrics(registry));
    for (let i = 0; i < 20; i++) {
      gauges.record({ model: 'det', device: 'box' }, report([{ variant: 'fp32', config: i % 2 === 0 ? t1 : t2, ratio: 0.8 + i / 100, ci: [0.7, 0.9] }]));
    }
    const text = await lines(registry);
    expect(text.filter((l) => l.startsWith('benchfarm_config_best_ratio{'))).toEqual([`benchfarm_config_best_ratio{model="det",variant="fp32",device="box",provider="cpu",config="${t2.id}"} 0.99`]);
    expect(text.filter((l) => l.startsWith('benchfarm_run_config_info{')).map((l) => /config="(c[0-9a-f]{10})"/.exec(l)?.[1]).sort()).toEqual([baseline.id, t2.id].sort());
    expect(text.filter((l) => l.startsWith('benchfarm_config_best_ratio_ci_high{'))).toHaveLength(1);
  });

  it('drop a variant whose new search has no best instead of keeping the old one', async () => {
    const registry = new Registry();
    const gauges = new ConfigSearchGauges(createConfigSearchMetrics(registry));
    gauges.record({ model: 'det', device: 'box' }, report([{ variant: 'fp32', config: t1, ratio: 0.8 }]));
    const failed = report([]);
    failed.points = [{ variant: 'fp32', configId: t1.id, measured: false, skipReason: 'session failed', order: 1, queries: 0, p50Ms: 0, meanMs: 0, queriesPerSecond: 0, samplesPerSecond: 0, sessionCreationMs: 0, durationMs: 0, meetsBound: false }];
    gauges.record({ model: 'det', device: 'box' }, failed);
    const text = await lines(registry);
    expect(text.filter((l) => l.startsWith('benchfarm_config_best') || l.startsWith('benchfarm_run_config_info'))).toEqual([]);
  });
});
