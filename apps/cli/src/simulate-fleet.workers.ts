// The worker processes of a simulated fleet, seen from `benchfarm simulate-fleet`: forked with the
// tsx loader, driven over IPC with the messages of @benchfarm/fleet (the agent's fleet workers
// read the same declarations); the fleet int-spec runs both ends.
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { FetchAnswer, FleetCommand, FleetEvent, FleetWorkerSpec, SimulatedJobRecord, WorkerStats } from '@benchfarm/fleet';
import { repoRoot, tsxExecArgv } from './processes';

/** The worker's entry file. */
export const FLEET_WORKER_ENTRY = join(repoRoot, 'apps/agent/src/simulated/fleet-worker.ts');

/** An agent's start as its worker reported it. */
export interface AgentStart {
  agentId: string;
  worker: number;
  registeredAtMs?: number;
  idleAtMs?: number;
  startAttempts: number;
  error?: string;
}

/** Thrown when a worker process dies or does not answer. */
export class FleetWorkerError extends Error {
  override name = 'FleetWorkerError';
}

interface Worker {
  readonly index: number;
  readonly child: ChildProcess;
  readonly pid: number;
  stderr: string;
}

/**
 * The worker processes of one fleet run, with what they reported: each agent's start and every
 * job message an agent settled.
 */
export class FleetWorkers {
  readonly starts = new Map<string, AgentStart>();
  readonly jobs: SimulatedJobRecord[] = [];
  private readonly pending = new Map<number, (event: FleetEvent) => void>();
  private nextRequest = 1;
  private readonly listeners = new Set<() => void>();

  private constructor(private readonly workers: Worker[]) {
    for (const worker of workers) {
      worker.child.on('message', (event: FleetEvent) => this.onEvent(worker, event));
    }
  }

  /** Pids of the worker processes. */
  get pids(): number[] {
    return this.workers.map((w) => w.pid);
  }

  get count(): number {
    return this.workers.length;
  }

  /**
   * Forks `count` workers and waits until each has loaded its modules. Thrown:
   * {@link FleetWorkerError} when one exits first or takes longer than `timeoutMs` (all are killed).
   */
  static async spawn(count: number, timeoutMs = 60_000): Promise<FleetWorkers> {
    const workers = await Promise.allSettled(Array.from({ length: count }, (_, index) => spawnWorker(index, timeoutMs)));
    const failed = workers.find((w): w is PromiseRejectedResult => w.status === 'rejected');
    if (failed) {
      for (const w of workers) if (w.status === 'fulfilled') w.value.child.kill('SIGKILL');
      throw failed.reason;
    }
    return new FleetWorkers(workers.map((w) => (w as PromiseFulfilledResult<Worker>).value));
  }

  /** Sends each worker its spec (index i gets specs[i]): its agents start at once. */
  start(specs: FleetWorkerSpec[]): void {
    for (const [i, spec] of specs.entries()) {
      for (const agent of spec.agents) this.starts.set(agent.agentId, { agentId: agent.agentId, worker: i, startAttempts: 0 });
      this.workers[i]?.child.send({ type: 'start', spec });
    }
  }

  /** Resolves when `done()` holds, checking after every event; rejects after `timeoutMs` or when a worker dies. */
  until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      if (done()) {
        resolve();
        return;
      }
      const check = (): void => {
        const dead = this.workers.find((w) => w.child.exitCode !== null || w.child.signalCode !== null);
        if (dead) finish(new FleetWorkerError(`worker ${dead.index} (pid ${dead.pid}) exited while waiting for ${what}: ${dead.stderr.slice(-1500)}`));
        else if (done()) finish();
      };
      const timer = setTimeout(() => finish(new FleetWorkerError(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
      const poll = setInterval(check, 1_000);
      const finish = (err?: Error): void => {
        clearTimeout(timer);
        clearInterval(poll);
        this.listeners.delete(check);
        if (err) reject(err);
        else resolve();
      };
      this.listeners.add(check);
    });
  }

  /**
   * Has each named agent read `digest` into its worker's cache at once; resolves with every
   * answer (an agent still reading after `timeoutMs` is answered with an error).
   */
  async fetch(digest: string, agentIds: string[], timeoutMs: number): Promise<FetchAnswer[]> {
    const byWorker = new Map<number, string[]>();
    for (const id of agentIds) {
      const worker = this.starts.get(id)?.worker;
      if (worker === undefined) throw new FleetWorkerError(`agent ${id} is not one of this fleet's`);
      byWorker.set(worker, [...(byWorker.get(worker) ?? []), id]);
    }
    const answers = await Promise.all([...byWorker].map(([worker, ids]) => this.ask(worker, (requestId) => ({ type: 'fetch', requestId, digest, agentIds: ids, timeoutMs }), timeoutMs + 30_000)));
    return answers.flatMap((a) => (a.type === 'fetched' ? a.answers : []));
  }

  /** Has every worker remove its cached copies of `digest`. */
  async discard(digest: string, timeoutMs = 60_000): Promise<void> {
    await Promise.all(this.workers.map((w) => this.ask(w.index, (requestId) => ({ type: 'discard', requestId, digest }), timeoutMs)));
  }

  /** Each worker's cache counters, warnings and first errors. */
  async stats(timeoutMs = 30_000): Promise<WorkerStats[]> {
    const answers = await Promise.all(this.workers.map((w) => this.ask(w.index, (requestId) => ({ type: 'stats', requestId }), timeoutMs)));
    return answers.map((a) => (a.type === 'stats' ? { cache: a.cache, warnings: a.warnings, errors: a.errors } : { cache: { requests: 0, hits: 0, storeReads: 0, bytesFetched: 0, failures: 0 }, warnings: {}, errors: [] }));
  }

  /** Stops every worker: their agents give back running jobs, leave the registry and close; killed after `timeoutMs`. */
  async stop(timeoutMs = 60_000): Promise<void> {
    await Promise.all(
      this.workers.map(async (w) => {
        if (w.child.exitCode !== null || w.child.signalCode !== null) return;
        const exited = new Promise<void>((r) => w.child.once('exit', () => r()));
        if (w.child.connected) w.child.send({ type: 'stop' });
        else w.child.kill('SIGTERM');
        const timer = setTimeout(() => w.child.kill('SIGKILL'), timeoutMs);
        await exited;
        clearTimeout(timer);
      }),
    );
  }

  private ask(worker: number, command: (requestId: number) => FleetCommand, timeoutMs: number): Promise<FleetEvent> {
    const w = this.workers[worker];
    if (!w) return Promise.reject(new FleetWorkerError(`no worker ${worker}`));
    const requestId = this.nextRequest++;
    return new Promise<FleetEvent>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        reject(new FleetWorkerError(`worker ${worker} did not answer request ${requestId} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(requestId, (event) => {
        clearTimeout(timer);
        resolve(event);
      });
      w.child.send(command(requestId));
    });
  }

  private onEvent(worker: Worker, event: FleetEvent): void {
    switch (event.type) {
      case 'agent':
        this.starts.set(event.agentId, { agentId: event.agentId, worker: worker.index, registeredAtMs: event.registeredAtMs, idleAtMs: event.idleAtMs, startAttempts: event.startAttempts });
        break;
      case 'agent-failed':
        this.starts.set(event.agentId, { agentId: event.agentId, worker: worker.index, startAttempts: event.startAttempts, error: event.error });
        break;
      case 'job':
        this.jobs.push(event.record);
        break;
      case 'fetched':
      case 'discarded':
      case 'stats':
        this.pending.get(event.requestId)?.(event);
        this.pending.delete(event.requestId);
        break;
      default:
        break;
    }
    for (const listener of [...this.listeners]) listener();
  }
}

function spawnWorker(index: number, timeoutMs: number): Promise<Worker> {
  const child = fork(FLEET_WORKER_ENTRY, [], { execArgv: tsxExecArgv(), stdio: ['ignore', 'ignore', 'pipe', 'ipc'], serialization: 'json' });
  const worker: Worker = { index, child, pid: child.pid ?? -1, stderr: '' };
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    worker.stderr = (worker.stderr + chunk).slice(-8_000);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new FleetWorkerError(`fleet worker ${index} did not load within ${timeoutMs} ms: ${worker.stderr.slice(-1500)}`));
    }, timeoutMs);
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      clearTimeout(timer);
      reject(new FleetWorkerError(`fleet worker ${index} exited while loading (code ${code}, signal ${signal}): ${worker.stderr.slice(-1500)}`));
    };
    child.once('exit', onExit);
    child.once('message', (event: FleetEvent) => {
      if (event.type !== 'loaded') return;
      clearTimeout(timer);
      child.off('exit', onExit);
      resolve(worker);
    });
  });
}
