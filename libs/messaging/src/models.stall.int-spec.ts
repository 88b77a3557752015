import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ObjectStore } from '@nats-io/obj';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MODEL_BUCKET, ModelFetchError, ensureFarmStore, fetchModel, putModel, sha256File, startNatsServer, type FarmStore, type NatsServerHandle } from './index';

const OBJ_STREAM = `OBJ_${MODEL_BUCKET}`;
// Larger than what loopback socket buffers can hold in flight (tcp_rmem max 32 MiB plus
// tcp_wmem 4 MiB here): once nats-server is stopped after the first chunk, the rest cannot arrive.
const SIZE = 64 * 1024 * 1024;

describe('fetchModel stall deadline', () => {
  it('refuses a stallTimeoutMs that is not a whole number of milliseconds from 1, naming it', async () => {
    // Pure validation: it fails before the store is touched, so no store is needed (null stands in).
    const store = null as unknown as ObjectStore;
    const dir = join(tmpdir(), 'bf-stall-never-created');
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31, '1000' as unknown as number]) {
      await expect(fetchModel(store, 'a'.repeat(64), dir, '.onnx', { stallTimeoutMs: bad })).rejects.toThrow(RangeError);
      await expect(fetchModel(store, 'a'.repeat(64), dir, '.onnx', { stallTimeoutMs: bad })).rejects.toThrow(/stallTimeoutMs must be a whole number/);
    }
  });
});

// Real nats-server 2.9 with JetStream. The stall is made by stopping the server process
// (SIGSTOP): connections stay open and nothing more arrives, as on a connection nats-server
// has stopped writing to. Deterministic: the server is stopped from inside the read, right after
// its first chunk, so the outcome does not depend on how fast this machine is.
describe('fetchModel against a nats-server that stops answering', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let farm: FarmStore;
  let dir: string;
  let sha256: string;
  let stopped = false;

  const pauseServer = (): void => {
    server.process.kill('SIGSTOP');
    stopped = true;
  };
  const resumeServer = (): void => {
    if (!stopped) return;
    server.process.kill('SIGCONT');
    stopped = false;
  };
  const partFiles = (cache: string): string[] => readdirSync(cache).filter((f) => f.endsWith('.part'));

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    farm = await ensureFarmStore(nc);
    dir = mkdtempSync(join(tmpdir(), 'bf-stall-'));
    const src = join(dir, 'big.bin');
    writeFileSync(src, randomBytes(SIZE));
    ({ sha256 } = await putModel(farm.models, src));
  });
  afterEach(() => resumeServer());
  afterAll(async () => {
    resumeServer();
    await nc?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives up on a read that stops part way with a transient error, leaves no temporary file, and a later fetch succeeds', async () => {
    // The real store, observed: its first chunk stops the server before being passed on.
    const observed = new Proxy(farm.models, {
      get(target, prop) {
        if (prop === 'get') {
          return async (name: string) => {
            const read = await target.get(name);
            if (!read) return read;
            let first = true;
            const data = read.data.pipeThrough(
              new TransformStream<Uint8Array, Uint8Array>({
                transform(chunk, controller) {
                  if (first) pauseServer();
                  first = false;
                  controller.enqueue(chunk);
                },
              }),
            );
            return { info: read.info, error: read.error, data };
          };
        }
        const value: unknown = Reflect.get(target, prop);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const cache = join(dir, 'cache-read');
    const started = Date.now();
    // 3 s: the lookup before the first chunk must not stall on a loaded CI machine.
    const err = (await fetchModel(observed, sha256, cache, '.bin', { stallTimeoutMs: 3000 }).catch((e: unknown) => e)) as ModelFetchError;
    const tookMs = Date.now() - started;
    expect(stopped).toBe(true);
    expect(err).toBeInstanceOf(ModelFetchError);
    expect(err).toMatchObject({ transient: true, digest: sha256 });
    const m = /reading model [0-9a-f]{64} from the object store stalled: no data for 3000 ms after (\d+) of (\d+) bytes/.exec(err.message);
    expect(m, err.message).not.toBeNull();
    const received = Number(m![1]);
    expect(Number(m![2])).toBe(SIZE);
    expect(received).toBeGreaterThan(0);
    expect(received).toBeLessThan(SIZE);
    // It gave up after the stall, not at once (a lower bound only: a loaded machine may be slower).
    expect(tookMs).toBeGreaterThanOrEqual(3000);
    expect(partFiles(cache)).toEqual([]);
    expect(readdirSync(cache)).toEqual([]);

    resumeServer();
    const path = await fetchModel(farm.models, sha256, cache, '.bin');
    expect(await sha256File(path)).toBe(sha256);
    expect(partFiles(cache)).toEqual([]);
  });

  it('gives up on a lookup that gets no answer, and the store is read normally once the server answers again', async () => {
    const cache = join(dir, 'cache-lookup');
    pauseServer();
    const err = (await fetchModel(farm.models, sha256, cache, '.bin', { stallTimeoutMs: 1000 }).catch((e: unknown) => e)) as ModelFetchError;
    expect(err).toBeInstanceOf(ModelFetchError);
    expect(err).toMatchObject({ transient: true, message: expect.stringMatching(/looking up model [0-9a-f]{64} in the object store stalled: no answer within 1000 ms/) });
    expect(readdirSync(cache)).toEqual([]);
    resumeServer();
    const path = await fetchModel(farm.models, sha256, cache, '.bin');
    expect(await sha256File(path)).toBe(sha256);
  });

  it('leaves no consumer delivering on the server after reads it gave up on', async () => {
    // nats.js reads an object through an ordered push consumer that it does not delete when done
    // (nats-server removes it after its 5 min inactive_threshold), so consumers of finished reads
    // and of abandoned ones both stay listed for a while. What matters is that none is still
    // bound to a subscription, i.e. still being delivered to this process. Unsubscribing is
    // asynchronous: polled with a generous deadline.
    const bound = async (): Promise<string[]> => (await farm.jsm.consumers.list(OBJ_STREAM).next()).filter((c) => c.push_bound === true).map((c) => c.name);
    const all = (await farm.jsm.consumers.list(OBJ_STREAM).next()).length;
    // Two reads given up (a stalled read, a late lookup's read) and two finished ones.
    expect(all).toBeGreaterThanOrEqual(3);
    const deadline = Date.now() + 20_000;
    let still = await bound();
    while (still.length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      still = await bound();
    }
    expect(still).toEqual([]);
    // And the stalled read stayed stopped after the server resumed: its consumer still has
    // chunks it never delivered (a read left running would have taken the whole object by now).
    const partial = (await farm.jsm.consumers.list(OBJ_STREAM).next()).filter((c) => c.num_pending > 0);
    expect(partial.length).toBeGreaterThanOrEqual(1);
  }, 30_000);
});
