import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TensorDataType } from '@benchfarm/protocol';
import { openDatabase, type SqliteDatabase } from './database';
import { SqliteLeaseRepository } from './lease.repository';
import { SqliteResultRepository } from './result.repository';
import { SqliteSweepRepository } from './sweep.repository';

const T0 = 1_700_000_000_000;

describe('SqliteLeaseRepository: per-attempt leases', () => {
  let db: SqliteDatabase;
  let leases: SqliteLeaseRepository;
  let results: SqliteResultRepository;
  let sweeps: SqliteSweepRepository;

  beforeEach(() => {
    db = openDatabase(':memory:');
    leases = new SqliteLeaseRepository(db);
    results = new SqliteResultRepository(db);
    sweeps = new SqliteSweepRepository(db);
    sweeps.create({
      id: 'sweep_1',
      name: 's',
      createdAtMs: T0,
      model: { name: 'm', sha256: 'a'.repeat(64), sizeBytes: 1 },
      inputs: [{ name: 'x', dataType: TensorDataType.TENSOR_DATA_TYPE_FLOAT32, shape: [1] }],
      settings: { scenario: 'single_stream', executionProvider: 'cpu', intraOpThreads: 0, interOpThreads: 0, batch: 1, warmupMinQueries: 1, warmupMinDurationMs: 1, minQueries: 1, minDurationMs: 1, maxDurationMs: 10, seed: 0 },
      targets: ['all'],
      agentIds: ['a1', 'a2'],
      variants: [{ name: 'fp32', sha256: 'b'.repeat(64), sizeBytes: 1, recipe: {} }],
      jobs: [
        { id: 'job_1', variant: 'fp32', agentId: 'a1', agentName: 'A1' },
        { id: 'job_2', variant: 'fp32', agentId: 'a1', agentName: 'A1' },
      ],
    });
    leases.recordPublished({ jobId: 'job_1', agentId: 'a1', payload: new Uint8Array([1, 2]), streamSeq: 7, nowMs: T0 });
  });
  afterEach(() => db.close());

  const acquire = (token: string, agentId = 'a1', nowMs = T0, maxAttempts = 3) => leases.acquire({ jobId: 'job_1', sweepId: 'sweep_1', agentId, token, maxAttempts, nowMs });

  it('grants attempt 1, then supersedes it on a redelivery; only the current lease may upload', () => {
    expect(acquire('l1')).toEqual({ decision: 'granted', token: 'l1', attempt: 1 });
    expect(leases.view('job_1')).toMatchObject({ state: 'running', attempts: 1, leaseToken: 'l1' });
    expect(acquire('l2', 'a1', T0 + 10)).toEqual({ decision: 'granted', token: 'l2', attempt: 2 });
    expect(leases.check('job_1', 'l1')).toMatchObject({ ok: false, reason: expect.stringMatching(/l1 \(attempt 1\) is stale/) });
    expect(leases.check('job_1', 'l2')).toEqual({ ok: true });
    expect(leases.check('job_1', '')).toMatchObject({ ok: false, reason: expect.stringMatching(/lease_token is empty/) });
    expect(leases.renew({ jobId: 'job_1', agentId: 'a1', token: 'l1', nowMs: T0 + 20 })).toMatchObject({ status: 'superseded' });
    expect(leases.renew({ jobId: 'job_1', agentId: 'a1', token: 'l2', nowMs: T0 + 20 })).toEqual({ status: 'active' });
  });

  it('accepts a lease-less upload only for a job never leased', () => {
    expect(leases.check('job_2', '')).toEqual({ ok: true });
  });

  it('expires an unrenewed lease; a renewal nobody acted on revives it; a stale agent loses it', () => {
    acquire('l1');
    expect(leases.expire({ renewedBeforeMs: T0 + 1, staleAgentIds: [], nowMs: T0 + 100 })).toEqual([{ jobId: 'job_1', agentId: 'a1', attempt: 1 }]);
    expect(leases.view('job_1')).toMatchObject({ state: 'queued' });
    expect(leases.renew({ jobId: 'job_1', agentId: 'a1', token: 'l1', nowMs: T0 + 200 })).toEqual({ status: 'active' });
    expect(leases.view('job_1')).toMatchObject({ state: 'running' });
    expect(leases.expire({ renewedBeforeMs: T0, staleAgentIds: ['a1'], nowMs: T0 + 300 })).toHaveLength(1);
  });

  it('reassigns a queued job: the old lease is refused, the old agent is told it is not its job', () => {
    acquire('l1');
    leases.expire({ renewedBeforeMs: T0 + 1, staleAgentIds: ['a1'], nowMs: T0 + 100 });
    expect(leases.queuedJobsOf(['a1']).map((j) => j.jobId)).toEqual(['job_1', 'job_2']);
    const moved = leases.reassign({ jobId: 'job_1', fromAgentId: 'a1', toAgentId: 'a2', toAgentName: 'A2', nowMs: T0 + 200 });
    expect(moved).toMatchObject({ jobId: 'job_1', streamSeq: 7, publications: 1 });
    expect(leases.reassign({ jobId: 'job_1', fromAgentId: 'a1', toAgentId: 'a2', toAgentName: 'A2', nowMs: T0 + 200 })).toBeUndefined();
    expect(leases.check('job_1', 'l1')).toMatchObject({ ok: false });
    expect(leases.renew({ jobId: 'job_1', agentId: 'a1', token: 'l1', nowMs: T0 + 250 })).toMatchObject({ status: 'superseded' });
    expect(acquire('l3', 'a1', T0 + 300)).toMatchObject({ decision: 'not_yours' });
    expect(acquire('l4', 'a2', T0 + 300)).toEqual({ decision: 'granted', token: 'l4', attempt: 2 });
  });

  it('fails the job with its last error once the attempts are used up', () => {
    for (const [i, token] of ['l1', 'l2', 'l3'].entries()) {
      acquire(token, 'a1', T0 + i);
      results.recordAttemptError({ jobId: 'job_1', attempt: i + 1, uploadId: `u${i}`, agentId: 'a1', code: 'model_fetch', message: `disk full ${i + 1}`, retryable: true, final: false, nowMs: T0 + i });
    }
    expect(acquire('l4', 'a1', T0 + 10)).toMatchObject({ decision: 'finished' });
    expect(leases.view('job_1')).toMatchObject({ state: 'failed' });
    expect(sweeps.get('sweep_1')!.jobs[0]!.error).toBe('no result after 3 attempts (the limit is 3); last error model_fetch: disk full 3');
  });

  it('cancels a sweep: open jobs fail, renewals say cancelled, uploads are refused, the job is finished for agents', () => {
    acquire('l1');
    const cancelled = leases.cancelSweep('sweep_1', 'user asked', T0 + 50);
    expect(cancelled).toMatchObject({ jobs: 2, messages: [{ jobId: 'job_1', streamSeq: 7 }] });
    expect(leases.renew({ jobId: 'job_1', agentId: 'a1', token: 'l1', nowMs: T0 + 60 })).toMatchObject({ status: 'cancelled' });
    expect(leases.check('job_1', 'l1')).toMatchObject({ ok: false, reason: expect.stringMatching(/cancelled/) });
    expect(acquire('l2', 'a1', T0 + 70)).toMatchObject({ decision: 'finished', reason: expect.stringMatching(/cancelled/) });
    expect(sweeps.get('sweep_1')).toMatchObject({ state: 'failed', error: 'cancelled: user asked' });
    expect(leases.cancelSweep('nope', 'x', T0)).toBeUndefined();
  });
});
