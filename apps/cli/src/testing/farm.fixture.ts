// Shared waits of the CLI's integration tests, which run the farm as real processes.
import { setTimeout as sleep } from 'node:timers/promises';
import type { CoordinatorClient, SweepView } from '../client';

/** Polls a sweep until it is no longer running; throws with the job states after `timeoutMs`. */
export async function waitForSweep(client: CoordinatorClient, id: string, timeoutMs = 120_000): Promise<SweepView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const sweep = await client.getSweep(id);
    if (sweep.state !== 'running') return sweep;
    if (Date.now() > deadline) throw new Error(`sweep ${id} still running after ${timeoutMs} ms: ${JSON.stringify(sweep.jobs.map((j) => j.state))}`);
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
