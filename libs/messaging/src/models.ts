import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
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
 * Returns the path of the model with this digest in the cache folder, fetching it from the
 * Object Store first when it is not cached. The bytes go to a temporary file that is
 * renamed into place only after their SHA-256 matches, so a truncated or tampered object
 * never reaches the cache. A cached file is re-hashed before it is handed out. `extension`
 * names the cached file (`<digest><extension>`): `.onnx` for models, `.jpg` / `.json` for a
 * dataset's images and labels, which are objects of the same bucket.
 */
export async function fetchModel(store: ObjectStore, digest: string, cacheDir: string, extension = '.onnx'): Promise<string> {
  assertSha256(digest);
  if (!/^\.[a-z0-9]{1,8}$/.test(extension)) throw new RangeError(`extension must be "." and 1-8 of a-z 0-9, got ${JSON.stringify(extension)}`);
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
  try {
    result = await store.get(digest);
  } catch (err) {
    throw new ModelFetchError(`looking up model ${digest} in the object store failed: ${(err as Error).message}`, digest, { cause: err, transient: true });
  }
  if (!result) throw new ModelFetchError(`model ${digest} is not in the object store`, digest);
  const temp = join(cacheDir, `.${digest}.${randomUUID()}.part`);
  const hash = createHash('sha256');
  const file = await open(temp, 'w');
  try {
    for await (const chunk of Readable.fromWeb(result.data as unknown as WebReadableStream<Uint8Array>)) {
      hash.update(chunk as Uint8Array);
      await file.write(chunk as Uint8Array);
    }
    await file.close();
    const storeError = await result.error;
    if (storeError) throw new ModelFetchError(`object store read of ${digest} failed: ${storeError.message}`, digest, { cause: storeError });
    const actual = hash.digest('hex');
    if (actual !== digest) throw new ModelFetchError(`model digest mismatch: expected ${digest}, got ${actual}`, digest);
    await rename(temp, target);
    return target;
  } catch (err) {
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
