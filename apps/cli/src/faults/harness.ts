import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { repoRoot, tsxExecArgv } from '../processes';

/**
 * Short reliability settings for fault-injection tests, so that a fault and its recovery take
 * seconds. Production keeps the reference settings (RELIABILITY.md: AckWait 30 s, working()
 * every 10 s, heartbeat 5 s, stale after 15 s).
 */
export const FAST_TIMINGS = {
  ackWaitMs: 2_000,
  workingMs: 400,
  heartbeatMs: 400,
  staleAfterMs: 1_500,
  leaseTtlMs: 2_000,
  monitorIntervalMs: 250,
  pullExpiresMs: 1_000,
} as const;

/** A benchfarm process started by a test, with its JSON log lines. */
export interface TestProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly ready: Record<string, unknown>;
  readonly logFile: string;
  /** The JSON log lines written so far (stdout). */
  lines(): Array<Record<string, unknown>>;
  /** Sends a signal (kill -9, SIGSTOP, SIGCONT...). */
  signal(signal: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it exited. */
  stop(graceMs?: number): Promise<void>;
  /** Resolves once it exited. */
  readonly exited: Promise<void>;
}

/** Starts `entry` with the tsx loader and waits for its `{"event":"ready"}` line. */
export async function startProcess(name: string, entry: string, env: NodeJS.ProcessEnv, logDir: string, timeoutMs = 60_000): Promise<TestProcess> {
  mkdirSync(logDir, { recursive: true });
  const logFile = join(logDir, `${name}.log`);
  const log = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(process.execPath, [...tsxExecArgv(), entry], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stderr.pipe(log, { end: false });
  const parsed: Array<Record<string, unknown>> = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} was not ready within ${timeoutMs} ms; see ${logFile}`));
    }, timeoutMs);
    const onExit = (): void => {
      clearTimeout(timer);
      reject(new Error(`${name} exited during start-up; see ${logFile}: ${readFileSync(logFile, 'utf8').slice(-1500)}`));
    };
    child.once('exit', onExit);
    createInterface({ input: child.stdout }).on('line', (line) => {
      log.write(`${line}\n`);
      try {
        parsed.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // a non-JSON line (a stack trace) stays in the log file only
      }
      if (line.startsWith('{"event":"ready"')) {
        clearTimeout(timer);
        child.off('exit', onExit);
        resolve(JSON.parse(line) as Record<string, unknown>);
      }
    });
  });
  return {
    name,
    child,
    ready,
    logFile,
    exited,
    lines: () => [...parsed],
    signal: (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Starts a coordinator process with the fast timings. */
export function startCoordinatorProcess(options: { natsUrl: string; dir: string; grpcPort: number; httpPort: number; env?: NodeJS.ProcessEnv }): Promise<TestProcess> {
  return startProcess(
    'coordinator',
    join(repoRoot, 'apps/coordinator/src/main.ts'),
    {
      BENCHFARM_NATS_URL: options.natsUrl,
      BENCHFARM_HTTP_HOST: '127.0.0.1',
      BENCHFARM_HTTP_PORT: String(options.httpPort),
      BENCHFARM_GRPC_HOST: '127.0.0.1',
      BENCHFARM_GRPC_PORT: String(options.grpcPort),
      BENCHFARM_DB: join(options.dir, 'coordinator.db'),
      BENCHFARM_DATA_DIR: join(options.dir, 'coordinator'),
      BENCHFARM_AGENT_STALE_AFTER_MS: String(FAST_TIMINGS.staleAfterMs),
      BENCHFARM_LEASE_TTL_MS: String(FAST_TIMINGS.leaseTtlMs),
      BENCHFARM_MONITOR_INTERVAL_MS: String(FAST_TIMINGS.monitorIntervalMs),
      BENCHFARM_LOG_LEVEL: 'info',
      ...options.env,
    },
    join(options.dir, 'logs'),
  );
}

/** Starts an agent process with the fast timings. */
export function startAgentProcess(options: { agentId: string; natsUrl: string; grpcAddress: string; dir: string; labels?: string; env?: NodeJS.ProcessEnv }): Promise<TestProcess> {
  return startProcess(
    options.agentId,
    join(repoRoot, 'apps/agent/src/main.ts'),
    {
      BENCHFARM_NATS_URL: options.natsUrl,
      BENCHFARM_GRPC_ADDRESS: options.grpcAddress,
      BENCHFARM_AGENT_ID: options.agentId,
      BENCHFARM_AGENT_NAME: options.agentId,
      BENCHFARM_AGENT_LABELS: options.labels ?? '',
      BENCHFARM_AGENT_CACHE: join(options.dir, 'cache', options.agentId),
      BENCHFARM_HEARTBEAT_MS: String(FAST_TIMINGS.heartbeatMs),
      BENCHFARM_WORKING_MS: String(FAST_TIMINGS.workingMs),
      BENCHFARM_ACK_WAIT_MS: String(FAST_TIMINGS.ackWaitMs),
      BENCHFARM_PULL_EXPIRES_MS: String(FAST_TIMINGS.pullExpiresMs),
      BENCHFARM_LEASE_ACQUIRE_TIMEOUT_MS: '20000',
      ...options.env,
    },
    join(options.dir, 'logs'),
  );
}

/** Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
    await sleep(everyMs);
  }
}
