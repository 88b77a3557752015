import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { newSweep, summary } from '../testing/store-fixtures';
import { testStores } from '../testing/stores';
import { copyStore, StoreCopyError, STORE_TABLES } from './copy-store';
import { SqlLeaseRepository } from './lease.repository';
import { SqlResultRepository } from './result.repository';
import { openSqlite } from './sqlite';
import { SqlSweepRepository } from './sweep.repository';
import type { SqlDatabase, SqlExecutor } from './sql';

// SQLite -> PostgreSQL copy on real stores: a SQLite file filled through the coordinator's own
// repositories (sweeps, leases, committed results with samples, an attempt still running), and a
// private PostgreSQL server (testStores). Every table is compared row by row after the copy.

/** Fills a store as a coordinator would: two sweeps, leases, four results, one attempt still running. */
async function fill(db: SqlDatabase): Promise<void> {
  const sweeps = new SqlSweepRepository(db);
  const leases = new SqlLeaseRepository(db);
  const results = new SqlResultRepository(db);
  await sweeps.create(newSweep('sweep_1', ['j1', 'j2', 'j3']));
  await sweeps.create(newSweep('sweep_2', ['k1', 'k2']));
  let n = 0;
  for (const [sweepId, jobId] of [['sweep_1', 'j1'], ['sweep_1', 'j2'], ['sweep_2', 'k1'], ['sweep_2', 'k2'], ['sweep_1', 'j3']] as const) {
    n++;
    await leases.acquire({ jobId, sweepId, agentId: 'a1', token: `t-${jobId}`, maxAttempts: 3, nowMs: 10 + n });
    if (jobId === 'j3') continue; // still running: its lease stays active
    const latencyMs = Array.from({ length: 50 }, (_, i) => 1 + ((i * 7 + n) % 13) / 10);
    await results.commitResult({ jobId, attempt: 1, uploadId: `u-${jobId}`, agentId: 'a1', resultId: `r-${jobId}`, summary: summary(latencyMs.length), latencyMs, nowMs: 100 + n });
    await leases.release(`t-${jobId}`, 100 + n);
  }
}

/** Every row of a table, as sorted JSON texts (bytes as hex), to compare two stores. */
async function rowsOf(db: SqlExecutor, table: string): Promise<string[]> {
  const rows = await db.all<Record<string, unknown>>(`SELECT * FROM ${table}`);
  return rows
    .map((row) => JSON.stringify(Object.keys(row).sort().map((key) => [key, Buffer.isBuffer(row[key]) ? `hex:${(row[key] as Buffer).toString('hex')}` : row[key]])))
    .sort();
}

describe('copyStore: SQLite file to PostgreSQL', () => {
  const postgres = testStores('postgres');
  let dir: string;
  let source: SqlDatabase;
  const open: SqlDatabase[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'benchfarm-copy-'));
    source = openSqlite(join(dir, 'coordinator.db'));
    await fill(source);
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((db) => db.close()));
  });
  afterAll(async () => {
    await source.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('copies every row of every table, and the copy reads back the same through the repositories', async () => {
    const destination = await postgres.open();
    open.push(destination);
    const seen: string[] = [];
    const report = await copyStore(source, destination, { batchRows: 2, onTable: (table) => seen.push(table) });
    expect(seen).toEqual([...STORE_TABLES]);
    expect(report.tables.find((t) => t.table === 'results')?.rows).toBe(4);
    expect(report.tables.find((t) => t.table === 'jobs')?.rows).toBe(5);
    let total = 0;
    for (const table of STORE_TABLES) {
      const [from, to] = await Promise.all([rowsOf(source, table), rowsOf(destination, table)]);
      expect(to, table).toEqual(from);
      total += from.length;
    }
    expect(report.rows).toBe(total);
    for (const id of ['sweep_1', 'sweep_2']) {
      expect(await new SqlSweepRepository(destination).get(id)).toEqual(await new SqlSweepRepository(source).get(id));
    }
    expect(await new SqlResultRepository(destination).getSamples('j2')).toEqual(await new SqlResultRepository(source).getSamples('j2'));
    // The copy goes on working: the running attempt's lease is valid, and its result commits
    // after the copied ones (commit_seq continues past theirs).
    const results = new SqlResultRepository(destination);
    expect(await results.commitResult({ jobId: 'j3', attempt: 1, uploadId: 'u-j3', agentId: 'a1', resultId: 'r-j3', summary: summary(3), latencyMs: [1, 2, 3], nowMs: 200 })).toEqual({
      outcome: 'committed',
      resultId: 'r-j3',
    });
    const seqs = await destination.all<{ id: string; commit_seq: number }>('SELECT id, commit_seq FROM results ORDER BY commit_seq');
    expect(seqs.map((row) => row.id)).toEqual(['r-j1', 'r-j2', 'r-k1', 'r-k2', 'r-j3']);
    expect((await new SqlSweepRepository(destination).get('sweep_1'))?.state).toBe('completed');
  });

  it('refuses a destination that already holds rows, naming the table, and writes nothing', async () => {
    const destination = await postgres.open();
    open.push(destination);
    await new SqlSweepRepository(destination).create(newSweep('already_there', ['x1']));
    const before = await rowsOf(destination, 'jobs');
    await expect(copyStore(source, destination)).rejects.toThrow(new StoreCopyError("the PostgreSQL store is not empty: table 'sweeps' has 1 row(s); copy into a new, empty database"));
    expect(await rowsOf(destination, 'jobs')).toEqual(before);
    expect(await rowsOf(destination, 'results')).toEqual([]);
  });

  it('rolls the whole copy back when a batch fails part-way', async () => {
    const destination = await postgres.open();
    open.push(destination);
    // The destination refuses one lease row: tables before job_leases were already written.
    await destination.run("ALTER TABLE job_leases ADD CONSTRAINT refuse_one CHECK (token <> 't-k2')");
    await expect(copyStore(source, destination, { batchRows: 1 })).rejects.toThrow(/refuse_one/);
    for (const table of STORE_TABLES) expect(await rowsOf(destination, table), table).toEqual([]);
  });

  it('refuses the wrong kinds of store', async () => {
    const other = openSqlite(':memory:');
    open.push(other);
    await expect(copyStore(source, other)).rejects.toThrow(/the destination must be a PostgreSQL store \(got sqlite::memory:\)/);
    const destination = await postgres.open();
    open.push(destination);
    await expect(copyStore(destination, source)).rejects.toThrow(/the source must be a SQLite store/);
    await expect(copyStore(source, destination, { batchRows: 0 })).rejects.toThrow(/batchRows must be an integer >= 1 \(got 0\)/);
  });
});
