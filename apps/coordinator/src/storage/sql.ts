/**
 * The one interface every repository of the coordinator talks to, whichever store is behind it:
 * SQLite (the embedded default, one file) or PostgreSQL (a lab's server database,
 * `BENCHFARM_DATABASE_URL=postgres://...`). Repositories are written once against it.
 *
 * SQL text: portable SQL (both stores accept `INSERT ... ON CONFLICT ... DO UPDATE SET x =
 * excluded.x`, `RETURNING`, `COALESCE`, `LIMIT`). Parameters are either positional `?` or named
 * `@name` (never both in one statement); the PostgreSQL driver rewrites them to `$n`. Where the
 * dialects differ (JSON functions, `rowid`), a repository branches on {@link SqlExecutor.dialect}.
 *
 * Values: strings, numbers (integers come back as JS numbers on both stores: PostgreSQL BIGINT /
 * NUMERIC are parsed to numbers; every stored integer is below 2^53), null, and bytes
 * (Uint8Array in, Buffer out).
 */

/** A value bound to a parameter or read from a column. */
export type SqlValue = string | number | null | Uint8Array;

/** Positional (`?`) or named (`@name`) parameters of one statement. */
export type SqlParams = readonly SqlValue[] | Readonly<Record<string, SqlValue>>;

/** Which store executes the SQL. */
export type SqlDialect = 'sqlite' | 'postgres';

/** What a write changed. */
export interface SqlRunResult {
  /** Rows inserted, updated or deleted. */
  changes: number;
}

/** Runs statements: the database itself, or one open transaction. */
export interface SqlExecutor {
  readonly dialect: SqlDialect;
  /** The first row, or undefined when there is none. */
  get<T>(sql: string, params?: SqlParams): Promise<T | undefined>;
  /** Every row. */
  all<T>(sql: string, params?: SqlParams): Promise<T[]>;
  /** A write; how many rows it changed. */
  run(sql: string, params?: SqlParams): Promise<SqlRunResult>;
}

/** An open store. */
export interface SqlDatabase extends SqlExecutor {
  /** `sqlite:<path>` or `postgres://user@host:port/db` (never a password), for logs and /health. */
  readonly description: string;
  /**
   * Runs `fn` in one transaction: committed when it resolves, rolled back when it throws (the
   * error is rethrown). Transactions are serializable: SQLite runs one at a time; PostgreSQL runs
   * them at SERIALIZABLE and re-runs `fn` on a serialization failure or deadlock (SQLSTATE 40001 /
   * 40P01, a bounded number of times), so `fn` must do nothing but SQL through `tx`.
   */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /** Closes the store (waits for running statements). */
  close(): Promise<void>;
}

/**
 * Thrown by a driver's open function when the store cannot be opened, reached or migrated; the
 * message names the store (never a password), the cause is the driver's error.
 */
export class DatabaseOpenError extends Error {
  override name = 'DatabaseOpenError';
}

/**
 * Thrown when a statement or a transaction is started on the database from inside one of its
 * own open transactions (instead of through the transaction's executor): it would wait for that
 * transaction to end, which waits for it. On PostgreSQL the same statement would run outside the
 * transaction, so it is a bug on either store.
 */
export class SqlTransactionMisuseError extends Error {
  override name = 'SqlTransactionMisuseError';
}

/** Thrown by a statement issued after {@link SqlDatabase.close}, or through a transaction's executor after the transaction ended. */
export class SqlClosedError extends Error {
  override name = 'SqlClosedError';
}
