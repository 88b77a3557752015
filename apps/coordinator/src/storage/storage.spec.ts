import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PercentileStatus, TensorDataType, type Summary } from '@benchfarm/protocol';
import { openDatabase, type SqliteDatabase } from './database';
import { SqliteResultRepository } from './result.repository';
import { decodeSamples, encodeSamples } from './samples-codec';
import { deriveSweepState } from './sweep-state';
import { SqliteSweepRepository } from './sweep.repository';
import type { JobState, NewSweep } from './records';

function newSweep(id = 'sweep_1', jobIds = ['job_a', 'job_b']): NewSweep {
  return {
    id,
    name: 'test sweep',
    createdAtMs: 1_700_000_000_000,
    model: { name: 'm', sha256: 'a'.repeat(64), sizeBytes: 100 },
    inputs: [{ name: 'x', dataType: TensorDataType.TENSOR_DATA_TYPE_FLOAT32, shape: [1, 3, 8, 8] }],
    settings: { scenario: 'single_stream', executionProvider: 'cpu', intraOpThreads: 0, interOpThreads: 0, batch: 1, warmupMinQueries: 10, warmupMinDurationMs: 500, minQueries: 100, minDurationMs: 2000, maxDurationMs: 60_000, seed: 0 },
    targets: ['all'],
    agentIds: ['a1'],
    variants: [
      { name: 'fp32', sha256: 'b'.repeat(64), sizeBytes: 100, recipe: { pass: 'identity' } },
      { name: 'ort-basic', sha256: 'c'.repeat(64), sizeBytes: 90, recipe: { pass: 'ort-optimize' } },
    ],
    jobs: jobIds.map((jobId, i) => ({ id: jobId, variant: i % 2 === 0 ? 'fp32' : 'ort-basic', agentId: 'a1', agentName: 'Agent One' })),
  };
}

const summary = (count: number): Summary => ({
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

describe('SQLite repositories', () => {
  let dir: string;
  let db: SqliteDatabase;
  let sweeps: SqliteSweepRepository;
  let results: SqliteResultRepository;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'bf-storage-'));
    db = openDatabase(join(dir, 'c.db'));
    sweeps = new SqliteSweepRepository(db);
    results = new SqliteResultRepository(db);
  });
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('opens in WAL mode and migrates once (reopening is a no-op)', () => {
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    sweeps.create(newSweep());
    db.close();
    db = openDatabase(join(dir, 'c.db'));
    expect(new SqliteSweepRepository(db).get('sweep_1')?.jobs).toHaveLength(2);
  });

  it('writes a sweep, its variants and its jobs in one transaction: all or nothing', () => {
    expect(() => sweeps.create(newSweep('sweep_2', ['job_x', 'job_x']))).toThrow(/UNIQUE/);
    expect(sweeps.list()).toEqual([]);
    expect((db.prepare('SELECT COUNT(*) AS n FROM variants').get() as { n: number }).n).toBe(0);
    sweeps.create(newSweep());
    const stored = sweeps.get('sweep_1')!;
    expect(stored).toMatchObject({ state: 'running', name: 'test sweep', agentIds: ['a1'], targets: ['all'] });
    expect(stored.variants.map((v) => v.name)).toEqual(['fp32', 'ort-basic']);
    expect(stored.jobs.map((j) => [j.id, j.variant, j.state, j.attempts])).toEqual([
      ['job_a', 'fp32', 'queued', 0],
      ['job_b', 'ort-basic', 'queued', 0],
    ]);
    expect(sweeps.get('nope')).toBeUndefined();
  });

  it('commits a result once per job, with its samples, and keeps the first on a duplicate', () => {
    sweeps.create(newSweep());
    const input = { jobId: 'job_a', attempt: 1, uploadId: 'u1', agentId: 'a1', summary: summary(3), latencyMs: [1, 2, 3], nowMs: 5 };
    expect(results.commitResult({ ...input, resultId: 'r1' })).toEqual({ outcome: 'committed', resultId: 'r1' });
    expect(results.commitResult({ ...input, resultId: 'r2', uploadId: 'u2', latencyMs: [9, 9, 9] })).toEqual({ outcome: 'duplicate', resultId: 'r1' });
    expect(results.getSamples('job_a')).toEqual([1, 2, 3]);
    const job = sweeps.get('sweep_1')!.jobs[0]!;
    expect(job).toMatchObject({ state: 'done', attempts: 1 });
    expect(job.result).toMatchObject({ id: 'r1', count: 3, peakRssBytes: 1000, provider: 'cpu', percentiles: [{ quantile: 0.5, valueMs: 2, status: 'ok' }, { quantile: 0.99, status: 'insufficient_samples' }] });
    expect(job.result).not.toHaveProperty('rssBeforeSessionBytes');
    expect((db.prepare('SELECT COUNT(*) AS n FROM results').get() as { n: number }).n).toBe(1);
  });

  it('moves a job through running, retryable error, final error; the sweep follows its jobs', () => {
    sweeps.create(newSweep());
    expect(results.markJobRunning({ jobId: 'job_b', attempt: 1, uploadId: 'u', agentId: 'a1', startedAtMs: 1, nowMs: 1 })).toBe(true);
    expect(sweeps.get('sweep_1')!.jobs[1]).toMatchObject({ state: 'running', attempts: 1 });
    const error = { jobId: 'job_b', uploadId: 'u', agentId: 'a1', code: 'run', message: 'boom', retryable: true, nowMs: 2 };
    expect(results.recordAttemptError({ ...error, attempt: 1, final: false })).toEqual({ jobFinal: false, jobState: 'queued' });
    expect(sweeps.get('sweep_1')!.jobs[1]).toMatchObject({ state: 'queued', error: 'run: boom' });
    // an older attempt starting late does not take the job back
    expect(results.markJobRunning({ jobId: 'job_b', attempt: 2, uploadId: 'u2', agentId: 'a1', startedAtMs: 3, nowMs: 3 })).toBe(true);
    expect(results.markJobRunning({ jobId: 'job_b', attempt: 1, uploadId: 'u', agentId: 'a1', startedAtMs: 3, nowMs: 3 })).toBe(false);
    expect(results.recordAttemptError({ ...error, attempt: 3, final: true })).toEqual({ jobFinal: true, jobState: 'failed' });
    expect(sweeps.get('sweep_1')!.state).toBe('running');
    results.commitResult({ resultId: 'r1', jobId: 'job_a', attempt: 1, uploadId: 'x', agentId: 'a1', summary: summary(1), latencyMs: [1], nowMs: 4 });
    expect(sweeps.get('sweep_1')!.state).toBe('completed');
    // a late error never undoes a result
    expect(results.recordAttemptError({ ...error, jobId: 'job_a', attempt: 2, final: false })).toEqual({ jobFinal: true, jobState: 'done' });
    expect(sweeps.countJobsByState()).toEqual({ queued: 0, running: 0, done: 1, failed: 1 });
    const attempts = db.prepare('SELECT job_id, attempt, error_code FROM job_attempts ORDER BY job_id, attempt').all();
    expect(attempts).toEqual([
      { job_id: 'job_a', attempt: 1, error_code: null },
      { job_id: 'job_a', attempt: 2, error_code: 'run' },
      { job_id: 'job_b', attempt: 1, error_code: 'run' },
      { job_id: 'job_b', attempt: 2, error_code: null },
      { job_id: 'job_b', attempt: 3, error_code: 'run' },
    ]);
  });

  it('marks a sweep failed with the jobs that were never published; results do not revive it', () => {
    sweeps.create(newSweep());
    sweeps.markFailed('sweep_1', 'publishing jobs failed', ['job_b'], 9);
    let stored = sweeps.get('sweep_1')!;
    expect(stored).toMatchObject({ state: 'failed', error: 'publishing jobs failed' });
    expect(stored.jobs.map((j) => j.state)).toEqual(['queued', 'failed']);
    results.commitResult({ resultId: 'r1', jobId: 'job_a', attempt: 1, uploadId: 'x', agentId: 'a1', summary: summary(1), latencyMs: [1], nowMs: 10 });
    stored = sweeps.get('sweep_1')!;
    expect(stored.state).toBe('failed');
    expect(stored.jobs[0]!.state).toBe('done');
  });

  it('gives the job context the ingest checks against', () => {
    sweeps.create(newSweep());
    expect(results.getJobContext('job_b')).toMatchObject({ id: 'job_b', sweepId: 'sweep_1', agentId: 'a1', agentName: 'Agent One', modelName: 'm', variantSha256: 'c'.repeat(64), variantSizeBytes: 90, hasResult: false });
    expect(results.getJobContext('nope')).toBeUndefined();
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
