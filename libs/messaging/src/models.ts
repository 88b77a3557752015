import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { DirectMsgRequest, JetStreamManager, MsgRequest } from '@nats-io/jetstream';
import type { ObjectInfo, ObjectStore } from '@nats-io/obj';

const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * Thrown when a model object is missing, its bytes do not hash to the digest asked for, or
 * reading it failed. `transient`: the read from the store failed on the way (a timeout while
 * the object store's stream elects a leader, a broken connection), so trying again may work; a
 * missing or corrupt object, or a failed file-system call here (a full disk), is not transient.
 */
export class ModelFetchError extends Error {
  override name = 'ModelFetchError';
  readonly transient: boolean;
  constructor(
    message: string,
    readonly digest: string,
    options?: { cause?: unknown; transient?: boolean },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.transient = options?.transient ?? false;
  }
}

/** Checks that a string is a lower-case SHA-256 hex digest (the only name a model file gets on disk). */
export function assertSha256(digest: string): string {
  if (!SHA256_HEX.test(digest)) throw new ModelFetchError(`not a SHA-256 hex digest: ${JSON.stringify(digest)}`, digest);
  return digest;
}

/** SHA-256 hex of a file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Stores a model file in the Object Store under its SHA-256 hex digest. Returns the
 * digest and size; a file already stored under that digest is not uploaded again.
 */
export async function putModel(store: ObjectStore, path: string, description = ''): Promise<{ sha256: string; sizeBytes: number }> {
  const sha256 = await sha256File(path);
  const { size } = await stat(path);
  const existing = await store.info(sha256);
  if (existing && !existing.deleted && existing.size === size) return { sha256, sizeBytes: size };
  const body = Readable.toWeb(createReadStream(path)) as unknown as ReadableStream<Uint8Array>;
  await store.put({ name: sha256, description }, body);
  return { sha256, sizeBytes: size };
}

/**
 * How long {@link fetchModel} waits for the next piece of an object-store read by default: above
 * nats-server's 10 s slow-consumer write deadline, and short enough that the agent's transient
 * fetch retry (a 30 s budget from the attempt's start) still gets a second try within the attempt.
 */
export const DEFAULT_MODEL_STALL_TIMEOUT_MS = 15_000;

/** Options of {@link fetchModel}. */
export interface FetchModelOptions {
  /**
   * Longest wait, in ms, for the object's lookup and then for each next chunk of its bytes
   * (default {@link DEFAULT_MODEL_STALL_TIMEOUT_MS}). nats.js's object-store read has no deadline of
   * its own: a connection that nats-server dropped as a slow consumer leaves it waiting for ever.
   * A whole number from 1 to 2147483647 (the longest timer Node keeps).
   */
  stallTimeoutMs?: number;
}

const MAX_TIMER_MS = 2_147_483_647;

function stallTimeoutOf(options: FetchModelOptions): number {
  const value = options.stallTimeoutMs ?? DEFAULT_MODEL_STALL_TIMEOUT_MS;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_TIMER_MS) {
    throw new RangeError(`stallTimeoutMs must be a whole number of milliseconds from 1 to ${MAX_TIMER_MS}, got ${JSON.stringify(value) ?? String(value)}`);
  }
  return value;
}

/** Thrown by {@link withStallDeadline} when the deadline passes first. */
class Stalled extends Error {}

/**
 * `work`, or a {@link Stalled} rejection once `ms` pass first. The timer is cleared either way,
 * so nothing of it outlives the call.
 */
async function withStallDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Stalled()), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * How many chunk reads {@link fetchModel} keeps in flight (one round). Measured on loopback with
 * a 40 MiB object (scripts/bench-model-fetch.ts): direct gets in rounds of 8 read ~96 MiB/s, of
 * 32 ~195 MiB/s; 32 x 128 KiB chunks is 4 MiB in flight.
 */
export const MODEL_CHUNK_WINDOW = 32;

/** The message a chunk read returns, from a direct get or the stream leader's message get. */
interface ChunkMessage {
  seq: number;
  data: Uint8Array;
}

/** The parts of nats.js's object store this module reads through: its stream and manager. */
interface ObjectStream {
  jsm: JetStreamManager;
  stream: string;
}

/**
 * The JetStream manager and stream name behind a nats.js object store (fields of its
 * implementation that the `ObjectStore` type does not declare); a TypeError when they are not there.
 */
function objectStreamOf(store: ObjectStore): ObjectStream {
  const s = store as unknown as Partial<ObjectStream>;
  if (typeof s.stream !== 'string' || typeof s.jsm?.streams?.getMessage !== 'function') {
    throw new TypeError('fetchModel: store must be a nats.js object store (with its jsm and stream), got another object');
  }
  return { jsm: s.jsm, stream: s.stream };
}

/**
 * Reads chunk messages: a direct get (`DIRECT.GET`, raw bytes, answered by any live replica)
 * first, and the stream leader's message get (`STREAM.MSG.GET`, JSON with base64 data, about
 * 4x slower) where the direct get finds nothing or fails. A replica that lags behind the leader
 * holds a prefix of the stream, so its answer is either right or "not found"; only the leader's
 * "not found" counts. After a direct get fails (no direct access on the stream, an agent user
 * enrolled before direct gets were granted, a timeout) the rest of the read asks the leader only.
 */
class ChunkReader {
  private direct: boolean;
  constructor(private readonly source: ObjectStream) {
    this.direct = typeof (source.jsm as Partial<JetStreamManager>).direct?.getMessage === 'function';
  }

  async get(query: { seq: number; next_by_subj: string }): Promise<ChunkMessage | null> {
    if (this.direct) {
      try {
        const m = await this.source.jsm.direct.getMessage(this.source.stream, query as unknown as DirectMsgRequest);
        if (m !== null) return m;
      } catch {
        this.direct = false;
      }
    }
    return this.source.jsm.streams.getMessage(this.source.stream, query as unknown as MsgRequest);
  }
}

/**
 * The chunks of one object in order, read with message gets (`next_by_subj`), up to
 * {@link MODEL_CHUNK_WINDOW} at a time (see {@link ChunkReader}). Not nats.js's `get()`: that
 * reads through an ephemeral ordered consumer, and nats-server 2.9 places such a consumer on any
 * peer of the stream, a dead one included, so that with one of three servers down about one read
 * in three timed out (5 s each) for as long as the server stayed down. Message gets go to live
 * servers only, so reads work again once the dead server's routes are gone (direct gets) or the
 * election is over (the leader's gets), and nothing is left on the server when a read is given up.
 *
 * Request i of a round asks for the first chunk at or after sequence `next + i`; together they
 * find every chunk up to the last one returned, so chunks of other objects written in between
 * (concurrent puts) only cost requests. Each round waits at most `stallMs`.
 */
async function* objectChunks(source: ObjectStream, info: ObjectInfo, stallMs: number, progress: () => number): AsyncGenerator<Uint8Array> {
  const subject = `$O.${info.bucket}.C.${info.nuid}`;
  const reader = new ChunkReader(source);
  let next = 1;
  let chunksLeft = info.chunks;
  while (chunksLeft > 0) {
    const window = Math.min(MODEL_CHUNK_WINDOW, chunksLeft);
    const round = Promise.all(Array.from({ length: window }, (_, i) => reader.get({ seq: next + i, next_by_subj: subject })));
    let messages: Awaited<typeof round>;
    try {
      messages = await withStallDeadline(round, stallMs);
    } catch (err) {
      round.catch(() => undefined);
      if (err instanceof Stalled) throw new ModelFetchError(`reading model ${info.name} from the object store stalled: no data for ${stallMs} ms after ${progress()} of ${info.size} bytes`, info.name, { transient: true });
      throw err;
    }
    let last = next - 1;
    for (const m of messages) {
      if (m === null) throw new ModelFetchError(`object ${info.name} is truncated in the store: ${chunksLeft} of its ${info.chunks} chunks are missing`, info.name);
      if (m.seq <= last) continue; // the same chunk found from an earlier sequence
      last = m.seq;
      chunksLeft -= 1;
      yield m.data;
    }
    next = last + 1;
  }
}

/**
 * Returns the path of the model with this digest in the cache folder, fetching it from the
 * Object Store first when it is not cached. The bytes go to a temporary file that is
 * renamed into place only after their SHA-256 matches, so a truncated or tampered object
 * never reaches the cache. A cached file is re-hashed before it is handed out. `extension`
 * names the cached file (`<digest><extension>`): `.onnx` for models, `.jpg` / `.json` for a
 * dataset's images and labels, which are objects of the same bucket.
 *
 * A lookup that gets no answer, or a read that gets no next chunk, within
 * `options.stallTimeoutMs` is stopped (its consumer torn down, the temporary file removed) and
 * reported as a transient ModelFetchError, so that the caller's retry sees it.
 *
 * Thrown errors: RangeError for a bad `extension` or `stallTimeoutMs` (naming it);
 * ModelFetchError for a bad digest, a missing or corrupt object (not transient), a lookup or
 * read that failed or stalled on the way (transient), or a failed local file-system call (not
 * transient).
 */
export async function fetchModel(store: ObjectStore, digest: string, cacheDir: string, extension = '.onnx', options: FetchModelOptions = {}): Promise<string> {
  assertSha256(digest);
  if (!/^\.[a-z0-9]{1,8}$/.test(extension)) throw new RangeError(`extension must be "." and 1-8 of a-z 0-9, got ${JSON.stringify(extension)}`);
  const stallMs = stallTimeoutOf(options);
  await mkdir(cacheDir, { recursive: true });
  const target = join(cacheDir, `${digest}${extension}`);
  try {
    await stat(target);
    if ((await sha256File(target)) === digest) return target;
    await rm(target, { force: true });
  } catch {
    // not cached yet
  }
  const source = objectStreamOf(store);
  let info: ObjectInfo | null;
  const lookup = store.info(digest);
  try {
    info = await withStallDeadline(lookup, stallMs);
  } catch (err) {
    lookup.catch(() => undefined);
    if (err instanceof Stalled) throw new ModelFetchError(`looking up model ${digest} in the object store stalled: no answer within ${stallMs} ms`, digest, { transient: true });
    throw new ModelFetchError(`looking up model ${digest} in the object store failed: ${(err as Error).message}`, digest, { cause: err, transient: true });
  }
  if (!info || info.deleted) throw new ModelFetchError(`model ${digest} is not in the object store`, digest);
  const temp = join(cacheDir, `.${digest}.${randomUUID()}.part`);
  const hash = createHash('sha256');
  const file = await open(temp, 'w');
  let received = 0;
  try {
    for await (const chunk of objectChunks(source, info, stallMs, () => received)) {
      hash.update(chunk);
      received += chunk.byteLength;
      if (received > info.size) throw new ModelFetchError(`object ${digest} in the store is larger than its recorded ${info.size} bytes`, digest);
      await file.write(chunk);
    }
    await file.close();
    if (received !== info.size) throw new ModelFetchError(`object ${digest} in the store has ${received} of its recorded ${info.size} bytes`, digest);
    const actual = hash.digest('hex');
    if (actual !== digest) throw new ModelFetchError(`model digest mismatch: expected ${digest}, got ${actual}`, digest);
    await rename(temp, target);
    return target;
  } catch (err) {
    await file.close().catch(() => undefined);
    await rm(temp, { force: true });
    if (err instanceof ModelFetchError) throw err;
    // A failed file-system call (a full disk) is this machine's, not the store's: not transient.
    // Anything else (a broken connection, a timeout while the stream elects a leader) is.
    const local = (err as NodeJS.ErrnoException).syscall !== undefined;
    throw new ModelFetchError(`fetching model ${digest} failed: ${(err as Error).message}`, digest, { cause: err, transient: !local });
  }
}
