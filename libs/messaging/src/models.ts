import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { ObjectStore } from '@nats-io/obj';

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

type StoreRead = NonNullable<Awaited<ReturnType<ObjectStore['get']>>>;

/**
 * Ends a read nobody will finish: cancelling its stream stops nats.js's ordered push consumer
 * (its subscription, heartbeat monitor and re-create timers). The read's `error` promise is
 * settled by then or later with whatever the stopped loop saw; nobody awaits it any more, so it
 * is caught here to keep it from surfacing as an unhandled rejection.
 */
function abandon(read: StoreRead, reader?: ReadableStreamDefaultReader<Uint8Array>): void {
  read.error.catch(() => undefined);
  const cancelled = reader ? reader.cancel() : read.data.cancel();
  cancelled.catch(() => undefined);
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
  let result: Awaited<ReturnType<ObjectStore['get']>>;
  const lookup = store.get(digest);
  try {
    result = await withStallDeadline(lookup, stallMs);
  } catch (err) {
    if (err instanceof Stalled) {
      // The lookup may still answer later; its read (a consumer already created) is then stopped unread.
      lookup.then((late) => late && abandon(late), () => undefined);
      throw new ModelFetchError(`looking up model ${digest} in the object store stalled: no answer within ${stallMs} ms`, digest, { transient: true });
    }
    throw new ModelFetchError(`looking up model ${digest} in the object store failed: ${(err as Error).message}`, digest, { cause: err, transient: true });
  }
  if (!result) throw new ModelFetchError(`model ${digest} is not in the object store`, digest);
  const read = result;
  const temp = join(cacheDir, `.${digest}.${randomUUID()}.part`);
  const hash = createHash('sha256');
  let file: FileHandle;
  try {
    file = await open(temp, 'w');
  } catch (err) {
    abandon(read);
    throw err;
  }
  // Read through the web stream's own reader (not Readable.fromWeb) so that a stall can cancel it.
  const reader = read.data.getReader();
  let received = 0;
  let finished = false;
  try {
    for (;;) {
      let next: Awaited<ReturnType<typeof reader.read>>;
      try {
        next = await withStallDeadline(reader.read(), stallMs);
      } catch (err) {
        if (!(err instanceof Stalled)) throw err;
        throw new ModelFetchError(
          `reading model ${digest} from the object store stalled: no data for ${stallMs} ms after ${received} of ${read.info.size} bytes`,
          digest,
          { transient: true },
        );
      }
      if (next.done) break;
      hash.update(next.value);
      received += next.value.byteLength;
      await file.write(next.value);
    }
    finished = true;
    await file.close();
    const storeError = await read.error;
    if (storeError) throw new ModelFetchError(`object store read of ${digest} failed: ${storeError.message}`, digest, { cause: storeError });
    const actual = hash.digest('hex');
    if (actual !== digest) throw new ModelFetchError(`model digest mismatch: expected ${digest}, got ${actual}`, digest);
    await rename(temp, target);
    return target;
  } catch (err) {
    // A read left part way (a stall, a failed write) is stopped so no consumer runs on unread.
    if (!finished) abandon(read, reader);
    await file.close().catch(() => undefined);
    await rm(temp, { force: true });
    if (err instanceof ModelFetchError) throw err;
    // nats.js reports an object whose chunks do not hash to its recorded digest (tampered or
    // truncated: promise 10) as a plain Error while reading; anything else failed on the way.
    // A failed file-system call (a full disk) is this machine's, not the store's: not transient.
    const corrupt = /corrupt object|digests do not match/i.test((err as Error).message);
    const local = (err as NodeJS.ErrnoException).syscall !== undefined;
    throw new ModelFetchError(`fetching model ${digest} failed: ${(err as Error).message}`, digest, { cause: err, transient: !corrupt && !local });
  }
}
