import type { ObjectStore } from '@nats-io/obj';
import { fetchModel, putModel } from '@benchfarm/messaging';
import { DomainError, DomainErrorCode, errorMessage } from '../common/domain-error';

/** Where model files go so agents can fetch them by digest. */
export abstract class ModelStore {
  /** Stores a file under its SHA-256 (a no-op when that digest is stored already). */
  abstract put(path: string, description: string): Promise<{ sha256: string; sizeBytes: number }>;
  /** Fetches a stored file by its SHA-256 into `dir` (checked against the digest); returns its path. */
  abstract fetch(sha256: string, dir: string): Promise<string>;
}

/** {@link ModelStore} on the NATS Object Store bucket of models. */
export class NatsModelStore extends ModelStore {
  constructor(private readonly store: ObjectStore) {
    super();
  }

  async put(path: string, description: string): Promise<{ sha256: string; sizeBytes: number }> {
    try {
      return await putModel(this.store, path, description);
    } catch (err) {
      throw new DomainError(DomainErrorCode.MessagingUnavailable, `cannot store the model in the object store: ${errorMessage(err)}`, { cause: err });
    }
  }

  async fetch(sha256: string, dir: string): Promise<string> {
    try {
      return await fetchModel(this.store, sha256, dir);
    } catch (err) {
      throw new DomainError(DomainErrorCode.MessagingUnavailable, `cannot fetch model ${sha256} from the object store: ${errorMessage(err)}`, { cause: err });
    }
  }
}
