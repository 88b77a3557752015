import type { SqlDatabase, SqlExecutor, SqlParams } from '../storage/sql';

/**
 * The shared store as a leader may use it: before every statement (and before a transaction
 * begins) `check` runs synchronously and throws (LeaderElection.assertLeading: or exits the
 * process) once this instance may no longer lead; the statement is then never sent. Renewal timers alone cannot promise that: a process paused past its fence
 * (SIGSTOP, a VM frozen, a long GC) handles the I/O that waited (an agent's upload) before its
 * timers run again, and would write beside the new leader; this check reads the clock at the
 * moment of the write.
 */
export function fencedDatabase(db: SqlDatabase, check: () => void): SqlDatabase {
  return {
    ...fencedExecutor(db, check),
    description: db.description,
    transaction: <T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> => guarded(check, () => db.transaction((tx) => fn(fencedExecutor(tx, check)))),
    close: () => db.close(),
  };
}

function fencedExecutor(executor: SqlExecutor, check: () => void): SqlExecutor {
  return {
    dialect: executor.dialect,
    get: <T>(sql: string, params?: SqlParams) => guarded(check, () => executor.get<T>(sql, params)),
    all: <T>(sql: string, params?: SqlParams) => guarded(check, () => executor.all<T>(sql, params)),
    run: (sql: string, params?: SqlParams) => guarded(check, () => executor.run(sql, params)),
  };
}

/**
 * Runs `check` synchronously, then `call`: a statement after a failed check is never issued, and
 * the check's throw becomes the returned promise's rejection, as a failed statement's would.
 */
function guarded<R>(check: () => void, call: () => Promise<R>): Promise<R> {
  try {
    check();
  } catch (err) {
    return Promise.reject(err);
  }
  return call();
}
