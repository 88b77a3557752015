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

/** A transaction waiting for its batch. */
interface TransactionRequest {
  fn: (tx: SqlExecutor) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
}

/**
 * Most transactions committed together. A batch holds the queue while its transactions run; a
 * bound keeps a statement queued behind a burst from waiting for all of it.
 */
export const MAX_TRANSACTIONS_PER_COMMIT = 64;

/**
 * Thrown to the transactions of a group commit that SQLite rolled back as a whole because of
 * another transaction's error (an I/O error, a full disk): none of their writes were kept.
 */
export class SqlBatchAbortedError extends Error {
  override name = 'SqlBatchAbortedError';
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
 * serial (SQLite's SERIALIZABLE), and never re-run. Transactions queued back to back share one
 * BEGIN/COMMIT (group commit, {@link SqliteStore.runBatch}), each in a savepoint.
 */
class SqliteStore implements SqlDatabase {
  readonly dialect = 'sqlite' as const;
  readonly description: string;
  private readonly statements = new Map<string, Database.Statement>();
  private readonly transactionContext = new AsyncLocalStorage<OpenTransaction>();
  /** Settles when everything queued so far has run. */
  private tail: Promise<void> = Promise.resolve();
  /** The batch of transactions last queued, while nothing was queued after it: new transactions join it. */
  private openBatch: TransactionRequest[] | undefined;
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
    const refused = this.refusal();
    if (refused) return Promise.reject(refused);
    return new Promise<T>((resolve, reject) => {
      const request: TransactionRequest = { fn, resolve: resolve as (value: unknown) => void, reject };
      // Joins the batch at the tail of the queue when nothing was queued after it (so the queue's
      // order is kept), else starts a batch of its own.
      if (this.openBatch && this.openBatch.length < MAX_TRANSACTIONS_PER_COMMIT) {
        this.openBatch.push(request);
        return;
      }
      const batch: TransactionRequest[] = [request];
      this.openBatch = batch;
      // The batch starts after the event loop's current I/O phase: the transactions of the other
      // gRPC calls read in the same phase join it (otherwise an idle queue ran each alone).
      void this.enqueueTask(async () => {
        await new Promise<void>((resolve) => setImmediate(resolve));
        return this.runBatch(batch);
      }, true);
    });
  }

  /**
   * Group commit: the transactions queued together run one after the other in one SQLite
   * transaction, each inside its own savepoint, and are answered after its COMMIT. A `fn` that
   * throws is rolled back to its savepoint (its writes undone, the others' kept) and rejected; a
   * failed COMMIT rejects them all. Serial, as before: each `fn` sees the writes of those before
   * it. One BEGIN/COMMIT per batch instead of per transaction was the largest single item of the
   * coordinator's profile under a 1,000-agent sweep (docs/BENCHMARKS.md).
   */
  private async runBatch(batch: TransactionRequest[]): Promise<void> {
    if (this.openBatch === batch) this.openBatch = undefined;
    const settled: Array<{ request: TransactionRequest; ok: true; value: unknown } | { request: TransactionRequest; ok: false; error: unknown }> = [];
    try {
      // IMMEDIATE takes the write lock now: another process on the file (a second coordinator by
      // mistake, the CLI's read-only checks) cannot make this transaction fail half-way on upgrade.
      this.db.exec('BEGIN IMMEDIATE');
    } catch (err) {
      for (const request of batch) request.reject(err);
      return;
    }
    for (const request of batch) {
      const state: OpenTransaction = { open: true };
      this.db.exec('SAVEPOINT benchfarm_tx');
      try {
        const value = await this.transactionContext.run(state, () => request.fn(this.executorOf(state)));
        this.db.exec('RELEASE benchfarm_tx');
        settled.push({ request, ok: true, value });
      } catch (error) {
        settled.push({ request, ok: false, error });
        if (!this.db.inTransaction) {
          // SQLite rolled the whole transaction back itself (an I/O error, a full disk): the
          // writes of those before this one are gone too, and those after it never ran.
          const lost = new SqlBatchAbortedError('the transaction was rolled back by SQLite after an error in another transaction of the same commit; nothing of it was written', { cause: error });
          for (const s of settled) if (s.ok) s.request.reject(lost);
          for (const s of settled) if (!s.ok) s.request.reject(s.error);
          for (const rest of batch.slice(settled.length)) rest.reject(lost);
          return;
        }
        this.db.exec('ROLLBACK TO benchfarm_tx');
        this.db.exec('RELEASE benchfarm_tx');
      } finally {
        state.open = false;
      }
    }
    try {
      this.db.exec('COMMIT');
    } catch (err) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      for (const s of settled) s.request.reject(s.ok ? err : s.error);
      return;
    }
    for (const s of settled) {
      if (s.ok) s.request.resolve(s.value);
      else s.request.reject(s.error);
    }
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
    const refused = this.refusal();
    if (refused) return Promise.reject(refused);
    return this.enqueueTask(task, false);
  }

  private enqueueTask<T>(task: () => T | Promise<T>, isBatch: boolean): Promise<T> {
    // A statement queued behind a batch closes it: a later transaction must not run before it.
    if (!isBatch) this.openBatch = undefined;
    const result = this.tail.then(task);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  /** Why a statement or transaction cannot be queued now, if it cannot. */
  private refusal(): Error | undefined {
    if (this.transactionContext.getStore()?.open) {
      return new SqlTransactionMisuseError('a statement on the database inside one of its own transactions would wait for that transaction forever: use the transaction executor (tx) passed to fn');
    }
    if (this.closing) return new SqlClosedError(`the database ${this.description} is closed`);
    return undefined;
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
