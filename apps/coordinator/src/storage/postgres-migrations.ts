import type pg from 'pg';

/**
 * The PostgreSQL schema: the same tables, columns, CHECKs, foreign keys and indexes as the SQLite
 * migrations in database.ts, in PostgreSQL types (SQLite INTEGER → BIGINT, REAL → DOUBLE
 * PRECISION, BLOB → BYTEA). Text columns use the "C" collation so that ORDER BY and comparisons
 * match SQLite's byte order whatever locale the lab's database was created with.
 *
 * Migration 1 is SQLite's migrations 1-6 as they stand (no PostgreSQL store had shipped before
 * it). Append a new entry for every new SQLite migration; never edit one that has shipped.
 */
const T = 'TEXT COLLATE "C"';

export const POSTGRES_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE sweeps (
    id ${T} PRIMARY KEY,
    name ${T} NOT NULL,
    state ${T} NOT NULL CHECK (state IN ('running', 'completed', 'failed')),
    error ${T},
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    model_name ${T} NOT NULL,
    model_sha256 ${T} NOT NULL,
    model_size_bytes BIGINT NOT NULL,
    inputs_json ${T} NOT NULL,
    settings_json ${T} NOT NULL,
    targets_json ${T} NOT NULL,
    agent_ids_json ${T} NOT NULL,
    cancelled_at_ms BIGINT
  );
  CREATE INDEX sweeps_created ON sweeps (created_at_ms);

  CREATE TABLE variants (
    sweep_id ${T} NOT NULL REFERENCES sweeps (id) ON DELETE CASCADE,
    name ${T} NOT NULL,
    position BIGINT NOT NULL,
    sha256 ${T} NOT NULL,
    size_bytes BIGINT NOT NULL,
    recipe_json ${T} NOT NULL,
    PRIMARY KEY (sweep_id, name)
  );

  CREATE TABLE jobs (
    id ${T} PRIMARY KEY,
    sweep_id ${T} NOT NULL REFERENCES sweeps (id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    variant ${T} NOT NULL,
    agent_id ${T} NOT NULL,
    agent_name ${T} NOT NULL,
    execution_provider ${T} NOT NULL,
    state ${T} NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
    attempts BIGINT NOT NULL DEFAULT 0,
    error ${T},
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    lease_token ${T},
    cancelled_at_ms BIGINT,
    FOREIGN KEY (sweep_id, variant) REFERENCES variants (sweep_id, name)
  );
  CREATE INDEX jobs_sweep ON jobs (sweep_id, position);
  CREATE INDEX jobs_state ON jobs (state);

  CREATE TABLE job_attempts (
    job_id ${T} NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    attempt BIGINT NOT NULL,
    agent_id ${T} NOT NULL,
    upload_id ${T} NOT NULL,
    started_at_ms BIGINT,
    error_code ${T},
    error_message ${T},
    retryable BIGINT,
    updated_at_ms BIGINT NOT NULL,
    PRIMARY KEY (job_id, attempt)
  );

  CREATE TABLE results (
    id ${T} PRIMARY KEY,
    job_id ${T} NOT NULL UNIQUE REFERENCES jobs (id) ON DELETE CASCADE,
    attempt BIGINT NOT NULL,
    upload_id ${T} NOT NULL,
    count BIGINT NOT NULL,
    mean_ms DOUBLE PRECISION NOT NULL,
    std_ms DOUBLE PRECISION NOT NULL,
    min_ms DOUBLE PRECISION NOT NULL,
    max_ms DOUBLE PRECISION NOT NULL,
    percentiles_json ${T} NOT NULL,
    throughput_qps DOUBLE PRECISION NOT NULL,
    measured_duration_ms DOUBLE PRECISION NOT NULL,
    warmup_queries BIGINT NOT NULL,
    warmup_duration_ms DOUBLE PRECISION NOT NULL,
    session_creation_ms DOUBLE PRECISION NOT NULL,
    first_inference_ms DOUBLE PRECISION NOT NULL,
    peak_rss_bytes BIGINT,
    rss_before_session_bytes BIGINT,
    rss_after_session_bytes BIGINT,
    model_file_size_bytes BIGINT NOT NULL,
    stop_reason ${T} NOT NULL,
    provider ${T} NOT NULL,
    manifest_json ${T} NOT NULL,
    unmeasured_json ${T} NOT NULL,
    committed_at_ms BIGINT NOT NULL
  );

  CREATE TABLE result_samples (
    result_id ${T} PRIMARY KEY REFERENCES results (id) ON DELETE CASCADE,
    count BIGINT NOT NULL,
    latency_ms_f64le BYTEA NOT NULL
  );

  CREATE TABLE job_leases (
    token ${T} PRIMARY KEY,
    job_id ${T} NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    attempt BIGINT NOT NULL,
    agent_id ${T} NOT NULL,
    state ${T} NOT NULL CHECK (state IN ('active', 'released', 'expired', 'superseded', 'cancelled')),
    issued_at_ms BIGINT NOT NULL,
    renewed_at_ms BIGINT NOT NULL,
    ended_at_ms BIGINT
  );
  CREATE INDEX job_leases_job ON job_leases (job_id, attempt);
  CREATE INDEX job_leases_state ON job_leases (state, renewed_at_ms);

  CREATE TABLE job_messages (
    job_id ${T} PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    agent_id ${T} NOT NULL,
    payload BYTEA NOT NULL,
    stream_seq BIGINT,
    publications BIGINT NOT NULL DEFAULT 1,
    updated_at_ms BIGINT NOT NULL
  );

  CREATE TABLE result_sensors (
    result_id ${T} PRIMARY KEY REFERENCES results (id) ON DELETE CASCADE,
    power_sensor ${T},
    power_domain ${T},
    average_power_watts DOUBLE PRECISION,
    idle_power_watts DOUBLE PRECISION,
    energy_joules DOUBLE PRECISION,
    energy_per_inference_joules DOUBLE PRECISION,
    energy_per_inference_above_idle_joules DOUBLE PRECISION,
    throttled BIGINT NOT NULL CHECK (throttled IN (0, 1)),
    power_json ${T},
    thermal_json ${T},
    external_runtime_json ${T}
  );

  CREATE TABLE result_reports (
    result_id ${T} PRIMARY KEY REFERENCES results (id) ON DELETE CASCADE,
    scenario ${T} NOT NULL,
    report_json ${T} NOT NULL
  );

  CREATE TABLE enrollment_codes (
    code_sha256 ${T} PRIMARY KEY,
    agent_id ${T} NOT NULL,
    created_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    used_at_ms BIGINT,
    used_by_nats_key ${T}
  );
  CREATE INDEX enrollment_codes_agent ON enrollment_codes (agent_id);

  CREATE TABLE datasets (
    id ${T} PRIMARY KEY,
    name ${T} NOT NULL UNIQUE,
    created_at_ms BIGINT NOT NULL,
    image_count BIGINT NOT NULL,
    total_bytes BIGINT NOT NULL,
    labels_sha256 ${T},
    labels_json ${T},
    preprocess_json ${T}
  );
  CREATE INDEX datasets_labels ON datasets (labels_sha256);

  CREATE TABLE dataset_images (
    dataset_id ${T} NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    name ${T} NOT NULL,
    sha256 ${T} NOT NULL,
    size_bytes BIGINT NOT NULL,
    width BIGINT NOT NULL,
    height BIGINT NOT NULL,
    PRIMARY KEY (dataset_id, name)
  );
  CREATE INDEX dataset_images_sha ON dataset_images (sha256);

  CREATE TABLE dataset_uploads (
    id ${T} PRIMARY KEY,
    dataset_id ${T} NOT NULL,
    name ${T} NOT NULL,
    manifest_json ${T} NOT NULL,
    created_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL
  );

  CREATE TABLE dataset_upload_files (
    upload_id ${T} NOT NULL REFERENCES dataset_uploads (id) ON DELETE CASCADE,
    sha256 ${T} NOT NULL,
    size_bytes BIGINT NOT NULL,
    kind ${T} NOT NULL CHECK (kind IN ('image', 'labels')),
    state ${T} NOT NULL CHECK (state IN ('missing', 'verified', 'stored')),
    width BIGINT,
    height BIGINT,
    PRIMARY KEY (upload_id, sha256)
  );
  CREATE INDEX dataset_upload_files_sha ON dataset_upload_files (sha256);
  `,
];

/** Thrown when the database's schema is newer than this coordinator's migrations. */
export class PostgresSchemaTooNewError extends Error {
  override name = 'PostgresSchemaTooNewError';
  constructor(
    readonly databaseVersion: number,
    readonly codeVersion: number,
  ) {
    super(
      `the database is at schema version ${databaseVersion}, newer than this coordinator knows (${codeVersion}); run a coordinator at least as new as the one that migrated it`,
    );
  }
}

/**
 * Key of the transaction-level advisory lock every migrating coordinator takes first, so two
 * starting at once apply each migration once (the second waits, then finds it recorded).
 */
const MIGRATION_LOCK_KEY = 0x62656e6368; // "bench" in ASCII

/** The table recording applied migrations, one row per version. */
export const SCHEMA_VERSION_TABLE = 'benchfarm_schema_version';

/**
 * Applies pending migrations in order, each in its own transaction together with its version
 * row, under {@link MIGRATION_LOCK_KEY}. Returns the version before and after.
 *
 * Thrown errors: {@link PostgresSchemaTooNewError} when the database records a version beyond
 * `migrations`; the server's error when a migration fails (that migration is rolled back, earlier
 * ones stay).
 */
export async function migratePostgres(
  pool: pg.Pool,
  migrations: readonly string[] = POSTGRES_MIGRATIONS,
): Promise<{ from: number; to: number }> {
  let from: number | undefined;
  for (;;) {
    const client = await pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      try {
        await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
        await client.query(
          `CREATE TABLE IF NOT EXISTS ${SCHEMA_VERSION_TABLE} (version INTEGER PRIMARY KEY, applied_at_ms BIGINT NOT NULL)`,
        );
        const row = (await client.query<{ version: number | null }>(`SELECT max(version) AS version FROM ${SCHEMA_VERSION_TABLE}`)).rows[0];
        const version = row?.version ?? 0;
        from ??= version;
        if (version > migrations.length) throw new PostgresSchemaTooNewError(version, migrations.length);
        if (version === migrations.length) {
          await client.query('COMMIT');
          return { from, to: version };
        }
        const migration = migrations[version] ?? '';
        // No parameters: the simple query protocol runs the migration's several statements.
        await client.query(migration);
        await client.query(`INSERT INTO ${SCHEMA_VERSION_TABLE} (version, applied_at_ms) VALUES ($1, $2)`, [version + 1, Date.now()]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch((rollbackError: Error) => {
          broken = rollbackError;
        });
        throw err;
      }
    } finally {
      client.release(broken);
    }
  }
}
