import { AsyncLocalStorage } from 'node:async_hooks';
import pg from 'pg';
import { migratePostgres } from './postgres-migrations';
import { DatabaseOpenError, SqlClosedError, SqlTransactionMisuseError, type SqlDatabase, type SqlDialect, type SqlExecutor, type SqlParams, type SqlRunResult, type SqlValue } from './sql';

/**
 * The PostgreSQL driver behind {@link SqlDatabase}: a `pg` pool, `?` / `@name` parameters
 * rewritten to `$n`, BIGINT and NUMERIC read as JS numbers, SERIALIZABLE transactions re-run on
 * serialization failures and deadlocks.
 */

/** Options of {@link openPostgres}. */
export interface PostgresOptions {
  /** Most connections the pool opens (default 10). */
  poolSize?: number;
  /**
   * How long to wait for a connection, new or from a busy pool, before failing (default 30 s).
   * pg-pool applies it to queued requests too, so it also bounds the wait under overload.
   */
  connectTimeoutMs?: number;
  /** Apply pending schema migrations on open (default true). */
  migrate?: boolean;
  /** Most runs of one transaction (or one statement) on SQLSTATE 40001 / 40P01 (default 10). */
  maxAttempts?: number;
  /**
   * Most transactions of this process running at once (default 1; single statements outside
   * transactions still use the whole pool). The repositories' write transactions read what their
   * neighbours write (a result commit reads every job of its sweep to derive the sweep's state),
   * so concurrent ones fail SERIALIZABLE's checks and re-run: 1,000 result commits to one sweep,
   * all at once, took 4.0 s with 0 failed at 1, 5.7 s at 2, 8.5 s with 15 failed after 10 runs at 4
   * (2-core machine). Serialization failures stay possible between processes (a second
   * coordinator, the CLI) and are re-run as before.
   */
  concurrentTransactions?: number;
  /**
   * Called when an idle pooled connection fails (the server restarted or dropped it); the pool
   * discards it and opens a new one on demand. Without a listener pg would crash the process.
   */
  onIdleError?: (err: Error) => void;
}

/** Thrown when the server cannot be reached, refuses the login, or the schema cannot be migrated. */
export class PostgresOpenError extends DatabaseOpenError {
  override name = 'PostgresOpenError';
}

/** Thrown when a PostgreSQL URL is malformed (the message never repeats its password). */
export class PostgresUrlError extends Error {
  override name = 'PostgresUrlError';
}

/**
 * Thrown when a statement's parameters do not match its placeholders: `?` and `@name` mixed,
 * too few or too many positional values, a named value missing.
 */
export class SqlParameterError extends Error {
  override name = 'SqlParameterError';
}

/**
 * Thrown when a transaction (or a single statement) still hit a serialization failure or
 * deadlock after the last allowed run; `cause` is the last PostgreSQL error.
 */
export class PostgresConflictError extends Error {
  override name = 'PostgresConflictError';
  constructor(
    readonly attempts: number,
    readonly sqlState: string,
    options: { cause: unknown },
  ) {
    super(
      `PostgreSQL ${sqlState === DEADLOCK ? 'deadlock' : 'serialization failure'} (SQLSTATE ${sqlState}) persisted through ${attempts} attempts: ${(options.cause as Error).message}`,
      options,
    );
  }
}

/**
 * Thrown when COMMIT ended in a rollback: a statement of the transaction failed and `fn` caught
 * the error instead of letting it propagate, so PostgreSQL had already aborted the transaction.
 */
export class PostgresTransactionAbortedError extends Error {
  override name = 'PostgresTransactionAbortedError';
}

const SERIALIZATION_FAILURE = '40001';
const DEADLOCK = '40P01';
const DEFAULT_POOL_SIZE = 10;
const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_ATTEMPTS = 10;
const DEFAULT_CONCURRENT_TRANSACTIONS = 1;

/**
 * Opens a pool on `url` (`postgres://user:password@host:port/database`), checks that the server
 * answers, and (unless `migrate: false`) applies pending schema migrations.
 *
 * Thrown errors: {@link PostgresUrlError} for a malformed URL; {@link PostgresOpenError} when the
 * server cannot be reached, refuses the login or the migration fails, including when the database
 * is at a schema version newer than this code (the message names host and database, never the
 * password).
 */
export async function openPostgres(url: string, options: PostgresOptions = {}): Promise<SqlDatabase> {
  const description = describePostgresUrl(url);
  const poolSize = options.poolSize ?? DEFAULT_POOL_SIZE;
  if (!Number.isInteger(poolSize) || poolSize < 1) throw new RangeError(`poolSize must be an integer >= 1 (got ${poolSize})`);
  const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new RangeError(`maxAttempts must be an integer >= 1 (got ${maxAttempts})`);
  const concurrentTransactions = options.concurrentTransactions ?? DEFAULT_CONCURRENT_TRANSACTIONS;
  if (!Number.isInteger(concurrentTransactions) || concurrentTransactions < 1) {
    throw new RangeError(`concurrentTransactions must be an integer >= 1 (got ${concurrentTransactions})`);
  }
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    connectionTimeoutMillis: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    types: TYPES,
    application_name: 'benchfarm-coordinator',
  });
  const onIdleError = options.onIdleError;
  pool.on('error', (err) => onIdleError?.(err));
  try {
    const client = await pool.connect();
    client.release();
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw new PostgresOpenError(`cannot connect to PostgreSQL ${description}: ${(err as Error).message}`, { cause: err });
  }
  if (options.migrate ?? true) {
    try {
      await migratePostgres(pool);
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw new PostgresOpenError(`cannot migrate PostgreSQL ${description}: ${(err as Error).message}`, { cause: err });
    }
  }
  return new PostgresDatabase(pool, description, maxAttempts, new Semaphore(concurrentTransactions));
}

/**
 * `url` without its password (user info, and a `password` query parameter): what logs and
 * /health may show.
 *
 * Thrown errors: {@link PostgresUrlError} when `url` is not a postgres:// or postgresql:// URL.
 */
export function describePostgresUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new PostgresUrlError(`not a URL: ${redactUnparsed(url)} (expected postgres://user:password@host:port/database)`);
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new PostgresUrlError(`${parsed.protocol}// is not a PostgreSQL URL (expected postgres://user:password@host:port/database)`);
  }
  parsed.password = '';
  parsed.searchParams.delete('password');
  return parsed.toString();
}

/** A string that failed to parse as a URL, with anything that could be a password masked. */
function redactUnparsed(url: string): string {
  return url.replace(/(\/\/[^:/@]*):[^@]*@/, '$1:***@').replace(/([?&]password=)[^&]*/i, '$1***');
}

/**
 * Type parsers of this pool only (pg's global `types` stay untouched, so nothing else in the
 * process changes): BIGINT and NUMERIC become numbers, as SQLite returns them. Every integer the
 * coordinator stores is below 2^53; one that is not would lose digits, so it is refused.
 */
const TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) => {
    if (format !== 'binary') {
      if (oid === pg.types.builtins.INT8) return parseBigint;
      if (oid === pg.types.builtins.NUMERIC) return parseNumeric;
    }
    return pg.types.getTypeParser(oid, format as 'text');
  }) as pg.CustomTypesConfig['getTypeParser'],
};

function parseBigint(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new RangeError(`BIGINT ${text} is beyond 2^53 and cannot be read as a JS number exactly`);
  return value;
}

function parseNumeric(text: string): number {
  return Number(text);
}

/** A statement rewritten for PostgreSQL, and how its parameters bind. */
export interface RewrittenSql {
  text: string;
  /** `none`: no placeholders; `positional`: `?` in order; `named`: `@name`, each once as `$n`. */
  kind: 'none' | 'positional' | 'named';
  /** Positional: how many `?`; named: the names in `$n` order. */
  count: number;
  names: readonly string[];
}

/**
 * Rewrites `?` and `@name` placeholders to `$1..$n`, leaving quoted strings (`'...'`,
 * `E'...'`, dollar-quoted), quoted identifiers and comments alone. A name used twice becomes
 * the same `$n`. PostgreSQL operators spelt with `?` (jsonb) cannot be written in this SQL.
 *
 * Thrown errors: {@link SqlParameterError} when one statement uses both `?` and `@name`, or has
 * an unterminated quote or comment.
 */
export function rewriteParameters(sql: string): RewrittenSql {
  let out = '';
  let positional = 0;
  const names: string[] = [];
  const indexOf = new Map<string, number>();
  let i = 0;
  let copied = 0;
  const n = sql.length;
  const unterminated = (what: string): never => {
    throw new SqlParameterError(`unterminated ${what} in SQL: ${sql.slice(0, 120)}`);
  };
  while (i < n) {
    const c = sql[i];
    if (c === "'") {
      const escapes = i > 0 && (sql[i - 1] === 'E' || sql[i - 1] === 'e') && !isIdentChar(sql[i - 2]);
      i++;
      for (;;) {
        if (i >= n) unterminated('string literal');
        if (escapes && sql[i] === '\\') {
          i += 2;
          continue;
        }
        if (sql[i] === "'") {
          if (sql[i + 1] === "'") {
            i += 2;
            continue;
          }
          i++;
          break;
        }
        i++;
      }
    } else if (c === '"') {
      const end = sql.indexOf('"', i + 1);
      if (end < 0) unterminated('quoted identifier');
      i = end + 1;
      // A doubled "" inside an identifier simply restarts the scan at the next quote.
    } else if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      i = end < 0 ? n : end + 1;
    } else if (c === '/' && sql[i + 1] === '*') {
      let depth = 1;
      i += 2;
      while (depth > 0) {
        if (i >= n) unterminated('block comment');
        if (sql[i] === '/' && sql[i + 1] === '*') {
          depth++;
          i += 2;
        } else if (sql[i] === '*' && sql[i + 1] === '/') {
          depth--;
          i += 2;
        } else i++;
      }
    } else if (c === '$' && !isIdentChar(sql[i - 1])) {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i));
      if (tag) {
        const end = sql.indexOf(tag[0], i + tag[0].length);
        if (end < 0) unterminated('dollar-quoted string');
        i = end + tag[0].length;
      } else if (/^\$\d/.test(sql.slice(i, i + 2))) {
        throw new SqlParameterError(`write parameters as ? or @name, not $n: ${sql.slice(0, 120)}`);
      } else i++;
    } else if (c === '?') {
      if (names.length > 0) throw mixed(sql);
      positional++;
      out += sql.slice(copied, i) + '$' + positional;
      i++;
      copied = i;
    } else if (c === '@' && isIdentStart(sql[i + 1]) && sql[i - 1] !== '@') {
      if (positional > 0) throw mixed(sql);
      let end = i + 2;
      while (end < n && isIdentChar(sql[end])) end++;
      const name = sql.slice(i + 1, end);
      let index = indexOf.get(name);
      if (index === undefined) {
        names.push(name);
        index = names.length;
        indexOf.set(name, index);
      }
      out += sql.slice(copied, i) + '$' + index;
      i = end;
      copied = i;
    } else i++;
  }
  out += sql.slice(copied);
  if (positional > 0) return { text: out, kind: 'positional', count: positional, names: [] };
  if (names.length > 0) return { text: out, kind: 'named', count: names.length, names };
  return { text: out, kind: 'none', count: 0, names: [] };
}

function mixed(sql: string): SqlParameterError {
  return new SqlParameterError(`a statement uses either ? or @name parameters, not both: ${sql.slice(0, 120)}`);
}

function isIdentStart(c: string | undefined): boolean {
  return c !== undefined && /[A-Za-z_]/.test(c);
}

function isIdentChar(c: string | undefined): boolean {
  return c !== undefined && /[A-Za-z0-9_$]/.test(c);
}

/**
 * Binds `params` to a rewritten statement's `$n` in order.
 *
 * Thrown errors: {@link SqlParameterError} when the values do not fit the placeholders.
 */
export function bindParameters(statement: RewrittenSql, params: SqlParams | undefined): SqlValue[] {
  const positionalParams = Array.isArray(params);
  switch (statement.kind) {
    case 'none':
      if (positionalParams && (params as readonly SqlValue[]).length > 0) {
        throw new SqlParameterError(`${(params as readonly SqlValue[]).length} values given to a statement without parameters`);
      }
      return [];
    case 'positional': {
      if (!positionalParams) throw new SqlParameterError(`the statement has ? parameters: pass an array of ${statement.count} values`);
      const values = params as readonly SqlValue[];
      if (values.length !== statement.count) {
        throw new SqlParameterError(`the statement has ${statement.count} ? parameters but ${values.length} values were given`);
      }
      return [...values];
    }
    case 'named': {
      if (params === undefined || positionalParams) {
        throw new SqlParameterError(`the statement has @name parameters: pass an object with ${statement.names.map((name) => `@${name}`).join(', ')}`);
      }
      const record = params as Readonly<Record<string, SqlValue>>;
      return statement.names.map((name) => {
        const value = record[name];
        if (value === undefined) throw new SqlParameterError(`named parameter @${name} has no value (use null for NULL)`);
        return value;
      });
    }
    default:
      return statement.kind satisfies never;
  }
}

/** Rewritten statements by their text: repositories run the same few dozen statements all day. */
const REWRITE_CACHE_LIMIT = 2_000;
const rewriteCache = new Map<string, RewrittenSql>();

function rewriteCached(sql: string): RewrittenSql {
  let statement = rewriteCache.get(sql);
  if (statement === undefined) {
    statement = rewriteParameters(sql);
    if (rewriteCache.size >= REWRITE_CACHE_LIMIT) rewriteCache.clear();
    rewriteCache.set(sql, statement);
  }
  return statement;
}

type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>;

async function execute(target: Queryable, sql: string, params: SqlParams | undefined): Promise<pg.QueryResult> {
  const statement = rewriteCached(sql);
  const values = bindParameters(statement, params);
  return target.query({ text: statement.text, values });
}

/** The SQLSTATE that makes a transaction worth re-running, found on `err` or its causes. */
function retryableState(err: unknown): string | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (code === SERIALIZATION_FAILURE || code === DEADLOCK) return code;
  }
  return undefined;
}

/** Full jitter over an exponential step (5 ms doubling, capped at 250 ms): re-runs of colliding transactions spread apart. */
function backoffMs(attempt: number): number {
  return Math.random() * Math.min(250, 5 * 2 ** (attempt - 1));
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Statements of one open transaction, on its dedicated connection. */
/** get / all / run of both executors over one `query` (the pool's, or a transaction's client). */
abstract class PostgresExecutor implements SqlExecutor {
  readonly dialect: SqlDialect = 'postgres';

  protected abstract query(sql: string, params: SqlParams | undefined): Promise<pg.QueryResult>;

  async get<T>(sql: string, params?: SqlParams): Promise<T | undefined> {
    return (await this.query(sql, params)).rows[0] as T | undefined;
  }

  async all<T>(sql: string, params?: SqlParams): Promise<T[]> {
    return (await this.query(sql, params)).rows as T[];
  }

  async run(sql: string, params?: SqlParams): Promise<SqlRunResult> {
    return { changes: (await this.query(sql, params)).rowCount ?? 0 };
  }
}

class TransactionExecutor extends PostgresExecutor {
  private open = true;

  constructor(private readonly client: pg.PoolClient) {
    super();
  }

  get isOpen(): boolean {
    return this.open;
  }

  end(): void {
    this.open = false;
  }

  protected query(sql: string, params: SqlParams | undefined): Promise<pg.QueryResult> {
    // A statement after commit or rollback would run outside the transaction on a pooled
    // connection someone else may hold by then.
    if (!this.open) return Promise.reject(new SqlClosedError('a statement through a transaction executor after the transaction ended'));
    return execute(this.client, sql, params);
  }
}

class PostgresDatabase extends PostgresExecutor implements SqlDatabase {
  /** The transaction whose `fn` is running, to catch statements sent to the database instead of to `tx`. */
  private readonly transactionContext = new AsyncLocalStorage<TransactionExecutor>();
  private closing: Promise<void> | undefined;

  constructor(
    private readonly pool: pg.Pool,
    readonly description: string,
    private readonly maxAttempts: number,
    private readonly transactionSlots: Semaphore,
  ) {
    super();
  }

  /**
   * One statement in its own implicit transaction. It, too, can lose a deadlock (40P01) or,
   * beside SERIALIZABLE transactions, a serialization check; having rolled back whole, it is
   * re-run like a transaction.
   */
  protected async query(sql: string, params: SqlParams | undefined): Promise<pg.QueryResult> {
    this.refuseMisuse();
    for (let attempt = 1; ; attempt++) {
      try {
        return await execute(this.pool, sql, params);
      } catch (err) {
        const state = retryableState(err);
        if (state === undefined) throw err;
        if (attempt >= this.maxAttempts) throw new PostgresConflictError(attempt, state, { cause: err });
        await sleep(backoffMs(attempt));
      }
    }
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    this.refuseMisuse();
    for (let attempt = 1; ; attempt++) {
      let outcome: { value: T } | { error: unknown };
      await this.transactionSlots.acquire();
      try {
        const client = await this.pool.connect();
        let broken: Error | undefined;
        try {
          outcome = { value: await this.runOnce(client, fn) };
        } catch (err) {
          outcome = { error: err };
          try {
            await client.query('ROLLBACK');
          } catch (rollbackError) {
            // The connection itself failed: destroy it rather than pool a client in an unknown state.
            broken = rollbackError as Error;
          }
        } finally {
          client.release(broken);
        }
      } finally {
        this.transactionSlots.release();
      }
      if ('value' in outcome) return outcome.value;
      const state = retryableState(outcome.error);
      if (state === undefined) throw outcome.error;
      if (attempt >= this.maxAttempts) throw new PostgresConflictError(attempt, state, { cause: outcome.error });
      await sleep(backoffMs(attempt));
    }
  }

  private async runOnce<T>(client: pg.PoolClient, fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    await client.query('BEGIN ISOLATION LEVEL SERIALIZABLE');
    const tx = new TransactionExecutor(client);
    let value: T;
    try {
      value = await this.transactionContext.run(tx, () => fn(tx));
    } finally {
      tx.end();
    }
    const commit = await client.query('COMMIT');
    if (commit.command === 'ROLLBACK') {
      throw new PostgresTransactionAbortedError('the transaction was rolled back at COMMIT: one of its statements failed and the error was caught inside the transaction');
    }
    return value;
  }

  /**
   * Same refusals as the SQLite driver, so a bug shows on both stores: here a statement on the
   * database inside its own transaction would run outside it on another connection (and, with
   * every pooled connection held by such transactions, wait forever).
   */
  private refuseMisuse(): void {
    if (this.transactionContext.getStore()?.isOpen) {
      throw new SqlTransactionMisuseError(
        'a statement on the database inside one of its own transactions would run outside that transaction: use the transaction executor (tx) passed to fn',
      );
    }
    if (this.closing) throw new SqlClosedError(`the database ${this.description} is closed`);
  }

  close(): Promise<void> {
    this.closing ??= this.pool.end();
    return this.closing;
  }
}

/** At most `slots` holders at once; the others wait in arrival order. */
class Semaphore {
  private free: number;
  private readonly waiting: Array<() => void> = [];

  constructor(slots: number) {
    this.free = slots;
  }

  acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}
