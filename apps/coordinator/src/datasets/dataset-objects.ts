import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { ObjectStore } from '@nats-io/obj';
import { ModelFetchError, fetchModel, putModel } from '@benchfarm/messaging';
import { DomainError, DomainErrorCode, errorMessage } from '../common/domain-error';

/**
 * The object store dataset files live in: the models bucket, by SHA-256, so agents fetch images
 * and labels exactly as they fetch models (`fetchModel`, the same NATS permissions).
 */
export abstract class DatasetObjects {
  /** Whether an object with this digest and size is stored. Thrown: `messaging_unavailable`. */
  abstract has(sha256: string, sizeBytes: number): Promise<boolean>;
  /** Stores a verified file under its digest (a no-op when stored already). Thrown: `messaging_unavailable`. */
  abstract put(path: string, description: string): Promise<{ sha256: string; sizeBytes: number }>;
  /**
   * Fetches an object into `cacheDir` (verified against its digest) and returns its path.
   * Thrown: `messaging_unavailable` when the store cannot be read, `invalid_argument` for a missing or corrupt object.
   */
  abstract fetch(sha256: string, cacheDir: string): Promise<string>;
  /** Fetches an object (verified) to exactly `targetPath`. Thrown: as {@link fetch}. */
  abstract fetchTo(sha256: string, targetPath: string): Promise<void>;
  /** The bytes of an object (verified). Thrown: as {@link fetch}. */
  abstract read(sha256: string): Promise<Buffer>;
  /** Deletes an object; a missing one is fine. Thrown: `messaging_unavailable`. */
  abstract delete(sha256: string): Promise<void>;
}

const unavailable = (what: string, err: unknown): DomainError => new DomainError(DomainErrorCode.MessagingUnavailable, `${what}: ${errorMessage(err)}`, { cause: err });

/** {@link DatasetObjects} on the NATS Object Store bucket of models. */
export class NatsDatasetObjects extends DatasetObjects {
  constructor(private readonly store: ObjectStore) {
    super();
  }

  async has(sha256: string, sizeBytes: number): Promise<boolean> {
    try {
      const info = await this.store.info(sha256);
      return info !== null && !info.deleted && info.size === sizeBytes;
    } catch (err) {
      throw unavailable(`cannot look up object ${sha256} in the object store`, err);
    }
  }

  async put(path: string, description: string): Promise<{ sha256: string; sizeBytes: number }> {
    try {
      return await putModel(this.store, path, description);
    } catch (err) {
      throw unavailable('cannot store the dataset file in the object store', err);
    }
  }

  async fetch(sha256: string, cacheDir: string): Promise<string> {
    try {
      return await fetchModel(this.store, sha256, cacheDir);
    } catch (err) {
      if (err instanceof ModelFetchError && !err.transient) throw new DomainError(DomainErrorCode.InvalidArgument, `dataset object ${sha256}: ${err.message}`, { cause: err });
      throw unavailable(`cannot read dataset object ${sha256}`, err);
    }
  }

  async fetchTo(sha256: string, targetPath: string): Promise<void> {
    // fetchModel names its file by digest; a private folder next to the target keeps the rename on one file system.
    const cache = join(dirname(targetPath), `.fetch-${randomUUID()}`);
    try {
      await rename(await this.fetch(sha256, cache), targetPath);
    } finally {
      await rm(cache, { recursive: true, force: true });
    }
  }

  async read(sha256: string): Promise<Buffer> {
    const cache = await mkdtemp(join(tmpdir(), 'bf-dataset-object-'));
    try {
      return await readFile(await this.fetch(sha256, cache));
    } finally {
      await rm(cache, { recursive: true, force: true });
    }
  }

  async delete(sha256: string): Promise<void> {
    try {
      const info = await this.store.info(sha256);
      if (info && !info.deleted) await this.store.delete(sha256);
    } catch (err) {
      throw unavailable(`cannot delete object ${sha256} from the object store`, err);
    }
  }
}
