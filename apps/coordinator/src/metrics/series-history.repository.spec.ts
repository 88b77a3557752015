import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TensorDataType, type Summary } from '@benchfarm/protocol';
import { SqlResultRepository } from '../storage/result.repository';
import { SqlSweepRepository } from '../storage/sweep.repository';
import { STORE_KINDS, testStores } from '../testing/stores';
import { SqlSeriesHistoryRepository } from './series-history.repository';
import type { SqlDatabase } from '../storage/sql';
import type { SweepSettings } from '../storage/records';

const summary = (report?: unknown): Summary =>
  ({
    count: 2, meanMs: 1, stdMs: 0, minMs: 1, maxMs: 1, percentiles: [], throughputQps: 1, measuredDurationMs: 2, warmupQueries: 1, warmupDurationMs: 1,
    sessionCreationMs: 1, firstInferenceMs: 1, modelFileSizeBytes: 1, stopReason: 'min_reached', unmeasured: [], ...(report ? { report } : {}),
  }) as unknown as Summary;

describe.each(STORE_KINDS)('SqlSeriesHistoryRepository on %s', (kind) => {
  const stores = testStores(kind);
  let db: SqlDatabase;
  let sweeps: SqlSweepRepository;
  let results: SqlResultRepository;
  let history: SqlSeriesHistoryRepository;

  beforeEach(async () => {
    db = await stores.open();
    sweeps = new SqlSweepRepository(db);
    results = new SqlResultRepository(db);
    history = new SqlSeriesHistoryRepository(db);
  });
  afterEach(() => db.close());

  const sweep = (id: string, jobIds: string[], settings: Partial<SweepSettings>) =>
    sweeps.create({
      id,
      name: id,
      createdAtMs: 1,
      model: { name: 'm', sha256: 'a'.repeat(64), sizeBytes: 1 },
      inputs: [{ name: 'x', dataType: TensorDataType.TENSOR_DATA_TYPE_FLOAT32, shape: [1] }],
      settings: { scenario: 'single_stream', executionProvider: 'cpu', intraOpThreads: 2, interOpThreads: 0, batch: 1, warmupMinQueries: 1, warmupMinDurationMs: 1, minQueries: 1, minDurationMs: 1, maxDurationMs: 10, seed: 0, ...settings },
      targets: ['all'],
      agentIds: ['a1'],
      variants: [{ name: 'fp32', sha256: 'b'.repeat(64), sizeBytes: 1, recipe: {} }],
      jobs: jobIds.map((jobId) => ({ id: jobId, variant: 'fp32', agentId: 'a1', agentName: 'A1' })),
    });
  const commit = (jobId: string, nowMs: number, latencyMs: number[], report?: unknown) =>
    results.commitResult({ resultId: `r_${jobId}`, jobId, attempt: 1, uploadId: 'u', agentId: 'a1', summary: summary(report), latencyMs, nowMs });

  it('gives the latest result of a series and the latest before it measured the same way, leaving comparison and search jobs out', async () => {
    await sweep('sweep_a', ['j1', 'j2', 'j_cmp'], { comparisonJobs: [{ jobId: 'j_cmp', agentId: 'a1', variants: ['fp32'] }] });
    await sweep('sweep_b', ['j3'], { batch: 4 });
    await sweep('sweep_c', ['j_search'], { configSearch: { devices: [{ jobId: 'j_search' }] } as unknown as SweepSettings['configSearch'] });
    await commit('j1', 10, [1, 1]);
    await commit('j3', 20, [3, 3]);
    await commit('j2', 30, [2, 2]);
    await commit('j_cmp', 40, [9, 9]);
    await commit('j_search', 50, [8, 8], { scenario: 'config_search', configSearch: { variants: [] } });
    const series = { model: 'm', variant: 'fp32', device: 'A1', provider: 'cpu' };
    expect(await history.latestTwo(series)).toEqual([
      { resultId: 'r_j2', committedAtMs: 30, latencyMs: [2, 2] },
      { resultId: 'r_j1', committedAtMs: 10, latencyMs: [1, 1] },
    ]);
    expect(await history.latestTwo({ ...series, device: 'other' })).toEqual([]);
    // The comparison job counts for the series' last result time; the search job does not.
    expect(await history.lastResultTimes()).toEqual([{ series, lastResultMs: 40 }]);
    expect(await history.configSearchReports()).toEqual([{ model: 'm', device: 'A1', report: { variants: [] } }]);
  });

  it('compares nothing when the latest result is the only one measured its way', async () => {
    await sweep('sweep_a', ['j1'], { intraOpThreads: 1 });
    await sweep('sweep_b', ['j2'], { intraOpThreads: 4 });
    await commit('j1', 10, [1]);
    await commit('j2', 20, [2]);
    expect((await history.latestTwo({ model: 'm', variant: 'fp32', device: 'A1', provider: 'cpu' })).map((r) => r.resultId)).toEqual(['r_j2']);
  });
});
