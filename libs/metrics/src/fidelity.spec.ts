import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createFidelityMetrics, recordFidelity } from './index';

const series = { model: 'det', variant: 'int8-static', device: 'jetson-1', provider: 'cpu' };

async function values(registry: Registry, name: string): Promise<{ labels: Record<string, string | number>; value: number }[]> {
  const metric = registry.getSingleMetric(name);
  return metric ? ((await metric.get()).values as { labels: Record<string, string | number>; value: number }[]) : [];
}

describe('fidelity metrics', () => {
  it('keeps the worst output: lowest cosine and SNR, largest error', async () => {
    const registry = new Registry();
    const m = createFidelityMetrics(registry);
    recordFidelity(m, series, [
      { cosine: 0.999, snrDb: 31.5, maxAbsError: 0.02 },
      { cosine: 0.91, snrDb: 12.25, maxAbsError: 0.4 },
    ], false);
    expect((await values(registry, 'benchfarm_fidelity_cosine_similarity'))[0]).toMatchObject({ labels: series, value: 0.91 });
    expect((await values(registry, 'benchfarm_fidelity_snr_decibels'))[0]?.value).toBe(12.25);
    expect((await values(registry, 'benchfarm_fidelity_max_abs_error'))[0]?.value).toBe(0.4);
  });

  it('marks the reference as identical to itself and leaves its SNR absent (it is infinite)', async () => {
    const registry = new Registry();
    const m = createFidelityMetrics(registry);
    recordFidelity(m, { ...series, variant: 'fp32' }, [], true);
    expect((await values(registry, 'benchfarm_fidelity_cosine_similarity'))[0]?.value).toBe(1);
    expect(await values(registry, 'benchfarm_fidelity_snr_decibels')).toEqual([]);
  });

  it('removes the gauges of a variant without figures instead of reporting 0', async () => {
    const registry = new Registry();
    const m = createFidelityMetrics(registry);
    recordFidelity(m, series, [{ cosine: 0.95, maxAbsError: 0.1 }], false);
    recordFidelity(m, series, [], false);
    expect(await values(registry, 'benchfarm_fidelity_cosine_similarity')).toEqual([]);
    expect(await values(registry, 'benchfarm_fidelity_max_abs_error')).toEqual([]);
  });
});
