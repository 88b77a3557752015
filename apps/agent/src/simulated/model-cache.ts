import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ObjectStore } from '@nats-io/obj';
import type { ModelCacheScope, ModelCacheStats } from '@benchfarm/fleet';
import { fetchModel } from '@benchfarm/messaging';

/** One answered request. */
export interface CachedModel {
  readonly path: string;
  readonly sizeBytes: number;
  /** True when no object-store read was made for this request. */
  readonly hit: boolean;
}

/**
 * The model cache of the simulated agents of one process. A read goes through the real agent's
 * `fetchModel` (streamed into a temporary file, SHA-256 checked, renamed into place); agents that
 * ask for a digest while it is being read wait for that read instead of starting their own. A
 * failed read is forgotten, so the next request reads again.
 */
export class SimulatedModelCache {
  private readonly entries = new Map<string, Promise<{ path: string; sizeBytes: number }>>();
  /** Files of the reads that finished, by key (a read that never finishes has none). */
  private readonly files = new Map<string, string>();
  private readonly counts: ModelCacheStats = { requests: 0, hits: 0, storeReads: 0, bytesFetched: 0, failures: 0 };

  /** `dir`: where fetched files go (`<dir>/<digest>.onnx`, or `<dir>/<agentId>/...` per agent). */
  constructor(
    readonly dir: string,
    readonly scope: ModelCacheScope = 'process',
  ) {}

  /** A copy of the counters. */
  stats(): ModelCacheStats {
    return { ...this.counts };
  }

  /**
   * The model with this digest on disk for `agentId`. Thrown: whatever `fetchModel` throws
   * (ModelFetchError: missing, corrupt, or a read that failed on the way, `transient`).
   */
  async get(store: ObjectStore, digest: string, agentId: string): Promise<CachedModel> {
    this.counts.requests += 1;
    const key = this.scope === 'process' ? digest : `${agentId}/${digest}`;
    const existing = this.entries.get(key);
    if (existing) {
      // Counted once the read it joined succeeded: a failed read is nobody's hit.
      const cached = await existing;
      this.counts.hits += 1;
      return { ...cached, hit: true };
    }
    const dir = this.scope === 'process' ? this.dir : join(this.dir, agentId);
    const reading = (async () => {
      this.counts.storeReads += 1;
      const path = await fetchModel(store, digest, dir);
      const { size } = await stat(path);
      this.counts.bytesFetched += size;
      this.files.set(key, path);
      return { path, sizeBytes: size };
    })();
    this.entries.set(key, reading);
    try {
      return { ...(await reading), hit: false };
    } catch (err) {
      this.counts.failures += 1;
      if (this.entries.get(key) === reading) this.entries.delete(key);
      throw err;
    }
  }

  /**
   * Removes every cached copy of `digest` (files and entries); the counters stay. A read still
   * under way is forgotten without waiting for it (a stalled object-store read may never end).
   */
  async discard(digest: string): Promise<void> {
    for (const key of [...this.entries.keys()]) {
      if (key !== digest && !key.endsWith(`/${digest}`)) continue;
      this.entries.delete(key);
      const file = this.files.get(key);
      this.files.delete(key);
      if (file) await rm(file, { force: true });
    }
  }
}
