// The farm `benchfarm simulate-fleet` measures when it is given none: nats-server (JetStream) and a
// coordinator process on loopback in a fresh folder, with the coordinator's pid known so that its
// CPU and memory can be read from /proc. Also the /proc readings themselves.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startNatsServer, type NatsServerHandle } from '@benchfarm/messaging';
import { FarmStartError, repoRoot, startService, stopChild, type ServiceChild } from './processes';

/** A farm started for a fleet run. */
export interface FleetFarm {
  readonly natsUrl: string;
  readonly httpUrl: string;
  readonly grpcAddress: string;
  readonly coordinatorPid: number;
  readonly natsPid: number | undefined;
  readonly logFile: string;
  /** Stops the coordinator (SIGTERM: a CPU profile, when asked for, is written then) and nats-server. */
  stop(): Promise<void>;
}

/** What {@link startFleetFarm} is asked for. */
export interface FleetFarmOptions {
  /** Folder for the NATS store, the database, the coordinator's data and its log. */
  readonly dir: string;
  /** Extra coordinator environment (BENCHFARM_DATABASE_URL, limits); over the defaults set here. */
  readonly coordinatorEnv?: Readonly<Record<string, string>>;
  /** Write a V8 CPU profile of the coordinator into this folder (node --cpu-prof; written when it stops). */
  readonly cpuProfileDir?: string;
  readonly startTimeoutMs?: number;
}

/**
 * Starts nats-server and a coordinator process (the same entry `benchfarm coordinator` runs) on
 * loopback ports, SQLite in `dir` unless `coordinatorEnv` names BENCHFARM_DATABASE_URL. Thrown:
 * {@link FarmStartError} when either does not come up (what had started is stopped).
 */
export async function startFleetFarm(options: FleetFarmOptions): Promise<FleetFarm> {
  mkdirSync(join(options.dir, 'logs'), { recursive: true });
  let nats: NatsServerHandle;
  try {
    nats = await startNatsServer({ storeDir: join(options.dir, 'nats') });
  } catch (err) {
    throw new FarmStartError(`nats-server could not start: ${(err as Error).message}`, { cause: err });
  }
  const logFile = join(options.dir, 'logs', 'coordinator.log');
  const nodeArgs = options.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`] : [];
  let coordinator: ServiceChild;
  try {
    coordinator = await startService(
      'the coordinator',
      join(repoRoot, 'apps/coordinator/src/main.ts'),
      {
        BENCHFARM_NATS_URL: nats.url,
        BENCHFARM_HTTP_HOST: '127.0.0.1',
        BENCHFARM_HTTP_PORT: '0',
        BENCHFARM_GRPC_HOST: '127.0.0.1',
        BENCHFARM_GRPC_PORT: '0',
        BENCHFARM_DB: join(options.dir, 'coordinator.db'),
        BENCHFARM_DATA_DIR: join(options.dir, 'coordinator'),
        ...options.coordinatorEnv,
      },
      logFile,
      options.startTimeoutMs ?? 60_000,
      nodeArgs,
    );
  } catch (err) {
    await nats.stop();
    throw err;
  }
  const { process: child, ready } = coordinator;
  return {
    natsUrl: nats.url,
    httpUrl: String(ready.httpUrl),
    grpcAddress: String(ready.grpcAddress),
    coordinatorPid: child.pid ?? -1,
    natsPid: nats.process.pid,
    logFile,
    async stop() {
      await stopChild(child, 30_000);
      await nats.stop();
    },
  };
}

/** CPU time and memory of a process, from /proc/<pid>/stat and /proc/<pid>/status. */
export interface ProcUsage {
  /** User + system CPU time so far, seconds. */
  readonly cpuSeconds: number;
  readonly rssBytes: number;
  /** Peak RSS so far (VmHWM). */
  readonly peakRssBytes: number;
  /** When it was read (ms since the epoch). */
  readonly atMs: number;
}

let clockTicks: number | undefined;

/** Clock ticks per second of /proc's CPU times (getconf CLK_TCK; 100, the Linux value, when getconf is missing). */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** Parses /proc/<pid>/stat's utime and stime (fields 14 and 15, after the parenthesised command name). */
export function parseProcStatCpuTicks(stat: string): number | undefined {
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state): utime is field 14, stime field 15.
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  return Number.isFinite(utime) && Number.isFinite(stime) ? utime + stime : undefined;
}

/** A process's usage now, or undefined when /proc has no such process (gone, or not Linux). */
export function readProcUsage(pid: number): ProcUsage | undefined {
  try {
    const ticks = parseProcStatCpuTicks(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string): number | undefined => {
      const match = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status);
      return match ? Number(match[1]) * 1024 : undefined;
    };
    const rss = kb('VmRSS');
    const hwm = kb('VmHWM');
    if (ticks === undefined || rss === undefined || hwm === undefined) return undefined;
    return { cpuSeconds: ticks / ticksPerSecond(), rssBytes: rss, peakRssBytes: hwm, atMs: Date.now() };
  } catch {
    return undefined;
  }
}

/** Share of one core used between two readings, percent. Thrown: RangeError when `after` is not later than `before`. */
export function cpuPercentOfCore(before: ProcUsage, after: ProcUsage): number {
  const wallSeconds = (after.atMs - before.atMs) / 1000;
  if (!(wallSeconds > 0)) throw new RangeError(`cpuPercentOfCore: the readings are ${after.atMs - before.atMs} ms apart`);
  return ((after.cpuSeconds - before.cpuSeconds) / wallSeconds) * 100;
}
