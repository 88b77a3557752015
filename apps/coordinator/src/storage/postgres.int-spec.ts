import { startPostgres, type PostgresServerHandle } from '@benchfarm/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres, PostgresConflictError, PostgresOpenError, PostgresTransactionAbortedError, SqlParameterError } from './postgres';
import { migratePostgres, POSTGRES_MIGRATIONS, PostgresSchemaTooNewError, SCHEMA_VERSION_TABLE } from './postgres-migrations';
import type { SqlDatabase } from './sql';
import { SqlClosedError, SqlTransactionMisuseError } from './sql';

// The PostgreSQL driver against a real server started for this file (initdb + postgres on a
// free loopback port); each test that changes the schema gets a database of its own.

let server: PostgresServerHandle;
let db: SqlDatabase;
/** The server's log: PostgreSQL logs every ERROR, so it shows which conflicts really happened. */
const serverLog: string[] = [];

beforeAll(async () => {
  server = await startPostgres({ log: (line) => serverLog.push(line) });
  db = await openPostgres(server.url);
  await db.run('CREATE TABLE kv (k TEXT PRIMARY KEY, n BIGINT NOT NULL, note TEXT, bytes BYTEA)');
});

afterAll(async () => {
  await db?.close();
  await server?.stop();
});

async function adminClient(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return client;
}

describe('parameters', () => {
  it('binds positional and named parameters, leaving ? and @name inside quotes and comments alone', async () => {
    await db.run('INSERT INTO kv (k, n, note) VALUES (?, ?, ?)', ['pos', 1, "it's ? and @x"]);
    await db.run('INSERT INTO kv (k, n, note) VALUES (@k, @n, @note)', { k: 'named', n: 2, note: null });
    expect(await db.get('SELECT n, note FROM kv WHERE k = ?', ['pos'])).toEqual({ n: 1, note: "it's ? and @x" });
    expect(await db.get('SELECT n, note FROM kv WHERE k = @k', { k: 'named' })).toEqual({ n: 2, note: null });

    const row = await db.get<Record<string, unknown>>(
      `SELECT '?' AS q, 'a @b' AS at, "n" AS "odd?name", $x$ ? @y $x$ AS dollar, @v::bigint + @v AS twice -- ? @z
       FROM kv WHERE k = @k /* ? */`,
      { k: 'pos', v: 20 },
    );
    expect(row).toEqual({ q: '?', at: 'a @b', 'odd?name': 1, dollar: ' ? @y ', twice: 40 });
  });

  it('refuses mixed placeholders and missing values before reaching the server', async () => {
    await expect(db.get('SELECT ?, @a', [1])).rejects.toThrow(SqlParameterError);
    await expect(db.get('SELECT @a, @b', { a: 1 })).rejects.toThrow(/@b has no value/);
  });
});

describe('values', () => {
  it('reads BIGINT and NUMERIC as numbers (counts, sums, averages) and leaves pg global parsers alone', async () => {
    const row = await db.get<Record<string, unknown>>(
      `SELECT 9007199254740991::bigint AS max_safe, count(*) AS rows, sum(n) AS total, avg(n) AS mean, 12.25::numeric AS exact, 3.5::double precision AS real FROM kv WHERE k IN ('pos', 'named')`,
    );
    expect(row).toEqual({ max_safe: 9_007_199_254_740_991, rows: 2, total: 3, mean: 1.5, exact: 12.25, real: 3.5 });

    // Another client in the same process still gets pg's defaults: strings for BIGINT / NUMERIC.
    const other = await adminClient(server.url);
    try {
      const plain = (await other.query('SELECT 5::bigint AS b, 1.5::numeric AS n')).rows[0];
      expect(plain).toEqual({ b: '5', n: '1.5' });
    } finally {
      await other.end();
    }
  });

  it('refuses a BIGINT beyond 2^53 rather than lose digits', async () => {
    await expect(db.get('SELECT 9007199254740993::bigint AS v')).rejects.toThrow(/beyond 2\^53/);
  });

  it('round-trips bytes: a Uint8Array view with an offset in, a Buffer out', async () => {
    const latencies = new Float64Array([1.25, 2.5, 1e-9, 12345.678]);
    const backing = new Uint8Array(8 + latencies.byteLength);
    backing.set(new Uint8Array(latencies.buffer), 8);
    const view = backing.subarray(8);
    await db.run('INSERT INTO kv (k, n, bytes) VALUES (?, ?, ?)', ['bytes', 0, view]);
    const row = await db.get<{ bytes: Buffer }>('SELECT bytes FROM kv WHERE k = ?', ['bytes']);
    expect(Buffer.isBuffer(row?.bytes)).toBe(true);
    expect(row?.bytes.length).toBe(32);
    const decoded = new Float64Array(row!.bytes.buffer.slice(row!.bytes.byteOffset, row!.bytes.byteOffset + row!.bytes.length));
    expect([...decoded]).toEqual([1.25, 2.5, 1e-9, 12345.678]);
  });

  it('reports changed rows as changes', async () => {
    await db.run("INSERT INTO kv (k, n) VALUES ('c1', 0), ('c2', 0), ('c3', 0)");
    expect(await db.run("UPDATE kv SET n = n + 1 WHERE k LIKE 'c%'")).toEqual({ changes: 3 });
    expect(await db.run("DELETE FROM kv WHERE k = 'nothing'")).toEqual({ changes: 0 });
    expect(await db.run('INSERT INTO kv (k, n) VALUES (?, 0) ON CONFLICT (k) DO NOTHING', ['c1'])).toEqual({ changes: 0 });
  });
});

describe('transactions', () => {
  it('commits what fn wrote and returns its value', async () => {
    const value = await db.transaction(async (tx) => {
      await tx.run('INSERT INTO kv (k, n) VALUES (?, ?)', ['tx-ok', 7]);
      return (await tx.get<{ n: number }>('SELECT n FROM kv WHERE k = ?', ['tx-ok']))?.n;
    });
    expect(value).toBe(7);
    expect(await db.get('SELECT n FROM kv WHERE k = ?', ['tx-ok'])).toEqual({ n: 7 });
  });

  it('rolls back when fn throws and rethrows the same error', async () => {
    const thrown = new Error('fn failed');
    await expect(
      db.transaction(async (tx) => {
        await tx.run('INSERT INTO kv (k, n) VALUES (?, ?)', ['tx-rolled-back', 1]);
        throw thrown;
      }),
    ).rejects.toBe(thrown);
    expect(await db.get('SELECT n FROM kv WHERE k = ?', ['tx-rolled-back'])).toBeUndefined();
  });

  it('refuses a statement through a transaction that has ended', async () => {
    let leaked: Parameters<Parameters<SqlDatabase['transaction']>[0]>[0] | undefined;
    await db.transaction(async (tx) => {
      leaked = tx;
    });
    await expect(leaked!.get('SELECT 1')).rejects.toThrow(SqlClosedError);
  });

  it('refuses a statement or transaction on the database from inside its own transaction, as SQLite does', async () => {
    await expect(
      db.transaction(async (tx) => {
        await tx.run('INSERT INTO kv (k, n) VALUES (?, ?)', ['tx-misuse', 1]);
        await db.get('SELECT 1');
      }),
    ).rejects.toThrow(SqlTransactionMisuseError);
    await expect(db.transaction(() => db.transaction(async () => 1))).rejects.toThrow(SqlTransactionMisuseError);
    expect(await db.get('SELECT n FROM kv WHERE k = ?', ['tx-misuse'])).toBeUndefined();
  });

  it('names a transaction whose failed statement fn swallowed (PostgreSQL rolls it back at COMMIT)', async () => {
    await expect(
      db.transaction(async (tx) => {
        await tx.run('INSERT INTO kv (k, n) VALUES (?, ?)', ['tx-swallowed', 1]);
        await tx.run('INSERT INTO kv (k, n) VALUES (?, ?)', ['tx-swallowed', 2]).catch(() => undefined);
      }),
    ).rejects.toThrow(PostgresTransactionAbortedError);
    expect(await db.get('SELECT n FROM kv WHERE k = ?', ['tx-swallowed'])).toBeUndefined();
  });

  it('runs one transaction at a time by default: 24 concurrent read-then-write increments end at 24, none re-run', async () => {
    await db.run("INSERT INTO kv (k, n) VALUES ('serial-counter', 0)");
    let runs = 0;
    let running = 0;
    let mostAtOnce = 0;
    await Promise.all(
      Array.from({ length: 24 }, () =>
        db.transaction(async (tx) => {
          runs++;
          mostAtOnce = Math.max(mostAtOnce, ++running);
          const row = await tx.get<{ n: number }>("SELECT n FROM kv WHERE k = 'serial-counter'");
          await tx.run("UPDATE kv SET n = ? WHERE k = 'serial-counter'", [row!.n + 1]);
          running--;
        }),
      ),
    );
    expect(await db.get("SELECT n FROM kv WHERE k = 'serial-counter'")).toEqual({ n: 24 });
    expect({ runs, mostAtOnce }).toEqual({ runs: 24, mostAtOnce: 1 });
  });

  it('re-runs conflicting SERIALIZABLE transactions: 24 concurrent read-then-write increments end at 24', async () => {
    // Transactions side by side, as two processes on one database would run them.
    const parallel = await openPostgres(server.url, { migrate: false, concurrentTransactions: 10 });
    try {
      await parallel.run("INSERT INTO kv (k, n) VALUES ('counter', 0)");
      let runs = 0;
      const increments = 24;
      await Promise.all(
        Array.from({ length: increments }, () =>
          parallel.transaction(async (tx) => {
            runs++;
            const row = await tx.get<{ n: number }>("SELECT n FROM kv WHERE k = 'counter'");
            await tx.run("UPDATE kv SET n = ? WHERE k = 'counter'", [row!.n + 1]);
          }),
        ),
      );
      expect(await parallel.get("SELECT n FROM kv WHERE k = 'counter'")).toEqual({ n: increments });
      // More runs than increments: the conflicts happened and were re-run, not avoided.
      expect(runs).toBeGreaterThan(increments);
      expect(serverLog.some((line) => line.includes('could not serialize access'))).toBe(true);
    } finally {
      await parallel.close();
    }
  });

  it('re-runs the loser of a deadlock (40P01)', async () => {
    await db.run("INSERT INTO kv (k, n) VALUES ('dl-a', 0), ('dl-b', 0)");
    // Both first runs take one row each, then wait for each other to hold it before reaching
    // for the other's row: PostgreSQL's deadlock detector aborts one, which is re-run.
    let holding = 0;
    let release: () => void = () => undefined;
    const bothHolding = new Promise<void>((resolve) => (release = resolve));
    const runs = { ab: 0, ba: 0 };
    const parallel = await openPostgres(server.url, { migrate: false, concurrentTransactions: 2 });
    const lockInOrder = (first: string, second: string, name: 'ab' | 'ba') =>
      parallel.transaction(async (tx) => {
        runs[name]++;
        await tx.run('UPDATE kv SET n = n + 1 WHERE k = ?', [first]);
        if (runs[name] === 1) {
          if (++holding === 2) release();
          await bothHolding;
        }
        await tx.run('UPDATE kv SET n = n + 1 WHERE k = ?', [second]);
      });
    await Promise.all([lockInOrder('dl-a', 'dl-b', 'ab'), lockInOrder('dl-b', 'dl-a', 'ba')]).finally(() => parallel.close());
    // One first run lost the deadlock; its re-run can also meet the winner's commit (40001).
    expect(runs.ab + runs.ba).toBeGreaterThanOrEqual(3);
    expect(serverLog.some((line) => line.includes('deadlock detected'))).toBe(true);
    expect(await db.all("SELECT k, n FROM kv WHERE k LIKE 'dl-%' ORDER BY k")).toEqual([
      { k: 'dl-a', n: 2 },
      { k: 'dl-b', n: 2 },
    ]);
  });

  it('gives up after maxAttempts runs with an error naming the serialization failure', async () => {
    const url = await server.createDatabase();
    const limited = await openPostgres(url, { maxAttempts: 3, migrate: false });
    const other = await adminClient(url);
    try {
      await limited.run("CREATE TABLE c (k TEXT PRIMARY KEY, n BIGINT NOT NULL); INSERT INTO c VALUES ('x', 0)");
      let runs = 0;
      // Every run reads the row, then another connection changes it before the run writes it.
      const attempt = limited.transaction(async (tx) => {
        runs++;
        await tx.get("SELECT n FROM c WHERE k = 'x'");
        await other.query("UPDATE c SET n = n + 100 WHERE k = 'x'");
        await tx.run("UPDATE c SET n = n + 1 WHERE k = 'x'");
      });
      const error = await attempt.then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(error).toBeInstanceOf(PostgresConflictError);
      expect((error as PostgresConflictError).attempts).toBe(3);
      expect((error as PostgresConflictError).sqlState).toBe('40001');
      expect((error as Error).message).toMatch(/serialization failure \(SQLSTATE 40001\) persisted through 3 attempts/);
      expect(((error as Error).cause as { code?: string }).code).toBe('40001');
      expect(runs).toBe(3);
      expect(await limited.get("SELECT n FROM c WHERE k = 'x'")).toEqual({ n: 300 });
    } finally {
      await other.end();
      await limited.close();
    }
  });
});

describe('pool', () => {
  it('opens at most poolSize connections', async () => {
    const small = await openPostgres(server.url, { poolSize: 2, migrate: false });
    const watcher = await adminClient(server.url);
    try {
      const sleeping = Promise.all(Array.from({ length: 5 }, () => small.get("SELECT pg_sleep(0.4), 'slept' AS s")));
      await new Promise((resolve) => setTimeout(resolve, 200));
      const active = await watcher.query(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'benchfarm-coordinator' AND pid <> pg_backend_pid() AND query LIKE '%pg_sleep%'",
      );
      expect(active.rows[0].n).toBe(2);
      expect(await sleeping).toHaveLength(5);
    } finally {
      await watcher.end();
      await small.close();
    }
  });

  it('survives its idle connections being dropped by the server: reported, then replaced on the next statement', async () => {
    const idleErrors: Error[] = [];
    // A database of its own: the server drops every idle coordinator connection to it.
    const url = await server.createDatabase();
    const dropped = await openPostgres(url, { migrate: false, poolSize: 3, onIdleError: (err) => idleErrors.push(err) });
    const admin = await adminClient(url);
    try {
      await Promise.all([dropped.get('SELECT pg_sleep(0.05)'), dropped.get('SELECT pg_sleep(0.05)'), dropped.get('SELECT pg_sleep(0.05)')]);
      const killed = await admin.query(
        "SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name = 'benchfarm-coordinator' AND datname = current_database() AND state = 'idle' AND pid <> pg_backend_pid()",
      );
      expect(killed.rows[0].n).toBeGreaterThanOrEqual(3);
      await expect.poll(() => idleErrors.length, { timeout: 5_000 }).toBeGreaterThanOrEqual(3);
      expect(idleErrors[0]!.message).toMatch(/terminat/);
      expect(await dropped.get('SELECT 42 AS answer')).toEqual({ answer: 42 });
      expect(await dropped.transaction((tx) => tx.get('SELECT 43 AS answer'))).toEqual({ answer: 43 });
    } finally {
      await admin.end();
      await dropped.close();
    }
  });
});

describe('opening', () => {
  it('names host and database but never the password when the server is unreachable', async () => {
    const closedPort = server.port === 1 ? 2 : 1;
    const error = await openPostgres(`postgres://bench:s3cret-pw@127.0.0.1:${closedPort}/labdb`, { connectTimeoutMs: 2_000 }).then(
      () => undefined,
      (err: unknown) => err as Error,
    );
    expect(error).toBeInstanceOf(PostgresOpenError);
    expect(error?.message).toContain(`postgres://bench@127.0.0.1:${closedPort}/labdb`);
    expect(error?.message).not.toContain('s3cret-pw');
  });

  it('names a database that does not exist', async () => {
    const missing = server.url.replace(/\/[^/]+$/, '/no_such_db');
    await expect(openPostgres(missing)).rejects.toThrow(/cannot connect to PostgreSQL postgres:\/\/postgres@127\.0\.0\.1:\d+\/no_such_db: database "no_such_db" does not exist/);
  });

  it('refuses statements once closed; closing twice is harmless', async () => {
    const opened = await openPostgres(server.url, { migrate: false });
    await opened.close();
    await opened.close();
    await expect(opened.get('SELECT 1')).rejects.toThrow(SqlClosedError);
    await expect(opened.transaction(async () => 1)).rejects.toThrow(SqlClosedError);
  });

  it('describes itself without the password', async () => {
    const withPassword = server.url.replace('postgres@', 'postgres:ignored-by-trust@');
    const opened = await openPostgres(withPassword, { migrate: false });
    try {
      expect(opened.description).toBe(server.url);
      expect(opened.dialect).toBe('postgres');
    } finally {
      await opened.close();
    }
  });
});

describe('migrations', () => {
  it('records every version once and is idempotent', async () => {
    const url = await server.createDatabase();
    const first = await openPostgres(url);
    await first.close();
    const pool = new pg.Pool({ connectionString: url });
    try {
      expect(await migratePostgres(pool)).toEqual({ from: POSTGRES_MIGRATIONS.length, to: POSTGRES_MIGRATIONS.length });
      const versions = await pool.query(`SELECT version FROM ${SCHEMA_VERSION_TABLE} ORDER BY version`);
      expect(versions.rows.map((row: { version: number }) => row.version)).toEqual(POSTGRES_MIGRATIONS.map((_sql, index) => index + 1));
    } finally {
      await pool.end();
    }
  });

  it('applies only the pending ones to an older database', async () => {
    const url = await server.createDatabase();
    const pool = new pg.Pool({ connectionString: url });
    try {
      const extra = 'CREATE TABLE later_addition (id TEXT PRIMARY KEY)';
      expect(await migratePostgres(pool)).toEqual({ from: 0, to: POSTGRES_MIGRATIONS.length });
      expect(await migratePostgres(pool, [...POSTGRES_MIGRATIONS, extra])).toEqual({
        from: POSTGRES_MIGRATIONS.length,
        to: POSTGRES_MIGRATIONS.length + 1,
      });
      expect((await pool.query("SELECT to_regclass('later_addition') IS NOT NULL AS present")).rows[0]).toEqual({ present: true });
    } finally {
      await pool.end();
    }
  });

  it('rolls back a failing migration with its version row', async () => {
    const url = await server.createDatabase();
    const pool = new pg.Pool({ connectionString: url });
    try {
      await migratePostgres(pool);
      const broken = 'CREATE TABLE half_done (id TEXT); SELECT no_such_function()';
      await expect(migratePostgres(pool, [...POSTGRES_MIGRATIONS, broken])).rejects.toThrow(/no_such_function/);
      expect((await pool.query("SELECT to_regclass('half_done') IS NULL AS absent")).rows[0]).toEqual({ absent: true });
      expect((await pool.query(`SELECT max(version) AS v FROM ${SCHEMA_VERSION_TABLE}`)).rows[0].v).toBe(POSTGRES_MIGRATIONS.length);
    } finally {
      await pool.end();
    }
  });

  it('refuses a database migrated by newer code', async () => {
    const url = await server.createDatabase();
    await (await openPostgres(url)).close();
    const admin = await adminClient(url);
    try {
      await admin.query(`INSERT INTO ${SCHEMA_VERSION_TABLE} (version, applied_at_ms) VALUES ($1, 0)`, [POSTGRES_MIGRATIONS.length + 1]);
    } finally {
      await admin.end();
    }
    const error = await openPostgres(url).then(
      () => undefined,
      (err: unknown) => err as Error,
    );
    expect(error).toBeInstanceOf(PostgresOpenError);
    expect(error?.cause).toBeInstanceOf(PostgresSchemaTooNewError);
    expect(error?.message).toMatch(
      new RegExp(`schema version ${POSTGRES_MIGRATIONS.length + 1}, newer than this coordinator knows \\(${POSTGRES_MIGRATIONS.length}\\)`),
    );
  });

  it('two coordinators opening a fresh database at once migrate it once', async () => {
    const url = await server.createDatabase();
    const opened = await Promise.all([openPostgres(url), openPostgres(url), openPostgres(url)]);
    try {
      const rows = await opened[0]!.all<{ version: number; n: number }>(
        `SELECT version, count(*) AS n FROM ${SCHEMA_VERSION_TABLE} GROUP BY version ORDER BY version`,
      );
      expect(rows).toEqual(POSTGRES_MIGRATIONS.map((_sql, index) => ({ version: index + 1, n: 1 })));
      expect(await opened[2]!.get("SELECT count(*) AS n FROM information_schema.tables WHERE table_name = 'sweeps'")).toEqual({ n: 1 });
    } finally {
      await Promise.all(opened.map((store) => store.close()));
    }
  });
});
