// Shared waits of the CLI's integration tests, which run the farm as real processes.
import { setTimeout as sleep } from 'node:timers/promises';
import type { CoordinatorClient, SweepView } from '../client';

/**
 * Creates a sweep and waits until its variants are derived (POST /sweeps answers in `deriving`):
 * the sweep with its jobs (running), or failed. Refusals reject as createSweep's do.
 */
export async function createDerived(client: CoordinatorClient, ...args: Parameters<CoordinatorClient['createSweep']>): Promise<SweepView> {
  const created = await client.createSweep(...args);
  return created.state === 'deriving' ? client.waitDerived(created.id, 600_000, 100) : created;
}

/** Polls a sweep until it is no longer deriving or running; throws with the job states after `timeoutMs`. */
export async function waitForSweep(client: CoordinatorClient, id: string, timeoutMs = 120_000): Promise<SweepView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const sweep = await client.getSweep(id);
    if (sweep.state !== 'running' && sweep.state !== 'deriving') return sweep;
    if (Date.now() > deadline) throw new Error(`sweep ${id} still ${sweep.state} after ${timeoutMs} ms: ${JSON.stringify(sweep.state === 'deriving' ? sweep.derivation : sweep.jobs.map((j) => j.state))}`);
    await sleep(250);
  }
}

/** Waits until the agent is in the coordinator's registry. */
export async function waitForAgent(client: CoordinatorClient, agentId: string | undefined, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await client.listAgents()).some((a) => a.agentId === agentId)) {
    if (Date.now() > deadline) throw new Error(`agent ${agentId} did not register within ${timeoutMs} ms`);
    await sleep(200);
  }
}

/**
 * Sweep settings for a short job on PaddleOCR's classifier (input x [?, 3, 48, 192]): one
 * job per variant and agent (no interleaved comparison job), 10 measured queries, a short
 * warm-up. Tests override `targets`, `variants` and the durations they need.
 */
export const QUICK_SWEEP = {
  variants: 'fp32',
  targets: 'all',
  shapes: 'x:1x3x48x192',
  compare: 'none',
  warmupMinQueries: 2,
  warmupMinDurationMs: 50,
  minQueries: 10,
  minDurationMs: 300,
  maxDurationMs: 20_000,
} as const;
