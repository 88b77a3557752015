import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RetentionPolicy, StorageType, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { Objm } from '@nats-io/obj';
import { connect, nanos, type NatsConnection } from '@nats-io/transport-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  AGENT_BUCKET,
  AGENT_BUCKET_MAX_BYTES,
  AGENT_RECORD_MAX_BYTES,
  AGENT_STALE_AFTER_MS,
  DEFAULT_FARM_LIMITS,
  JOB_DUPLICATE_WINDOW_MS,
  JOB_STREAM,
  JOB_SUBJECT_PREFIX,
  MODEL_BUCKET,
  ensureFarmStore,
  fetchModel,
  jobSubject,
  putModel,
  resolveFarmLimits,
  startNatsServer,
  type NatsServerHandle,
} from './index';

const KV_STREAM = `KV_${AGENT_BUCKET}`;
const OBJ_STREAM = `OBJ_${MODEL_BUCKET}`;

// Every stream the farm creates has limits, and a farm whose streams an older
// version created (without limits) gets them on the coordinator's next start. Real nats-server 2.9.
describe('farm stream limits against a real nats-server', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let dir: string;

  beforeEach(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    dir = mkdtempSync(join(tmpdir(), 'bf-limits-'));
  });
  afterEach(async () => {
    await nc?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a store created without limits given (an agent first) has the defaults', async () => {
    const farm = await ensureFarmStore(nc);
    const jobs = (await farm.jsm.streams.info(JOB_STREAM)).config;
    expect(jobs).toMatchObject({
      max_age: nanos(DEFAULT_FARM_LIMITS.jobMaxAgeMs),
      max_msgs_per_subject: DEFAULT_FARM_LIMITS.jobQueueMaxPerAgent,
      max_bytes: DEFAULT_FARM_LIMITS.jobStreamMaxBytes,
      discard: 'new',
      discard_new_per_subject: true,
      duplicate_window: nanos(JOB_DUPLICATE_WINDOW_MS),
      retention: 'workqueue',
    });
    expect((await farm.jsm.streams.info(KV_STREAM)).config).toMatchObject({ max_age: nanos(AGENT_STALE_AFTER_MS), max_msgs_per_subject: 1, max_bytes: AGENT_BUCKET_MAX_BYTES, max_msg_size: AGENT_RECORD_MAX_BYTES, discard: 'new' });
    // No limit of its own by default: its max_bytes would be reserved out of the server's storage.
    expect((await farm.jsm.streams.info(OBJ_STREAM)).config).toMatchObject({ max_age: 0, max_bytes: -1, discard: 'new' });
  });

  it('refuses the job beyond the per-agent limit and keeps the queued ones; other agents still queue', async () => {
    const farm = await ensureFarmStore(nc, { limits: { jobQueueMaxPerAgent: 3 } });
    const stored: number[] = [];
    for (let i = 0; i < 3; i++) stored.push((await farm.js.publish(jobSubject('ghost'), new TextEncoder().encode(`job ${i}`), { msgID: `ghost-${i}` })).seq);
    await expect(farm.js.publish(jobSubject('ghost'), new TextEncoder().encode('job 3'), { msgID: 'ghost-3' })).rejects.toThrow(/maximum messages per subject exceeded/);
    // Discard NEW: the oldest queued job was not dropped to make room.
    for (const seq of stored) expect(await farm.jsm.streams.getMessage(JOB_STREAM, { seq })).not.toBeNull();
    await expect(farm.js.publish(jobSubject('other'), new TextEncoder().encode('job'), { msgID: 'other-0' })).resolves.toMatchObject({ duplicate: false });
    const info = await farm.jsm.streams.info(JOB_STREAM, { subjects_filter: `${JOB_SUBJECT_PREFIX}.>` });
    expect(info.state.subjects).toEqual({ [jobSubject('ghost')]: 3, [jobSubject('other')]: 1 });
  });

  it('deletes a job message no agent took within the max age (2 s here), and only then', async () => {
    const maxAgeMs = 2_000;
    const farm = await ensureFarmStore(nc, { limits: { jobMaxAgeMs: maxAgeMs } });
    // The server refuses a duplicate window longer than the max age: it follows the max age down.
    expect((await farm.jsm.streams.info(JOB_STREAM)).config).toMatchObject({ max_age: nanos(maxAgeMs), duplicate_window: nanos(maxAgeMs) });
    const ack = await farm.js.publish(jobSubject('offline'), new TextEncoder().encode('job'), { msgID: 'offline-0' });
    const publishedAt = Date.now();
    expect(await farm.jsm.streams.getMessage(JOB_STREAM, { seq: ack.seq })).not.toBeNull();
    let goneAfterMs = -1;
    while (Date.now() - publishedAt < maxAgeMs + 15_000) {
      if ((await farm.jsm.streams.getMessage(JOB_STREAM, { seq: ack.seq })) === null) {
        goneAfterMs = Date.now() - publishedAt;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // Never before the max age; the server's expiry timer may take a moment after it.
    expect(goneAfterMs).toBeGreaterThanOrEqual(maxAgeMs - 50);
    console.log(`[figures] ${JSON.stringify({ promise: 'job max age', maxAgeMs, goneAfterMs })}`);
  });

  it('streams an older version created without limits are updated on the next start, nothing stored is lost; a model bucket fuller than its new limit keeps its objects', async () => {
    // Exactly what the previous version created.
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    await jsm.streams.add({ name: JOB_STREAM, subjects: [`${JOB_SUBJECT_PREFIX}.>`], retention: RetentionPolicy.Workqueue, storage: StorageType.File, duplicate_window: nanos(JOB_DUPLICATE_WINDOW_MS), num_replicas: 1 });
    const oldKv = await new Kvm(js).create(AGENT_BUCKET, { ttl: AGENT_STALE_AFTER_MS, history: 1, replicas: 1 });
    const oldModels = await new Objm(js).create(MODEL_BUCKET, { replicas: 1 });
    for (let i = 0; i < 5; i++) await js.publish(jobSubject('old'), new TextEncoder().encode(`job ${i}`), { msgID: `old-${i}` });
    await oldKv.put('old-agent', new Uint8Array(100));
    const modelFile = join(dir, 'model.bin');
    writeFileSync(modelFile, Buffer.alloc(2 * 1024 * 1024, 9));
    const { sha256 } = await putModel(oldModels, modelFile);
    expect((await jsm.streams.info(JOB_STREAM)).config).toMatchObject({ max_age: 0, max_msgs_per_subject: -1, max_bytes: -1, discard: 'old' });

    const notices: string[] = [];
    // A per-agent limit below what is queued, and a model-bucket limit below what it holds.
    const farm = await ensureFarmStore(nc, { limits: { jobQueueMaxPerAgent: 3, modelStoreMaxBytes: 1024 * 1024 }, notice: (level, message) => notices.push(`${level}: ${message}`) });
    expect((await farm.jsm.streams.info(JOB_STREAM)).config).toMatchObject({ max_age: nanos(DEFAULT_FARM_LIMITS.jobMaxAgeMs), max_msgs_per_subject: 3, max_bytes: DEFAULT_FARM_LIMITS.jobStreamMaxBytes, discard: 'new', discard_new_per_subject: true });
    expect((await farm.jsm.streams.info(KV_STREAM)).config).toMatchObject({ max_bytes: AGENT_BUCKET_MAX_BYTES, max_msg_size: AGENT_RECORD_MAX_BYTES, discard: 'new', max_age: nanos(AGENT_STALE_AFTER_MS) });
    expect(notices.some((n) => n.startsWith(`info: stream ${JOB_STREAM} limits updated: `) && n.includes('max_msgs_per_subject -1 -> 3'))).toBe(true);
    expect(notices.some((n) => n.startsWith(`info: stream ${KV_STREAM} limits updated: `))).toBe(true);
    // Lowering max_bytes below what a stream holds deletes its oldest messages on 2.9.10: not applied.
    expect((await farm.jsm.streams.info(OBJ_STREAM)).config.max_bytes).toBe(-1);
    expect(notices.find((n) => n.includes(`stream ${OBJ_STREAM} holds`))).toMatch(/^warn: .*more than the limit of 1048576; the limit is not applied/);
    // Nothing lost: the 5 queued jobs (more than the new per-agent limit), the registry key, the model.
    expect((await farm.jsm.streams.info(JOB_STREAM)).state.messages).toBe(5);
    expect((await farm.agents.get('old-agent'))?.value.length).toBe(100);
    const cached = await fetchModel(farm.models, sha256, join(dir, 'cache'), '.bin');
    expect(readFileSync(cached).equals(readFileSync(modelFile))).toBe(true);
    // And a new job for that agent is refused until it is below the limit.
    await expect(farm.js.publish(jobSubject('old'), new TextEncoder().encode('job 5'), { msgID: 'old-5' })).rejects.toThrow(/maximum messages per subject exceeded/);

    // A second start with the same limits changes nothing; without limits (an agent), nothing either.
    notices.length = 0;
    await ensureFarmStore(nc, { limits: { jobQueueMaxPerAgent: 3, modelStoreMaxBytes: 1024 * 1024 }, notice: (level, message) => notices.push(`${level}: ${message}`) });
    expect(notices.filter((n) => n.startsWith('info'))).toEqual([]);
    await ensureFarmStore(nc);
    expect((await farm.jsm.streams.info(JOB_STREAM)).config.max_msgs_per_subject).toBe(3);
  });

  it('a limit the server refuses is reported and the store still opens with the old limits', async () => {
    const notices: string[] = [];
    await ensureFarmStore(nc);
    // A max_bytes beyond the server's whole JetStream storage: an update reserving it is refused.
    const farm = await ensureFarmStore(nc, { limits: { jobStreamMaxBytes: 2 ** 50 }, notice: (level, message) => notices.push(`${level}: ${message}`) });
    expect(notices.find((n) => n.includes(JOB_STREAM))).toMatch(/^warn: stream BENCH_JOBS keeps its old limits: the server refused the update \(max_bytes 1073741824 -> 1125899906842624\): .*insufficient storage/);
    expect((await farm.jsm.streams.info(JOB_STREAM)).config.max_bytes).toBe(DEFAULT_FARM_LIMITS.jobStreamMaxBytes);
    // Created with it (no old stream to fall back on): a named error, not a hang.
    await farm.jsm.streams.delete(JOB_STREAM);
    await expect(ensureFarmStore(nc, { limits: { jobStreamMaxBytes: 2 ** 50 } })).rejects.toThrow(/cannot create or open stream BENCH_JOBS .*insufficient storage.*max_bytes limit is reserved/);
  });

  it('checks limits, naming the field', () => {
    expect(() => resolveFarmLimits({ jobMaxAgeMs: 10 })).toThrow(/jobMaxAgeMs must be an integer from 1000/);
    expect(() => resolveFarmLimits({ jobQueueMaxPerAgent: 0 })).toThrow(/jobQueueMaxPerAgent/);
    expect(() => resolveFarmLimits({ modelStoreMaxBytes: 5 })).toThrow(/modelStoreMaxBytes .*or 0/);
    expect(resolveFarmLimits({ modelStoreMaxBytes: 0, jobMaxAgeMs: undefined })).toEqual(DEFAULT_FARM_LIMITS);
  });
});
