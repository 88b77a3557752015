import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { migrateSqlite } from './sqlite-migrations';
import { DatabaseOpenError, SqlClosedError, SqlTransactionMisuseError, type SqlDatabase, type SqlExecutor, type SqlParams, type SqlRunResult, type SqlValue } from './sql';

/** Prepared statements kept per database; SQL texts are a fixed set, the bound only guards against a caller building SQL per value. */
const STATEMENT_CACHE_SIZE = 500;

/** One open transaction: whether statements may still run through its executor. */
interface OpenTransaction {
  open: boolean;
}

const isPositional = (params: SqlParams): params is readonly SqlValue[] => Array.isArray(params);

/** better-sqlite3's arguments for `stmt.get(...)`: the positional values, or the one object of named ones. */
function bindArgs(params: SqlParams | undefined): unknown[] {
  if (params === undefined) return [];
  if (isPositional(params)) return [...params];
  return [params];
}

/**
 * {@link SqlDatabase} over one better-sqlite3 connection. better-sqlite3 is synchronous and one
 * connection has one transaction, so everything goes through a queue: a statement runs when the
 * statements and transactions queued before it are done, and a transaction holds the queue from
 * BEGIN IMMEDIATE to COMMIT / ROLLBACK, however long its `fn` awaits. Transactions are therefore
 * serial (SQLite's SERIALIZABLE), and never re-run.
 */
class SqliteStore implements SqlDatabase {
  readonly dialect = 'sqlite' as const;
  readonly description: string;
  private readonly statements = new Map<string, Database.Statement>();
  private readonly transactionContext = new AsyncLocalStorage<OpenTransaction>();
  /** Settles when everything queued so far has run. */
  private tail: Promise<void> = Promise.resolve();
  private closing: Promise<void> | undefined;

  constructor(
    private readonly db: Database.Database,
    path: string,
  ) {
    this.description = `sqlite:${path}`;
  }

  get<T>(sql: string, params?: SqlParams): Promise<T | undefined> {
    return this.enqueue(() => this.statement(sql).get(...bindArgs(params)) as T | undefined);
  }

  all<T>(sql: string, params?: SqlParams): Promise<T[]> {
    return this.enqueue(() => this.statement(sql).all(...bindArgs(params)) as T[]);
  }

  run(sql: string, params?: SqlParams): Promise<SqlRunResult> {
    return this.enqueue(() => ({ changes: this.statement(sql).run(...bindArgs(params)).changes }));
  }

  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.enqueue(async () => {
      const state: OpenTransaction = { open: true };
      const tx = this.executorOf(state);
      // IMMEDIATE takes the write lock now: another process on the file (a second coordinator by
      // mistake, the CLI's read-only checks) cannot make this transaction fail half-way on upgrade.
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const result = await this.transactionContext.run(state, () => fn(tx));
        this.db.exec('COMMIT');
        return result;
      } catch (err) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw err;
      } finally {
        state.open = false;
      }
    });
  }

  close(): Promise<void> {
    this.closing ??= this.tail.then(() => {
      this.statements.clear();
      this.db.close();
    });
    return this.closing;
  }

  /** Runs `task` after everything queued before it; the queue moves on whether it succeeds or fails. */
  private enqueue<T>(task: () => T | Promise<T>): Promise<T> {
    if (this.transactionContext.getStore()?.open) {
      return Promise.reject(new SqlTransactionMisuseError('a statement on the database inside one of its own transactions would wait for that transaction forever: use the transaction executor (tx) passed to fn'));
    }
    if (this.closing) return Promise.reject(new SqlClosedError(`the database ${this.description} is closed`));
    const result = this.tail.then(task);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  /** Statements of one transaction: they run at once (the transaction holds the queue). */
  private executorOf(state: OpenTransaction): SqlExecutor {
    const inTransaction = <R>(task: () => R): Promise<R> => {
      if (!state.open) return Promise.reject(new SqlClosedError('a statement through a transaction executor after the transaction ended'));
      try {
        return Promise.resolve(task());
      } catch (err) {
        return Promise.reject(err as Error);
      }
    };
    return {
      dialect: this.dialect,
      get: <T>(sql: string, params?: SqlParams) => inTransaction(() => this.statement(sql).get(...bindArgs(params)) as T | undefined),
      all: <T>(sql: string, params?: SqlParams) => inTransaction(() => this.statement(sql).all(...bindArgs(params)) as T[]),
      run: (sql: string, params?: SqlParams) => inTransaction(() => ({ changes: this.statement(sql).run(...bindArgs(params)).changes })),
    };
  }

  /** The prepared statement of `sql`, prepared once. */
  private statement(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (statement) return statement;
    statement = this.db.prepare(sql);
    if (this.statements.size >= STATEMENT_CACHE_SIZE) {
      const oldest = this.statements.keys().next();
      if (!oldest.done) this.statements.delete(oldest.value);
    }
    this.statements.set(sql, statement);
    return statement;
  }
}

/**
 * Opens (creating when missing) the coordinator's SQLite file in WAL mode with foreign keys on,
 * applies pending migrations (one transaction each) and returns it as a {@link SqlDatabase}.
 * `:memory:` opens a private in-memory database (tests).
 *
 * Thrown errors: {@link DatabaseOpenError} when the file cannot be opened or migrated (the
 * message names the path; the cause is SQLite's error).
 */
export function openSqlite(path: string): SqlDatabase {
  let db: Database.Database;
  try {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    db = new Database(path);
  } catch (err) {
    throw new DatabaseOpenError(`cannot open SQLite database ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    migrateSqlite(db);
  } catch (err) {
    db.close();
    throw new DatabaseOpenError(`cannot migrate SQLite database ${path}: ${(err as Error).message}`, { cause: err });
  }
  return new SqliteStore(db, path);
}
