import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentConsumer, ensureAgentConsumer, ensureFarmStore, fetchModel, jobSubject, openFarmStore, putModel, startNatsServer, type FarmStore, type NatsServerHandle } from '../index';
import { createUserKeyPair, formatCredsFile, generateFarmSecurity, natsAuthConfig, signUserJwt, type AccountSigningKey } from './farm-security';
import { agentInboxPrefix, agentPermissions, type NatsUserPermissions } from './permissions';

// agentPermissions is the minimal set: with all of it an agent does everything startAgent does
// (open the buckets, look up its consumer, pull, ack, heartbeat put and delete, read a 40 MiB
// model, read a chunk with a direct get); without any single entry one of those steps fails. (An empty
// allow-list means "anything" to NATS: agentPermissions never yields one.)
const STEP_TIMEOUT_MS = 10_000;
const MODEL_BYTES = 40 * 1024 * 1024;

async function step<T>(name: string, work: Promise<T>): Promise<T> {
  const timer = sleep(STEP_TIMEOUT_MS).then(() => {
    throw new Error(`${name}: no answer within ${STEP_TIMEOUT_MS} ms`);
  });
  try {
    return await Promise.race([work, timer]);
  } catch (err) {
    throw new Error(`${name}: ${(err as Error).message}`, { cause: err });
  }
}

describe('agentPermissions against nats-server 2.9 in operator mode', () => {
  let dir: string;
  let server: NatsServerHandle;
  let admin: NatsConnection;
  let farm: FarmStore;
  let signing: AccountSigningKey;
  let modelSha256: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bf-perm-'));
    const material = await generateFarmSecurity();
    signing = { account: material.accountPublicKey, signingSeed: material.accountSigningSeed };
    writeFileSync(join(dir, 'auth.conf'), natsAuthConfig(material));
    server = await startNatsServer({ storeDir: join(dir, 'js'), args: ['-c', join(dir, 'auth.conf')] });
    admin = await connect({ servers: server.url, authenticator: credsAuthenticator(new TextEncoder().encode(material.coordinatorCreds)) });
    farm = await ensureFarmStore(admin);
    const model = join(dir, 'model.bin');
    writeFileSync(model, Buffer.alloc(MODEL_BYTES, 0x5a));
    modelSha256 = (await putModel(farm.models, model)).sha256;
  }, 60_000);

  afterAll(async () => {
    await admin?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Runs what an enrolled agent does on NATS; resolves with the step that failed, or undefined. */
  async function runAgent(agentId: string, permissions: NatsUserPermissions): Promise<string | undefined> {
    await ensureAgentConsumer(farm.jsm, agentId, { ackWaitMs: 5_000 });
    await farm.js.publish(jobSubject(agentId), new TextEncoder().encode(`job for ${agentId}`));
    const keys = createUserKeyPair();
    const jwt = await signUserJwt(signing, { name: agentId, userPublicKey: keys.publicKey, permissions });
    const nc = await connect({ servers: server.url, authenticator: credsAuthenticator(new TextEncoder().encode(formatCredsFile(jwt, keys.seed))), inboxPrefix: agentInboxPrefix(agentId) });
    try {
      const store = await step('open the farm', openFarmStore(nc));
      const consumer = await step('look up its consumer', agentConsumer(store.js, agentId));
      const msg = await step('pull a job', consumer.next({ expires: 2_000 }));
      if (!msg) return 'pull a job: nothing delivered';
      msg.working();
      await step('ack the job', msg.ackAck());
      await step('heartbeat', store.agents.put(agentId, new TextEncoder().encode('alive')));
      await step('unregister', store.agents.delete(agentId));
      await step('fetch a model', fetchModel(store.models, modelSha256, join(dir, 'cache', agentId)));
      // fetchModel falls back to the leader's message gets where a direct get fails, so the fetch
      // above works without DIRECT.GET (4x slower): its fast path is checked on its own.
      const info = await step('look up the model', store.models.info(modelSha256));
      const objects = store.models as unknown as { stream: string; jsm: FarmStore['jsm'] };
      const chunk = await step('read a chunk with a direct get', objects.jsm.direct.getMessage(objects.stream, { seq: 1, next_by_subj: `$O.${info!.bucket}.C.${info!.nuid}` } as never));
      if (!chunk) return 'read a chunk with a direct get: not found';
      return undefined;
    } catch (err) {
      return (err as Error).message;
    } finally {
      await nc.close();
    }
  }

  it('is enough for everything the agent does', async () => {
    expect(await runAgent('all', agentPermissions('all'))).toBeUndefined();
  }, 60_000);

  const full = agentPermissions('x');
  const entries = [...full.pub.allow.map((subject) => ['pub', subject] as const), ...full.sub.allow.map((subject) => ['sub', subject] as const)];
  it.each(entries.map(([kind, subject], i) => [i, kind, subject] as const))('is minimal: without entry %i (%s %s) the agent fails', async (i, kind) => {
    const agentId = `without-${i}`;
    const perms = agentPermissions(agentId);
    const without = (list: readonly string[], index: number): string[] => list.filter((_, j) => j !== index);
    const reduced: NatsUserPermissions =
      kind === 'pub'
        ? { pub: { allow: without(perms.pub.allow, i) }, sub: perms.sub }
        : // An empty allow-list would allow everything: the inbox grant is replaced by another agent's instead.
          { pub: perms.pub, sub: { allow: [...without(perms.sub.allow, i - perms.pub.allow.length), `${agentInboxPrefix('someone-else')}.>`] } };
    const failed = await runAgent(agentId, reduced);
    console.log(`[permissions] without ${kind} ${entries[i]?.[1]}: ${failed}`);
    expect(failed).toBeDefined();
  }, 60_000);
});
