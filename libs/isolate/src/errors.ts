/** Why an isolated piece of work ended without an answer. */
export const ISOLATED_WORK_CODES = ['start_failed', 'timed_out', 'idle_timeout', 'aborted', 'crashed', 'protocol', 'parent_error'] as const;
/** One of {@link ISOLATED_WORK_CODES}. */
export type IsolatedWorkCode = (typeof ISOLATED_WORK_CODES)[number];

/** How a child process ended, as the parent saw it. */
export interface ChildExit {
  /** Exit code; null when a signal ended it or it never started. */
  readonly code: number | null;
  /** The signal that ended it, if one did. */
  readonly signal: NodeJS.Signals | null;
  /** Set when the parent ended it (deadline, abort, bad message) or it could not start. */
  readonly stopped?: { readonly code: IsolatedWorkCode; readonly detail: string; readonly error?: unknown };
  /** The last bytes the child wrote to stderr (bounded). */
  readonly stderrTail: string;
}

/**
 * Thrown (rejected) by runIsolated when the child gave no answer: it could not start, missed
 * its deadline, was aborted, crashed (exit code or signal), or sent a message that is not the
 * protocol's. `how` is a short phrase for the caller's own message ("did not finish within
 * 100 ms", "crashed (SIGSEGV)", "exited with code 1"); the message adds the stderr tail.
 */
export class IsolatedWorkError extends Error {
  override name = 'IsolatedWorkError';
  constructor(
    readonly code: IsolatedWorkCode,
    readonly entry: string,
    readonly how: string,
    readonly exit: ChildExit,
    options?: { cause?: unknown },
  ) {
    const tail = exit.stderrTail.trim();
    super(`child process ${entry} ${how}${tail ? `; stderr: ${tail}` : ''}`, options);
  }

  /** The child's exit code, null when a signal ended it or it never started. */
  get exitCode(): number | null {
    return this.exit.code;
  }

  /** The signal that ended the child, if one did. */
  get signal(): NodeJS.Signals | null {
    return this.exit.signal;
  }

  /** The last bytes of the child's stderr. */
  get stderrTail(): string {
    return this.exit.stderrTail;
  }
}

/** Thrown when a child entry is not a file URL of a TypeScript module, or the tsx loader cannot be found. */
export class ChildEntryError extends Error {
  override name = 'ChildEntryError';
}

/** The short phrase of {@link IsolatedWorkError.how} for an exit the parent did not cause. */
export function describeExit(exit: Pick<ChildExit, 'code' | 'signal'>): string {
  if (exit.signal) return `crashed (${exit.signal})`;
  if (exit.code === 0) return 'exited with code 0 without an answer';
  return `exited with code ${exit.code}`;
}
