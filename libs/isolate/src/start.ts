import { fork, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { serialize as v8Serialize } from 'node:v8';
import type { ChildEntry } from './entry';
import { IsolatedWorkError, type ChildExit, type IsolatedWorkCode } from './errors';

/** How a child is bounded and watched, whatever it runs. */
export interface SuperviseOptions {
  /** Environment of the child (default: this process's). */
  readonly env?: NodeJS.ProcessEnv;
  /** The child is stopped (code `timed_out`) when it has not exited this long after its start. */
  readonly timeoutMs?: number;
  /** The child is stopped (code `idle_timeout`) when it sends no message for this long (a hung native call, a frozen process). */
  readonly idleTimeoutMs?: number;
  /** Stops the child (code `aborted`). */
  readonly signal?: AbortSignal;
  /** Between SIGTERM and SIGKILL when the parent stops the child (default 2 s); 0: SIGKILL at once. */
  readonly killGraceMs?: number;
  /** Bytes of stderr kept (default 8 KiB). */
  readonly stderrTailBytes?: number;
  /** Sees every stderr chunk as it comes (the tail is kept either way). */
  readonly onStderr?: (chunk: string) => void;
  /** Called once the process has started, with its pid. */
  readonly onSpawn?: (pid: number) => void;
}

/** Options of {@link startIsolated}. The child's stdout is discarded. */
export interface StartIsolatedOptions extends SuperviseOptions {
  /** IPC encoding: `json` (default), or `advanced` (structured clone: typed arrays, Maps). */
  readonly serialization?: 'json' | 'advanced';
  /** A message larger than this (serialized) stops the child with code `protocol` (default: no bound). */
  readonly maxMessageBytes?: number;
  /**
   * Receives every message in order. A throw stops the child: code `protocol` when the throw is
   * an IsolatedWorkError with that code, else `parent_error`; the exit carries the error.
   */
  readonly onMessage?: (message: unknown) => void;
}

/** Options of {@link spawnSupervised}. */
export interface SpawnSupervisedOptions extends SuperviseOptions {
  /** Sees every stdout chunk (utf8) as it comes; stdout is discarded when absent. */
  readonly onStdout?: (chunk: string) => void;
}

/** A running process started by {@link spawnSupervised}. */
export interface SupervisedProcess {
  /** Its pid; undefined when it could not start. */
  readonly pid: number | undefined;
  /** Ends it: SIGTERM, then SIGKILL after the grace. The first stop's code is the one kept. */
  stop(code: IsolatedWorkCode, detail: string, error?: unknown): void;
  /** Resolves (never rejects) once it is gone and its output is read. */
  readonly exited: Promise<ChildExit>;
  /** The stderr tail so far. */
  stderrTail(): string;
}

/** A running child started by {@link startIsolated}. */
export interface IsolatedChild extends SupervisedProcess {
  /** The entry file it runs. */
  readonly entryPath: string;
  /** Sends one IPC message; resolves once handed to the channel. Rejects when the child is gone. */
  send(message: unknown): Promise<void>;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Children still running when this process exits are killed, so none is left orphaned. */
function track(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of live) c.kill('SIGKILL');
    });
  }
  live.add(child);
}

/** Size of a message as the channel would carry it. */
export function messageBytes(message: unknown, serialization: 'json' | 'advanced'): number {
  if (serialization === 'advanced') return v8Serialize(message).byteLength;
  return Buffer.byteLength(JSON.stringify(message) ?? '');
}

/** Watches a started child: bounds, kill escalation, stderr tail, and one `exited` for every ending. */
function supervise(child: ChildProcess, options: SuperviseOptions): SupervisedProcess & { activity(): void; stopping(): boolean } {
  track(child);
  const tailBytes = options.stderrTailBytes ?? 8192;
  let tail = '';
  let stopped: ChildExit['stopped'];
  let resolveExited!: (exit: ChildExit) => void;
  const exited = new Promise<ChildExit>((r) => (resolveExited = r));
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    tail = (tail + chunk).slice(-tailBytes);
    options.onStderr?.(chunk);
  });

  let finished = false;
  let killTimer: NodeJS.Timeout | undefined;
  let signalled = false;
  let idleTimer: NodeJS.Timeout | undefined;
  const gone = (): boolean => child.exitCode !== null || child.signalCode !== null;
  const stop = (code: IsolatedWorkCode, detail: string, error?: unknown): void => {
    if (finished) return;
    stopped ??= { code, detail, ...(error !== undefined && { error }) };
    if (gone() || signalled) return;
    signalled = true;
    const graceMs = options.killGraceMs ?? 2_000;
    if (graceMs <= 0) {
      child.kill('SIGKILL');
      return;
    }
    child.kill('SIGTERM');
    killTimer = setTimeout(() => {
      if (!gone()) child.kill('SIGKILL');
    }, graceMs);
  };
  const deadline = options.timeoutMs === undefined ? undefined : setTimeout(() => stop('timed_out', `did not finish within ${options.timeoutMs} ms`), options.timeoutMs);
  const activity = (): void => {
    if (options.idleTimeoutMs === undefined) return;
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => stop('idle_timeout', `sent nothing for ${options.idleTimeoutMs} ms (hung or frozen)`), options.idleTimeoutMs);
  };
  activity();
  const onAbort = (): void => stop('aborted', 'was aborted');
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener('abort', onAbort, { once: true });

  const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
    if (finished) return;
    finished = true;
    live.delete(child);
    clearTimeout(deadline);
    clearTimeout(idleTimer);
    clearTimeout(killTimer);
    options.signal?.removeEventListener('abort', onAbort);
    resolveExited({ code, signal, ...(stopped && { stopped }), stderrTail: tail });
  };
  child.once('spawn', () => {
    if (child.pid !== undefined) options.onSpawn?.(child.pid);
  });
  // A running child always ends in 'close'; 'error' alone means it never started (or a kill failed).
  child.on('error', (err) => {
    if (child.pid !== undefined) return;
    stopped ??= { code: 'start_failed', detail: `could not start: ${err.message}`, error: err };
    finish(null, null);
  });
  child.on('close', (code, signal) => finish(code, signal));
  return { pid: child.pid, stop, exited, stderrTail: () => tail, activity, stopping: () => stopped !== undefined || finished };
}

/** An exit for a process that was never started. */
function notStarted(detail: string): { exit: ChildExit; exited: Promise<ChildExit> } {
  const exit: ChildExit = { code: null, signal: null, stopped: { code: 'start_failed', detail }, stderrTail: '' };
  return { exit, exited: Promise.resolve(exit) };
}

/**
 * Starts `entry` as a child process with an IPC channel, stdout discarded and stderr drained
 * (its tail kept), under a deadline, an idle bound and an abort signal. Every way the child can
 * end resolves `exited`. A missing entry file is reported as a `start_failed` exit, not thrown.
 */
export function startIsolated(entry: ChildEntry, options: StartIsolatedOptions = {}): IsolatedChild {
  const serialization = options.serialization ?? 'json';
  if (!existsSync(entry.path)) {
    const detail = `could not start: entry file ${entry.path} does not exist`;
    const { exit, exited } = notStarted(detail);
    return { pid: undefined, entryPath: entry.path, send: () => Promise.reject(new IsolatedWorkError('start_failed', entry.path, detail, exit)), stop: () => undefined, exited, stderrTail: () => '' };
  }

  const child = fork(entry.path, [], { execArgv: [...entry.execArgv], env: options.env ?? process.env, stdio: ['ignore', 'ignore', 'pipe', 'ipc'], serialization });
  const watched = supervise(child, options);
  child.on('message', (message: unknown) => {
    // Nothing counts once the child is being stopped: a late answer does not beat its deadline.
    if (watched.stopping()) return;
    watched.activity();
    try {
      if (options.maxMessageBytes !== undefined) {
        const bytes = messageBytes(message, serialization);
        if (bytes > options.maxMessageBytes) throw new IsolatedWorkError('protocol', entry.path, `sent a message of ${bytes} bytes, over the limit of ${options.maxMessageBytes}`, { code: null, signal: null, stderrTail: '' });
      }
      options.onMessage?.(message);
    } catch (err) {
      const protocol = err instanceof IsolatedWorkError && err.code === 'protocol';
      watched.stop(protocol ? 'protocol' : 'parent_error', protocol ? err.how : `was stopped: the parent's message handler threw: ${err instanceof Error ? err.message : String(err)}`, err);
    }
  });

  return {
    pid: watched.pid,
    entryPath: entry.path,
    send: (message) =>
      new Promise<void>((resolve, reject) => {
        if (!child.connected) {
          reject(new Error(`cannot send to child process ${entry.path}: its IPC channel is closed`));
          return;
        }
        child.send(message as object, (err) => (err ? reject(err) : resolve()));
      }),
    stop: watched.stop,
    exited: watched.exited,
    stderrTail: watched.stderrTail,
  };
}

/**
 * Runs a program (a vendor tool such as trtexec) under the same bounds as {@link startIsolated}:
 * deadline, idle bound (reset by any output), abort, SIGTERM then SIGKILL, stderr tail; no IPC.
 * A program that cannot be started (not found, not executable) is a `start_failed` exit.
 */
export function spawnSupervised(command: string, args: readonly string[], options: SpawnSupervisedOptions = {}): SupervisedProcess {
  const child = spawn(command, [...args], { env: options.env ?? process.env, stdio: ['ignore', options.onStdout ? 'pipe' : 'ignore', 'pipe'] });
  const watched = supervise(child, {
    ...options,
    onStderr: (chunk) => {
      watched.activity();
      options.onStderr?.(chunk);
    },
  });
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    watched.activity();
    options.onStdout?.(chunk);
  });
  return { pid: watched.pid, stop: watched.stop, exited: watched.exited, stderrTail: watched.stderrTail };
}
