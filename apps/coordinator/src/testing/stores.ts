import { startPostgres, type PostgresServerHandle } from '@benchfarm/testing';
import pg from 'pg';
import { afterAll } from 'vitest';
import { openPostgres } from '../storage/postgres';
import { migratePostgres } from '../storage/postgres-migrations';
import { openSqlite } from '../storage/sqlite';
import type { SqlDatabase } from '../storage/sql';

/**
 * Runs a test file's storage tests on both stores:
 *
 * ```ts
 * describe.each(STORE_KINDS)('sweep repository on %s', (kind) => {
 *   const stores = testStores(kind);
 *   let db: SqlDatabase;
 *   beforeEach(async () => { db = await stores.open(); });
 *   afterEach(() => db.close());
 * });
 * ```
 *
 * SQLite: a private in-memory database per open. PostgreSQL: one real server per test file
 * (`startPostgres`, stopped after the describe block), a schema-migrated template database built
 * once, and a fresh database copied from it per open (CREATE DATABASE ... TEMPLATE: tens of
 * milliseconds, instead of migrating each one).
 */

/** The stores the coordinator runs on. */
export type StoreKind = 'sqlite' | 'postgres';

/** Both stores, for `describe.each`. */
export const STORE_KINDS: readonly StoreKind[] = ['sqlite', 'postgres'];

/** Fresh stores of one kind for one describe block. */
export interface TestStores {
  readonly kind: StoreKind;
  /** A new, migrated, empty store; closed by the block's afterAll if the test did not close it. */
  open(): Promise<SqlDatabase>;
  /**
   * PostgreSQL only: the URL of a new, migrated, empty database, for a coordinator started with
   * `BENCHFARM_DATABASE_URL` (nothing of it is opened here).
   */
  databaseUrl(): Promise<string>;
}

const TEMPLATE = 'benchfarm_migrated_template';

/** The file's PostgreSQL server with its migrated template, started on first use. */
let shared: Promise<PostgresServerHandle> | undefined;

async function postgresServer(): Promise<PostgresServerHandle> {
  shared ??= (async () => {
    const server = await startPostgres();
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${TEMPLATE}`);
    } finally {
      await admin.end();
    }
    const pool = new pg.Pool({ connectionString: server.url.replace(/\/[^/]+$/, `/${TEMPLATE}`) });
    try {
      await migratePostgres(pool);
    } finally {
      // A template database must have no connections while it is copied.
      await pool.end();
    }
    return server;
  })();
  return shared;
}

let copies = 0;

async function freshPostgresUrl(): Promise<string> {
  const server = await postgresServer();
  const name = `benchfarm_test_${process.pid}_${++copies}`;
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name} TEMPLATE ${TEMPLATE}`);
  } finally {
    await admin.end();
  }
  return server.url.replace(/\/[^/]+$/, `/${name}`);
}

/**
 * Fresh stores of `kind`; call inside a describe block (it registers the afterAll that closes
 * what was opened and, for PostgreSQL, stops the server).
 *
 * Thrown errors (from `open` / `databaseUrl`): `PostgresNotInstalledError` when PostgreSQL is not
 * installed (run scripts/setup.sh) — tests fail rather than skip; `databaseUrl` on SQLite.
 */
export function testStores(kind: StoreKind): TestStores {
  const opened: SqlDatabase[] = [];
  afterAll(async () => {
    await Promise.all(opened.map((db) => db.close().catch(() => undefined)));
    if (kind === 'postgres' && shared) {
      const server = shared;
      shared = undefined;
      await (await server).stop();
    }
  });
  return {
    kind,
    async open() {
      const db = kind === 'sqlite' ? openSqlite(':memory:') : await openPostgres(await freshPostgresUrl());
      opened.push(db);
      return db;
    },
    async databaseUrl() {
      if (kind !== 'postgres') throw new Error('databaseUrl() is for the postgres store; a SQLite coordinator takes a file path');
      return freshPostgresUrl();
    },
  };
}
