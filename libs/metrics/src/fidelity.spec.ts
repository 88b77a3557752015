import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createAccuracyMetrics, createFidelityMetrics, recordAccuracy, recordFidelity, removeAccuracy, removeFidelity } from './index';

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

  it('labels what the figures were measured on, and keeps only the latest kind of inputs', async () => {
    const registry = new Registry();
    const m = createFidelityMetrics(registry);
    recordFidelity(m, series, [{ cosine: 0.78, maxAbsError: 0.5 }], false, 'random_inputs');
    expect((await values(registry, 'benchfarm_fidelity_cosine_similarity')).map((v) => [v.labels.inputs, v.value])).toEqual([['random_inputs', 0.78]]);
    expect((await values(registry, 'benchfarm_fidelity_images'))[0]?.value).toBe(0);
    // The next comparison evaluated real images: the random-input figure goes, never read as accuracy.
    recordFidelity(m, series, [{ cosine: 0.984, maxAbsError: 0.1, images: 9 }], false, 'real_images');
    expect((await values(registry, 'benchfarm_fidelity_cosine_similarity')).map((v) => [v.labels.inputs, v.value])).toEqual([['real_images', 0.984]]);
    expect((await values(registry, 'benchfarm_fidelity_images'))[0]).toMatchObject({ labels: { inputs: 'real_images' }, value: 9 });
    removeFidelity(m, series);
    expect(await values(registry, 'benchfarm_fidelity_cosine_similarity')).toEqual([]);
  });
});

describe('accuracy metrics', () => {
  it('sets value, image count and CI per metric of the fixed set; drops unknown names; removes uncomputed ones', async () => {
    const registry = new Registry();
    const m = createAccuracyMetrics(registry);
    recordAccuracy(m, series, [
      { metric: 'map50_agreement', value: 0.97, images: 9, ci: { low: 0.93, high: 1 } },
      { metric: 'map50', value: 0.41, images: 4 },
      { metric: 'map50_95', images: 0 },
      { metric: 'f1_of_my_own', value: 0.5, images: 9 },
    ]);
    const acc = await values(registry, 'benchfarm_accuracy');
    expect(acc.map((v) => [v.labels.metric, v.value]).sort()).toEqual([['map50', 0.41], ['map50_agreement', 0.97]]);
    expect(acc[0]?.labels).toMatchObject(series);
    expect((await values(registry, 'benchfarm_accuracy_images')).find((v) => v.labels.metric === 'map50')?.value).toBe(4);
    expect((await values(registry, 'benchfarm_accuracy_ci_low')).map((v) => [v.labels.metric, v.value])).toEqual([['map50_agreement', 0.93]]);
    // A later evaluation without labels: map50 is removed, not left from the older one.
    recordAccuracy(m, series, [{ metric: 'map50_agreement', value: 0.96, images: 9 }]);
    expect((await values(registry, 'benchfarm_accuracy')).map((v) => v.labels.metric)).toEqual(['map50_agreement']);
    expect(await values(registry, 'benchfarm_accuracy_ci_low')).toEqual([]);
    removeAccuracy(m, series);
    expect(await values(registry, 'benchfarm_accuracy')).toEqual([]);
    expect(await values(registry, 'benchfarm_accuracy_images')).toEqual([]);
  });
});
