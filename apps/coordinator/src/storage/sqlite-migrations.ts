import type Database from 'better-sqlite3';

/**
 * Schema migrations, applied in order; `PRAGMA user_version` records how many ran. Append
 * new ones; never edit one that has shipped.
 */
export const SQLITE_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE sweeps (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('running', 'completed', 'failed')),
    error TEXT,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    model_name TEXT NOT NULL,
    model_sha256 TEXT NOT NULL,
    model_size_bytes INTEGER NOT NULL,
    inputs_json TEXT NOT NULL,
    settings_json TEXT NOT NULL,
    targets_json TEXT NOT NULL,
    agent_ids_json TEXT NOT NULL
  ) STRICT;
  CREATE INDEX sweeps_created ON sweeps (created_at_ms);

  CREATE TABLE variants (
    sweep_id TEXT NOT NULL REFERENCES sweeps (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    position INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    recipe_json TEXT NOT NULL,
    PRIMARY KEY (sweep_id, name)
  ) STRICT;

  CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    sweep_id TEXT NOT NULL REFERENCES sweeps (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    variant TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    agent_name TEXT NOT NULL,
    execution_provider TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    FOREIGN KEY (sweep_id, variant) REFERENCES variants (sweep_id, name)
  ) STRICT;
  CREATE INDEX jobs_sweep ON jobs (sweep_id, position);
  CREATE INDEX jobs_state ON jobs (state);

  CREATE TABLE job_attempts (
    job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL,
    agent_id TEXT NOT NULL,
    upload_id TEXT NOT NULL,
    started_at_ms INTEGER,
    error_code TEXT,
    error_message TEXT,
    retryable INTEGER,
    updated_at_ms INTEGER NOT NULL,
    PRIMARY KEY (job_id, attempt)
  ) STRICT;

  CREATE TABLE results (
    id TEXT PRIMARY KEY,
    job_id TEXT NOT NULL UNIQUE REFERENCES jobs (id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL,
    upload_id TEXT NOT NULL,
    count INTEGER NOT NULL,
    mean_ms REAL NOT NULL,
    std_ms REAL NOT NULL,
    min_ms REAL NOT NULL,
    max_ms REAL NOT NULL,
    percentiles_json TEXT NOT NULL,
    throughput_qps REAL NOT NULL,
    measured_duration_ms REAL NOT NULL,
    warmup_queries INTEGER NOT NULL,
    warmup_duration_ms REAL NOT NULL,
    session_creation_ms REAL NOT NULL,
    first_inference_ms REAL NOT NULL,
    peak_rss_bytes INTEGER,
    rss_before_session_bytes INTEGER,
    rss_after_session_bytes INTEGER,
    model_file_size_bytes INTEGER NOT NULL,
    stop_reason TEXT NOT NULL,
    provider TEXT NOT NULL,
    manifest_json TEXT NOT NULL,
    unmeasured_json TEXT NOT NULL,
    committed_at_ms INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE result_samples (
    result_id TEXT PRIMARY KEY REFERENCES results (id) ON DELETE CASCADE,
    count INTEGER NOT NULL,
    latency_ms_f64le BLOB NOT NULL
  ) STRICT;
  `,
  // Per-attempt leases (lease.repository.ts), the BenchJob last published for each job (so a
  // job can be reassigned or deleted from the stream), and cancellation marks.
  `
  CREATE TABLE job_leases (
    token TEXT PRIMARY KEY,
    job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL,
    agent_id TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('active', 'released', 'expired', 'superseded', 'cancelled')),
    issued_at_ms INTEGER NOT NULL,
    renewed_at_ms INTEGER NOT NULL,
    ended_at_ms INTEGER
  ) STRICT;
  CREATE INDEX job_leases_job ON job_leases (job_id, attempt);
  CREATE INDEX job_leases_state ON job_leases (state, renewed_at_ms);

  CREATE TABLE job_messages (
    job_id TEXT PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    agent_id TEXT NOT NULL,
    payload BLOB NOT NULL,
    stream_seq INTEGER,
    publications INTEGER NOT NULL DEFAULT 1,
    updated_at_ms INTEGER NOT NULL
  ) STRICT;

  ALTER TABLE jobs ADD COLUMN lease_token TEXT;
  ALTER TABLE jobs ADD COLUMN cancelled_at_ms INTEGER;
  ALTER TABLE sweeps ADD COLUMN cancelled_at_ms INTEGER;
  `,
  // Device reach: power, energy and thermal of a result, as the agent sampled them.
  // Its own table so it depends on no other migration's columns.
  `
  CREATE TABLE IF NOT EXISTS result_sensors (
    result_id TEXT PRIMARY KEY REFERENCES results (id) ON DELETE CASCADE,
    power_sensor TEXT,
    power_domain TEXT,
    average_power_watts REAL,
    idle_power_watts REAL,
    energy_joules REAL,
    energy_per_inference_joules REAL,
    energy_per_inference_above_idle_joules REAL,
    throttled INTEGER NOT NULL CHECK (throttled IN (0, 1)),
    power_json TEXT,
    thermal_json TEXT,
    external_runtime_json TEXT
  ) STRICT;
  `,
  // The measurement suite: what a scenario measured beyond the summary (statistics,
  // offline levels, server runs, cold start, interleaved comparison, operator profiles).
  `
  CREATE TABLE IF NOT EXISTS result_reports (
    result_id TEXT PRIMARY KEY REFERENCES results (id) ON DELETE CASCADE,
    scenario TEXT NOT NULL,
    report_json TEXT NOT NULL
  ) STRICT;
  `,
  // Enrollment: one-time codes that let an agent obtain its NATS user. Only the code's
  // SHA-256 is stored; used_at_ms is set once, by the enrollment that consumed it.
  `
  CREATE TABLE IF NOT EXISTS enrollment_codes (
    code_sha256 TEXT PRIMARY KEY,
    agent_id TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    used_at_ms INTEGER,
    used_by_nats_key TEXT
  ) STRICT;
  CREATE INDEX IF NOT EXISTS enrollment_codes_agent ON enrollment_codes (agent_id);
  `,
  // Datasets: complete datasets only (a record is written once every object is stored
  // and verified), their images by name, and resumable upload sessions with each declared file's state.
  `
  CREATE TABLE IF NOT EXISTS datasets (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at_ms INTEGER NOT NULL,
    image_count INTEGER NOT NULL,
    total_bytes INTEGER NOT NULL,
    labels_sha256 TEXT,
    labels_json TEXT,
    preprocess_json TEXT
  ) STRICT;
  CREATE INDEX IF NOT EXISTS datasets_labels ON datasets (labels_sha256);

  CREATE TABLE IF NOT EXISTS dataset_images (
    dataset_id TEXT NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    PRIMARY KEY (dataset_id, name)
  ) STRICT;
  CREATE INDEX IF NOT EXISTS dataset_images_sha ON dataset_images (sha256);

  CREATE TABLE IF NOT EXISTS dataset_uploads (
    id TEXT PRIMARY KEY,
    dataset_id TEXT NOT NULL,
    name TEXT NOT NULL,
    manifest_json TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE IF NOT EXISTS dataset_upload_files (
    upload_id TEXT NOT NULL REFERENCES dataset_uploads (id) ON DELETE CASCADE,
    sha256 TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('image', 'labels')),
    state TEXT NOT NULL CHECK (state IN ('missing', 'verified', 'stored')),
    width INTEGER,
    height INTEGER,
    PRIMARY KEY (upload_id, sha256)
  ) STRICT;
  CREATE INDEX IF NOT EXISTS dataset_upload_files_sha ON dataset_upload_files (sha256);
  `,
  // Portable insertion order (SQLite's rowid has no PostgreSQL twin): results.commit_seq orders
  // results committed in the same millisecond (a trigger copies the rowid; PostgreSQL: an identity
  // column), dataset_upload_files.position keeps a session's files in the order they were declared.
  `
  ALTER TABLE results ADD COLUMN commit_seq INTEGER;
  UPDATE results SET commit_seq = rowid;
  CREATE TRIGGER results_commit_seq AFTER INSERT ON results
  BEGIN
    UPDATE results SET commit_seq = new.rowid WHERE rowid = new.rowid;
  END;

  ALTER TABLE dataset_upload_files ADD COLUMN position INTEGER;
  UPDATE dataset_upload_files SET position = rowid;
  `,
  // A sweep's state is settled at every commit from whether it still has an open job and whether
  // every job failed: two index probes instead of reading every job of the sweep (a 4,000-job
  // sweep read 16 million job rows over its commits).
  `
  CREATE INDEX IF NOT EXISTS jobs_sweep_state ON jobs (sweep_id, state);
  `,
  // A series' regression check finds its results from the device and variant (a series is
  // model, variant, device, provider): without it every check scanned every result ever stored.
  `
  CREATE INDEX IF NOT EXISTS jobs_agent_variant ON jobs (agent_name, variant);
  `,
  // A sweep is `deriving` while its variants are derived as a pipeline step after POST /sweeps
  // answered: the state CHECK gains it (SQLite changes a CHECK only by rebuilding the
  // table, run with foreign keys off: see SQLITE_FOREIGN_KEYS_OFF), derivation_json keeps what the
  // step needs to resume after a restart, sweep_derivations each variant's progress.
  `
  CREATE TABLE sweeps_rebuilt (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('deriving', 'running', 'completed', 'failed')),
    error TEXT,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    model_name TEXT NOT NULL,
    model_sha256 TEXT NOT NULL,
    model_size_bytes INTEGER NOT NULL,
    inputs_json TEXT NOT NULL,
    settings_json TEXT NOT NULL,
    targets_json TEXT NOT NULL,
    agent_ids_json TEXT NOT NULL,
    cancelled_at_ms INTEGER,
    derivation_json TEXT
  ) STRICT;
  INSERT INTO sweeps_rebuilt (id, name, state, error, created_at_ms, updated_at_ms, model_name, model_sha256, model_size_bytes,
                              inputs_json, settings_json, targets_json, agent_ids_json, cancelled_at_ms)
    SELECT id, name, state, error, created_at_ms, updated_at_ms, model_name, model_sha256, model_size_bytes,
           inputs_json, settings_json, targets_json, agent_ids_json, cancelled_at_ms FROM sweeps;
  DROP TABLE sweeps;
  ALTER TABLE sweeps_rebuilt RENAME TO sweeps;
  CREATE INDEX sweeps_created ON sweeps (created_at_ms);
  CREATE INDEX sweeps_state ON sweeps (state);

  CREATE TABLE sweep_derivations (
    sweep_id TEXT NOT NULL REFERENCES sweeps (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    position INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'deriving', 'done', 'failed')),
    error TEXT,
    started_at_ms INTEGER,
    finished_at_ms INTEGER,
    sha256 TEXT,
    size_bytes INTEGER,
    recipe_json TEXT,
    PRIMARY KEY (sweep_id, name)
  ) STRICT;
  `,
];

/**
 * Migrations (by index) that rebuild a table other tables refer to: they run with foreign keys
 * off (SQLite ignores that pragma inside a transaction, and a DROP TABLE with them on would
 * cascade-delete the children), and commit only when `PRAGMA foreign_key_check` finds nothing.
 */
export const SQLITE_FOREIGN_KEYS_OFF: ReadonlySet<number> = new Set([9]);

/**
 * Applies the migrations `PRAGMA user_version` says are pending, each in one transaction.
 *
 * Thrown errors: `Error` when the file is at a schema version newer than this coordinator knows;
 * SQLite's error when a migration fails (that migration is rolled back).
 */
export function migrateSqlite(db: Database.Database): void {
  const applied = db.pragma('user_version', { simple: true }) as number;
  if (applied > SQLITE_MIGRATIONS.length) {
    throw new Error(`the database is at schema version ${applied}, newer than this coordinator knows (${SQLITE_MIGRATIONS.length})`);
  }
  SQLITE_MIGRATIONS.forEach((sql, index) => {
    if (index < applied) return;
    const keysOff = SQLITE_FOREIGN_KEYS_OFF.has(index) && (db.pragma('foreign_keys', { simple: true }) as number) === 1;
    if (keysOff) db.pragma('foreign_keys = OFF');
    try {
      db.transaction(() => {
        db.exec(sql);
        const broken = db.pragma('foreign_key_check') as unknown[];
        if (broken.length > 0) throw new Error(`migration ${index + 1} left ${broken.length} broken foreign key(s): ${JSON.stringify(broken.slice(0, 3))}`);
        db.pragma(`user_version = ${index + 1}`);
      })();
    } finally {
      if (keysOff) db.pragma('foreign_keys = ON');
    }
  });
}
