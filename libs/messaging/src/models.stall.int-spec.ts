import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ObjectStore } from '@nats-io/obj';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MODEL_BUCKET, MODEL_CHUNK_WINDOW, ModelFetchError, ensureFarmStore, fetchModel, putModel, sha256File, startNatsServer, type FarmStore, type NatsServerHandle } from './index';

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
  // kill() returns once the signal is queued; every thread of the Go process stops when it is
  // next scheduled. Waits until /proc says the whole process is stopped (state T), so a request
  // sent next cannot be answered (a lookup test once saw its answer on a loaded CI machine).
  const pauseServerAndWait = async (): Promise<void> => {
    pauseServer();
    const pid = server.process.pid!;
    const deadline = Date.now() + 5000;
    const states = (): string[] => readdirSync(`/proc/${pid}/task`).map((t) => readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8').replace(/^.*\) /s, '')[0]!);
    while (!states().every((s) => s === 'T' || s === 't')) {
      if (Date.now() > deadline) throw new Error(`nats-server ${pid} did not stop within 5000 ms of SIGSTOP: thread states ${states().join('')}`);
      await new Promise((r) => setTimeout(r, 10));
    }
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
    // The real store, observed: the server is stopped as the second round of chunk reads is
    // asked for, so the first round's chunks arrive and the second round's never do.
    const models = farm.models as unknown as { stream: string; jsm: FarmStore['jsm'] };
    let chunkReads = 0;
    const observe = (query: { next_by_subj?: string }): void => {
      if (query.next_by_subj !== undefined && ++chunkReads === MODEL_CHUNK_WINDOW + 1) pauseServer();
    };
    const observed = {
      info: (name: string) => farm.models.info(name),
      stream: models.stream,
      jsm: {
        streams: { getMessage: (stream: string, query: { next_by_subj?: string }) => (observe(query), models.jsm.streams.getMessage(stream, query as never)) },
        direct: { getMessage: (stream: string, query: { next_by_subj?: string }) => (observe(query), models.jsm.direct.getMessage(stream, query as never)) },
      },
    } as unknown as ObjectStore;
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
    await pauseServerAndWait();
    const err = (await fetchModel(farm.models, sha256, cache, '.bin', { stallTimeoutMs: 1000 }).catch((e: unknown) => e)) as ModelFetchError;
    expect(err).toBeInstanceOf(ModelFetchError);
    expect(err).toMatchObject({ transient: true });
    expect(err.message).toMatch(/looking up model [0-9a-f]{64} in the object store stalled: no answer within 1000 ms/);
    expect(readdirSync(cache)).toEqual([]);
    resumeServer();
    const path = await fetchModel(farm.models, sha256, cache, '.bin');
    expect(await sha256File(path)).toBe(sha256);
  });

  it('reads without consumers: none was created on the model stream by the reads above, finished or given up', async () => {
    // nats.js's own get() reads through an ephemeral ordered consumer, which nats-server 2.9 may
    // place on a dead peer; fetchModel reads with message gets, so a given-up read leaves nothing.
    expect((await farm.jsm.consumers.list(OBJ_STREAM).next()).map((c) => c.name)).toEqual([]);
  }, 30_000);
});

// Real nats-server. Two objects put at the same time have their chunks interleaved in the
// stream; the windowed message-get read must skip the other object's chunks and miss none.
describe('fetchModel reading interleaved objects', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let farm: FarmStore;
  let dir: string;
  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    farm = await ensureFarmStore(nc);
    dir = mkdtempSync(join(tmpdir(), 'bf-interleaved-'));
  });
  afterAll(async () => {
    await nc?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads chunks with direct gets, asks the stream leader where a replica has nothing, and only the leader after a direct get failed', async () => {
    const body = randomBytes(100 * 1024);
    const digest = createHash('sha256').update(body).digest('hex');
    // 1 KiB chunks: 100 of them, 4 rounds of reads.
    await farm.models.put({ name: digest, options: { max_chunk_size: 1024 } }, new Blob([body]).stream());
    const models = farm.models as unknown as { stream: string; jsm: FarmStore['jsm'] };
    const calls = { direct: 0, leader: 0 };
    // A replica that lags behind the leader answers "not found" for the 5th chunk read; the 50th
    // direct get fails (as for a user not allowed direct gets): from then on only the leader is asked.
    const observed = {
      info: (name: string) => farm.models.info(name),
      stream: models.stream,
      jsm: {
        streams: { getMessage: (stream: string, query: object) => (calls.leader++, models.jsm.streams.getMessage(stream, query as never)) },
        direct: {
          getMessage: async (stream: string, query: object) => {
            calls.direct++;
            if (calls.direct === 5) return null;
            if (calls.direct === 50) throw new Error('permissions violation (fake)');
            return models.jsm.direct.getMessage(stream, query as never);
          },
        },
      },
    } as unknown as ObjectStore;
    const path = await fetchModel(observed, digest, join(dir, 'cache-direct'), '.bin');
    expect(readFileSync(path).equals(body)).toBe(true);
    // Rounds of MODEL_CHUNK_WINDOW reads at once: the round of the failed 50th read was sent as
    // direct gets in full; the leader answered the 5th, the 50th and every read of later rounds.
    expect(MODEL_CHUNK_WINDOW).toBeLessThan(50);
    const directRounds = Math.ceil(50 / MODEL_CHUNK_WINDOW);
    expect(calls.direct).toBe(directRounds * MODEL_CHUNK_WINDOW);
    expect(calls.leader).toBe(2 + (100 - directRounds * MODEL_CHUNK_WINDOW));
  });

  it('returns each object whole when their chunks alternate in the stream', async () => {
    const bodies = [randomBytes(64 * 1024), randomBytes(48 * 1024 + 17)];
    const digests = bodies.map((b) => createHash('sha256').update(b).digest('hex'));
    // 1 KiB chunks, put concurrently: 64 and 49 chunks published one ack at a time each.
    await Promise.all(bodies.map((b, i) => farm.models.put({ name: digests[i]!, options: { max_chunk_size: 1024 } }, new Blob([b]).stream())));
    const seqsOf = async (digest: string): Promise<number[]> => {
      const info = (await farm.models.info(digest))!;
      const seqs: number[] = [];
      for (let next = 1; ; ) {
        const m = await farm.jsm.streams.getMessage(OBJ_STREAM, { seq: next, next_by_subj: `$O.${MODEL_BUCKET}.C.${info.nuid}` } as never);
        if (!m) return seqs;
        seqs.push(m.seq);
        next = m.seq + 1;
      }
    };
    const [a, b] = await Promise.all(digests.map(seqsOf));
    // The premise: the two objects' chunk ranges overlap.
    expect(Math.min(a!.at(-1)!, b!.at(-1)!)).toBeGreaterThan(Math.max(a![0]!, b![0]!));
    for (const [i, digest] of digests.entries()) {
      const path = await fetchModel(farm.models, digest, join(dir, 'cache'), '.bin');
      expect(readFileSync(path).equals(bodies[i]!)).toBe(true);
    }
  });
});
