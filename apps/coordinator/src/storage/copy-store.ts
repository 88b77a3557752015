import { SCHEMA_VERSION_TABLE } from './postgres-migrations';
import type { SqlDatabase, SqlExecutor, SqlValue } from './sql';

/**
 * Copies a coordinator's SQLite store into an empty PostgreSQL store: the move a lab makes when
 * it outgrows the embedded file (docs/OPERATIONS.md "How to move"). Both stores are opened by the
 * caller through `openSqlite` / `openPostgres`, so both are migrated to this coordinator's schema
 * first and have the same tables and columns (postgres-schema.int-spec.ts checks that the two
 * migration lists agree).
 *
 * All or nothing: every row is written in one PostgreSQL transaction, and the row counts of every
 * table are compared with the source's before it commits; any error rolls the whole copy back and
 * leaves the destination empty. The source is read inside one SQLite write transaction
 * (BEGIN IMMEDIATE), so a coordinator still writing to the file makes the copy fail with
 * "database is locked" instead of copying a moving target.
 */

/** Every table of the schema, parents before children (foreign keys). */
export const STORE_TABLES = [
  'sweeps',
  'sweep_derivations',
  'variants',
  'jobs',
  'job_attempts',
  'results',
  'result_samples',
  'job_leases',
  'job_messages',
  'result_sensors',
  'result_reports',
  'enrollment_codes',
  'datasets',
  'dataset_images',
  'dataset_uploads',
  'dataset_upload_files',
] as const;

/** Thrown when the stores cannot be copied; nothing was written to the destination. */
export class StoreCopyError extends Error {
  override name = 'StoreCopyError';
}

/** What was copied, per table. */
export interface StoreCopyReport {
  readonly tables: ReadonlyArray<{ readonly table: string; readonly rows: number }>;
  readonly rows: number;
  readonly durationMs: number;
}

export interface StoreCopyOptions {
  /** Rows read from the source per query (and bound per INSERT, within PostgreSQL's parameter limit). Default 500. */
  readonly batchRows?: number;
  /** Called after each table. */
  readonly onTable?: (table: string, rows: number) => void;
}

/** PostgreSQL binds at most 65,535 parameters per statement; a batch stays well below. */
const MAX_PARAMETERS_PER_INSERT = 30_000;

async function sqliteTables(db: SqlExecutor): Promise<string[]> {
  const rows = await db.all<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name");
  return rows.map((row) => row.name);
}

async function postgresTables(db: SqlExecutor): Promise<string[]> {
  const rows = await db.all<{ name: string }>(
    "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> ? ORDER BY table_name",
    [SCHEMA_VERSION_TABLE],
  );
  return rows.map((row) => row.name);
}

async function sqliteColumns(db: SqlExecutor, table: string): Promise<string[]> {
  const rows = await db.all<{ name: string }>('SELECT name FROM pragma_table_info(?) ORDER BY cid', [table]);
  return rows.map((row) => row.name);
}

async function postgresColumns(db: SqlExecutor, table: string): Promise<string[]> {
  const rows = await db.all<{ name: string }>(
    'SELECT column_name AS name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position',
    [table],
  );
  return rows.map((row) => row.name);
}

/** Refuses tables the copy does not know (a migration added one without adding it here) and schemas that differ. */
async function checkSchemas(source: SqlExecutor, destination: SqlExecutor): Promise<Map<string, string[]>> {
  const known = new Set<string>(STORE_TABLES);
  const [sourceTables, destinationTables] = await Promise.all([sqliteTables(source), postgresTables(destination)]);
  for (const table of sourceTables) {
    if (!known.has(table)) throw new StoreCopyError(`the SQLite store has a table '${table}' the copy does not know: add it to STORE_TABLES (copy-store.ts) in foreign-key order`);
  }
  for (const table of destinationTables) {
    if (!known.has(table)) throw new StoreCopyError(`the PostgreSQL store has a table '${table}' the copy does not know: add it to STORE_TABLES (copy-store.ts) in foreign-key order`);
  }
  const columns = new Map<string, string[]>();
  for (const table of STORE_TABLES) {
    if (!sourceTables.includes(table)) throw new StoreCopyError(`the SQLite store has no table '${table}': is it a benchfarm coordinator's database?`);
    if (!destinationTables.includes(table)) throw new StoreCopyError(`the PostgreSQL store has no table '${table}'`);
    const [from, to] = await Promise.all([sqliteColumns(source, table), postgresColumns(destination, table)]);
    const missing = from.filter((column) => !to.includes(column));
    const extra = to.filter((column) => !from.includes(column));
    if (missing.length > 0 || extra.length > 0) {
      throw new StoreCopyError(
        `table '${table}' differs between the stores (${missing.length > 0 ? `only in SQLite: ${missing.join(', ')}` : ''}${missing.length > 0 && extra.length > 0 ? '; ' : ''}${extra.length > 0 ? `only in PostgreSQL: ${extra.join(', ')}` : ''})`,
      );
    }
    columns.set(table, from);
  }
  return columns;
}

async function countRows(db: SqlExecutor, table: string): Promise<number> {
  const row = await db.get<{ n: number | string }>(`SELECT COUNT(*) AS n FROM ${table}`);
  return Number(row?.n ?? 0);
}

/**
 * Copies every row of `source` (SQLite) into `destination` (PostgreSQL), which must be empty.
 *
 * Thrown errors: {@link StoreCopyError} for the wrong kind of store, a destination that already
 * holds rows (naming the table and its count), schemas that differ, or counts that disagree after
 * the copy; the driver's error (e.g. SQLite's "database is locked") otherwise. Either way the
 * destination's transaction is rolled back.
 */
export async function copyStore(source: SqlDatabase, destination: SqlDatabase, options: StoreCopyOptions = {}): Promise<StoreCopyReport> {
  if (source.dialect !== 'sqlite') throw new StoreCopyError(`the source must be a SQLite store (got ${source.description})`);
  if (destination.dialect !== 'postgres') throw new StoreCopyError(`the destination must be a PostgreSQL store (got ${destination.description})`);
  const batchRows = options.batchRows ?? 500;
  if (!Number.isInteger(batchRows) || batchRows < 1) throw new StoreCopyError(`batchRows must be an integer >= 1 (got ${batchRows})`);
  const started = performance.now();

  return source.transaction((src) =>
    destination.transaction(async (dst): Promise<StoreCopyReport> => {
      const columns = await checkSchemas(src, dst);
      for (const table of STORE_TABLES) {
        const rows = await countRows(dst, table);
        if (rows > 0) throw new StoreCopyError(`the PostgreSQL store is not empty: table '${table}' has ${rows} row(s); copy into a new, empty database`);
      }
      const tables: Array<{ table: string; rows: number }> = [];
      for (const table of STORE_TABLES) {
        const cols = columns.get(table);
        if (!cols) throw new StoreCopyError(`table '${table}' was not checked`);
        const perInsert = Math.max(1, Math.min(batchRows, Math.floor(MAX_PARAMETERS_PER_INSERT / cols.length)));
        const list = cols.map((column) => `"${column}"`).join(', ');
        let copied = 0;
        // Keyset paging on rowid: every table has one (none is WITHOUT ROWID); reading in rowid
        // order also keeps results' commit_seq order (the SQLite trigger copies rowid into it).
        let lastRowid = Number.MIN_SAFE_INTEGER;
        for (;;) {
          const page = await src.all<Record<string, SqlValue> & { _rowid: number }>(
            `SELECT rowid AS _rowid, ${list} FROM ${table} WHERE rowid > ? ORDER BY rowid LIMIT ?`,
            [lastRowid, perInsert],
          );
          if (page.length === 0) break;
          lastRowid = page[page.length - 1]?._rowid ?? lastRowid;
          const params: SqlValue[] = [];
          const tuples: string[] = [];
          for (const row of page) {
            tuples.push(`(${cols.map(() => '?').join(', ')})`);
            for (const column of cols) params.push(row[column] ?? null);
          }
          const written = await dst.run(`INSERT INTO ${table} (${list}) VALUES ${tuples.join(', ')}`, params);
          if (written.changes !== page.length) throw new StoreCopyError(`table '${table}': wrote ${written.changes} of ${page.length} rows of a batch`);
          copied += page.length;
          if (page.length < perInsert) break;
        }
        const [sourceRows, destinationRows] = await Promise.all([countRows(src, table), countRows(dst, table)]);
        if (sourceRows !== copied || destinationRows !== copied) {
          throw new StoreCopyError(`table '${table}': the source has ${sourceRows} rows, ${copied} were read and the destination holds ${destinationRows}`);
        }
        tables.push({ table, rows: copied });
        options.onTable?.(table, copied);
      }
      // results.commit_seq is an identity column on PostgreSQL: rows copied with explicit values
      // leave its sequence at 1, so the next commit would sort before the copied ones.
      await dst.get(
        "SELECT setval(pg_get_serial_sequence('results', 'commit_seq'), COALESCE((SELECT MAX(commit_seq) FROM results), 0) + 1, false) AS next",
      );
      return { tables, rows: tables.reduce((sum, t) => sum + t.rows, 0), durationMs: performance.now() - started };
    }),
  );
}
