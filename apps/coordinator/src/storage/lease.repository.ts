import { Inject, Injectable } from '@nestjs/common';
import { SQL_DATABASE } from './storage.tokens';
import { refreshSweepState } from './sweep-state';
import { jsonStringList } from './sql-dialect';
import type { SqlDatabase, SqlExecutor } from './sql';
import type { JobState } from './records';

/** What an agent asking for a lease is told. */
export type LeaseGrant =
  | { decision: 'granted'; token: string; attempt: number }
  | { decision: 'finished'; reason: string }
  | { decision: 'not_yours'; reason: string };

/** What renewing a lease tells the agent. */
export type LeaseRenewal = { status: 'active' } | { status: 'cancelled' | 'superseded' | 'unknown'; reason: string };

/** Whether an upload under a lease token may change the job, and why not. */
export type LeaseCheck = { ok: true } | { ok: false; reason: string };

/** A job whose attempt lost its lease (expired, or its agent went stale). */
export interface OrphanedJob {
  jobId: string;
  agentId: string;
  attempt: number;
}

/** A job the stream still holds a message for. */
export interface JobMessage {
  jobId: string;
  agentId: string;
  payload: Uint8Array;
  streamSeq: number | undefined;
  publications: number;
}

/** The lease-related facts of one job. */
export interface JobLeaseView {
  jobId: string;
  sweepId: string;
  agentId: string;
  state: JobState;
  attempts: number;
  leaseToken: string | undefined;
  cancelled: boolean;
}

/**
 * Per-attempt leases and job assignment. Each attempt of a job runs under a lease the
 * coordinator granted; only the job's current lease may change it. Every method is one
 * transaction.
 */
export abstract class LeaseRepository {
  /**
   * Grants a new lease to the job's assigned agent while the job is open and has had fewer
   * than `maxAttempts` attempts (else fails the job with its last error). A previous active
   * lease of the job is superseded.
   */
  abstract acquire(input: { jobId: string; sweepId: string; agentId: string; token: string; maxAttempts: number; nowMs: number }): Promise<LeaseGrant>;
  /** Extends the lease; an expired lease that is still the job's current one becomes active again. */
  abstract renew(input: { jobId: string; agentId: string; token: string; nowMs: number }): Promise<LeaseRenewal>;
  /** Whether an upload carrying `token` may record a result or an error for the job. */
  abstract check(jobId: string, token: string): Promise<LeaseCheck>;
  /** Ends the lease after its attempt was recorded. */
  abstract release(token: string, nowMs: number): Promise<void>;
  /**
   * Expires active leases not renewed since `renewedBeforeMs`, and those held by the given
   * (stale) agents; their running jobs go back to `queued`. Returns the affected jobs.
   */
  abstract expire(input: { renewedBeforeMs: number; staleAgentIds: readonly string[]; nowMs: number }): Promise<OrphanedJob[]>;
  /** Open (queued) jobs assigned to any of the agents, oldest first. */
  abstract queuedJobsOf(agentIds: readonly string[]): Promise<OrphanedJob[]>;
  /**
   * Moves a queued job to another agent, superseding every lease of it, and returns the
   * message to publish (the stored BenchJob payload, rewritten by the caller), or undefined
   * when the job is no longer queued on `fromAgentId`.
   */
  abstract reassign(input: { jobId: string; fromAgentId: string; toAgentId: string; toAgentName: string; nowMs: number }): Promise<JobMessage | undefined>;
  /** Remembers the BenchJob last published for a job, and where the stream stored it. */
  abstract recordPublished(input: { jobId: string; agentId: string; payload: Uint8Array; streamSeq: number | undefined; nowMs: number }): Promise<void>;
  /** The stored BenchJob message of a job. */
  abstract message(jobId: string): Promise<JobMessage | undefined>;
  /**
   * Cancels a sweep: every open job fails with `cancelled: <reason>`, active leases are
   * cancelled (their agents stop at the next renewal); a sweep still deriving its variants is
   * failed with the reason (its derivation step stops). Returns the messages of the jobs that
   * were still open (to delete from the stream) and whether the sweep was deriving, or
   * undefined for an unknown sweep.
   */
  abstract cancelSweep(sweepId: string, reason: string, nowMs: number): Promise<{ jobs: number; messages: JobMessage[]; deriving: boolean } | undefined>;
  /**
   * Fails an open job for good with `reason` and the last recorded attempt error, ending its
   * leases. Returns false when the job was already final or does not exist.
   */
  abstract failJob(jobId: string, reason: string, nowMs: number): Promise<boolean>;
  /** The lease facts of a job, or undefined when there is no such job. */
  abstract view(jobId: string): Promise<JobLeaseView | undefined>;
  /**
   * Queued jobs whose message was last published before `publishedBeforeMs`, oldest first, at
   * most `limit`: those the job stream's max age has deleted (or is about to).
   */
  abstract queuedPublishedBefore(publishedBeforeMs: number, limit: number): Promise<JobMessage[]>;
  /** Queued jobs whose last published message has a known stream sequence (no payload), oldest publication first. */
  abstract queuedStreamSeqs(): Promise<Array<{ jobId: string; agentId: string; streamSeq: number }>>;
  /** The agents that queued or running jobs are assigned to. */
  abstract openJobAgents(): Promise<string[]>;
}

interface JobLeaseRow {
  id: string;
  sweep_id: string;
  agent_id: string;
  state: JobState;
  attempts: number;
  lease_token: string | null;
  cancelled_at_ms: number | null;
}

interface MessageRow {
  job_id: string;
  agent_id: string;
  payload: Buffer;
  stream_seq: number | null;
  publications: number;
}

function messageFromRow(row: MessageRow): JobMessage {
  return { jobId: row.job_id, agentId: row.agent_id, payload: new Uint8Array(row.payload), streamSeq: row.stream_seq ?? undefined, publications: row.publications };
}


const JOB_LEASE_COLUMNS = 'SELECT id, sweep_id, agent_id, state, attempts, lease_token, cancelled_at_ms FROM jobs WHERE id = ?';

function jobRow(tx: SqlExecutor, jobId: string): Promise<JobLeaseRow | undefined> {
  return tx.get<JobLeaseRow>(JOB_LEASE_COLUMNS, [jobId]);
}

/**
 * Whether an upload carrying `token` may record a result or an error for the job, read through
 * `tx`: the result repository runs it inside the transaction that writes, so the lease cannot
 * change between the check and the write.
 */
export async function checkLeaseIn(tx: SqlExecutor, jobId: string, token: string): Promise<LeaseCheck> {
  const job = await jobRow(tx, jobId);
  if (!job) return { ok: false, reason: `job ${jobId} does not exist` };
  if (job.cancelled_at_ms !== null) return { ok: false, reason: `job ${jobId} was cancelled` };
  const leased = (await tx.get('SELECT 1 AS one FROM job_leases WHERE job_id = ? LIMIT 1', [jobId])) !== undefined;
  if (token === '') {
    // Uploads without a lease predate leases; they are accepted only for a job never leased.
    return leased ? { ok: false, reason: `header.lease_token is empty but job ${jobId} is leased` } : { ok: true };
  }
  const lease = await tx.get<{ job_id: string; state: string; attempt: number }>('SELECT job_id, state, attempt FROM job_leases WHERE token = ?', [token]);
  if (!lease || lease.job_id !== jobId) return { ok: false, reason: `header.lease_token ${token} is not a lease of job ${jobId}` };
  if (job.lease_token !== token) return { ok: false, reason: `header.lease_token ${token} (attempt ${lease.attempt}) is stale: the lease is ${lease.state} and job ${jobId} is ${job.state} under attempt ${job.attempts}` };
  return { ok: true };
}

/** Ends a lease after its attempt was recorded, through `tx` (see {@link checkLeaseIn}). */
export async function releaseLeaseIn(tx: SqlExecutor, token: string, nowMs: number): Promise<void> {
  await tx.run(`UPDATE job_leases SET state = 'released', ended_at_ms = @nowMs WHERE token = @token AND state IN ('active', 'expired')`, { token, nowMs });
}

/**
 * Thrown by a write that checks the upload's lease in its own transaction (result commit, attempt
 * error) when the lease may not change the job any more; nothing was written. `reason` says why.
 */
export class LeaseRefusedError extends Error {
  override name = 'LeaseRefusedError';
  constructor(readonly reason: string) {
    super(`lease refused: ${reason}`);
  }
}

/** {@link LeaseRepository} on a {@link SqlDatabase} (SQLite or PostgreSQL). */
@Injectable()
export class SqlLeaseRepository extends LeaseRepository {
  private readonly agentIdList: string;

  constructor(@Inject(SQL_DATABASE) private readonly db: SqlDatabase) {
    super();
    this.agentIdList = jsonStringList(db.dialect, '@agentIds');
  }

  acquire(input: { jobId: string; sweepId: string; agentId: string; token: string; maxAttempts: number; nowMs: number }): Promise<LeaseGrant> {
    return this.db.transaction(async (tx): Promise<LeaseGrant> => {
      const job = await jobRow(tx, input.jobId);
      if (!job) return { decision: 'finished', reason: `job ${input.jobId} does not exist` };
      if (job.sweep_id !== input.sweepId) return { decision: 'not_yours', reason: `job ${input.jobId} belongs to sweep ${job.sweep_id}, not ${input.sweepId}` };
      if (job.state === 'done' || job.state === 'failed') return { decision: 'finished', reason: `job ${input.jobId} is ${job.cancelled_at_ms === null ? job.state : 'cancelled'}` };
      if (job.agent_id !== input.agentId) return { decision: 'not_yours', reason: `job ${input.jobId} is assigned to agent ${job.agent_id} now` };
      if (job.attempts >= input.maxAttempts) {
        await failOpenJob(tx, job, `no result after ${job.attempts} attempts (the limit is ${input.maxAttempts})`, input.nowMs);
        return { decision: 'finished', reason: `job ${input.jobId} had ${job.attempts} attempts and is failed` };
      }
      const attempt = job.attempts + 1;
      await tx.run(`UPDATE job_leases SET state = 'superseded', ended_at_ms = @nowMs WHERE job_id = @jobId AND state IN ('active', 'expired')`, { jobId: input.jobId, nowMs: input.nowMs });
      await tx.run(`INSERT INTO job_leases (token, job_id, attempt, agent_id, state, issued_at_ms, renewed_at_ms) VALUES (@token, @jobId, @attempt, @agentId, 'active', @nowMs, @nowMs)`, {
        token: input.token,
        jobId: input.jobId,
        attempt,
        agentId: input.agentId,
        nowMs: input.nowMs,
      });
      await tx.run(`UPDATE jobs SET state = 'running', attempts = @attempt, lease_token = @token, updated_at_ms = @nowMs WHERE id = @jobId`, { jobId: input.jobId, attempt, token: input.token, nowMs: input.nowMs });
      await tx.run(
        `INSERT INTO job_attempts (job_id, attempt, agent_id, upload_id, started_at_ms, updated_at_ms) VALUES (@jobId, @attempt, @agentId, '', @nowMs, @nowMs)
         ON CONFLICT (job_id, attempt) DO UPDATE SET agent_id = excluded.agent_id, started_at_ms = excluded.started_at_ms, updated_at_ms = excluded.updated_at_ms`,
        { jobId: input.jobId, attempt, agentId: input.agentId, nowMs: input.nowMs },
      );
      return { decision: 'granted', token: input.token, attempt };
    });
  }

  renew(input: { jobId: string; agentId: string; token: string; nowMs: number }): Promise<LeaseRenewal> {
    return this.db.transaction(async (tx): Promise<LeaseRenewal> => {
      const lease = await tx.get<{ job_id: string; agent_id: string; state: string }>('SELECT job_id, agent_id, state FROM job_leases WHERE token = ?', [input.token]);
      if (!lease || lease.job_id !== input.jobId || lease.agent_id !== input.agentId) return { status: 'unknown', reason: `no lease ${input.token} of agent ${input.agentId} on job ${input.jobId}` };
      const job = await jobRow(tx, input.jobId);
      if (!job) return { status: 'unknown', reason: `job ${input.jobId} does not exist` };
      if (lease.state === 'cancelled' || job.cancelled_at_ms !== null) return { status: 'cancelled', reason: `job ${input.jobId} was cancelled` };
      if (job.lease_token !== input.token || (lease.state !== 'active' && lease.state !== 'expired')) {
        return { status: 'superseded', reason: `lease ${input.token} of job ${input.jobId} is ${lease.state}; the job is ${job.state} under another attempt` };
      }
      // An expiry nobody acted on yet (no other attempt) is undone: the attempt is alive after all.
      await tx.run(`UPDATE job_leases SET state = 'active', renewed_at_ms = @nowMs, ended_at_ms = NULL WHERE token = @token`, { token: input.token, nowMs: input.nowMs });
      if (lease.state === 'expired' && job.state === 'queued') {
        await tx.run(`UPDATE jobs SET state = 'running', updated_at_ms = @nowMs WHERE id = @jobId`, { jobId: input.jobId, nowMs: input.nowMs });
      }
      return { status: 'active' };
    });
  }

  check(jobId: string, token: string): Promise<LeaseCheck> {
    return this.db.transaction((tx) => checkLeaseIn(tx, jobId, token));
  }

  async release(token: string, nowMs: number): Promise<void> {
    await releaseLeaseIn(this.db, token, nowMs);
  }

  expire(input: { renewedBeforeMs: number; staleAgentIds: readonly string[]; nowMs: number }): Promise<OrphanedJob[]> {
    return this.db.transaction(async (tx): Promise<OrphanedJob[]> => {
      const rows = await tx.all<{ token: string; job_id: string; agent_id: string; attempt: number }>(
        `SELECT l.token, l.job_id, l.agent_id, l.attempt FROM job_leases l JOIN jobs j ON j.id = l.job_id AND j.lease_token = l.token
         WHERE l.state = 'active' AND j.state = 'running'
           AND (l.renewed_at_ms < @before OR l.agent_id IN (${this.agentIdList}))`,
        { before: input.renewedBeforeMs, agentIds: JSON.stringify(input.staleAgentIds) },
      );
      for (const row of rows) {
        await tx.run(`UPDATE job_leases SET state = 'expired', ended_at_ms = @nowMs WHERE token = @token`, { token: row.token, nowMs: input.nowMs });
        await tx.run(`UPDATE jobs SET state = 'queued', updated_at_ms = @nowMs WHERE id = @jobId AND state = 'running'`, { jobId: row.job_id, nowMs: input.nowMs });
      }
      return rows.map((r) => ({ jobId: r.job_id, agentId: r.agent_id, attempt: r.attempt }));
    });
  }

  async queuedJobsOf(agentIds: readonly string[]): Promise<OrphanedJob[]> {
    if (agentIds.length === 0) return [];
    const rows = await this.db.all<{ id: string; agent_id: string; attempts: number }>(
      `SELECT id, agent_id, attempts FROM jobs WHERE state = 'queued' AND agent_id IN (${this.agentIdList}) ORDER BY created_at_ms, position`,
      { agentIds: JSON.stringify(agentIds) },
    );
    return rows.map((r) => ({ jobId: r.id, agentId: r.agent_id, attempt: r.attempts }));
  }

  reassign(input: { jobId: string; fromAgentId: string; toAgentId: string; toAgentName: string; nowMs: number }): Promise<JobMessage | undefined> {
    return this.db.transaction(async (tx): Promise<JobMessage | undefined> => {
      const job = await jobRow(tx, input.jobId);
      if (!job || job.state !== 'queued' || job.agent_id !== input.fromAgentId) return undefined;
      const message = await tx.get<MessageRow>('SELECT * FROM job_messages WHERE job_id = ?', [input.jobId]);
      if (!message) return undefined;
      await tx.run(`UPDATE job_leases SET state = 'superseded', ended_at_ms = COALESCE(ended_at_ms, @nowMs) WHERE job_id = @jobId AND state IN ('active', 'expired')`, { jobId: input.jobId, nowMs: input.nowMs });
      await tx.run(`UPDATE jobs SET agent_id = @to, agent_name = @toName, lease_token = NULL, updated_at_ms = @nowMs WHERE id = @jobId`, {
        jobId: input.jobId,
        to: input.toAgentId,
        toName: input.toAgentName,
        nowMs: input.nowMs,
      });
      return messageFromRow(message);
    });
  }

  async recordPublished(input: { jobId: string; agentId: string; payload: Uint8Array; streamSeq: number | undefined; nowMs: number }): Promise<void> {
    await this.db.run(
      `INSERT INTO job_messages (job_id, agent_id, payload, stream_seq, publications, updated_at_ms) VALUES (@jobId, @agentId, @payload, @seq, 1, @nowMs)
       ON CONFLICT (job_id) DO UPDATE SET agent_id = excluded.agent_id, payload = excluded.payload, stream_seq = excluded.stream_seq,
         publications = job_messages.publications + 1, updated_at_ms = excluded.updated_at_ms`,
      { jobId: input.jobId, agentId: input.agentId, payload: input.payload, seq: input.streamSeq ?? null, nowMs: input.nowMs },
    );
  }

  async message(jobId: string): Promise<JobMessage | undefined> {
    const row = await this.db.get<MessageRow>('SELECT * FROM job_messages WHERE job_id = ?', [jobId]);
    return row ? messageFromRow(row) : undefined;
  }

  cancelSweep(sweepId: string, reason: string, nowMs: number): Promise<{ jobs: number; messages: JobMessage[]; deriving: boolean } | undefined> {
    return this.db.transaction(async (tx): Promise<{ jobs: number; messages: JobMessage[]; deriving: boolean } | undefined> => {
      const sweep = await tx.get<{ state: string }>('SELECT state FROM sweeps WHERE id = ?', [sweepId]);
      if (!sweep) return undefined;
      const open = await tx.all<{ id: string }>(`SELECT id FROM jobs WHERE sweep_id = ? AND state IN ('queued', 'running') ORDER BY position`, [sweepId]);
      const messages: JobMessage[] = [];
      for (const { id } of open) {
        await tx.run(`UPDATE job_leases SET state = 'cancelled', ended_at_ms = @nowMs WHERE job_id = @id AND state IN ('active', 'expired')`, { id, nowMs });
        await tx.run(`UPDATE jobs SET state = 'failed', error = @error, cancelled_at_ms = @nowMs, updated_at_ms = @nowMs WHERE id = @id`, { id, error: `cancelled: ${reason}`, nowMs });
        const message = await tx.get<MessageRow>('SELECT * FROM job_messages WHERE job_id = ?', [id]);
        if (message) messages.push(messageFromRow(message));
      }
      await tx.run(
        `UPDATE sweeps SET state = 'failed', error = COALESCE(error, @error), cancelled_at_ms = COALESCE(cancelled_at_ms, @nowMs), updated_at_ms = @nowMs WHERE id = @sweepId AND state IN ('deriving', 'running')`,
        { sweepId, error: `cancelled: ${reason}`, nowMs },
      );
      return { jobs: open.length, messages, deriving: sweep.state === 'deriving' };
    });
  }

  failJob(jobId: string, reason: string, nowMs: number): Promise<boolean> {
    return this.db.transaction(async (tx): Promise<boolean> => {
      const job = await jobRow(tx, jobId);
      if (!job || job.state === 'done' || job.state === 'failed') return false;
      await failOpenJob(tx, job, reason, nowMs);
      return true;
    });
  }

  async view(jobId: string): Promise<JobLeaseView | undefined> {
    const job = await jobRow(this.db, jobId);
    if (!job) return undefined;
    return { jobId: job.id, sweepId: job.sweep_id, agentId: job.agent_id, state: job.state, attempts: job.attempts, leaseToken: job.lease_token ?? undefined, cancelled: job.cancelled_at_ms !== null };
  }

  async queuedPublishedBefore(publishedBeforeMs: number, limit: number): Promise<JobMessage[]> {
    const rows = await this.db.all<MessageRow>(
      `SELECT m.* FROM job_messages m JOIN jobs j ON j.id = m.job_id
       WHERE j.state = 'queued' AND m.updated_at_ms < @before ORDER BY m.updated_at_ms, m.job_id LIMIT @limit`,
      { before: publishedBeforeMs, limit },
    );
    return rows.map(messageFromRow);
  }

  async queuedStreamSeqs(): Promise<Array<{ jobId: string; agentId: string; streamSeq: number }>> {
    const rows = await this.db.all<{ job_id: string; agent_id: string; stream_seq: number }>(
      `SELECT m.job_id, m.agent_id, m.stream_seq FROM job_messages m JOIN jobs j ON j.id = m.job_id
       WHERE j.state = 'queued' AND m.stream_seq IS NOT NULL ORDER BY m.updated_at_ms, m.job_id`,
    );
    return rows.map((r) => ({ jobId: r.job_id, agentId: r.agent_id, streamSeq: Number(r.stream_seq) }));
  }

  async openJobAgents(): Promise<string[]> {
    const rows = await this.db.all<{ agent_id: string }>(`SELECT DISTINCT agent_id FROM jobs WHERE state IN ('queued', 'running') ORDER BY agent_id`);
    return rows.map((r) => r.agent_id);
  }
}

/** Fails the job with the reason and its last attempt error, ends its leases, updates the sweep. */
async function failOpenJob(tx: SqlExecutor, job: JobLeaseRow, reason: string, nowMs: number): Promise<void> {
  const last = await tx.get<{ error_code: string; error_message: string }>(
    'SELECT error_code, error_message FROM job_attempts WHERE job_id = ? AND error_code IS NOT NULL ORDER BY attempt DESC LIMIT 1',
    [job.id],
  );
  const error = last ? `${reason}; last error ${last.error_code}: ${last.error_message}` : reason;
  await tx.run(`UPDATE job_leases SET state = 'expired', ended_at_ms = COALESCE(ended_at_ms, @nowMs) WHERE job_id = @jobId AND state = 'active'`, { jobId: job.id, nowMs });
  await tx.run(`UPDATE jobs SET state = 'failed', error = @error, updated_at_ms = @nowMs WHERE id = @jobId`, { jobId: job.id, error, nowMs });
  await refreshSweepState(tx, job.sweep_id, nowMs);
}
