// MetricsService's accuracy bookkeeping on its own registry. The repositories, the agent
// registry and the clock are FAKES (pure logic under test: which gauges exist when); the same
// path against real SQLite, gRPC and Prometheus is accuracy.int-spec.ts.
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createFarmMetrics, type SeriesLabels } from '@benchfarm/metrics';
import type { EvaluationResult } from '@benchfarm/protocol';
import type { AgentsService } from '../agents/agents.service';
import type { Clock } from '../common/clock';
import type { ResultRepository } from '../storage/result.repository';
import type { SweepRepository } from '../storage/sweep.repository';
import { MetricsService, SERIES_RETENTION_MS } from './metrics.service';
import type { SeriesHistoryRepository } from './series-history.repository';

const DEVICE = { model: 'det', device: 'box', provider: 'cpu' };
const DAY = 24 * 3600 * 1000;

function evaluation(agreement: number): EvaluationResult {
  const metrics = [{ metric: 'map50_agreement', value: agreement, ci: { low: agreement - 0.05, high: 1, level: 0.95, resamples: 1000 }, images: 9, against: 'reference', reason: '' }];
  return {
    datasetId: 'ds',
    datasetName: 'photos',
    task: 'detection',
    images: 9,
    labelledImages: 0,
    inputs: 'real images',
    split: '',
    durationMs: 1,
    loadMs: 1,
    detectionLayout: 'yolox',
    variants: [
      { variant: 'fp32', sha256: '', reference: true, images: 9, fidelity: [], metrics: [{ ...metrics[0]!, value: 1 }], inferenceMs: 1, postprocessMs: 1, error: '' },
      { variant: 'int8', sha256: '', reference: false, images: 9, fidelity: [{ output: 'o', cosine: 0.98, maxAbsError: 0.1, inputs: 'real images', images: 9, randomInputs: false }], metrics, inferenceMs: 1, postprocessMs: 1, error: '' },
    ],
  };
}

function service(lastResultMs: () => number, nowMs: () => number): { metrics: MetricsService; registry: Registry } {
  const registry = new Registry();
  const series = (variant: string): SeriesLabels => ({ ...DEVICE, variant });
  const fakeHistory = { latestTwo: () => [], lastResultTimes: () => ['fp32', 'int8'].map((v) => ({ series: series(v), lastResultMs: lastResultMs() })), configSearchReports: () => [] } as unknown as SeriesHistoryRepository;
  const fakeSweeps = { countJobsByState: () => ({ queued: 0, running: 0, done: 0, failed: 0 }) } as unknown as SweepRepository;
  const fakeResults = { resultsForMetrics: () => [], comparisonReportsForMetrics: () => [] } as unknown as ResultRepository;
  const fakeAgents = { countByState: async () => ({}) } as unknown as AgentsService;
  const fakeClock: Clock = { nowMs } as Clock;
  return { metrics: new MetricsService(createFarmMetrics(registry), fakeSweeps, fakeResults, fakeAgents, fakeHistory, fakeClock), registry };
}

const accuracyLines = (text: string): string[] => text.split('\n').filter((l) => /^benchfarm_(accuracy|fidelity)/.test(l));

describe('MetricsService accuracy gauges', () => {
  it('sets benchfarm_accuracy from an evaluation, drops it for a later comparison without one, and retires it with its series', async () => {
    let now = 100 * DAY;
    const { metrics } = service(() => 100 * DAY, () => now);
    metrics.recordComparison(DEVICE, undefined, evaluation(0.97));
    let lines = accuracyLines((await metrics.render()).text);
    expect(lines).toContain('benchfarm_accuracy{model="det",variant="int8",device="box",provider="cpu",metric="map50_agreement"} 0.97');
    expect(lines).toContain('benchfarm_fidelity_cosine_similarity{model="det",variant="int8",device="box",provider="cpu",inputs="real_images"} 0.98');

    // A later comparison on random inputs only: the older accuracy is not shown as current.
    metrics.recordComparison(DEVICE, {
      referenceVariant: 'fp32',
      rounds: 3,
      order: 'interleaved',
      roundMinQueries: 5,
      variants: [
        { variant: 'fp32', sha256: '', reference: true, queries: 1, medianMs: 1, meanMs: 1, roundMedianMs: [], ratioToReference: 1, fidelity: [] },
        { variant: 'int8', sha256: '', reference: false, queries: 1, medianMs: 1, meanMs: 1, roundMedianMs: [], ratioToReference: 0.6, fidelity: [{ output: 'o', cosine: 0.7, maxAbsError: 1, inputs: 'random inputs', images: 0, randomInputs: true }] },
      ],
    });
    lines = accuracyLines((await metrics.render()).text);
    expect(lines.filter((l) => l.startsWith('benchfarm_accuracy'))).toEqual([]);
    expect(lines).toContain('benchfarm_fidelity_cosine_similarity{model="det",variant="int8",device="box",provider="cpu",inputs="random_inputs"} 0.7');

    metrics.recordComparison(DEVICE, undefined, evaluation(0.96));
    expect(accuracyLines((await metrics.render()).text).length).toBeGreaterThan(0);
    // 30 days and a minute later the series retire: their accuracy and fidelity go with them.
    now = 100 * DAY + SERIES_RETENTION_MS + 60_000;
    expect(accuracyLines((await metrics.render()).text)).toEqual([]);
  });
});
