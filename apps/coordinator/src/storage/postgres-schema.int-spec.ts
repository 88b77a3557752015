import { startPostgres, type PostgresServerHandle } from '@benchfarm/testing';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migratePostgres, SCHEMA_VERSION_TABLE } from './postgres-migrations';
import { migrateSqlite } from './sqlite-migrations';

// The PostgreSQL migrations must build the same schema as the SQLite ones: both stores are
// migrated for real (a private PostgreSQL server, an in-memory SQLite file) and read back through
// their catalogs, table by table: columns with type / NOT NULL / default, primary keys, unique
// constraints, foreign keys with their ON DELETE, indexes, and how many CHECKs each table has.

interface TableShape {
  columns: Record<string, { type: string; notNull: boolean; default: string | null }>;
  primaryKey: string[];
  uniques: string[];
  foreignKeys: string[];
  indexes: Record<string, string>;
  checks: number;
}

/** SQLite's storage class to the PostgreSQL type the migrations use for it. */
const TYPE_OF: Record<string, string> = { INTEGER: 'bigint', REAL: 'double precision', BLOB: 'bytea', TEXT: 'text' };

function sqliteShape(db: Database.Database): Record<string, TableShape> {
  const shapes: Record<string, TableShape> = {};
  const tables = db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as { name: string; sql: string }[];
  for (const { name, sql } of tables) {
    const info = db.prepare('SELECT name, type, "notnull" AS not_null, dflt_value, pk FROM pragma_table_info(?)').all(name) as {
      name: string;
      type: string;
      not_null: number;
      dflt_value: string | null;
      pk: number;
    }[];
    const columns: TableShape['columns'] = {};
    for (const column of info) {
      // PRIMARY KEY columns are NOT NULL in PostgreSQL; SQLite reports them nullable unless declared.
      columns[column.name] = { type: TYPE_OF[column.type] ?? column.type, notNull: column.not_null === 1 || column.pk > 0, default: column.dflt_value };
    }
    const primaryKey = info.filter((column) => column.pk > 0).sort((a, b) => a.pk - b.pk).map((column) => column.name);
    const fks = db.prepare('SELECT id, seq, "table", "from", "to", on_delete FROM pragma_foreign_key_list(?) ORDER BY id, seq').all(name) as {
      id: number;
      table: string;
      from: string;
      to: string;
      on_delete: string;
    }[];
    const byId = new Map<number, typeof fks>();
    for (const fk of fks) byId.set(fk.id, [...(byId.get(fk.id) ?? []), fk]);
    const foreignKeys = [...byId.values()].map(
      (parts) => `(${parts.map((p) => p.from).join(',')}) -> ${parts[0]!.table}(${parts.map((p) => p.to).join(',')}) ON DELETE ${parts[0]!.on_delete}`,
    );
    const uniques: string[] = [];
    const indexes: Record<string, string> = {};
    for (const index of db.prepare('SELECT name, origin FROM pragma_index_list(?)').all(name) as { name: string; origin: string }[]) {
      const cols = (db.prepare('SELECT name FROM pragma_index_info(?) ORDER BY seqno').all(index.name) as { name: string }[]).map((c) => c.name).join(',');
      if (index.origin === 'u') uniques.push(cols);
      else if (index.origin === 'c') indexes[index.name] = cols;
    }
    shapes[name] = { columns, primaryKey, uniques: uniques.sort(), foreignKeys: foreignKeys.sort(), indexes, checks: (sql.match(/\bCHECK\s*\(/gi) ?? []).length };
  }
  return shapes;
}

async function postgresShape(client: pg.Client): Promise<Record<string, TableShape>> {
  const shapes: Record<string, TableShape> = {};
  const columns = await client.query<{ table_name: string; column_name: string; data_type: string; is_nullable: string; column_default: string | null }>(
    `SELECT table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns
     WHERE table_schema = current_schema() AND table_name <> $1 ORDER BY table_name, ordinal_position`,
    [SCHEMA_VERSION_TABLE],
  );
  for (const column of columns.rows) {
    const shape = (shapes[column.table_name] ??= { columns: {}, primaryKey: [], uniques: [], foreignKeys: [], indexes: {}, checks: 0 });
    shape.columns[column.column_name] = { type: column.data_type, notNull: column.is_nullable === 'NO', default: column.column_default };
  }
  const constraints = await client.query<{ table_name: string; conname: string; contype: string; cols: string[]; ref_table: string | null; ref_cols: string[] | null; confdeltype: string }>(
    `SELECT c.conrelid::regclass::text AS table_name, c.conname, c.contype, c.confdeltype,
       ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(n, i) JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i) AS cols,
       c.confrelid::regclass::text AS ref_table,
       ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY k(n, i) JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.i) AS ref_cols
     FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
     WHERE t.relnamespace = current_schema()::regnamespace AND t.relname <> $1`,
    [SCHEMA_VERSION_TABLE],
  );
  const onDelete: Record<string, string> = { a: 'NO ACTION', c: 'CASCADE', r: 'RESTRICT', n: 'SET NULL', d: 'SET DEFAULT' };
  for (const c of constraints.rows) {
    const shape = shapes[c.table_name]!;
    if (c.contype === 'p') shape.primaryKey = c.cols;
    else if (c.contype === 'u') shape.uniques.push(c.cols.join(','));
    else if (c.contype === 'c') shape.checks++;
    else if (c.contype === 'f') shape.foreignKeys.push(`(${c.cols.join(',')}) -> ${c.ref_table}(${c.ref_cols!.join(',')}) ON DELETE ${onDelete[c.confdeltype]}`);
  }
  const indexes = await client.query<{ table_name: string; index_name: string; cols: string[] }>(
    `SELECT t.relname AS table_name, i.relname AS index_name,
       ARRAY(SELECT a.attname::text FROM unnest(x.indkey) WITH ORDINALITY k(n, o) JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.n ORDER BY k.o) AS cols
     FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
     WHERE t.relnamespace = current_schema()::regnamespace AND t.relname <> $1
       AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)`,
    [SCHEMA_VERSION_TABLE],
  );
  for (const index of indexes.rows) shapes[index.table_name]!.indexes[index.index_name] = index.cols.join(',');
  for (const shape of Object.values(shapes)) {
    shape.uniques.sort();
    shape.foreignKeys.sort();
  }
  return shapes;
}

let server: PostgresServerHandle;
let sqlite: Record<string, TableShape>;
let postgres: Record<string, TableShape>;

beforeAll(async () => {
  server = await startPostgres();
  const pool = new pg.Pool({ connectionString: server.url });
  try {
    await migratePostgres(pool);
  } finally {
    await pool.end();
  }
  const client = new pg.Client({ connectionString: server.url });
  await client.connect();
  try {
    postgres = await postgresShape(client);
  } finally {
    await client.end();
  }
  const db = new Database(':memory:');
  try {
    migrateSqlite(db);
    sqlite = sqliteShape(db);
  } finally {
    db.close();
  }
});

afterAll(async () => {
  await server?.stop();
});

describe('PostgreSQL schema vs SQLite schema', () => {
  it('has the same tables', () => {
    expect(Object.keys(postgres).sort()).toEqual(Object.keys(sqlite).sort());
    expect(Object.keys(sqlite).length).toBeGreaterThan(10);
  });

  it('has the same columns, keys, foreign keys, indexes and CHECK counts in every table', () => {
    const actual = structuredClone(postgres);
    // The one intended difference: SQLite fills results.commit_seq from its rowid by trigger
    // (the column is nullable there); PostgreSQL numbers it with an identity column (NOT NULL).
    expect(actual.results?.columns.commit_seq).toEqual({ type: 'bigint', notNull: true, default: null });
    expect(sqlite.results?.columns.commit_seq).toEqual({ type: 'bigint', notNull: false, default: null });
    actual.results!.columns.commit_seq = sqlite.results!.columns.commit_seq!;
    // One comparison of every table, so a failure lists every difference at once.
    expect(actual).toEqual(sqlite);
  });
});
