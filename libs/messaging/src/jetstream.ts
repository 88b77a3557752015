import { AckPolicy, DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType, jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager, type Consumer, type JsMsg, type StreamConfig } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { Objm, setSha256Backend, type ObjectStore } from '@nats-io/obj';
import { nanos, type NatsConnection } from '@nats-io/transport-node';
import {
  AGENT_BUCKET,
  AGENT_BUCKET_MAX_BYTES,
  AGENT_RECORD_MAX_BYTES,
  AGENT_STALE_AFTER_MS,
  DEFAULT_FARM_LIMITS,
  JOB_ACK_WAIT_MS,
  JOB_DUPLICATE_WINDOW_MS,
  JOB_MAX_DELIVER,
  JOB_STREAM,
  JOB_SUBJECT_PREFIX,
  MODEL_BUCKET,
  agentConsumerName,
  jobSubject,
  type FarmStreamLimits,
} from './topology';

/** Handles on the JetStream resources benchfarm uses, opened on one connection. */
export interface FarmStore {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly agents: KV;
  readonly models: ObjectStore;
}

/** What {@link ensureFarmStore} is asked for. */
export interface FarmStoreOptions {
  /**
   * Replicas of the job stream, the agent registry bucket and the model bucket (1, or 3 on a
   * 3-server cluster so losing one server loses nothing). Resources that do not exist are
   * created with this many; existing ones with fewer are scaled up (see {@link ensureFarmStore}).
   * Omitted (agents): created with 1 when missing, existing ones are opened as they are.
   */
  replicas?: number;
  /**
   * JetStream domain to reach the farm's streams through, for a client connected to a leaf
   * node whose own server runs JetStream under another domain (deploy/nats/leaf). Omitted: the
   * local `$JS.API`, which a leaf node without JetStream forwards to its hub.
   */
  domain?: string;
  /** Hears what was changed or found different from what was asked (the coordinator logs it). */
  notice?: (level: 'info' | 'warn', message: string) => void;
  /**
   * Limits of the farm's streams; omitted ones take {@link DEFAULT_FARM_LIMITS}. Given (the
   * coordinator always gives them): streams that exist with other limits, such as those an older
   * version created without any, are updated to these (see {@link ensureFarmStore}). Omitted
   * (agents): missing streams are created with the defaults, existing ones are left as they are.
   */
  limits?: Partial<FarmStreamLimits>;
}

/** Thrown when a farm stream cannot be created or scaled to the replicas asked; keeps the server's error. */
export class FarmStoreError extends Error {
  override name = 'FarmStoreError';
}

/** The stream names behind the farm's resources, as `ensureFarmStore` reports them. */
export const FARM_STREAMS = [JOB_STREAM, `KV_${AGENT_BUCKET}`, `OBJ_${MODEL_BUCKET}`] as const;

/** The limit fields of a stream's configuration that {@link farmStreamLimits} sets. */
export type StreamLimitFields = Pick<StreamConfig, 'max_age' | 'max_bytes' | 'max_msg_size' | 'max_msgs_per_subject' | 'discard' | 'discard_new_per_subject' | 'duplicate_window'>;

/**
 * Checks limits and fills in the defaults. Thrown: RangeError naming the field and its range.
 */
export function resolveFarmLimits(limits: Partial<FarmStreamLimits> = {}): FarmStreamLimits {
  const resolved = { ...DEFAULT_FARM_LIMITS, ...Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined)) } as FarmStreamLimits;
  const ranges: Record<keyof FarmStreamLimits, [number, number]> = {
    // Under a second the server could delete a job before its agent's pull reaches it.
    jobMaxAgeMs: [1_000, 3_650 * 24 * 3_600_000],
    jobQueueMaxPerAgent: [1, 100_000_000],
    jobStreamMaxBytes: [1024 * 1024, 2 ** 50],
    modelStoreMaxBytes: [1024 * 1024, 2 ** 50],
  };
  for (const [field, [min, max]] of Object.entries(ranges) as Array<[keyof FarmStreamLimits, [number, number]]>) {
    const value = resolved[field];
    if (field === 'modelStoreMaxBytes' && value === 0) continue;
    if (!Number.isInteger(value) || value < min || value > max) throw new RangeError(`farm stream limit ${field} must be an integer from ${min} to ${max}${field === 'modelStoreMaxBytes' ? ' (or 0: none of its own)' : ''}, got ${value}`);
  }
  return resolved;
}

/**
 * The limit fields each farm stream gets from `limits`: every limit refuses what goes beyond it
 * (discard `new`; per subject too on the job stream), so nothing stored is deleted to make room;
 * only the job stream's max age deletes (a job no agent took in time). The registry bucket keeps
 * its TTL (the stale window) and one value per key; the model bucket has no max age (objects are
 * shared by digest between sweeps and datasets).
 */
export function farmStreamLimits(limits: FarmStreamLimits): Record<(typeof FARM_STREAMS)[number], Partial<StreamLimitFields>> {
  return {
    [JOB_STREAM]: {
      max_age: nanos(limits.jobMaxAgeMs),
      max_msgs_per_subject: limits.jobQueueMaxPerAgent,
      max_bytes: limits.jobStreamMaxBytes,
      discard: DiscardPolicy.New,
      discard_new_per_subject: true,
      // The server refuses a duplicate window longer than the max age.
      duplicate_window: nanos(Math.min(JOB_DUPLICATE_WINDOW_MS, limits.jobMaxAgeMs)),
    },
    [`KV_${AGENT_BUCKET}`]: { max_bytes: AGENT_BUCKET_MAX_BYTES, max_msg_size: AGENT_RECORD_MAX_BYTES, discard: DiscardPolicy.New },
    [`OBJ_${MODEL_BUCKET}`]: { max_bytes: limits.modelStoreMaxBytes > 0 ? limits.modelStoreMaxBytes : -1, max_age: 0, discard: DiscardPolicy.New },
  };
}

/**
 * Creates (or opens, when they exist) the job stream, the agent registry bucket and the
 * model bucket. Idempotent: the coordinator calls it at start-up, agents may call it too.
 *
 * With `replicas`, an existing stream with fewer replicas (created by an older coordinator or by
 * an agent that started first) is scaled up with a stream update that changes only
 * `num_replicas`: on nats-server 2.9 that is an online operation (the leader copies the stream
 * to the new peers, nothing is rewritten or deleted, publishers and consumers carry on), and the
 * server refuses it without changing anything when the cluster has too few servers. A stream
 * with more replicas than asked is left alone (scaling down drops redundancy; an operator's
 * call): both cases are reported through `notice`.
 */
export async function ensureFarmStore(nc: NatsConnection, options: FarmStoreOptions = {}): Promise<FarmStore> {
  const { replicas, domain, notice } = options;
  const limits = resolveFarmLimits(options.limits);
  const wanted = farmStreamLimits(limits);
  if (replicas !== undefined && (!Number.isInteger(replicas) || replicas < 1 || replicas > 5)) {
    throw new RangeError(`ensureFarmStore: replicas must be an integer from 1 to 5, got ${replicas}`);
  }
  const jsm = await jetstreamManager(nc, domain ? { domain } : {}).catch((err: unknown) => {
    const where = domain ? `JetStream domain "${domain}"` : 'the local JetStream API ($JS.API)';
    throw new FarmStoreError(`JetStream is not reachable through ${where}: ${(err as Error).message} (behind a NATS leaf node, set the hub's JetStream domain)`, { cause: err });
  });
  const js = jetstream(nc, domain ? { domain } : {});
  const streamConfig = {
    name: JOB_STREAM,
    subjects: [`${JOB_SUBJECT_PREFIX}.>`],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    num_replicas: replicas ?? 1,
    ...wanted[JOB_STREAM],
  };
  const creating = async <T>(stream: string, create: () => Promise<T>): Promise<T> => {
    try {
      return await create();
    } catch (err) {
      const message = (err as Error).message;
      // A stream's max_bytes is reserved out of the server's JetStream storage at creation.
      const hint = /insufficient storage/i.test(message) ? ` (its max_bytes limit is reserved out of nats-server's JetStream storage: lower the limit or give the server more max_file_store)` : '';
      throw new FarmStoreError(`cannot create or open stream ${stream} with ${replicas ?? 1} replica(s): ${message}${hint}`, { cause: err });
    }
  };
  const exists = await jsm.streams.info(JOB_STREAM).then(
    () => true,
    (err: unknown) => {
      if ((err as Error).message.includes('stream not found')) return false;
      throw err;
    },
  );
  if (!exists) await creating(JOB_STREAM, () => jsm.streams.add(streamConfig));
  // Both create with these limits when missing and open an existing bucket as it is.
  const agents = await creating(`KV_${AGENT_BUCKET}`, () =>
    new Kvm(js).create(AGENT_BUCKET, { ttl: AGENT_STALE_AFTER_MS, history: 1, replicas: replicas ?? 1, max_bytes: AGENT_BUCKET_MAX_BYTES, maxValueSize: AGENT_RECORD_MAX_BYTES }),
  );
  useNativeObjectDigests();
  const models = await creating(`OBJ_${MODEL_BUCKET}`, () => new Objm(js).create(MODEL_BUCKET, { replicas: replicas ?? 1, ...(limits.modelStoreMaxBytes > 0 ? { max_bytes: limits.modelStoreMaxBytes } : {}) }));
  if (options.limits !== undefined) {
    for (const stream of FARM_STREAMS) await applyStreamLimits(jsm, stream, wanted[stream], notice);
  }
  if (replicas !== undefined) {
    for (const stream of FARM_STREAMS) await scaleUp(jsm, stream, replicas, notice);
  }
  return { nc, js, jsm, agents, models };
}

/**
 * Brings an existing stream's limits to `wanted` with one stream update (streams created by a
 * version without limits, or with other settings). What would delete stored messages is not
 * applied: on nats-server 2.9.10 an update lowering max_bytes below what the stream holds deletes
 * the oldest messages at once (measured), which in the model bucket would leave objects without
 * their chunks; that limit stays as it was and `notice` says so. A max age lowered deletes job
 * messages older than the new age: that is what the limit promises. An update the server refuses
 * is reported through `notice` and the stream keeps working with its old limits (the coordinator
 * starts; never a crash on an old stream).
 */
export async function applyStreamLimits(jsm: JetStreamManager, stream: string, wanted: Partial<StreamLimitFields>, notice: FarmStoreOptions['notice']): Promise<void> {
  const info = await jsm.streams.info(stream);
  const have = info.config as StreamConfig;
  const change: Partial<StreamLimitFields> = {};
  for (const [field, value] of Object.entries(wanted) as Array<[keyof StreamLimitFields, StreamLimitFields[keyof StreamLimitFields]]>) {
    if (have[field] !== value) Object.assign(change, { [field]: value });
  }
  if (change.max_bytes !== undefined && change.max_bytes > 0 && info.state.bytes > change.max_bytes) {
    notice?.('warn', `stream ${stream} holds ${info.state.bytes} bytes, more than the limit of ${change.max_bytes}; the limit is not applied (it would delete stored messages): free space in it or raise the limit`);
    delete change.max_bytes;
  }
  if (Object.keys(change).length === 0) return;
  const described = Object.entries(change)
    .map(([field, value]) => `${field} ${String(have[field as keyof StreamLimitFields] ?? 'unset')} -> ${String(value)}`)
    .join(', ');
  try {
    await jsm.streams.update(stream, { ...have, ...change });
    notice?.('info', `stream ${stream} limits updated: ${described}`);
  } catch (err) {
    notice?.('warn', `stream ${stream} keeps its old limits: the server refused the update (${described}): ${(err as Error).message}`);
  }
}

async function scaleUp(jsm: JetStreamManager, stream: string, replicas: number, notice: FarmStoreOptions['notice']): Promise<void> {
  const info = await jsm.streams.info(stream);
  const have = info.config.num_replicas ?? 1;
  if (have === replicas) return;
  if (have > replicas) {
    notice?.('warn', `stream ${stream} has ${have} replicas, more than the ${replicas} asked; left as it is (scale it down by hand if that is meant)`);
    return;
  }
  notice?.('warn', `stream ${stream} exists with ${have} replica(s), fewer than the ${replicas} asked; scaling it up to ${replicas} (online; nothing is rewritten)`);
  try {
    await jsm.streams.update(stream, { ...info.config, num_replicas: replicas });
  } catch (err) {
    throw new FarmStoreError(`stream ${stream} has ${have} replica(s) and could not be scaled up to ${replicas}: ${(err as Error).message}`, { cause: err });
  }
  notice?.('info', `stream ${stream} scaled up to ${replicas} replicas`);
  // Durable consumers created on the R1 stream (num_replicas 0: "the stream's") do follow the
  // scale-up, but on nats-server 2.9.10 a follower restarted later reports them "not current" in
  // /healthz for good; setting their replicas explicitly avoids it (seen in nats-cluster.int-spec).
  // Right after the stream's own scale-up such an update can time out while the consumer's group
  // changes too: wait for the stream's new peers, then ask again (an update that timed out may
  // still have been applied, so read the consumer before each try).
  const deadline = Date.now() + 30_000;
  const pause = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 250));
  while (Date.now() < deadline) {
    const peers = (await jsm.streams.info(stream).catch(() => undefined))?.cluster?.replicas ?? [];
    if (peers.length >= replicas - 1 && peers.every((p) => p.current)) break;
    await pause();
  }
  const names: string[] = [];
  for await (const consumer of jsm.consumers.list(stream)) if (consumer.config.durable_name) names.push(consumer.name);
  for (const name of names) {
    for (;;) {
      try {
        if ((await jsm.consumers.info(stream, name)).config.num_replicas !== replicas) await jsm.consumers.update(stream, name, { num_replicas: replicas });
        break;
      } catch (err) {
        if (Date.now() >= deadline) throw new FarmStoreError(`consumer ${name} of stream ${stream} could not be scaled up to ${replicas}: ${(err as Error).message}`, { cause: err });
        await pause();
      }
    }
  }
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

/** Thrown when a job's ack or term was not confirmed within the time given; keeps the last error. */
export class AckNotConfirmedError extends Error {
  override name = 'AckNotConfirmedError';
}

const ACK_BODY = new TextEncoder().encode('+ACK');
/**
 * `+TERM` exactly: nats-server 2.9 compares the body with `+TERM` byte for byte and ignores
 * `+TERM <reason>` (what nats.js `JsMsg.term(reason)` sends; 2.10 added the reason). An ignored
 * term leaves the message pending until AckWait, and on a consumer with `max_ack_pending: 1` the
 * agent gets nothing else meanwhile; then it comes back, up to MaxDeliver times.
 */
const TERM_BODY = new TextEncoder().encode('+TERM');

/**
 * Acks `msg` and waits for the server's confirmation, asking again while nobody answers. On a
 * NATS cluster the consumer's raft leader may be the server that just died: until the survivors
 * elect a new one (seconds) an ack gets "no responders" or a timeout. `JsMsg.ackAck()` tries once
 * and then refuses every later ack, nak or term of that message, so the job would sit
 * unacknowledged until AckWait (30 s) and come back. The consumer's state is replicated, so
 * the new leader accepts the same ack. Gives up after `timeoutMs` with
 * {@link AckNotConfirmedError} (the message then comes back after AckWait, as before).
 */
export async function ackConfirmed(nc: NatsConnection, msg: JsMsg, options: ConfirmOptions): Promise<void> {
  await replyConfirmed(nc, msg, ACK_BODY, 'ack', options);
}

/**
 * Terminates `msg` (never redelivered; a work-queue stream deletes it) and waits for the server's
 * confirmation, asking again while nobody answers, like {@link ackConfirmed}. Sends a bare `+TERM`:
 * nats-server 2.9 ignores a term that carries a reason, so the caller logs its reason itself.
 * Thrown: {@link AckNotConfirmedError} after `timeoutMs` (the message then comes back after
 * AckWait and is judged again).
 */
export async function termConfirmed(nc: NatsConnection, msg: JsMsg, options: ConfirmOptions): Promise<void> {
  await replyConfirmed(nc, msg, TERM_BODY, 'term', options);
}

/** How long {@link ackConfirmed} / {@link termConfirmed} keep asking, and how often. */
export interface ConfirmOptions {
  timeoutMs: number;
  attemptTimeoutMs?: number;
  retryEveryMs?: number;
}

async function replyConfirmed(nc: NatsConnection, msg: JsMsg, body: Uint8Array, what: string, options: ConfirmOptions): Promise<void> {
  const reply = (msg as JsMsg & { reply?: string }).reply;
  if (!reply) throw new TypeError(`${what}Confirmed: the message has no ack subject (not a JetStream delivery)`);
  const deadline = Date.now() + options.timeoutMs;
  for (let attempt = 1; ; attempt += 1) {
    try {
      await nc.request(reply, body, { timeout: Math.max(100, Math.min(options.attemptTimeoutMs ?? 2_000, deadline - Date.now())) });
      return;
    } catch (err) {
      if (nc.isClosed() || Date.now() + (options.retryEveryMs ?? 250) >= deadline) {
        throw new AckNotConfirmedError(`${what} of ${msg.subject} (stream seq ${msg.seq}) not confirmed after ${attempt} attempt(s) in ${options.timeoutMs} ms: ${(err as Error).message}`, { cause: err });
      }
      await new Promise((resolve) => setTimeout(resolve, options.retryEveryMs ?? 250));
    }
  }
}

/**
 * Makes @nats-io/obj check object digests with node:crypto instead of its pure-JS SHA-256
 * (its browser-safe default): the same bytes, but the JS hash took 1.9 s for 50 x 100 KB images
 * under the agent unit's `--lite-mode` (5 ms native), so every dataset and model transfer paid it.
 * Process-wide; called before any object-store operation.
 */
export function useNativeObjectDigests(): void {
  setSha256Backend('native');
}
