import { sendToParent, serveOne } from '@benchfarm/isolate';
import { ErrorCode } from '@benchfarm/protocol';
import { SuiteError, messageOf } from './errors';
import type { SuiteErrorEvent } from './messages';

/** The wire error for anything a suite process caught: the domain code when it has one, else INTERNAL. */
export function errorEventOf(err: unknown): SuiteErrorEvent {
  if (err instanceof SuiteError) return { type: 'error', code: err.code, message: err.message, retryable: false };
  const name = err instanceof Error ? err.name : 'Error';
  return { type: 'error', code: ErrorCode.ERROR_CODE_INTERNAL, message: `internal error in the suite process: ${name}: ${messageOf(err)}`, retryable: false };
}

/**
 * Runs a child's one job (serveOne of @benchfarm/isolate): waits for the parent's first
 * message, hands it to `handle`, then exits 0 once every message is sent; a failure is sent as
 * the wire error first. A child whose parent disappears exits at once, so no benchmark keeps
 * running orphaned. It exits 1 only when even the error could not be sent.
 */
export function serveOneJob(handle: (message: unknown) => Promise<void>): void {
  serveOne(handle, (err) => sendToParent(errorEventOf(err)));
}
