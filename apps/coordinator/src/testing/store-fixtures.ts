import { PercentileStatus, TensorDataType, type Summary } from '@benchfarm/protocol';
import type { NewSweep, SweepSettings } from '../storage/records';

// Fixtures of the storage specs: a small sweep (two variants, jobs on agent a1) and a result
// summary, as the repositories take them. Made-up values for tests of the store's logic.

export function newSweep(id = 'sweep_1', jobIds = ['job_a', 'job_b'], extraSettings: Partial<SweepSettings> = {}): NewSweep {
  return {
    id,
    name: 'test sweep',
    createdAtMs: 1_700_000_000_000,
    model: { name: 'm', sha256: 'a'.repeat(64), sizeBytes: 100 },
    inputs: [{ name: 'x', dataType: TensorDataType.TENSOR_DATA_TYPE_FLOAT32, shape: [1, 3, 8, 8] }],
    settings: { scenario: 'single_stream', executionProvider: 'cpu', intraOpThreads: 0, interOpThreads: 0, batch: 1, warmupMinQueries: 10, warmupMinDurationMs: 500, minQueries: 100, minDurationMs: 2000, maxDurationMs: 60_000, seed: 0, ...extraSettings },
    targets: ['all'],
    agentIds: ['a1'],
    variants: [
      { name: 'fp32', sha256: 'b'.repeat(64), sizeBytes: 100, recipe: { pass: 'identity' } },
      { name: 'ort-basic', sha256: 'c'.repeat(64), sizeBytes: 90, recipe: { pass: 'ort-optimize' } },
    ],
    jobs: jobIds.map((jobId, i) => ({ id: jobId, variant: i % 2 === 0 ? 'fp32' : 'ort-basic', agentId: 'a1', agentName: 'Agent One' })),
  };
}

export const summary = (count: number): Summary => ({
  count,
  meanMs: 2,
  stdMs: 0.1,
  minMs: 1,
  maxMs: 3,
  percentiles: [
    { quantile: 0.5, valueMs: 2, status: PercentileStatus.PERCENTILE_STATUS_OK, minSamples: 1 },
    { quantile: 0.99, status: PercentileStatus.PERCENTILE_STATUS_INSUFFICIENT_SAMPLES, minSamples: 662 },
  ],
  throughputQps: 500,
  measuredDurationMs: 2 * count,
  warmupQueries: 10,
  warmupDurationMs: 500,
  sessionCreationMs: 30,
  firstInferenceMs: 5,
  peakRssBytes: 1000,
  rssBeforeSessionBytes: undefined,
  rssAfterSessionBytes: undefined,
  modelFileSizeBytes: 100,
  stopReason: 'min_reached',
  manifest: undefined,
  unmeasured: [{ field: 'rss_before_session_bytes', reason: 'no /proc' }],
});
