// POST /sweeps answers in `deriving`; integration tests that read a sweep's jobs wait for them.
import { setTimeout as sleep } from 'node:timers/promises';
import type { SweepView } from '../sweeps/sweep.view';

/**
 * Polls `GET /sweeps/:id` until the sweep is no longer `deriving`: running with its jobs, or
 * failed. A view that is not deriving (or an error body without an id) comes back as it is.
 */
export async function untilDerived<T>(baseUrl: string, view: T, headers: Record<string, string> = {}, timeoutMs = 300_000): Promise<T> {
  const sweep = view as Partial<SweepView>;
  if (sweep.state !== 'deriving' || sweep.id === undefined) return view;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const current = (await (await fetch(`${baseUrl}/sweeps/${sweep.id}`, { headers })).json()) as SweepView;
    if (current.state !== 'deriving') return current as T;
    if (Date.now() > deadline) throw new Error(`sweep ${sweep.id} still deriving after ${timeoutMs} ms: ${JSON.stringify(current.derivation)}`);
    await sleep(50);
  }
}
