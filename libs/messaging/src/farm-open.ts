import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { Objm } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import { useNativeObjectDigests, type FarmStore } from './jetstream';
import { AGENT_BUCKET, MODEL_BUCKET } from './topology';

/** Thrown when the farm's buckets cannot be opened (missing, or the user may not see them); keeps the cause. */
export class FarmOpenError extends Error {
  override name = 'FarmOpenError';
}

/**
 * Opens the agent registry bucket and the model bucket without creating or changing anything:
 * what an enrolled agent does, whose NATS user may not create streams or consumers (see
 * `agentPermissions`). The coordinator creates them (`ensureFarmStore`) and the agent's durable
 * consumer (at enrollment); both must exist before the agent starts.
 *
 * Thrown errors: FarmOpenError naming the bucket that is missing or not readable.
 */
export async function openFarmStore(nc: NatsConnection, options: { domain?: string | undefined } = {}): Promise<FarmStore> {
  const domain = options.domain ? { domain: options.domain } : {};
  const jsm = await jetstreamManager(nc, domain);
  const js = jetstream(nc, domain);
  let agents;
  try {
    agents = await new Kvm(js).open(AGENT_BUCKET);
    // open() binds without asking the server; status() proves the bucket is there.
    await agents.status();
  } catch (err) {
    throw new FarmOpenError(`cannot open the agent registry bucket ${AGENT_BUCKET} (has the coordinator started?): ${(err as Error).message}`, { cause: err });
  }
  let models;
  try {
    useNativeObjectDigests();
    models = await new Objm(js).open(MODEL_BUCKET);
  } catch (err) {
    throw new FarmOpenError(`cannot open the model bucket ${MODEL_BUCKET} (has the coordinator started?): ${(err as Error).message}`, { cause: err });
  }
  return { nc, js, jsm, agents, models };
}
