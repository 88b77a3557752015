import { openPostgres } from './postgres';
import { openSqlite } from './sqlite';
import type { CoordinatorConfig } from '../config';
import type { SqlDatabase } from './sql';

/**
 * Opens the coordinator's store: the PostgreSQL server of `BENCHFARM_DATABASE_URL` when it is
 * set (several coordinators share it), else the SQLite file of `BENCHFARM_DB`. Either way it is
 * migrated to this coordinator's schema before it is returned.
 *
 * Thrown errors: {@link import('./sql').DatabaseOpenError} (or a subclass) when the store cannot
 * be opened, reached or migrated; the message never holds the password.
 */
export async function openStore(config: Pick<CoordinatorConfig, 'databaseUrl' | 'dbPath'>): Promise<SqlDatabase> {
  if (config.databaseUrl !== undefined) return openPostgres(config.databaseUrl);
  return openSqlite(config.dbPath);
}
