import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, createWriteStream, mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startNatsServer, freePort, type NatsServerHandle } from '@benchfarm/messaging';
import { tsxLoaderUrl } from '@benchfarm/isolate';

/** The workspace root, from which the apps' entry files are found. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** Thrown when a component of the embedded farm does not start. */
export class FarmStartError extends Error {
  override name = 'FarmStartError';
}

/** Node flags that let a child run TypeScript entry files (the tsx loader). */
export function tsxExecArgv(): string[] {
  return ['--import', tsxLoaderUrl()];
}

/** A started service: its name, process and the parsed ready line. */
export interface ServiceChild {
  readonly name: string;
  readonly process: ChildProcess;
  readonly ready: Record<string, unknown>;
}

/**
 * Starts a TypeScript entry as a child process and waits for its `{"event":"ready"}` line.
 * Its log (stderr) is written by the child straight into `logFile`, not through this process: a
 * pipe write is synchronous on Linux, and a busy reader here stalls the child's thread (7% of a
 * coordinator's thread under a 1,000-agent fleet). Its stdout lines are copied there too; only
 * the ready line is parsed. `nodeArgs` go before the entry (e.g. `--cpu-prof`).
 *
 * Thrown errors: {@link FarmStartError} when it exits or is not ready within `timeoutMs` (it is killed).
 */
export async function startService(name: string, entry: string, env: NodeJS.ProcessEnv, logFile: string, timeoutMs = 60_000, nodeArgs: readonly string[] = []): Promise<ServiceChild> {
  mkdirSync(dirname(logFile), { recursive: true });
  const log = createWriteStream(logFile, { flags: 'a' });
  const stderr = openSync(logFile, 'a');
  const child = spawn(process.execPath, [...nodeArgs, ...tsxExecArgv(), entry], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', stderr] });
  closeSync(stderr);
  const stdout = child.stdout;
  if (!stdout) throw new FarmStartError(`${name}: the child process has no stdout pipe`);
  const lines = createInterface({ input: stdout });
  const ready = await new Promise<Record<string, unknown>>((resolveReady, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new FarmStartError(`${name} did not become ready within ${timeoutMs} ms; see ${logFile}`));
    }, timeoutMs);
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      clearTimeout(timer);
      reject(new FarmStartError(`${name} exited during start-up (code ${code}, signal ${signal}); see ${logFile}`));
    };
    child.once('exit', onExit);
    lines.on('line', (line) => {
      log.write(`${line}\n`);
      if (!line.startsWith('{"event":"ready"')) return;
      clearTimeout(timer);
      child.off('exit', onExit);
      resolveReady(JSON.parse(line) as Record<string, unknown>);
    });
  });
  return { name, process: child, ready };
}

/** Stops a child: SIGTERM, then SIGKILL after `timeoutMs`; resolves once it exited. */
export async function stopChild(child: ChildProcess, timeoutMs = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(timer);
}

export interface EmbeddedFarmOptions {
  /** Folder holding the NATS store, the SQLite database, the model caches and logs. */
  dir: string;
  natsPort?: number;
  httpPort?: number;
  grpcPort?: number;
  /** Start one local agent too (default true). */
  agent?: boolean;
  agentName?: string;
  agentLabels?: string;
}

/** A running embedded farm: nats-server, coordinator and (optionally) one local agent. */
export interface EmbeddedFarm {
  readonly natsUrl: string;
  readonly httpUrl: string;
  readonly grpcAddress: string;
  readonly agentId?: string;
  readonly logDir: string;
  /** Stops the agent, the coordinator and nats-server, in that order, leaving nothing running. */
  stop(): Promise<void>;
}

/** The file `benchfarm up` writes so that other commands find the running coordinator. */
export function upStateFile(dir: string): string {
  return join(dir, 'up.json');
}

/**
 * Starts the embedded default on loopback: a nats-server child with JetStream (store under
 * `<dir>/nats`), the coordinator with SQLite (`<dir>/coordinator.db`) and one local agent.
 * Everything binds to 127.0.0.1 and runs without authentication.
 */
export async function startEmbeddedFarm(options: EmbeddedFarmOptions): Promise<EmbeddedFarm> {
  const dir = resolve(options.dir);
  const logDir = join(dir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const started: (() => Promise<void>)[] = [];
  const stopAll = async (): Promise<void> => {
    for (const stop of started.reverse()) await stop().catch(() => undefined);
    started.length = 0;
  };
  try {
    let nats: NatsServerHandle;
    try {
      nats = await startNatsServer({ storeDir: join(dir, 'nats'), port: options.natsPort ?? (await freePort()) });
    } catch (err) {
      throw new FarmStartError(`nats-server could not start: ${(err as Error).message}`, { cause: err });
    }
    started.push(() => nats.stop({ keepStore: true }));

    const coordinator = await startService(
      'coordinator',
      join(repoRoot, 'apps/coordinator/src/main.ts'),
      {
        BENCHFARM_NATS_URL: nats.url,
        BENCHFARM_HTTP_HOST: '127.0.0.1',
        BENCHFARM_HTTP_PORT: String(options.httpPort ?? 0),
        BENCHFARM_GRPC_HOST: '127.0.0.1',
        BENCHFARM_GRPC_PORT: String(options.grpcPort ?? 0),
        BENCHFARM_DB: join(dir, 'coordinator.db'),
        BENCHFARM_DATA_DIR: join(dir, 'coordinator'),
      },
      join(logDir, 'coordinator.log'),
    );
    started.push(() => stopChild(coordinator.process));
    const httpUrl = String(coordinator.ready.httpUrl);
    const grpcAddress = String(coordinator.ready.grpcAddress);

    let agentId: string | undefined;
    if (options.agent !== false) {
      const agent = await startService(
        'agent',
        join(repoRoot, 'apps/agent/src/main.ts'),
        {
          BENCHFARM_NATS_URL: nats.url,
          BENCHFARM_GRPC_ADDRESS: grpcAddress,
          BENCHFARM_AGENT_NAME: options.agentName ?? `local-${process.arch}`,
          BENCHFARM_AGENT_LABELS: options.agentLabels ?? 'site=local',
          BENCHFARM_AGENT_CACHE: join(dir, 'agent-cache'),
          ...(process.env.BENCHFARM_AGENT_ID ? {} : { BENCHFARM_AGENT_ID: 'local' }),
        },
        join(logDir, 'agent.log'),
      );
      started.push(() => stopChild(agent.process));
      agentId = String(agent.ready.agentId);
    }
    writeFileSync(upStateFile(dir), `${JSON.stringify({ natsUrl: nats.url, httpUrl, grpcAddress, pid: process.pid }, null, 2)}\n`);
    started.unshift(async () => rmSync(upStateFile(dir), { force: true }));
    return {
      natsUrl: nats.url,
      httpUrl,
      grpcAddress,
      agentId,
      logDir,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
