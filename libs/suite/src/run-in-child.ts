import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ErrorCode } from '@benchfarm/protocol';
import { PeakRssUnavailableError, SuiteChildError, SuiteError, messageOf } from './errors';
import { parseSuiteJob, type SuiteJob } from './job';
import type { BareLoopResultMessage, IdleRssMessage, SuiteChildEvent, SuiteChildExit, SuiteErrorEvent, SuiteRunMessage } from './messages';

/** Absolute path of the suite process's entry file (child.main.ts). */
export const childEntryPath: string = fileURLToPath(new URL('./child.main.ts', import.meta.url));

const idleEntryPath = fileURLToPath(new URL('./idle.main.ts', import.meta.url));
const bareLoopEntryPath = fileURLToPath(new URL('./bare-loop.main.ts', import.meta.url));

/**
 * File URL of tsx's ESM loader, for `node --import`. Resolved through require because
 * tsx exports it unconditionally and require.resolve works the same under tsx, vitest
 * and plain node, where import.meta.resolve does not.
 */
export const tsxLoaderUrl: string = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

const STDERR_TAIL_BYTES = 8192;

/** Options of runSuiteInChild. */
export interface RunSuiteInChildOptions {
  /**
   * Receives every event in order, the parent's synthetic crash error included. Called
   * synchronously from the IPC handler: queue slow work (uploads) rather than block. A throw
   * kills the suite process and rejects runSuiteInChild with that error.
   */
  onEvent: (event: SuiteChildEvent) => void;
  /** Kills the suite process (SIGKILL); the promise then resolves with `aborted: true`. */
  signal?: AbortSignal;
  /** Environment of the suite process (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /**
   * Kills the suite process (SIGKILL) when it sends no event for this long, and reports
   * CHILD_CRASHED: a call into onnxruntime that never returns, or a frozen process. The suite
   * reports progress about every second while it measures, so the bound only has to cover the
   * longest silent step (session creation of the largest model). Default: no bound.
   */
  stallTimeoutMs?: number;
}

/**
 * Runs one job in a fresh suite process and forwards its events. Resolves once the process
 * is gone and every event is delivered. When the process dies without a summary or error
 * (a signal such as SIGSEGV, the OOM killer's SIGKILL, a non-zero exit), it emits a
 * synthetic CHILD_CRASHED error first. An aborted run emits nothing more: the caller knows
 * why it ended. An invalid job is reported as an INTERNAL error event without forking.
 *
 * Rejects only when `onEvent` throws.
 */
export function runSuiteInChild(job: SuiteJob, opts: RunSuiteInChildOptions): Promise<SuiteChildExit> {
  const exit: SuiteChildExit = { exitCode: null, signal: null, sawSummary: false, sawError: false, aborted: false, stderrTail: '' };
  let callbackError: { err: unknown } | undefined;
  const deliver = (event: SuiteChildEvent): void => {
    if (event.type === 'summary') exit.sawSummary = true;
    if (event.type === 'error') exit.sawError = true;
    opts.onEvent(event);
  };

  try {
    parseSuiteJob(job);
  } catch (err) {
    if (!(err instanceof SuiteError)) throw err;
    deliver({ type: 'error', code: err.code, message: err.message, retryable: false });
    return Promise.resolve(exit);
  }
  if (opts.signal?.aborted) return Promise.resolve({ ...exit, aborted: true });

  return new Promise((resolve, reject) => {
    const { child, stderrTail: stderr } = forkHelperChild(childEntryPath, opts.env);
    let finished = false;
    let hung: string | undefined;
    let stallTimer: NodeJS.Timeout | undefined;
    const armStallTimer = (): void => {
      if (opts.stallTimeoutMs === undefined) return;
      clearTimeout(stallTimer);
      stallTimer = setTimeout(() => {
        hung = `no event for ${opts.stallTimeoutMs} ms (hung or frozen): killed`;
        child.kill('SIGKILL');
      }, opts.stallTimeoutMs);
    };
    armStallTimer();
    const onAbort = (): void => {
      exit.aborted = true;
      child.kill('SIGKILL');
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    child.on('message', (message: unknown) => {
      armStallTimer();
      if (!isSuiteChildEvent(message) || callbackError) return;
      try {
        deliver(message);
      } catch (err) {
        callbackError = { err };
        child.kill('SIGKILL');
      }
    });
    // Only a failed spawn or a failed kill land here; a running child always ends in 'close'.
    child.on('error', (err) => {
      if (child.pid === undefined) finish(null, null, `could not start the suite process: ${messageOf(err)}`);
    });
    child.on('close', (code, signal) => finish(code, signal));
    child.send({ type: 'run', job } satisfies SuiteRunMessage, (err) => {
      if (err) child.kill('SIGKILL');
    });

    function finish(code: number | null, signal: NodeJS.Signals | null, why?: string): void {
      if (finished) return;
      finished = true;
      clearTimeout(stallTimer);
      opts.signal?.removeEventListener('abort', onAbort);
      exit.exitCode = code;
      exit.signal = signal;
      exit.stderrTail = stderr();
      if (callbackError) {
        reject(callbackError.err);
        return;
      }
      if (!exit.aborted && !exit.sawSummary && !exit.sawError) {
        try {
          deliver(crashEvent(why ?? hung ?? deathCause(code, signal), exit.stderrTail));
        } catch (err) {
          reject(err);
          return;
        }
      }
      resolve(exit);
    }
  });
}

/** The synthetic error of a suite process that died without saying why. */
function crashEvent(cause: string, stderrTail: string): SuiteErrorEvent {
  const lastLines = stderrTail.trim().split('\n').slice(-5).join('\n');
  return {
    type: 'error',
    code: ErrorCode.ERROR_CODE_CHILD_CRASHED,
    message: lastLines ? `suite process died: ${cause}; its stderr ended with:\n${lastLines}` : `suite process died: ${cause}`,
    retryable: false,
  };
}

function deathCause(code: number | null, signal: NodeJS.Signals | null): string {
  if (signal === 'SIGKILL') return 'signal SIGKILL (often the kernel OOM killer)';
  if (signal) return `signal ${signal}`;
  if (code === 0) return 'exit code 0 without a summary or an error';
  return `exit code ${code}`;
}

function isSuiteChildEvent(message: unknown): message is SuiteChildEvent {
  if (typeof message !== 'object' || message === null) return false;
  const type = (message as { type?: unknown }).type;
  return type === 'started' || type === 'progress' || type === 'samples' || type === 'summary' || type === 'error' || type === 'mark';
}

/** Forks a TypeScript entry under the tsx loader, with stderr piped and stdout dropped. */
/**
 * Forks `entryPath` as a helper process the way every suite process starts: the tsx loader,
 * JSON IPC, stdout ignored, stderr drained (so the child never blocks on a full pipe) with its
 * last STDERR_TAIL_BYTES kept for error messages. Used by the agent's health check too.
 */
export function forkHelperChild(entryPath: string, env?: NodeJS.ProcessEnv): { child: ChildProcess; stderrTail: () => string } {
  const child = fork(entryPath, [], {
    execArgv: ['--import', tsxLoaderUrl],
    env: env ?? process.env,
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    serialization: 'json',
  });
  let tail = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    tail = (tail + chunk).slice(-STDERR_TAIL_BYTES);
  });
  return { child, stderrTail: () => tail };
}

/**
 * Forks a one-job helper process, sends it `{type: 'run', job}` (when given) and resolves
 * with the first message that passes `accept`. Rejects with SuiteChildError when the
 * helper reports an error event or exits first.
 */
function askHelper<T>(entryPath: string, job: SuiteJob | undefined, accept: (message: unknown) => message is T, env?: NodeJS.ProcessEnv): Promise<T> {
  return new Promise((resolve, reject) => {
    const { child, stderrTail: stderr } = forkHelperChild(entryPath, env);
    let answer: T | undefined;
    let failure: string | undefined;
    child.on('message', (message: unknown) => {
      if (accept(message)) answer = message;
      else if (isSuiteChildEvent(message) && message.type === 'error') failure = message.message;
    });
    child.on('error', (err) => {
      if (child.pid === undefined) reject(new SuiteChildError(`could not start ${entryPath}: ${messageOf(err)}`, { cause: err }));
    });
    child.on('close', (code, signal) => {
      if (answer !== undefined) resolve(answer);
      else reject(new SuiteChildError(`${entryPath} ended without a result (${failure ?? deathCause(code, signal)})${stderr() ? `: ${stderr().trim()}` : ''}`));
    });
    child.send({ type: 'run', ...(job && { job }) }, (err) => {
      if (err) child.kill('SIGKILL');
    });
  });
}

/**
 * Peak RSS (VmHWM) of a fresh process started like a suite process that only loads
 * onnxruntime-node: the floor a job's peak memory is compared against.
 *
 * Thrown errors: PeakRssUnavailableError without /proc; SuiteChildError if the helper dies.
 */
export async function idleChildRssBytes(env?: NodeJS.ProcessEnv): Promise<number> {
  const isIdleRss = (m: unknown): m is IdleRssMessage => (m as IdleRssMessage | null)?.type === 'idle-rss';
  const { peakRssBytes } = await askHelper(idleEntryPath, undefined, isIdleRss, env);
  if (peakRssBytes === null) throw new PeakRssUnavailableError('no /proc/self/status on this platform: VmHWM cannot be read');
  return peakRssBytes;
}

/** Throughput of a bare `await session.run()` loop, as measured by runBareLoopInChild. */
export interface BareLoopResult {
  onnxruntimeVersion: string;
  queries: number;
  durationMs: number;
  throughputQps: number;
}

/**
 * For the harness-overhead bench only: runs the job's model in a fresh process as a bare
 * `await session.run(feeds)` loop for `suite.minDurationMs`, after the same warm-up as the
 * suite, and reports its throughput.
 *
 * Thrown errors: SuiteChildError when the process reports an error or dies.
 */
export async function runBareLoopInChild(job: SuiteJob, env?: NodeJS.ProcessEnv): Promise<BareLoopResult> {
  const isResult = (m: unknown): m is BareLoopResultMessage => (m as BareLoopResultMessage | null)?.type === 'bare-result';
  const result = await askHelper(bareLoopEntryPath, job, isResult, env);
  return {
    onnxruntimeVersion: result.onnxruntimeVersion,
    queries: result.queries,
    durationMs: result.durationMs,
    throughputQps: (result.queries / result.durationMs) * 1000,
  };
}
