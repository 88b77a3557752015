/** Injection token of the open better-sqlite3 database. */
export const SQLITE_DATABASE = Symbol('SQLITE_DATABASE');
