import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TensorDataType } from '@benchfarm/protocol';
import { STORE_KINDS, testStores } from '../testing/stores';
import { SqlLeaseRepository } from './lease.repository';
import { SqlResultRepository } from './result.repository';
import { SqlSweepRepository } from './sweep.repository';
import type { SqlDatabase } from './sql';

const T0 = 1_700_000_000_000;

describe.each(STORE_KINDS)('SqlLeaseRepository on %s: per-attempt leases', (kind) => {
  const stores = testStores(kind);
  let db: SqlDatabase;
  let leases: SqlLeaseRepository;
  let results: SqlResultRepository;
  let sweeps: SqlSweepRepository;

  beforeEach(async () => {
    db = await stores.open();
    leases = new SqlLeaseRepository(db);
    results = new SqlResultRepository(db);
    sweeps = new SqlSweepRepository(db);
    await sweeps.create({
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
    await leases.recordPublished({ jobId: 'job_1', agentId: 'a1', payload: new Uint8Array([1, 2]), streamSeq: 7, nowMs: T0 });
  });
  afterEach(() => db?.close());

  const acquire = (token: string, agentId = 'a1', nowMs = T0, maxAttempts = 3) => leases.acquire({ jobId: 'job_1', sweepId: 'sweep_1', agentId, token, maxAttempts, nowMs });

  it('grants attempt 1, then supersedes it on a redelivery; only the current lease may upload', async () => {
    expect(await acquire('l1')).toEqual({ decision: 'granted', token: 'l1', attempt: 1 });
    expect(await leases.view('job_1')).toMatchObject({ state: 'running', attempts: 1, leaseToken: 'l1' });
    expect(await acquire('l2', 'a1', T0 + 10)).toEqual({ decision: 'granted', token: 'l2', attempt: 2 });
    expect(await leases.check('job_1', 'l1')).toMatchObject({ ok: false, reason: expect.stringMatching(/l1 \(attempt 1\) is stale/) });
    expect(await leases.check('job_1', 'l2')).toEqual({ ok: true });
    expect(await leases.check('job_1', '')).toMatchObject({ ok: false, reason: expect.stringMatching(/lease_token is empty/) });
    expect(await leases.renew({ jobId: 'job_1', agentId: 'a1', token: 'l1', nowMs: T0 + 20 })).toMatchObject({ status: 'superseded' });
    expect(await leases.renew({ jobId: 'job_1', agentId: 'a1', token: 'l2', nowMs: T0 + 20 })).toEqual({ status: 'active' });
  });

  it('grants concurrent lease requests one after the other: attempts 1 and 2, one active lease, the job under the last', async () => {
    const grants = await Promise.all([acquire('c1'), acquire('c2'), acquire('c3')]);
    expect(grants.map((g) => (g.decision === 'granted' ? g.attempt : 0)).sort()).toEqual([1, 2, 3]);
    const active = await db.all<{ token: string }>(`SELECT token FROM job_leases WHERE state = 'active'`);
    expect(active).toHaveLength(1);
    expect((await leases.view('job_1'))?.leaseToken).toBe(active[0]!.token);
  });

  it('keeps the published message and finds queued jobs published before a time; failJob fails an open job once', async () => {
    expect(await leases.message('job_1')).toMatchObject({ jobId: 'job_1', agentId: 'a1', payload: new Uint8Array([1, 2]), streamSeq: 7, publications: 1 });
    await leases.recordPublished({ jobId: 'job_1', agentId: 'a1', payload: new Uint8Array([3, 4, 5]), streamSeq: undefined, nowMs: T0 + 5 });
    expect(await leases.message('job_1')).toMatchObject({ payload: new Uint8Array([3, 4, 5]), streamSeq: undefined, publications: 2 });
    expect((await leases.queuedPublishedBefore(T0 + 6, 10)).map((m) => m.jobId)).toEqual(['job_1']);
    expect(await leases.queuedPublishedBefore(T0 + 5, 10)).toEqual([]);
    expect(await leases.failJob('job_1', 'expired: nobody took it', T0 + 20)).toBe(true);
    expect(await leases.failJob('job_1', 'again', T0 + 21)).toBe(false);
    expect(await leases.view('job_1')).toMatchObject({ state: 'failed', cancelled: false });
    expect(await leases.queuedPublishedBefore(T0 + 100, 10)).toEqual([]);
  });

  it("lists queued jobs' stream sequences and the agents of open jobs; a cutoff before every renewal (a coordinator's first lease TTL) expires only stale agents' leases", async () => {
    await leases.recordPublished({ jobId: 'job_2', agentId: 'a1', payload: new Uint8Array([9]), streamSeq: undefined, nowMs: T0 + 1 });
    // job_2's publish ack never came back (no sequence): nothing to look up in the stream.
    expect(await leases.queuedStreamSeqs()).toEqual([{ jobId: 'job_1', agentId: 'a1', streamSeq: 7 }]);
    expect(await leases.openJobAgents()).toEqual(['a1']);
    await acquire('l1');
    expect(await leases.queuedStreamSeqs()).toEqual([]);
    expect(await leases.expire({ renewedBeforeMs: Number.MIN_SAFE_INTEGER, staleAgentIds: [], nowMs: T0 + 10 * 3_600_000 })).toEqual([]);
    expect(await leases.view('job_1')).toMatchObject({ state: 'running' });
    expect(await leases.expire({ renewedBeforeMs: Number.MIN_SAFE_INTEGER, staleAgentIds: ['a1'], nowMs: T0 + 10 * 3_600_000 })).toHaveLength(1);
    await leases.failJob('job_1', 'done with it', T0 + 20);
    await leases.failJob('job_2', 'done with it', T0 + 20);
    expect(await leases.openJobAgents()).toEqual([]);
  });

  it('accepts a lease-less upload only for a job never leased', async () => {
    expect(await leases.check('job_2', '')).toEqual({ ok: true });
  });

  it('expires an unrenewed lease; a renewal nobody acted on revives it; a stale agent loses it', async () => {
    await acquire('l1');
    expect(await leases.expire({ renewedBeforeMs: T0 + 1, staleAgentIds: [], nowMs: T0 + 100 })).toEqual([{ jobId: 'job_1', agentId: 'a1', attempt: 1 }]);
    expect(await leases.view('job_1')).toMatchObject({ state: 'queued' });
    expect(await leases.renew({ jobId: 'job_1', agentId: 'a1', token: 'l1', nowMs: T0 + 200 })).toEqual({ status: 'active' });
    expect(await leases.view('job_1')).toMatchObject({ state: 'running' });
    expect(await leases.expire({ renewedBeforeMs: T0, staleAgentIds: ['a1'], nowMs: T0 + 300 })).toHaveLength(1);
  });

  it('reassigns a queued job: the old lease is refused, the old agent is told it is not its job', async () => {
    await acquire('l1');
    await leases.expire({ renewedBeforeMs: T0 + 1, staleAgentIds: ['a1'], nowMs: T0 + 100 });
    expect((await leases.queuedJobsOf(['a1'])).map((j) => j.jobId)).toEqual(['job_1', 'job_2']);
    const moved = await leases.reassign({ jobId: 'job_1', fromAgentId: 'a1', toAgentId: 'a2', toAgentName: 'A2', nowMs: T0 + 200 });
    expect(moved).toMatchObject({ jobId: 'job_1', streamSeq: 7, publications: 1 });
    expect(await leases.reassign({ jobId: 'job_1', fromAgentId: 'a1', toAgentId: 'a2', toAgentName: 'A2', nowMs: T0 + 200 })).toBeUndefined();
    expect(await leases.check('job_1', 'l1')).toMatchObject({ ok: false });
    expect(await leases.renew({ jobId: 'job_1', agentId: 'a1', token: 'l1', nowMs: T0 + 250 })).toMatchObject({ status: 'superseded' });
    expect(await acquire('l3', 'a1', T0 + 300)).toMatchObject({ decision: 'not_yours' });
    expect(await acquire('l4', 'a2', T0 + 300)).toEqual({ decision: 'granted', token: 'l4', attempt: 2 });
  });

  it('fails the job with its last error once the attempts are used up', async () => {
    for (const [i, token] of ['l1', 'l2', 'l3'].entries()) {
      await acquire(token, 'a1', T0 + i);
      await results.recordAttemptError({ jobId: 'job_1', attempt: i + 1, uploadId: `u${i}`, agentId: 'a1', code: 'model_fetch', message: `disk full ${i + 1}`, retryable: true, final: false, nowMs: T0 + i });
    }
    expect(await acquire('l4', 'a1', T0 + 10)).toMatchObject({ decision: 'finished' });
    expect(await leases.view('job_1')).toMatchObject({ state: 'failed' });
    expect((await sweeps.get('sweep_1'))!.jobs[0]!.error).toBe('no result after 3 attempts (the limit is 3); last error model_fetch: disk full 3');
  });

  it('cancels a sweep: open jobs fail, renewals say cancelled, uploads are refused, the job is finished for agents', async () => {
    await acquire('l1');
    const cancelled = await leases.cancelSweep('sweep_1', 'user asked', T0 + 50);
    expect(cancelled).toMatchObject({ jobs: 2, messages: [{ jobId: 'job_1', streamSeq: 7 }] });
    expect(await leases.renew({ jobId: 'job_1', agentId: 'a1', token: 'l1', nowMs: T0 + 60 })).toMatchObject({ status: 'cancelled' });
    expect(await leases.check('job_1', 'l1')).toMatchObject({ ok: false, reason: expect.stringMatching(/cancelled/) });
    expect(await acquire('l2', 'a1', T0 + 70)).toMatchObject({ decision: 'finished', reason: expect.stringMatching(/cancelled/) });
    expect(await sweeps.get('sweep_1')).toMatchObject({ state: 'failed', error: 'cancelled: user asked' });
    expect(await leases.cancelSweep('nope', 'x', T0)).toBeUndefined();
  });
});
