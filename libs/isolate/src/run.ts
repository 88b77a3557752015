import type { ChildEntry } from './entry';
import { IsolatedWorkError, describeExit } from './errors';
import { preview, type IsolatedAnswer, type IsolatedRequest } from './protocol';
import { isSerializedError, reviveError, type KnownErrors } from './serialize';
import { startIsolated, type StartIsolatedOptions } from './start';

/** Options of {@link runIsolated}. */
export interface RunIsolatedOptions extends Omit<StartIsolatedOptions, 'onMessage'> {
  /** Error classes rebuilt as themselves when the child throws one (by their `name`). */
  readonly errors?: KnownErrors;
  /** A child that has answered but not exited after this long is stopped (default 5 s). */
  readonly exitGraceMs?: number;
}

const DEFAULT_MAX_ANSWER_BYTES = 64 * 1024 * 1024;

function isAnswer(message: unknown): message is IsolatedAnswer {
  if (typeof message !== 'object' || message === null) return false;
  const m = message as Partial<Record<keyof IsolatedAnswer | 'error' | 'value', unknown>>;
  if (m.kind !== 'isolate.answer') return false;
  return m.ok === true ? 'value' in m : m.ok === false && isSerializedError(m.error);
}

/**
 * Runs one piece of work in a fresh child process and resolves with its answer once the child
 * is gone. The child serves it with `serveIsolated`. Resolves with the value; rejects with the
 * child's own error rebuilt (name, message, stack, fields, cause chain; classes in
 * `options.errors` as themselves), or with {@link IsolatedWorkError} when there was no answer:
 * `start_failed`, `timed_out`, `idle_timeout`, `aborted`, `crashed` (exit code or signal, with
 * the stderr tail), `protocol` (a message that is not the answer, a second answer, or one over
 * `maxMessageBytes`, default 64 MiB). The child is always stopped before the promise settles.
 */
export async function runIsolated<O>(entry: ChildEntry, input: unknown, options: RunIsolatedOptions = {}): Promise<O> {
  let answer: IsolatedAnswer | undefined;
  let graceTimer: NodeJS.Timeout | undefined;
  const child = startIsolated(entry, {
    ...options,
    maxMessageBytes: options.maxMessageBytes ?? DEFAULT_MAX_ANSWER_BYTES,
    onMessage: (message) => {
      if (!isAnswer(message)) throw new IsolatedWorkError('protocol', entry.path, `sent a message that is not an answer: ${preview(message)}`, { code: null, signal: null, stderrTail: '' });
      if (answer) throw new IsolatedWorkError('protocol', entry.path, 'sent a second answer', { code: null, signal: null, stderrTail: '' });
      answer = message;
      graceTimer = setTimeout(() => child.stop('timed_out', `answered but did not exit within ${options.exitGraceMs ?? 5_000} ms`), options.exitGraceMs ?? 5_000);
    },
  });
  child.send({ kind: 'isolate.run', input } satisfies IsolatedRequest).catch((err: unknown) => child.stop('start_failed', `could not be sent its input: ${err instanceof Error ? err.message : String(err)}`, err));
  const exit = await child.exited;
  clearTimeout(graceTimer);
  // An answer counts even when the child had to be stopped after it (it did not exit in time);
  // a protocol violation does not.
  if (answer && exit.stopped?.code !== 'protocol') {
    if (answer.ok) return answer.value as O;
    throw reviveError(answer.error, options.errors);
  }
  if (exit.stopped) throw new IsolatedWorkError(exit.stopped.code, entry.path, exit.stopped.detail, exit, exit.stopped.error === undefined ? undefined : { cause: exit.stopped.error });
  throw new IsolatedWorkError('crashed', entry.path, describeExit(exit), exit);
}
