import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelFetchError, ensureFarmStore, putModel, startNatsServer, type FarmStore, type NatsServerHandle } from '@benchfarm/messaging';
import { SimulatedModelCache } from './model-cache';

// The simulated agents' shared model cache on a real nats-server object store.
describe('SimulatedModelCache (real nats-server object store)', () => {
  let dir: string;
  let nats: NatsServerHandle;
  let nc: NatsConnection;
  let farm: FarmStore;
  let digest: string;
  const size = 300_000;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bf-sim-cache-'));
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    farm = await ensureFarmStore(nc);
    const file = join(dir, 'model.bin');
    const bytes = randomBytes(size);
    writeFileSync(file, bytes);
    digest = (await putModel(farm.models, file)).sha256;
    expect(digest).toBe(createHash('sha256').update(bytes).digest('hex'));
  });

  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('process scope: agents asking at once make one store read, the others are hits', async () => {
    const cache = new SimulatedModelCache(join(dir, 'process'), 'process');
    const answers = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((agent) => cache.get(farm.models, digest, agent)));
    expect(answers.filter((a) => !a.hit)).toHaveLength(1);
    expect(new Set(answers.map((a) => a.path)).size).toBe(1);
    expect(answers.every((a) => a.sizeBytes === size)).toBe(true);
    expect(cache.stats()).toEqual({ requests: 5, hits: 4, storeReads: 1, bytesFetched: size, failures: 0 });
    await cache.discard(digest);
    expect(existsSync(answers[0]!.path)).toBe(false);
    expect((await cache.get(farm.models, digest, 'a')).hit).toBe(false);
  });

  it('agent scope: every agent reads its own copy', async () => {
    const cache = new SimulatedModelCache(join(dir, 'agent'), 'agent');
    const answers = await Promise.all(['a', 'b', 'c'].map((agent) => cache.get(farm.models, digest, agent)));
    expect(answers.every((a) => !a.hit)).toBe(true);
    expect(new Set(answers.map((a) => a.path)).size).toBe(3);
    expect((await cache.get(farm.models, digest, 'a')).hit).toBe(true);
    expect(cache.stats()).toMatchObject({ requests: 4, hits: 1, storeReads: 3, bytesFetched: 3 * size });
  });

  it('a failed read is not cached and is nobody\'s hit', async () => {
    const cache = new SimulatedModelCache(join(dir, 'missing'), 'process');
    const missing = 'f'.repeat(64);
    const results = await Promise.allSettled([cache.get(farm.models, missing, 'a'), cache.get(farm.models, missing, 'b')]);
    expect(results.every((r) => r.status === 'rejected' && r.reason instanceof ModelFetchError)).toBe(true);
    expect(cache.stats()).toMatchObject({ hits: 0, storeReads: 1, failures: 1 });
    await expect(cache.get(farm.models, missing, 'a')).rejects.toThrow(/not in the object store/);
    expect(cache.stats().storeReads).toBe(2);
  });
});
