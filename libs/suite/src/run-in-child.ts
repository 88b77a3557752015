import { IsolatedWorkError, childEntry, startIsolated, type ChildEntry } from '@benchfarm/isolate';
import { ErrorCode } from '@benchfarm/protocol';
import { PeakRssUnavailableError, SuiteChildError, SuiteError } from './errors';
import { parseSuiteJob, type SuiteJob } from './job';
import type { BareLoopResultMessage, IdleRssMessage, SuiteChildEvent, SuiteChildExit, SuiteErrorEvent, SuiteRunMessage } from './messages';

const SUITE_CHILD = childEntry(new URL('./child.main.ts', import.meta.url));
const IDLE_CHILD = childEntry(new URL('./idle.main.ts', import.meta.url));
const BARE_LOOP_CHILD = childEntry(new URL('./bare-loop.main.ts', import.meta.url));

/** Absolute path of the suite process's entry file (child.main.ts from source, child.main.mjs in the agent bundle). */
export const childEntryPath: string = SUITE_CHILD.path;

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

  return runSuite(job, opts, exit, deliver);
}

async function runSuite(job: SuiteJob, opts: RunSuiteInChildOptions, exit: SuiteChildExit, deliver: (event: SuiteChildEvent) => void): Promise<SuiteChildExit> {
  const child = startIsolated(SUITE_CHILD, {
    ...(opts.env && { env: opts.env }),
    ...(opts.stallTimeoutMs !== undefined && { idleTimeoutMs: opts.stallTimeoutMs }),
    ...(opts.signal && { signal: opts.signal }),
    stderrTailBytes: STDERR_TAIL_BYTES,
    // The suite holds nothing worth a clean exit, and a frozen process ignores SIGTERM anyway.
    killGraceMs: 0,
    // A throw of onEvent stops the child; runSuiteInChild rejects with it below.
    onMessage: (message) => {
      if (isSuiteChildEvent(message)) deliver(message);
    },
  });
  child.send({ type: 'run', job } satisfies SuiteRunMessage).catch((err: unknown) => child.stop('start_failed', `could not be sent its job: ${err instanceof Error ? err.message : String(err)}`, err));
  const ended = await child.exited;
  exit.exitCode = ended.code;
  exit.signal = ended.signal;
  exit.stderrTail = ended.stderrTail;
  const stopped = ended.stopped;
  if (stopped?.code === 'parent_error') throw stopped.error;
  if (stopped?.code === 'aborted') exit.aborted = true;
  if (!exit.aborted && !exit.sawSummary && !exit.sawError) {
    const why =
      stopped?.code === 'idle_timeout'
        ? `no event for ${opts.stallTimeoutMs} ms (hung or frozen): killed`
        : stopped?.code === 'start_failed'
          ? stopped.detail
          : deathCause(ended.code, ended.signal);
    deliver(crashEvent(why, exit.stderrTail));
  }
  return exit;
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

/**
 * Starts a one-job helper process, sends it `{type: 'run', job}` (when given) and resolves
 * with the first message that passes `accept`. Rejects with SuiteChildError when the
 * helper reports an error event or exits first.
 */
async function askHelper<T>(entry: ChildEntry, job: SuiteJob | undefined, accept: (message: unknown) => message is T, env?: NodeJS.ProcessEnv): Promise<T> {
  let answer: T | undefined;
  let failure: string | undefined;
  const child = startIsolated(entry, {
    ...(env && { env }),
    stderrTailBytes: STDERR_TAIL_BYTES,
    onMessage: (message) => {
      if (accept(message)) answer ??= message;
      else if (isSuiteChildEvent(message) && message.type === 'error') failure = message.message;
    },
  });
  child.send({ type: 'run', ...(job && { job }) }).catch((err: unknown) => child.stop('start_failed', `could not be sent its job: ${err instanceof Error ? err.message : String(err)}`, err));
  const ended = await child.exited;
  if (answer !== undefined) return answer;
  if (ended.stopped?.code === 'start_failed') throw new SuiteChildError(`could not start ${entry.path}: ${ended.stopped.detail}`, { cause: new IsolatedWorkError('start_failed', entry.path, ended.stopped.detail, ended) });
  const tail = ended.stderrTail.trim();
  throw new SuiteChildError(`${entry.path} ended without a result (${failure ?? deathCause(ended.code, ended.signal)})${tail ? `: ${tail}` : ''}`);
}

/**
 * Peak RSS (VmHWM) of a fresh process started like a suite process that only loads
 * onnxruntime-node: the floor a job's peak memory is compared against.
 *
 * Thrown errors: PeakRssUnavailableError without /proc; SuiteChildError if the helper dies.
 */
export async function idleChildRssBytes(env?: NodeJS.ProcessEnv): Promise<number> {
  const isIdleRss = (m: unknown): m is IdleRssMessage => (m as IdleRssMessage | null)?.type === 'idle-rss';
  const { peakRssBytes } = await askHelper(IDLE_CHILD, undefined, isIdleRss, env);
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
  const result = await askHelper(BARE_LOOP_CHILD, job, isResult, env);
  return {
    onnxruntimeVersion: result.onnxruntimeVersion,
    queries: result.queries,
    durationMs: result.durationMs,
    throughputQps: (result.queries / result.durationMs) * 1000,
  };
}
