import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { DatabaseOpenError } from './sql';
import { migrateSqlite } from './sqlite-migrations';

/** An open better-sqlite3 database (repositories move to the SqlDatabase interface: see sqlite.ts). */
export type SqliteDatabase = Database.Database;

export { DatabaseOpenError };

/** The raw better-sqlite3 handle, migrated; kept only until every repository talks to `openSqlite`. */
export function openDatabase(path: string): SqliteDatabase {
  let db: SqliteDatabase;
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
  return db;
}
