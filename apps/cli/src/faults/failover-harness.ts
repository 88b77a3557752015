import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
// Test support only (the failover fault test), never imported by the CLI: "exactly one result"
// is counted in the shared PostgreSQL database itself.
import pg from 'pg';
import { repoRoot, tsxExecArgv } from '../processes';
import { FAST_TIMINGS } from './harness';
import type { SweepLedger } from './ledger';

/** One JSON line a coordinator printed on stdout, with when this process read it. */
export interface CoordinatorEvent {
  readonly event: string;
  readonly atMs: number;
  readonly fields: Record<string, unknown>;
}

/** A coordinator process started with leader election on (`BENCHFARM_HA=true`). */
export interface HaCoordinator {
  /** Its instance id in the lease (also its log file's name). */
  readonly name: string;
  readonly child: ChildProcess;
  readonly grpcAddress: string;
  readonly httpUrl: string;
  /** stderr (JSON log lines) and stdout, in one file. */
  readonly logFile: string;
  /** Its stdout events so far (standby, leading, ready, leadership_lost). */
  events(): CoordinatorEvent[];
  /** Resolves with the first event named `event` (already seen or to come); rejects when the process exits first or after `timeoutMs`. */
  waitForEvent(event: string, timeoutMs?: number): Promise<CoordinatorEvent>;
  /** Sends a signal (SIGKILL for the fault). */
  signal(signal: NodeJS.Signals): void;
  /** SIGTERM, SIGKILL after `graceMs`; resolves once it exited. */
  stop(graceMs?: number): Promise<void>;
  /** Resolves with the exit code (or signal) once it exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Settings of {@link startHaCoordinator}. */
export interface HaCoordinatorOptions {
  name: string;
  natsUrl: string;
  /** The shared store: a PostgreSQL URL, or (development) one SQLite file both use. */
  store: { databaseUrl: string } | { dbPath: string };
  /** Folder for its data dir and logs. */
  dir: string;
  grpcPort: number;
  httpPort: number;
  leaseTtlMs: number;
  pollMs?: number;
  env?: NodeJS.ProcessEnv;
}

/**
 * Starts `apps/coordinator/src/main.ts` with `BENCHFARM_HA=true`, the fault tests' fast timings
 * and fixed ports (agents are given both gRPC addresses up front), and resolves once it printed
 * its first line: `standby` or `leading`. Stdout lines are parsed as events; all output goes to
 * `<dir>/logs/<name>.log`.
 */
export async function startHaCoordinator(options: HaCoordinatorOptions, timeoutMs = 60_000): Promise<HaCoordinator> {
  const logDir = join(options.dir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const logFile = join(logDir, `${options.name}.log`);
  const log = createWriteStream(logFile, { flags: 'a' });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    BENCHFARM_HA: 'true',
    BENCHFARM_HA_INSTANCE_ID: options.name,
    BENCHFARM_HA_LEASE_TTL_MS: String(options.leaseTtlMs),
    BENCHFARM_HA_POLL_MS: String(options.pollMs ?? 500),
    BENCHFARM_NATS_URL: options.natsUrl,
    BENCHFARM_HTTP_HOST: '127.0.0.1',
    BENCHFARM_HTTP_PORT: String(options.httpPort),
    BENCHFARM_GRPC_HOST: '127.0.0.1',
    BENCHFARM_GRPC_PORT: String(options.grpcPort),
    BENCHFARM_DATA_DIR: join(options.dir, `${options.name}-data`),
    BENCHFARM_AGENT_STALE_AFTER_MS: String(FAST_TIMINGS.staleAfterMs),
    BENCHFARM_LEASE_TTL_MS: String(FAST_TIMINGS.leaseTtlMs),
    BENCHFARM_MONITOR_INTERVAL_MS: String(FAST_TIMINGS.monitorIntervalMs),
    // debug: the per-job lines (lease granted, result committed) tell when a coordinator acted.
    BENCHFARM_LOG_LEVEL: 'debug',
    ...('databaseUrl' in options.store ? { BENCHFARM_DATABASE_URL: options.store.databaseUrl } : { BENCHFARM_DB: options.store.dbPath }),
    ...options.env,
  };
  const child = spawn(process.execPath, [...tsxExecArgv(), join(repoRoot, 'apps/coordinator/src/main.ts')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stderr.pipe(log, { end: false });
  const events: CoordinatorEvent[] = [];
  const waiters: Array<() => void> = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      resolve({ code, signal });
      for (const w of waiters.splice(0)) w();
    }),
  );
  let exitedNow = false;
  void exited.then(() => {
    exitedNow = true;
  });
  createInterface({ input: child.stdout }).on('line', (line) => {
    const atMs = Date.now();
    log.write(`${line}\n`);
    if (!line.startsWith('{"event":')) return;
    const fields = JSON.parse(line) as Record<string, unknown>;
    events.push({ event: String(fields.event), atMs, fields });
    for (const w of waiters.splice(0)) w();
  });
  const waitForEvent = (event: string, waitMs = 60_000): Promise<CoordinatorEvent> =>
    new Promise<CoordinatorEvent>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${options.name} printed no ${event} line within ${waitMs} ms; see ${logFile}`)), waitMs);
      const check = (): void => {
        const found = events.find((e) => e.event === event);
        if (found) {
          clearTimeout(timer);
          resolve(found);
        } else if (exitedNow || child.exitCode !== null || child.signalCode !== null) {
          clearTimeout(timer);
          reject(new Error(`${options.name} exited (code ${child.exitCode}, signal ${child.signalCode}) before its ${event} line; see ${logFile}: ${readFileSync(logFile, 'utf8').slice(-1500)}`));
        } else {
          waiters.push(check);
        }
      };
      check();
    });
  const handle: HaCoordinator = {
    name: options.name,
    child,
    grpcAddress: `127.0.0.1:${options.grpcPort}`,
    httpUrl: `http://127.0.0.1:${options.httpPort}`,
    logFile,
    events: () => [...events],
    waitForEvent,
    signal: (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
    exited,
  };
  await Promise.race([waitForEvent('standby', timeoutMs), waitForEvent('leading', timeoutMs)]);
  return handle;
}

/** JSON log lines of a coordinator's log file (stderr), with their own timestamps. */
export function coordinatorLogLines(logFile: string): Array<{ timeMs: number; level: string; message: string }> {
  const out: Array<{ timeMs: number; level: string; message: string }> = [];
  for (const line of readFileSync(logFile, 'utf8').split('\n')) {
    if (!line.startsWith('{"time"')) continue;
    try {
      const json = JSON.parse(line) as { time: string; level: string; message: string };
      out.push({ timeMs: Date.parse(json.time), level: json.level, message: String(json.message) });
    } catch {
      // a line cut by kill -9
    }
  }
  return out;
}

/** When the coordinator logging to `logFile` first accepted a result upload (committed, or answered as a duplicate) at or after `afterMs`; undefined when it has not. */
export function firstResultAcceptedAt(logFile: string, afterMs: number): number | undefined {
  return coordinatorLogLines(logFile).find((l) => l.timeMs >= afterMs && /^result \S+ committed for job |^duplicate result for job /.test(l.message))?.timeMs;
}

/**
 * {@link SweepLedger} counted in the shared PostgreSQL database (the same query as the SQLite
 * ledger): lost = a done job without a result row; duplicated = result rows beyond one per job.
 */
export async function readSweepLedgerPg(databaseUrl: string, sweepId: string): Promise<SweepLedger & { failed: number; jobs: number }> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ state: string; attempts: number; results: string }>(
      'SELECT j.state AS state, j.attempts AS attempts, (SELECT COUNT(*) FROM results r WHERE r.job_id = j.id) AS results FROM jobs j WHERE j.sweep_id = $1',
      [sweepId],
    );
    const n = rows.map((r) => ({ state: r.state, attempts: Number(r.attempts), results: Number(r.results) }));
    return {
      jobs: n.length,
      open: n.filter((r) => r.state === 'queued' || r.state === 'running').length,
      failed: n.filter((r) => r.state === 'failed').length,
      lost: n.filter((r) => r.state === 'done' && r.results === 0).length,
      duplicated: n.reduce((s, r) => s + Math.max(0, r.results - 1), 0),
      redelivered: n.reduce((s, r) => s + Math.max(0, r.attempts - 1), 0),
      results: n.reduce((s, r) => s + r.results, 0),
    };
  } finally {
    await client.end();
  }
}
