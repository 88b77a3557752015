/** Injection token of the open store, a {@link import('./sql').SqlDatabase} (SQLite or PostgreSQL). */
export const SQL_DATABASE = Symbol('SQL_DATABASE');
