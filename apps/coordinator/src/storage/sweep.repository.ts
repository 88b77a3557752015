import { Inject, Injectable } from '@nestjs/common';
import { SQL_DATABASE } from './storage.tokens';
import type { SqlDatabase } from './sql';
import { resultSensorsFromRow } from './result-sensors';
import { suiteReportsOfSweep } from './result-reports';
import type { JobRecord, JobState, JobWithResult, NewDerivingSweep, NewSweep, PercentileRecord, ResultRecord, SweepListItem, SweepRecord, SweepState, VariantDerivationRecord, VariantDerivationState, VariantRecord } from './records';
import type { SqlExecutor } from './sql';

/** Stores sweeps, their variants and their jobs. */
export abstract class SweepRepository {
  /** Inserts a sweep with its variants and jobs in one transaction: all of it or nothing. */
  abstract create(sweep: NewSweep): Promise<void>;
  /** The sweep with its variants, jobs and results, or undefined when there is none with this id. */
  abstract get(id: string): Promise<SweepRecord | undefined>;
  /** Every sweep, newest first. */
  abstract list(): Promise<SweepListItem[]>;
  /**
   * Marks a sweep failed with the reason, and the given jobs (those that never reached an
   * agent) failed with it, in one transaction.
   */
  abstract markFailed(id: string, error: string, failedJobIds: readonly string[], nowMs: number): Promise<void>;
  /**
   * Inserts a sweep in state `deriving` with its derivation spec and one progress row per
   * variant (`done` for those given with their stored record, else `pending`), in one transaction.
   */
  abstract createDeriving(sweep: NewDerivingSweep): Promise<void>;
  /** Ids of the sweeps in state `deriving`, oldest first. */
  abstract derivingSweepIds(): Promise<string[]>;
  /** The derivation spec stored with a sweep, or undefined when it has none. */
  abstract derivationSpec(id: string): Promise<unknown>;
  /** Records one variant's progress: `deriving` (started), `done` (with its stored record) or `failed` (with the error). */
  abstract recordVariantDerivation(id: string, name: string, update: VariantDerivationUpdate, nowMs: number): Promise<void>;
  /**
   * Ends a derivation: when the sweep is still `deriving`, writes its final settings, variants
   * and jobs and moves it to `running`, all in one transaction, and returns true; returns false
   * (writing nothing) when it is no longer deriving (cancelled, failed, or finished by another).
   */
  abstract finishDerivation(sweep: NewSweep, nowMs: number): Promise<boolean>;
  /** Fails a sweep that is still `deriving`, with the reason; returns whether it was. */
  abstract failDerivation(id: string, error: string, nowMs: number): Promise<boolean>;
  /** Number of jobs in each state, over all sweeps. */
  abstract countJobsByState(): Promise<Record<JobState, number>>;
  /**
   * Queued jobs created before `createdBeforeMs` that were never published (no message recorded),
   * oldest first, at most `limit`: a coordinator stopped while publishing their sweep.
   */
  abstract queuedNeverPublished(createdBeforeMs: number, limit: number): Promise<Array<{ jobId: string; sweepId: string }>>;
}

/** A change of one variant's derivation progress. */
export type VariantDerivationUpdate = { state: 'deriving' } | { state: 'done'; variant: VariantRecord } | { state: 'failed'; error: string };

/** A row of `sweep_derivations`. */
interface DerivationRow {
  name: string;
  state: VariantDerivationState;
  error: string | null;
  started_at_ms: number | null;
  finished_at_ms: number | null;
  sha256: string | null;
  size_bytes: number | null;
  recipe_json: string | null;
}

function derivationFromRow(row: DerivationRow): VariantDerivationRecord {
  return {
    name: row.name,
    state: row.state,
    ...(row.error === null ? {} : { error: row.error }),
    ...(row.started_at_ms === null ? {} : { startedAtMs: Number(row.started_at_ms) }),
    ...(row.finished_at_ms === null ? {} : { finishedAtMs: Number(row.finished_at_ms) }),
    ...(row.sha256 === null ? {} : { variant: { name: row.name, sha256: row.sha256, sizeBytes: Number(row.size_bytes ?? 0), recipe: JSON.parse(row.recipe_json ?? '{}') as Record<string, string> } }),
  };
}

/** Inserts the variants and jobs of a sweep whose row exists. */
async function insertVariantsAndJobs(tx: SqlExecutor, sweep: NewSweep): Promise<void> {
  for (const [position, variant] of sweep.variants.entries()) {
    await tx.run(
      `INSERT INTO variants (sweep_id, name, position, sha256, size_bytes, recipe_json)
       VALUES (@sweepId, @name, @position, @sha256, @sizeBytes, @recipeJson)`,
      { sweepId: sweep.id, name: variant.name, position, sha256: variant.sha256, sizeBytes: variant.sizeBytes, recipeJson: JSON.stringify(variant.recipe) },
    );
  }
  for (const [position, job] of sweep.jobs.entries()) {
    await tx.run(
      `INSERT INTO jobs (id, sweep_id, position, variant, agent_id, agent_name, execution_provider, state, attempts, error, created_at_ms, updated_at_ms)
       VALUES (@id, @sweepId, @position, @variant, @agentId, @agentName, @provider, 'queued', 0, NULL, @createdAtMs, @createdAtMs)`,
      {
        id: job.id,
        sweepId: sweep.id,
        position,
        variant: job.variant,
        agentId: job.agentId,
        agentName: job.agentName,
        provider: sweep.settings.executionProvider,
        createdAtMs: sweep.createdAtMs,
      },
    );
  }
}

/** The columns of a new sweep row, as named parameters. */
function sweepParams(sweep: Omit<NewSweep, 'variants' | 'jobs'>): Record<string, string | number> {
  return {
    id: sweep.id,
    name: sweep.name,
    createdAtMs: sweep.createdAtMs,
    modelName: sweep.model.name,
    modelSha256: sweep.model.sha256,
    modelSizeBytes: sweep.model.sizeBytes,
    inputsJson: JSON.stringify(sweep.inputs),
    settingsJson: JSON.stringify(sweep.settings),
    targetsJson: JSON.stringify(sweep.targets),
    agentIdsJson: JSON.stringify(sweep.agentIds),
  };
}

const INSERT_SWEEP = (state: SweepState, derivation: boolean): string => `INSERT INTO sweeps (id, name, state, error, created_at_ms, updated_at_ms, model_name, model_sha256, model_size_bytes,
                             inputs_json, settings_json, targets_json, agent_ids_json${derivation ? ', derivation_json' : ''})
         VALUES (@id, @name, '${state}', NULL, @createdAtMs, @createdAtMs, @modelName, @modelSha256, @modelSizeBytes,
                 @inputsJson, @settingsJson, @targetsJson, @agentIdsJson${derivation ? ', @derivationJson' : ''})`;

interface SweepRow {
  id: string;
  name: string;
  state: SweepState;
  error: string | null;
  created_at_ms: number;
  updated_at_ms: number;
  model_name: string;
  model_sha256: string;
  model_size_bytes: number;
  inputs_json: string;
  settings_json: string;
  targets_json: string;
  agent_ids_json: string;
}

/** A row of `jobs`. */
export interface JobRow {
  id: string;
  sweep_id: string;
  variant: string;
  agent_id: string;
  agent_name: string;
  execution_provider: string;
  state: JobState;
  attempts: number;
  error: string | null;
  created_at_ms: number;
  updated_at_ms: number;
}

/** A row of `results`. */
interface ResultRow {
  id: string;
  job_id: string;
  attempt: number;
  upload_id: string;
  count: number;
  mean_ms: number;
  std_ms: number;
  min_ms: number;
  max_ms: number;
  percentiles_json: string;
  throughput_qps: number;
  measured_duration_ms: number;
  warmup_queries: number;
  warmup_duration_ms: number;
  session_creation_ms: number;
  first_inference_ms: number;
  peak_rss_bytes: number | null;
  rss_before_session_bytes: number | null;
  rss_after_session_bytes: number | null;
  model_file_size_bytes: number;
  stop_reason: string;
  provider: string;
  manifest_json: string;
  unmeasured_json: string;
  committed_at_ms: number;
}

/** Maps a jobs row to a record. */
export function jobFromRow(row: JobRow): JobRecord {
  return {
    id: row.id,
    sweepId: row.sweep_id,
    variant: row.variant,
    agentId: row.agent_id,
    agentName: row.agent_name,
    executionProvider: row.execution_provider,
    state: row.state,
    attempts: row.attempts,
    ...(row.error === null ? {} : { error: row.error }),
    createdAtMs: row.created_at_ms,
    updatedAtMs: row.updated_at_ms,
  };
}

function optional<K extends string>(key: K, value: number | null): Partial<Record<K, number>> {
  return value === null ? {} : ({ [key]: value } as Record<K, number>);
}

function resultFromRow(row: ResultRow): ResultRecord {
  return {
    id: row.id,
    jobId: row.job_id,
    attempt: row.attempt,
    uploadId: row.upload_id,
    count: row.count,
    meanMs: row.mean_ms,
    stdMs: row.std_ms,
    minMs: row.min_ms,
    maxMs: row.max_ms,
    percentiles: JSON.parse(row.percentiles_json) as PercentileRecord[],
    throughputQps: row.throughput_qps,
    measuredDurationMs: row.measured_duration_ms,
    warmupQueries: row.warmup_queries,
    warmupDurationMs: row.warmup_duration_ms,
    sessionCreationMs: row.session_creation_ms,
    firstInferenceMs: row.first_inference_ms,
    ...optional('peakRssBytes', row.peak_rss_bytes),
    ...optional('rssBeforeSessionBytes', row.rss_before_session_bytes),
    ...optional('rssAfterSessionBytes', row.rss_after_session_bytes),
    modelFileSizeBytes: row.model_file_size_bytes,
    stopReason: row.stop_reason,
    provider: row.provider,
    manifest: JSON.parse(row.manifest_json) as Record<string, unknown>,
    unmeasured: JSON.parse(row.unmeasured_json) as Array<{ field: string; reason: string }>,
    committedAtMs: row.committed_at_ms,
  };
}

/** {@link SweepRepository} on a {@link SqlDatabase} (SQLite or PostgreSQL). */
@Injectable()
export class SqlSweepRepository extends SweepRepository {
  constructor(@Inject(SQL_DATABASE) private readonly db: SqlDatabase) {
    super();
  }

  async create(sweep: NewSweep): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.run(INSERT_SWEEP('running', false), sweepParams(sweep));
      await insertVariantsAndJobs(tx, sweep);
    });
  }

  async createDeriving(sweep: NewDerivingSweep): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.run(INSERT_SWEEP('deriving', true), { ...sweepParams(sweep), derivationJson: JSON.stringify(sweep.spec) });
      for (const [position, variant] of sweep.variants.entries()) {
        const stored = variant.stored;
        await tx.run(
          `INSERT INTO sweep_derivations (sweep_id, name, position, state, error, started_at_ms, finished_at_ms, sha256, size_bytes, recipe_json)
           VALUES (@sweepId, @name, @position, @state, NULL, NULL, @finishedAtMs, @sha256, @sizeBytes, @recipeJson)`,
          {
            sweepId: sweep.id,
            name: variant.name,
            position,
            state: stored ? 'done' : 'pending',
            finishedAtMs: stored ? sweep.createdAtMs : null,
            sha256: stored?.sha256 ?? null,
            sizeBytes: stored?.sizeBytes ?? null,
            recipeJson: stored ? JSON.stringify(stored.recipe) : null,
          },
        );
      }
    });
  }

  async derivingSweepIds(): Promise<string[]> {
    const rows = await this.db.all<{ id: string }>(`SELECT id FROM sweeps WHERE state = 'deriving' ORDER BY created_at_ms, id`);
    return rows.map((r) => r.id);
  }

  async derivationSpec(id: string): Promise<unknown> {
    const row = await this.db.get<{ derivation_json: string | null }>('SELECT derivation_json FROM sweeps WHERE id = ?', [id]);
    return row?.derivation_json ? (JSON.parse(row.derivation_json) as unknown) : undefined;
  }

  async recordVariantDerivation(id: string, name: string, update: VariantDerivationUpdate, nowMs: number): Promise<void> {
    const key = { sweepId: id, name, nowMs };
    switch (update.state) {
      case 'deriving':
        await this.db.run(`UPDATE sweep_derivations SET state = 'deriving', error = NULL, started_at_ms = @nowMs, finished_at_ms = NULL WHERE sweep_id = @sweepId AND name = @name`, key);
        return;
      case 'done':
        await this.db.run(
          `UPDATE sweep_derivations SET state = 'done', error = NULL, finished_at_ms = @nowMs, sha256 = @sha256, size_bytes = @sizeBytes, recipe_json = @recipeJson WHERE sweep_id = @sweepId AND name = @name`,
          { ...key, sha256: update.variant.sha256, sizeBytes: update.variant.sizeBytes, recipeJson: JSON.stringify(update.variant.recipe) },
        );
        return;
      case 'failed':
        await this.db.run(`UPDATE sweep_derivations SET state = 'failed', error = @error, finished_at_ms = @nowMs WHERE sweep_id = @sweepId AND name = @name`, { ...key, error: update.error });
        return;
      default:
        assertNeverUpdate(update);
    }
  }

  finishDerivation(sweep: NewSweep, nowMs: number): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const moved = await tx.run(
        `UPDATE sweeps SET state = 'running', settings_json = @settingsJson, agent_ids_json = @agentIdsJson, updated_at_ms = @nowMs WHERE id = @id AND state = 'deriving'`,
        { id: sweep.id, settingsJson: JSON.stringify(sweep.settings), agentIdsJson: JSON.stringify(sweep.agentIds), nowMs },
      );
      if (moved.changes === 0) return false;
      await insertVariantsAndJobs(tx, sweep);
      return true;
    });
  }

  async failDerivation(id: string, error: string, nowMs: number): Promise<boolean> {
    const failed = await this.db.run(`UPDATE sweeps SET state = 'failed', error = @error, updated_at_ms = @nowMs WHERE id = @id AND state = 'deriving'`, { id, error, nowMs });
    return failed.changes > 0;
  }

  get(id: string): Promise<SweepRecord | undefined> {
    return this.db.transaction(async (tx) => {
      const row = await tx.get<SweepRow>('SELECT * FROM sweeps WHERE id = ?', [id]);
      if (!row) return undefined;
      const variants = (await tx.all<{ name: string; sha256: string; size_bytes: number; recipe_json: string }>('SELECT name, sha256, size_bytes, recipe_json FROM variants WHERE sweep_id = ? ORDER BY position', [id])).map((v) => ({
        name: v.name,
        sha256: v.sha256,
        sizeBytes: v.size_bytes,
        recipe: JSON.parse(v.recipe_json) as Record<string, string>,
      }));
      const results = new Map<string, ResultRecord>();
      for (const r of await tx.all<ResultRow>('SELECT r.* FROM results r JOIN jobs j ON j.id = r.job_id WHERE j.sweep_id = ?', [id])) results.set(r.job_id, resultFromRow(r));
      const sensorRows = await tx.all<Record<string, string | number | null>>(
        'SELECT s.*, r.job_id AS sensors_job_id FROM result_sensors s JOIN results r ON r.id = s.result_id JOIN jobs j ON j.id = r.job_id WHERE j.sweep_id = ?',
        [id],
      );
      for (const s of sensorRows) {
        const result = results.get(String(s.sensors_job_id));
        if (result) result.sensors = resultSensorsFromRow(s);
      }
      for (const stored of await suiteReportsOfSweep(tx, id)) {
        const result = results.get(stored.jobId);
        if (result) result.report = stored.report;
      }
      const jobs = (await tx.all<JobRow>('SELECT * FROM jobs WHERE sweep_id = ? ORDER BY position', [id])).map((r): JobWithResult => {
        const result = results.get(r.id);
        return { ...jobFromRow(r), ...(result ? { result } : {}) };
      });
      const derivation = (await tx.all<DerivationRow>('SELECT name, state, error, started_at_ms, finished_at_ms, sha256, size_bytes, recipe_json FROM sweep_derivations WHERE sweep_id = ? ORDER BY position', [id])).map(derivationFromRow);
      const record: SweepRecord = {
        id: row.id,
        name: row.name,
        state: row.state,
        ...(row.error === null ? {} : { error: row.error }),
        createdAtMs: row.created_at_ms,
        updatedAtMs: row.updated_at_ms,
        model: { name: row.model_name, sha256: row.model_sha256, sizeBytes: row.model_size_bytes },
        inputs: JSON.parse(row.inputs_json) as SweepRecord['inputs'],
        settings: JSON.parse(row.settings_json) as SweepRecord['settings'],
        targets: JSON.parse(row.targets_json) as string[],
        agentIds: JSON.parse(row.agent_ids_json) as string[],
        variants,
        jobs,
        ...(derivation.length > 0 ? { derivation } : {}),
      };
      return record;
    });
  }

  async list(): Promise<SweepListItem[]> {
    const rows = await this.db.all<Pick<SweepRow, 'id' | 'name' | 'state' | 'created_at_ms'>>('SELECT id, name, state, created_at_ms FROM sweeps ORDER BY created_at_ms DESC, id');
    return rows.map((r) => ({ id: r.id, name: r.name, state: r.state, createdAtMs: r.created_at_ms }));
  }

  async markFailed(id: string, error: string, failedJobIds: readonly string[], nowMs: number): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.run(`UPDATE sweeps SET state = 'failed', error = @error, updated_at_ms = @nowMs WHERE id = @id`, { id, error, nowMs });
      for (const jobId of failedJobIds) {
        await tx.run(`UPDATE jobs SET state = 'failed', error = @error, updated_at_ms = @nowMs WHERE id = @id AND sweep_id = @sweepId AND state IN ('queued', 'running')`, { id: jobId, sweepId: id, error, nowMs });
      }
    });
  }

  async queuedNeverPublished(createdBeforeMs: number, limit: number): Promise<Array<{ jobId: string; sweepId: string }>> {
    const rows = await this.db.all<{ id: string; sweep_id: string }>(
      `SELECT j.id, j.sweep_id FROM jobs j
       WHERE j.state = 'queued' AND j.created_at_ms < @before AND NOT EXISTS (SELECT 1 FROM job_messages m WHERE m.job_id = j.id)
       ORDER BY j.created_at_ms, j.id LIMIT @limit`,
      { before: createdBeforeMs, limit },
    );
    return rows.map((r) => ({ jobId: r.id, sweepId: r.sweep_id }));
  }

  async countJobsByState(): Promise<Record<JobState, number>> {
    const counts: Record<JobState, number> = { queued: 0, running: 0, done: 0, failed: 0 };
    for (const row of await this.db.all<{ state: JobState; n: number }>('SELECT state, COUNT(*) AS n FROM jobs GROUP BY state')) counts[row.state] = row.n;
    return counts;
  }
}

function assertNeverUpdate(update: never): never {
  throw new Error(`unknown derivation update ${JSON.stringify(update)}`);
}
