import { ErrorCode } from '@benchfarm/protocol';
import { SuiteError, messageOf } from './errors';
import type { SuiteErrorEvent } from './messages';

/**
 * Sends one IPC message to the parent and resolves once it is handed to the channel, so a
 * process that awaits its last send can exit without losing it.
 */
export function sendToParent(message: object): Promise<void> {
  const send = process.send?.bind(process);
  if (!send) return Promise.reject(new Error('this process was not started with an IPC channel (use child_process.fork)'));
  return new Promise((resolve, reject) => {
    send(message, undefined, undefined, (err: Error | null) => (err ? reject(err) : resolve()));
  });
}

/**
 * Sends without waiting: for progress, which must not slow the measured loop. A failed
 * send means the parent is gone, which the 'disconnect' handler already deals with.
 */
export function postToParent(message: object): void {
  process.send?.(message, undefined, undefined, () => undefined);
}

/** The wire error for anything a suite process caught: the domain code when it has one, else INTERNAL. */
export function errorEventOf(err: unknown): SuiteErrorEvent {
  if (err instanceof SuiteError) return { type: 'error', code: err.code, message: err.message, retryable: false };
  const name = err instanceof Error ? err.name : 'Error';
  return { type: 'error', code: ErrorCode.ERROR_CODE_INTERNAL, message: `internal error in the suite process: ${name}: ${messageOf(err)}`, retryable: false };
}

/**
 * Runs a child's one job: waits for the parent's first message, hands it to `handle`, then
 * exits 0 once every message is sent. A child whose parent disappears exits at once, so no
 * benchmark keeps running orphaned. It exits 1 only when even the error could not be sent.
 */
export function serveOneJob(handle: (message: unknown) => Promise<void>): void {
  process.once('disconnect', () => process.exit(2));
  process.once('message', (message: unknown) => {
    handle(message).then(
      () => process.exit(0),
      async (err: unknown) => {
        try {
          await sendToParent(errorEventOf(err));
          process.exit(0);
        } catch {
          process.exit(1);
        }
      },
    );
  });
}
