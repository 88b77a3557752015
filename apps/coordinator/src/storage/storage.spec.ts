import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Summary } from '@benchfarm/protocol';
import { newSweep, summary } from '../testing/store-fixtures';
import { STORE_KINDS, testStores } from '../testing/stores';
import { SqlLeaseRepository, LeaseRefusedError } from './lease.repository';
import { SqlResultRepository } from './result.repository';
import { decodeSamples, encodeSamples } from './samples-codec';
import { openSqlite } from './sqlite';
import { deriveSweepState } from './sweep-state';
import { SqlSweepRepository } from './sweep.repository';
import type { SqlDatabase } from './sql';
import type { JobState, SweepSettings } from './records';

describe('SQLite file', () => {
  it('opens in WAL mode and migrates once (reopening is a no-op)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bf-storage-'));
    try {
      let db = openSqlite(join(dir, 'c.db'));
      expect(await db.get('PRAGMA journal_mode')).toEqual({ journal_mode: 'wal' });
      await new SqlSweepRepository(db).create(newSweep());
      await db.close();
      db = openSqlite(join(dir, 'c.db'));
      expect((await new SqlSweepRepository(db).get('sweep_1'))?.jobs).toHaveLength(2);
      await db.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.each(STORE_KINDS)('SQL repositories on %s', (kind) => {
  const stores = testStores(kind);
  let db: SqlDatabase;
  let sweeps: SqlSweepRepository;
  let results: SqlResultRepository;

  beforeEach(async () => {
    db = await stores.open();
    sweeps = new SqlSweepRepository(db);
    results = new SqlResultRepository(db);
  });
  afterEach(() => db.close());

  const count = async (table: string): Promise<number> => (await db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`))!.n;

  it('writes a sweep, its variants and its jobs in one transaction: all or nothing', async () => {
    await expect(sweeps.create(newSweep('sweep_2', ['job_x', 'job_x']))).rejects.toThrow(/UNIQUE|duplicate key/);
    expect(await sweeps.list()).toEqual([]);
    expect(await count('variants')).toBe(0);
    await sweeps.create(newSweep());
    const stored = (await sweeps.get('sweep_1'))!;
    expect(stored).toMatchObject({ state: 'running', name: 'test sweep', agentIds: ['a1'], targets: ['all'] });
    expect(stored.variants.map((v) => v.name)).toEqual(['fp32', 'ort-basic']);
    expect(stored.jobs.map((j) => [j.id, j.variant, j.state, j.attempts])).toEqual([
      ['job_a', 'fp32', 'queued', 0],
      ['job_b', 'ort-basic', 'queued', 0],
    ]);
    expect(await sweeps.get('nope')).toBeUndefined();
  });

  it('commits a result once per job, with its samples, and keeps the first on a duplicate', async () => {
    await sweeps.create(newSweep());
    const input = { jobId: 'job_a', attempt: 1, uploadId: 'u1', agentId: 'a1', summary: summary(3), latencyMs: [1, 2, 3], nowMs: 5 };
    expect(await results.commitResult({ ...input, resultId: 'r1' })).toEqual({ outcome: 'committed', resultId: 'r1' });
    expect(await results.commitResult({ ...input, resultId: 'r2', uploadId: 'u2', latencyMs: [9, 9, 9] })).toEqual({ outcome: 'duplicate', resultId: 'r1' });
    expect(await results.getSamples('job_a')).toEqual([1, 2, 3]);
    expect(await results.resultUploadId('job_a')).toBe('u1');
    const job = (await sweeps.get('sweep_1'))!.jobs[0]!;
    expect(job).toMatchObject({ state: 'done', attempts: 1 });
    expect(job.result).toMatchObject({ id: 'r1', count: 3, peakRssBytes: 1000, provider: 'cpu', percentiles: [{ quantile: 0.5, valueMs: 2, status: 'ok' }, { quantile: 0.99, status: 'insufficient_samples' }] });
    expect(job.result).not.toHaveProperty('rssBeforeSessionBytes');
    expect(await count('results')).toBe(1);
  });

  it('commits concurrent uploads of one job exactly once', async () => {
    await sweeps.create(newSweep());
    const input = { jobId: 'job_a', attempt: 1, agentId: 'a1', summary: summary(1), latencyMs: [1], nowMs: 5 };
    const outcomes = await Promise.all([1, 2, 3, 4].map((i) => results.commitResult({ ...input, resultId: `r${i}`, uploadId: `u${i}` })));
    expect(outcomes.filter((o) => o.outcome === 'committed')).toHaveLength(1);
    const winner = outcomes.find((o) => o.outcome === 'committed')!.resultId;
    expect(outcomes.every((o) => o.resultId === winner)).toBe(true);
    expect(await count('results')).toBe(1);
  });

  it('checks and releases the upload lease inside the commit; a superseded lease writes nothing', async () => {
    await sweeps.create(newSweep());
    const leases = new SqlLeaseRepository(db);
    const acquire = (token: string) => leases.acquire({ jobId: 'job_a', sweepId: 'sweep_1', agentId: 'a1', token, maxAttempts: 3, nowMs: 1 });
    await acquire('l1');
    await acquire('l2');
    const input = { resultId: 'r1', jobId: 'job_a', uploadId: 'u1', agentId: 'a1', summary: summary(1), latencyMs: [1], nowMs: 5 };
    const refused = await results.commitResult({ ...input, attempt: 1, leaseToken: 'l1' }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(LeaseRefusedError);
    expect((refused as LeaseRefusedError).reason).toMatch(/l1 \(attempt 1\) is stale/);
    expect(await count('results')).toBe(0);
    await expect(results.recordAttemptError({ jobId: 'job_a', attempt: 1, uploadId: 'u1', agentId: 'a1', code: 'run', message: 'late', retryable: true, final: false, nowMs: 6, leaseToken: 'l1' })).rejects.toBeInstanceOf(LeaseRefusedError);
    expect(await db.get('SELECT error_code FROM job_attempts WHERE job_id = ? AND attempt = 1', ['job_a'])).toEqual({ error_code: null });
    expect(await results.commitResult({ ...input, attempt: 2, leaseToken: 'l2' })).toEqual({ outcome: 'committed', resultId: 'r1' });
    expect(await db.get('SELECT state FROM job_leases WHERE token = ?', ['l2'])).toEqual({ state: 'released' });
  });

  it('moves a job through running, retryable error, final error; the sweep follows its jobs', async () => {
    await sweeps.create(newSweep());
    expect(await results.markJobRunning({ jobId: 'job_b', attempt: 1, uploadId: 'u', agentId: 'a1', startedAtMs: 1, nowMs: 1 })).toBe(true);
    expect((await sweeps.get('sweep_1'))!.jobs[1]).toMatchObject({ state: 'running', attempts: 1 });
    const error = { jobId: 'job_b', uploadId: 'u', agentId: 'a1', code: 'run', message: 'boom', retryable: true, nowMs: 2 };
    expect(await results.recordAttemptError({ ...error, attempt: 1, final: false })).toEqual({ jobFinal: false, jobState: 'queued' });
    expect((await sweeps.get('sweep_1'))!.jobs[1]).toMatchObject({ state: 'queued', error: 'run: boom' });
    // an older attempt starting late does not take the job back
    expect(await results.markJobRunning({ jobId: 'job_b', attempt: 2, uploadId: 'u2', agentId: 'a1', startedAtMs: 3, nowMs: 3 })).toBe(true);
    expect(await results.markJobRunning({ jobId: 'job_b', attempt: 1, uploadId: 'u', agentId: 'a1', startedAtMs: 3, nowMs: 3 })).toBe(false);
    expect(await results.recordAttemptError({ ...error, attempt: 3, final: true })).toEqual({ jobFinal: true, jobState: 'failed' });
    expect((await sweeps.get('sweep_1'))!.state).toBe('running');
    await results.commitResult({ resultId: 'r1', jobId: 'job_a', attempt: 1, uploadId: 'x', agentId: 'a1', summary: summary(1), latencyMs: [1], nowMs: 4 });
    expect((await sweeps.get('sweep_1'))!.state).toBe('completed');
    // a late error never undoes a result
    expect(await results.recordAttemptError({ ...error, jobId: 'job_a', attempt: 2, final: false })).toEqual({ jobFinal: true, jobState: 'done' });
    expect(await sweeps.countJobsByState()).toEqual({ queued: 0, running: 0, done: 1, failed: 1 });
    const attempts = await db.all('SELECT job_id, attempt, error_code FROM job_attempts ORDER BY job_id, attempt');
    expect(attempts).toEqual([
      { job_id: 'job_a', attempt: 1, error_code: null },
      { job_id: 'job_a', attempt: 2, error_code: 'run' },
      { job_id: 'job_b', attempt: 1, error_code: 'run' },
      { job_id: 'job_b', attempt: 2, error_code: null },
      { job_id: 'job_b', attempt: 3, error_code: 'run' },
    ]);
  });

  it('marks a sweep failed with the jobs that were never published; results do not revive it', async () => {
    await sweeps.create(newSweep());
    await sweeps.markFailed('sweep_1', 'publishing jobs failed', ['job_b'], 9);
    let stored = (await sweeps.get('sweep_1'))!;
    expect(stored).toMatchObject({ state: 'failed', error: 'publishing jobs failed' });
    expect(stored.jobs.map((j) => j.state)).toEqual(['queued', 'failed']);
    await results.commitResult({ resultId: 'r1', jobId: 'job_a', attempt: 1, uploadId: 'x', agentId: 'a1', summary: summary(1), latencyMs: [1], nowMs: 10 });
    stored = (await sweeps.get('sweep_1'))!;
    expect(stored.state).toBe('failed');
    expect(stored.jobs[0]!.state).toBe('done');
  });

  it('gives the job context the ingest checks against, with comparison and configuration-search jobs told apart', async () => {
    await sweeps.create(newSweep());
    expect(await results.getJobContext('job_b')).toMatchObject({ id: 'job_b', sweepId: 'sweep_1', agentId: 'a1', agentName: 'Agent One', modelName: 'm', variantSha256: 'c'.repeat(64), variantSizeBytes: 90, hasResult: false, isComparison: false, isConfigSearch: false });
    expect(await results.getJobContext('nope')).toBeUndefined();
    await sweeps.create(
      newSweep('sweep_2', ['job_plain', 'job_cmp', 'job_search'], {
        comparisonJobs: [{ jobId: 'job_cmp', agentId: 'a1', variants: ['fp32', 'ort-basic'] }],
        configSearch: { devices: [{ jobId: 'job_search' }, { skipped: 'no point' }] } as unknown as SweepSettings['configSearch'],
      }),
    );
    const flags = async (jobId: string) => {
      const context = (await results.getJobContext(jobId))!;
      return [context.isComparison, context.isConfigSearch];
    };
    expect(await flags('job_plain')).toEqual([false, false]);
    expect(await flags('job_cmp')).toEqual([true, false]);
    expect(await flags('job_search')).toEqual([false, true]);
    await results.commitResult({ resultId: 'r1', jobId: 'job_b', attempt: 1, uploadId: 'x', agentId: 'a1', summary: summary(1), latencyMs: [1], nowMs: 4 });
    expect((await results.getJobContext('job_b'))!.hasResult).toBe(true);
  });

  it('lists stored results for the gauges in commit order (ties in the same millisecond in insertion order), leaving comparison and search jobs out', async () => {
    const ids = ['job_1', 'job_2', 'job_3', 'job_4', 'job_5', 'job_6'];
    await sweeps.create(newSweep('sweep_1', ids, { comparisonJobs: [{ jobId: 'job_5', agentId: 'a1', variants: ['fp32'] }] }));
    // Committed out of id order, four of them in the same millisecond.
    for (const [i, jobId] of ['job_4', 'job_2', 'job_6', 'job_1', 'job_5', 'job_3'].entries()) {
      const s = { ...summary(1), throughputQps: 100 + i, report: jobId === 'job_5' ? { scenario: 'interleaved' } : undefined } as Summary;
      await results.commitResult({ resultId: `r_${jobId}`, jobId, attempt: 1, uploadId: 'u', agentId: 'a1', summary: s, latencyMs: [1], nowMs: i < 4 ? 50 : 60 + i });
    }
    expect((await results.resultsForMetrics()).map((r) => r.throughputQps)).toEqual([100, 101, 102, 103, 105]);
    expect((await results.comparisonReportsForMetrics()).map((r) => r.report.scenario)).toEqual(['interleaved']);
  });
});

describe('deriveSweepState', () => {
  it.each<[JobState[], string]>([
    [[], 'failed'],
    [['queued'], 'running'],
    [['done', 'running'], 'running'],
    [['done', 'failed'], 'completed'],
    [['done', 'done'], 'completed'],
    [['failed', 'failed'], 'failed'],
  ])('%j -> %s', (states, expected) => expect(deriveSweepState(states)).toBe(expected));
});

describe('samples codec', () => {
  it('round-trips float64 little-endian', () => {
    const values = [0, 1.5, 1e-9, 12345.678901, Number.MAX_VALUE];
    const blob = encodeSamples(values);
    expect(blob.length).toBe(40);
    expect(blob.readDoubleLE(8)).toBe(1.5);
    expect(decodeSamples(blob)).toEqual(values);
    expect(() => decodeSamples(new Uint8Array(7))).toThrow(RangeError);
  });
});
