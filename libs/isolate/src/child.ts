// The child's side: answer the parent, and never outlive it.
import type { IsolatedAnswer, IsolatedRequest } from './protocol';
import { preview } from './protocol';
import { serializeError } from './serialize';

function requireChannel(): NonNullable<typeof process.send> {
  const send = process.send?.bind(process);
  if (!send) {
    process.stderr.write(`${process.argv[1] ?? 'this file'} is a child process entry: start it with runIsolated / startIsolated (@benchfarm/isolate), which give it an IPC channel\n`);
    process.exit(1);
  }
  return send;
}

/**
 * Sends one IPC message to the parent and resolves once it is handed to the channel, so a
 * process that awaits its last send can exit without losing it.
 */
export function sendToParent(message: unknown): Promise<void> {
  const send = process.send?.bind(process);
  if (!send) return Promise.reject(new Error('this process was not started with an IPC channel (use startIsolated)'));
  return new Promise((resolve, reject) => {
    send(message as object, undefined, undefined, (err: Error | null) => (err ? reject(err) : resolve()));
  });
}

/**
 * Sends without waiting: for progress, which must not slow a measured loop. A failed send means
 * the parent is gone, which serveOne's 'disconnect' handler already deals with.
 */
export function postToParent(message: unknown): void {
  process.send?.(message as object, undefined, undefined, () => undefined);
}

/**
 * Runs a child's one piece of work: waits for the parent's first message, hands it to
 * `handle`, exits 0 once it settled and its messages are sent. A failure is first handed to
 * `onError` (which sends what the protocol says); the child exits 1 only when even that fails.
 * A child whose parent disappears exits at once (code 2), so no work keeps running orphaned.
 */
export function serveOne(handle: (message: unknown) => Promise<void>, onError: (err: unknown) => Promise<void>): void {
  requireChannel();
  process.once('disconnect', () => process.exit(2));
  process.once('message', (message: unknown) => {
    handle(message).then(
      () => process.exit(0),
      async (err: unknown) => {
        try {
          await onError(err);
          process.exit(0);
        } catch {
          process.exit(1);
        }
      },
    );
  });
}

/**
 * The child's side of runIsolated: receives the input, runs `work` on it, and sends back its
 * value or its error (serialized with the cause chain), then exits.
 */
export function serveIsolated<I, O>(work: (input: I) => Promise<O> | O): void {
  const answer = (a: IsolatedAnswer): Promise<void> => sendToParent(a);
  serveOne(
    async (message) => {
      const request = message as Partial<IsolatedRequest> | null;
      if (typeof request !== 'object' || request === null || request.kind !== 'isolate.run') throw new Error(`expected an isolate.run request from the parent, got ${preview(message)}`);
      const value = await work(request.input as I);
      await answer({ kind: 'isolate.answer', ok: true, value });
    },
    (err) => answer({ kind: 'isolate.answer', ok: false, error: serializeError(err) }),
  );
}
