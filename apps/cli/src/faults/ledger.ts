// Test support only (imported by the fault suite, never by the CLI): the suite checks "one
// result stored" in the coordinator's own database file, which the CLI never touches.
// eslint-disable-next-line @nx/enforce-module-boundaries
import Database from 'better-sqlite3';

/** What the coordinator's database holds for one sweep, read behind its back by a fault test. */
export interface SweepLedger {
  /** Jobs neither done nor failed. */
  open: number;
  /** Jobs that should have a result (done) but have none: lost. */
  lost: number;
  /** Result rows beyond the first of a job: duplicated. */
  duplicated: number;
  /** Attempts beyond the first, over all jobs: redelivered. */
  redelivered: number;
  /** Result rows of the sweep. */
  results: number;
}

/**
 * Counts results per job straight from the coordinator's SQLite file (read-only), so that
 * "exactly one result" is checked where it is stored, not through the API that reports it.
 */
export function readSweepLedger(dbPath: string, sweepId: string): SweepLedger {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    const rows = db
      .prepare('SELECT j.state AS state, j.attempts AS attempts, (SELECT COUNT(*) FROM results r WHERE r.job_id = j.id) AS results FROM jobs j WHERE j.sweep_id = ?')
      .all(sweepId) as Array<{ state: string; attempts: number; results: number }>;
    return {
      open: rows.filter((r) => r.state === 'queued' || r.state === 'running').length,
      lost: rows.filter((r) => r.state === 'done' && r.results === 0).length,
      duplicated: rows.reduce((n, r) => n + Math.max(0, r.results - 1), 0),
      redelivered: rows.reduce((n, r) => n + Math.max(0, r.attempts - 1), 0),
      results: rows.reduce((n, r) => n + r.results, 0),
    };
  } finally {
    db.close();
  }
}
