import { AckPolicy, DeliverPolicy, RetentionPolicy, StorageType, jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager, type Consumer } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { Objm, type ObjectStore } from '@nats-io/obj';
import { nanos, type NatsConnection } from '@nats-io/transport-node';
import {
  AGENT_BUCKET,
  AGENT_STALE_AFTER_MS,
  JOB_ACK_WAIT_MS,
  JOB_DUPLICATE_WINDOW_MS,
  JOB_MAX_DELIVER,
  JOB_STREAM,
  JOB_SUBJECT_PREFIX,
  MODEL_BUCKET,
  agentConsumerName,
  jobSubject,
} from './topology';

/** Handles on the JetStream resources benchfarm uses, opened on one connection. */
export interface FarmStore {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly agents: KV;
  readonly models: ObjectStore;
}

/**
 * Creates (or opens, when they exist) the job stream, the agent registry bucket and the
 * model bucket. Idempotent: the coordinator calls it at start-up, agents may call it too.
 */
export async function ensureFarmStore(nc: NatsConnection): Promise<FarmStore> {
  const jsm = await jetstreamManager(nc);
  const streamConfig = {
    name: JOB_STREAM,
    subjects: [`${JOB_SUBJECT_PREFIX}.>`],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    duplicate_window: nanos(JOB_DUPLICATE_WINDOW_MS),
  };
  try {
    await jsm.streams.info(JOB_STREAM);
  } catch {
    await jsm.streams.add(streamConfig);
  }
  const agents = await new Kvm(nc).create(AGENT_BUCKET, { ttl: AGENT_STALE_AFTER_MS, history: 1 });
  const models = await new Objm(nc).create(MODEL_BUCKET);
  return { nc, js: jetstream(nc), jsm, agents, models };
}

/**
 * Creates the agent's durable pull consumer on its own subject. `max_ack_pending: 1` makes
 * the server hand an agent one job at a time; AckWait only covers a dead agent because a
 * live one sends `working()` while it runs.
 */
export async function ensureAgentConsumer(jsm: JetStreamManager, agentId: string, settings: { ackWaitMs?: number; maxDeliver?: number } = {}): Promise<void> {
  const name = agentConsumerName(agentId);
  const config = {
    durable_name: name,
    filter_subject: jobSubject(agentId),
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    max_ack_pending: 1,
    // Tests shorten AckWait to keep fault-injection runs short; production uses the reference.
    ack_wait: nanos(settings.ackWaitMs ?? JOB_ACK_WAIT_MS),
    max_deliver: settings.maxDeliver ?? JOB_MAX_DELIVER,
  };
  try {
    await jsm.consumers.info(JOB_STREAM, name);
  } catch {
    await jsm.consumers.add(JOB_STREAM, config);
  }
}

/** Opens the agent's consumer for `next()` pulls. */
export async function agentConsumer(js: JetStreamClient, agentId: string): Promise<Consumer> {
  return js.consumers.get(JOB_STREAM, agentConsumerName(agentId));
}
