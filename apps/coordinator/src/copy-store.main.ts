import { existsSync } from 'node:fs';
import { ConfigError, loadConfig } from './config';
import { copyStore, StoreCopyError } from './storage/copy-store';
import { openPostgres } from './storage/postgres';
import { openSqlite } from './storage/sqlite';
import { DatabaseOpenError, type SqlDatabase } from './storage/sql';

/**
 * `benchfarm copy-store`: copies the coordinator's SQLite file (`BENCHFARM_DB`) into the empty
 * PostgreSQL database of `BENCHFARM_DATABASE_URL` (the password stays out of the command line),
 * all or nothing (storage/copy-store.ts). Stop the coordinator first. Prints one line per table
 * and a total; exit status 2 for bad settings or a refused copy, 1 for anything else.
 */
async function main(): Promise<number> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (config.databaseUrl === undefined) {
    process.stderr.write('BENCHFARM_DATABASE_URL: not set; it names the empty PostgreSQL database to copy into (postgres://user:password@host:5432/db)\n');
    return 2;
  }
  // openSqlite would create a missing file: a typo in the path must not "copy" an empty store.
  if (!existsSync(config.dbPath)) {
    process.stderr.write(`BENCHFARM_DB: no SQLite file at ${config.dbPath}\n`);
    return 2;
  }
  const open: SqlDatabase[] = [];
  try {
    const source = openSqlite(config.dbPath);
    open.push(source);
    const destination = await openPostgres(config.databaseUrl);
    open.push(destination);
    process.stdout.write(`copying ${source.description} -> ${destination.description}\n`);
    const report = await copyStore(source, destination, { onTable: (table, rows) => process.stdout.write(`  ${table}: ${rows} row(s)\n`) });
    process.stdout.write(`copied ${report.rows} row(s) in ${report.tables.length} tables in ${(report.durationMs / 1000).toFixed(1)} s; start the coordinator with BENCHFARM_DATABASE_URL set\n`);
    return 0;
  } catch (err) {
    const refused = err instanceof StoreCopyError || err instanceof DatabaseOpenError;
    process.stderr.write(`copy-store: ${(err as Error).message}; nothing was written to the PostgreSQL database\n`);
    return refused ? 2 : 1;
  } finally {
    await Promise.all(open.map((db) => db.close()));
  }
}

process.exitCode = await main();
