import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DatabaseOpenError, type SqlDatabase } from './sql';
import { SqlClosedError, SqlTransactionMisuseError } from './sql';
import { openSqlite } from './sqlite';
import { SQLITE_MIGRATIONS } from './sqlite-migrations';

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A promise and the function that settles it, so a test decides when a transaction may go on. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

describe('openSqlite (real SQLite file)', () => {
  let dir: string;
  let db: SqlDatabase;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bf-sqlite-'));
    db = openSqlite(join(dir, 'coordinator.db'));
    await db.run('CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER NOT NULL, b BLOB) STRICT');
  });

  afterEach(async () => {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('describes itself as sqlite:<path> and binds positional and named parameters, BLOBs coming back as Buffers', async () => {
    expect(db.dialect).toBe('sqlite');
    expect(db.description).toBe(`sqlite:${join(dir, 'coordinator.db')}`);
    expect(await db.run('INSERT INTO t (k, n, b) VALUES (?, ?, ?)', ['a', 1, new Uint8Array([1, 2, 3])])).toEqual({ changes: 1 });
    expect(await db.run('INSERT INTO t (k, n, b) VALUES (@k, @n, @b)', { k: 'b', n: 2, b: null })).toEqual({ changes: 1 });
    const row = await db.get<{ k: string; n: number; b: Buffer }>('SELECT * FROM t WHERE k = ?', ['a']);
    expect(Buffer.isBuffer(row?.b)).toBe(true);
    expect([...row!.b]).toEqual([1, 2, 3]);
    expect(await db.all('SELECT k, n FROM t ORDER BY k')).toEqual([
      { k: 'a', n: 1 },
      { k: 'b', n: 2 },
    ]);
    expect(await db.get('SELECT * FROM t WHERE k = @k', { k: 'none' })).toBeUndefined();
    expect(await db.run('UPDATE t SET n = n + 1', [])).toEqual({ changes: 2 });
  });

  it('never interleaves two concurrent transactions: a read-modify-write in each loses no update', async () => {
    await db.run(`INSERT INTO t (k, n) VALUES ('counter', 0)`);
    const events: string[] = [];
    const increment = (name: string): Promise<void> =>
      db.transaction(async (tx) => {
        events.push(`${name} begin`);
        const row = await tx.get<{ n: number }>(`SELECT n FROM t WHERE k = 'counter'`);
        // A real wait between the read and the write: another transaction would get in here if it could.
        await pause(20);
        await tx.run(`UPDATE t SET n = ? WHERE k = 'counter'`, [row!.n + 1]);
        events.push(`${name} end`);
      });
    await Promise.all([increment('first'), increment('second'), increment('third')]);
    expect(events).toEqual(['first begin', 'first end', 'second begin', 'second end', 'third begin', 'third end']);
    expect(await db.get(`SELECT n FROM t WHERE k = 'counter'`)).toEqual({ n: 3 });
  });

  it('rolls back every statement of a transaction that throws, rethrows the error, and goes on serving', async () => {
    const failure = new Error('the third step failed');
    await expect(
      db.transaction(async (tx) => {
        await tx.run(`INSERT INTO t (k, n) VALUES ('x', 1)`);
        await tx.run(`INSERT INTO t (k, n) VALUES ('y', 2)`);
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(await db.all('SELECT k FROM t')).toEqual([]);
    // A failing statement (primary key) rolls back the statements before it too.
    await db.run(`INSERT INTO t (k, n) VALUES ('x', 1)`);
    await expect(
      db.transaction(async (tx) => {
        await tx.run(`INSERT INTO t (k, n) VALUES ('z', 3)`);
        await tx.run(`INSERT INTO t (k, n) VALUES ('x', 4)`);
      }),
    ).rejects.toThrow(/UNIQUE constraint failed/);
    expect(await db.all('SELECT k, n FROM t ORDER BY k')).toEqual([{ k: 'x', n: 1 }]);
    expect(await db.transaction(async (tx) => (await tx.run(`UPDATE t SET n = 5 WHERE k = 'x'`)).changes)).toBe(1);
  });

  it('commits transactions queued together in one SQLite transaction, keeping the others when one throws', async () => {
    // The real file's commit counter: a second connection reads it through SQLite's data_version.
    const observer = new Database(join(dir, 'coordinator.db'), { readonly: true });
    const version = (): number => observer.pragma('data_version', { simple: true }) as number;
    try {
      const before = version();
      const failure = new Error('the middle one failed');
      const outcomes = await Promise.allSettled(
        ['a', 'b', 'c', 'd', 'e'].map((k, i) =>
          db.transaction(async (tx) => {
            await tx.run('INSERT INTO t (k, n) VALUES (?, ?)', [k, i]);
            if (k === 'c') throw failure;
            // Each sees the writes of those before it in the batch.
            return (await tx.get<{ c: number }>('SELECT COUNT(*) AS c FROM t'))!.c;
          }),
        ),
      );
      expect(outcomes.map((o) => (o.status === 'fulfilled' ? o.value : (o.reason as Error).message))).toEqual([1, 2, 'the middle one failed', 3, 4]);
      expect(await db.all('SELECT k FROM t ORDER BY k')).toEqual([{ k: 'a' }, { k: 'b' }, { k: 'd' }, { k: 'e' }]);
      // Another connection saw the file change once: one COMMIT for the five.
      expect(version() - before).toBe(1);
    } finally {
      observer.close();
    }
  });

  it('keeps the queue order: a transaction queued after a plain statement runs after it, not in the batch before it', async () => {
    const release = gate();
    const order: string[] = [];
    const first = db.transaction(async (tx) => {
      await release.opened;
      await tx.run(`INSERT INTO t (k, n) VALUES ('first', 1)`);
      order.push('first');
    });
    const second = db.transaction(async () => {
      order.push('second');
    });
    const statement = db.run(`INSERT INTO t (k, n) VALUES ('statement', 2)`).then(() => order.push('statement'));
    const third = db.transaction(async (tx) => {
      order.push(`third saw ${(await tx.all('SELECT k FROM t')).length}`);
    });
    release.open();
    await Promise.all([first, second, statement, third]);
    expect(order).toEqual(['first', 'second', 'statement', 'third saw 2']);
  });

  it('answers a transaction only after its commit: a failed COMMIT rejects every transaction of the batch', async () => {
    // A deferred foreign key fails at COMMIT, not at the statement: the whole batch is refused.
    await db.run('CREATE TABLE parent (id TEXT PRIMARY KEY) STRICT');
    await db.run('CREATE TABLE child (id TEXT PRIMARY KEY, parent TEXT REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED) STRICT');
    const outcomes = await Promise.allSettled([
      db.transaction((tx) => tx.run(`INSERT INTO t (k, n) VALUES ('kept?', 1)`)),
      db.transaction((tx) => tx.run(`INSERT INTO child (id, parent) VALUES ('c', 'missing')`)),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
    expect(String((outcomes[0] as PromiseRejectedResult).reason)).toMatch(/FOREIGN KEY constraint failed/);
    expect(await db.all('SELECT k FROM t')).toEqual([]);
    expect(await db.all('SELECT id FROM child')).toEqual([]);
    expect(await db.transaction(async (tx) => (await tx.run(`INSERT INTO t (k, n) VALUES ('after', 1)`)).changes)).toBe(1);
  });

  it('holds a statement issued outside while a transaction is open, and runs it after the commit', async () => {
    const release = gate();
    let inserted!: () => void;
    const insertDone = new Promise<void>((resolve) => (inserted = resolve));
    const transaction = db.transaction(async (tx) => {
      await tx.run(`INSERT INTO t (k, n) VALUES ('inside', 1)`);
      inserted();
      await release.opened;
      await tx.run(`INSERT INTO t (k, n) VALUES ('inside-after-wait', 2)`);
      return 'committed';
    });
    await insertDone;
    let outsideDone = false;
    const outside = db.all<{ k: string }>('SELECT k FROM t ORDER BY k').then((rows) => {
      outsideDone = true;
      return rows;
    });
    await pause(50);
    expect(outsideDone).toBe(false);
    release.open();
    expect(await transaction).toBe('committed');
    // It saw the whole transaction, never half of it.
    expect(await outside).toEqual([{ k: 'inside' }, { k: 'inside-after-wait' }]);
  });

  it('refuses a statement or a transaction on the database from inside its own transaction instead of waiting forever', async () => {
    await expect(
      db.transaction(async () => {
        await db.get('SELECT 1');
      }),
    ).rejects.toBeInstanceOf(SqlTransactionMisuseError);
    await expect(db.transaction(() => db.transaction(async () => 1))).rejects.toBeInstanceOf(SqlTransactionMisuseError);
    // The queue is free again.
    expect(await db.get('SELECT 2 AS two')).toEqual({ two: 2 });
  });

  it('refuses a transaction executor used after its transaction ended', async () => {
    const leaked = await db.transaction(async (tx) => tx);
    await expect(leaked.get('SELECT 1')).rejects.toBeInstanceOf(SqlClosedError);
  });

  it('finishes statements queued before close and refuses those after', async () => {
    const queued = db.run(`INSERT INTO t (k, n) VALUES ('queued', 1)`);
    const closed = db.close();
    await expect(db.get('SELECT 1')).rejects.toBeInstanceOf(SqlClosedError);
    expect(await queued).toEqual({ changes: 1 });
    await closed;
    const reopened = openSqlite(join(dir, 'coordinator.db'));
    expect(await reopened.get(`SELECT n FROM t WHERE k = 'queued'`)).toEqual({ n: 1 });
    db = reopened;
  });
});

describe('SQLite migrations', () => {
  it('brings a file of the previous schema up to date, giving existing upload files their declared order', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bf-sqlite-migrate-'));
    const path = join(dir, 'old.db');
    try {
      const old = new Database(path);
      SQLITE_MIGRATIONS.slice(0, 6).forEach((sql, index) => {
        old.exec(sql);
        old.pragma(`user_version = ${index + 1}`);
      });
      old.prepare(`INSERT INTO dataset_uploads (id, dataset_id, name, manifest_json, created_at_ms, expires_at_ms) VALUES ('u', 'd', 'n', '{}', 1, 2)`).run();
      for (const sha of ['c', 'a', 'b']) old.prepare(`INSERT INTO dataset_upload_files (upload_id, sha256, size_bytes, kind, state) VALUES ('u', ?, 1, 'image', 'missing')`).run(sha);
      old.close();

      const db = openSqlite(path);
      try {
        expect(await db.get('PRAGMA user_version')).toEqual({ user_version: SQLITE_MIGRATIONS.length });
        expect((await db.all<{ sha256: string }>('SELECT sha256 FROM dataset_upload_files ORDER BY position')).map((r) => r.sha256)).toEqual(['c', 'a', 'b']);
      } finally {
        await db.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rebuilds sweeps for the deriving state keeping every sweep, variant and job (foreign keys off for the rebuild, checked after)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bf-sqlite-deriving-'));
    const path = join(dir, 'old.db');
    try {
      const old = new Database(path);
      old.pragma('foreign_keys = ON');
      SQLITE_MIGRATIONS.slice(0, 9).forEach((sql, index) => {
        old.exec(sql);
        old.pragma(`user_version = ${index + 1}`);
      });
      old.prepare(`INSERT INTO sweeps (id, name, state, created_at_ms, updated_at_ms, model_name, model_sha256, model_size_bytes, inputs_json, settings_json, targets_json, agent_ids_json, cancelled_at_ms) VALUES ('s1', 'n', 'completed', 1, 2, 'm', 'x', 3, '[]', '{}', '[]', '[]', 4)`).run();
      old.prepare(`INSERT INTO variants (sweep_id, name, position, sha256, size_bytes, recipe_json) VALUES ('s1', 'fp32', 0, 'y', 5, '{}')`).run();
      old.prepare(`INSERT INTO jobs (id, sweep_id, position, variant, agent_id, agent_name, execution_provider, state, created_at_ms, updated_at_ms) VALUES ('j1', 's1', 0, 'fp32', 'a', 'a', 'cpu', 'done', 1, 2)`).run();
      old.close();

      const db = openSqlite(path);
      try {
        expect(await db.get('PRAGMA user_version')).toEqual({ user_version: SQLITE_MIGRATIONS.length });
        expect(await db.get('SELECT id, state, cancelled_at_ms, derivation_json FROM sweeps')).toEqual({ id: 's1', state: 'completed', cancelled_at_ms: 4, derivation_json: null });
        expect([(await db.all('SELECT * FROM variants')).length, (await db.all('SELECT * FROM jobs')).length]).toEqual([1, 1]);
        expect(await db.get('PRAGMA foreign_keys')).toEqual({ foreign_keys: 1 });
        await db.run(`UPDATE sweeps SET state = 'deriving' WHERE id = 's1'`);
        await expect(db.run(`UPDATE sweeps SET state = 'paused' WHERE id = 's1'`)).rejects.toThrow(/CHECK constraint/);
        // The children still point at the rebuilt table: deleting the sweep cascades.
        await db.run(`DELETE FROM sweeps WHERE id = 's1'`);
        expect([(await db.all('SELECT * FROM variants')).length, (await db.all('SELECT * FROM jobs')).length]).toEqual([0, 0]);
      } finally {
        await db.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names the path when the file cannot be opened', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bf-sqlite-bad-'));
    try {
      // A regular file where the folder should be.
      writeFileSync(join(dir, 'not-a-folder'), '');
      const path = join(dir, 'not-a-folder', 'x.db');
      expect(() => openSqlite(path)).toThrow(DatabaseOpenError);
      expect(() => openSqlite(path)).toThrow(`cannot open SQLite database ${path}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
