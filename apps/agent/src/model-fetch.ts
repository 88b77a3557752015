import { setTimeout as sleep } from 'node:timers/promises';
import { ModelFetchError } from '@benchfarm/messaging';

/** How long one attempt keeps retrying a model read that failed on the way. */
export const MODEL_FETCH_RETRY_BUDGET_MS = 30_000;

/**
 * Runs `fetch`, trying again after a transient {@link ModelFetchError} (a read from the object
 * store that failed on the way) with backoff (0.5 s doubling to 4 s) while `budgetMs` lasts. A
 * missing or corrupt model, and any other error (a local one), is thrown at once.
 */
export async function retryTransientFetch<T>(fetch: () => Promise<T>, budgetMs: number, signal: AbortSignal, onRetry: (err: unknown, waitMs: number) => void): Promise<T> {
  const deadline = Date.now() + budgetMs;
  let waitMs = 500;
  for (;;) {
    try {
      return await fetch();
    } catch (err) {
      // Only a read from the object store that failed on the way is worth waiting for within
      // the attempt; a local failure (an unusable cache folder) goes back to the queue at once.
      const transient = err instanceof ModelFetchError && err.transient;
      if (!transient || signal.aborted || Date.now() + waitMs > deadline) throw err;
      onRetry(err, waitMs);
      await sleep(waitMs);
      waitMs = Math.min(waitMs * 2, 4_000);
    }
  }
}
