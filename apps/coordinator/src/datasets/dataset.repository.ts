import { Inject, Injectable } from '@nestjs/common';
import { containsText, greatest } from '../storage/sql-dialect';
import { SQL_DATABASE } from '../storage/storage.tokens';
import type { SqlDatabase, SqlExecutor } from '../storage/sql';
import type { DatasetImageRecord, DatasetLabelsRecord, DatasetRecord } from './dataset.types';

/**
 * Where a declared file of an upload stands: `missing` (bytes still to come), `verified` (all
 * bytes staged on the coordinator's disk and checked), `stored` (already in the object store under
 * another dataset when the upload began: not sent again).
 */
export type UploadFileState = 'missing' | 'verified' | 'stored';

/** One distinct file (by digest) of an upload session. */
export interface UploadFileRecord {
  readonly sha256: string;
  readonly sizeBytes: number;
  readonly kind: 'image' | 'labels';
  readonly state: UploadFileState;
  /** Decoded size of a verified or stored image. */
  readonly width?: number;
  readonly height?: number;
}

/** An open upload session: the manifest it was opened with, and where each file stands. */
export interface UploadSessionRecord {
  readonly id: string;
  /** The id the dataset will have (digest of the manifest). */
  readonly datasetId: string;
  readonly name: string;
  /** Images sorted by name. */
  readonly images: ReadonlyArray<{ name: string; sha256: string; sizeBytes: number }>;
  readonly labels?: { sha256: string; sizeBytes: number } | undefined;
  readonly preprocess?: string | Record<string, unknown> | undefined;
  readonly createdAtMs: number;
  readonly expiresAtMs: number;
  readonly files: readonly UploadFileRecord[];
}

/** A dataset without its image list (for listings). */
export type DatasetSummaryRecord = Omit<DatasetRecord, 'images'> & { imageCount: number };

/** Storage of datasets and their upload sessions. Each method is one transaction. */
export abstract class DatasetRepository {
  /** Stores a new upload session with its files. */
  abstract insertUpload(session: UploadSessionRecord): Promise<void>;
  /** The upload session with this id, or undefined. */
  abstract findUpload(id: string): Promise<UploadSessionRecord | undefined>;
  /** The id of an open session for this dataset id and name (a client that lost its upload id asks again). */
  abstract findUploadFor(datasetId: string, name: string): Promise<string | undefined>;
  /** Records a file's new state (and an image's decoded size). */
  abstract setFileState(uploadId: string, sha256: string, state: UploadFileState, size?: { width: number; height: number }): Promise<void>;
  /** Pushes the session's expiry out (it is in use). */
  abstract touchUpload(id: string, expiresAtMs: number): Promise<void>;
  /** Removes an upload session and its file rows. */
  abstract deleteUpload(id: string): Promise<void>;
  /** Ids of sessions that expired at `nowMs`. */
  abstract expiredUploads(nowMs: number): Promise<string[]>;
  /** Ids of every open session. */
  abstract uploadIds(): Promise<string[]>;
  /** Stores a complete dataset and, in the same transaction, removes the upload session it came from. */
  abstract insertDataset(record: DatasetRecord, fromUploadId: string | undefined): Promise<void>;
  /** The dataset with exactly this id. */
  abstract findById(id: string): Promise<DatasetRecord | undefined>;
  /** The dataset with this name. */
  abstract findByName(name: string): Promise<DatasetRecord | undefined>;
  /** Ids of datasets starting with `prefix` (at most `limit`). */
  abstract idsWithPrefix(prefix: string, limit: number): Promise<string[]>;
  /** Every dataset, newest first, without image lists. */
  abstract list(): Promise<DatasetSummaryRecord[]>;
  /** Removes a dataset record. */
  abstract deleteDataset(id: string): Promise<void>;
  /**
   * The decoded size of an image stored under this digest by some dataset, so a second upload of
   * the same content need not send or decode it again.
   */
  abstract knownImage(sha256: string): Promise<{ width: number; height: number } | undefined>;
  /** Ids of running sweeps whose settings name this dataset (their agents still fetch its images). */
  abstract runningSweepsUsing(datasetId: string): Promise<string[]>;
  /**
   * Whether an object-store object is still in use by a dataset (image or labels), an open upload
   * session other than `exceptUploadId` that relies on it being stored, or a sweep (model or variant).
   */
  abstract isObjectReferenced(sha256: string, exceptUploadId?: string): Promise<boolean>;
}

interface DatasetRow {
  id: string;
  name: string;
  created_at_ms: number;
  image_count: number;
  total_bytes: number;
  labels_sha256: string | null;
  labels_json: string | null;
  preprocess_json: string | null;
}

interface UploadRow {
  id: string;
  dataset_id: string;
  name: string;
  manifest_json: string;
  created_at_ms: number;
  expires_at_ms: number;
}

interface UploadFileRow {
  sha256: string;
  size_bytes: number;
  kind: 'image' | 'labels';
  state: UploadFileState;
  width: number | null;
  height: number | null;
}

/** {@link DatasetRepository} on a {@link SqlDatabase} (tables of the datasets migration). */
@Injectable()
export class SqlDatasetRepository extends DatasetRepository {
  constructor(@Inject(SQL_DATABASE) private readonly db: SqlDatabase) {
    super();
  }

  async insertUpload(session: UploadSessionRecord): Promise<void> {
    const manifest = JSON.stringify({ images: session.images, labels: session.labels ?? null, preprocess: session.preprocess ?? null });
    await this.db.transaction(async (tx) => {
      await tx.run('INSERT INTO dataset_uploads (id, dataset_id, name, manifest_json, created_at_ms, expires_at_ms) VALUES (?, ?, ?, ?, ?, ?)', [
        session.id,
        session.datasetId,
        session.name,
        manifest,
        session.createdAtMs,
        session.expiresAtMs,
      ]);
      for (const [position, f] of session.files.entries()) {
        await tx.run('INSERT INTO dataset_upload_files (upload_id, sha256, size_bytes, kind, state, width, height, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?)', [
          session.id,
          f.sha256,
          f.sizeBytes,
          f.kind,
          f.state,
          f.width ?? null,
          f.height ?? null,
          position,
        ]);
      }
    });
  }

  findUpload(id: string): Promise<UploadSessionRecord | undefined> {
    return this.db.transaction(async (tx) => {
      const row = await tx.get<UploadRow>('SELECT * FROM dataset_uploads WHERE id = ?', [id]);
      if (!row) return undefined;
      const manifest = JSON.parse(row.manifest_json) as { images: UploadSessionRecord['images']; labels: { sha256: string; sizeBytes: number } | null; preprocess: UploadSessionRecord['preprocess'] | null };
      const files = (await tx.all<UploadFileRow>('SELECT sha256, size_bytes, kind, state, width, height FROM dataset_upload_files WHERE upload_id = ? ORDER BY position', [id])).map(
        (f): UploadFileRecord => ({ sha256: f.sha256, sizeBytes: f.size_bytes, kind: f.kind, state: f.state, ...(f.width === null || f.height === null ? {} : { width: f.width, height: f.height }) }),
      );
      return {
        id: row.id,
        datasetId: row.dataset_id,
        name: row.name,
        images: manifest.images,
        ...(manifest.labels ? { labels: manifest.labels } : {}),
        ...(manifest.preprocess !== null ? { preprocess: manifest.preprocess } : {}),
        createdAtMs: row.created_at_ms,
        expiresAtMs: row.expires_at_ms,
        files,
      };
    });
  }

  async findUploadFor(datasetId: string, name: string): Promise<string | undefined> {
    return (await this.db.get<{ id: string }>('SELECT id FROM dataset_uploads WHERE dataset_id = ? AND name = ? ORDER BY created_at_ms DESC, id LIMIT 1', [datasetId, name]))?.id;
  }

  async setFileState(uploadId: string, sha256: string, state: UploadFileState, size?: { width: number; height: number }): Promise<void> {
    await this.db.run('UPDATE dataset_upload_files SET state = ?, width = ?, height = ? WHERE upload_id = ? AND sha256 = ?', [state, size?.width ?? null, size?.height ?? null, uploadId, sha256]);
  }

  async touchUpload(id: string, expiresAtMs: number): Promise<void> {
    await this.db.run(`UPDATE dataset_uploads SET expires_at_ms = ${greatest(this.db.dialect, 'expires_at_ms', '@expiresAtMs')} WHERE id = @id`, { expiresAtMs, id });
  }

  async deleteUpload(id: string): Promise<void> {
    await this.db.run('DELETE FROM dataset_uploads WHERE id = ?', [id]);
  }

  async expiredUploads(nowMs: number): Promise<string[]> {
    return (await this.db.all<{ id: string }>('SELECT id FROM dataset_uploads WHERE expires_at_ms <= ? ORDER BY expires_at_ms, id', [nowMs])).map((r) => r.id);
  }

  async uploadIds(): Promise<string[]> {
    return (await this.db.all<{ id: string }>('SELECT id FROM dataset_uploads ORDER BY id')).map((r) => r.id);
  }

  async insertDataset(record: DatasetRecord, fromUploadId: string | undefined): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.run('INSERT INTO datasets (id, name, created_at_ms, image_count, total_bytes, labels_sha256, labels_json, preprocess_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)', [
        record.id,
        record.name,
        record.createdAtMs,
        record.images.length,
        record.totalBytes,
        record.labels?.sha256 ?? null,
        record.labels ? JSON.stringify(record.labels) : null,
        record.preprocess === undefined ? null : JSON.stringify(record.preprocess),
      ]);
      for (const [position, image] of record.images.entries()) {
        await tx.run('INSERT INTO dataset_images (dataset_id, position, name, sha256, size_bytes, width, height) VALUES (?, ?, ?, ?, ?, ?, ?)', [
          record.id,
          position,
          image.name,
          image.sha256,
          image.sizeBytes,
          image.width,
          image.height,
        ]);
      }
      if (fromUploadId !== undefined) await tx.run('DELETE FROM dataset_uploads WHERE id = ?', [fromUploadId]);
    });
  }

  findById(id: string): Promise<DatasetRecord | undefined> {
    return this.db.transaction(async (tx) => this.full(tx, await tx.get<DatasetRow>('SELECT * FROM datasets WHERE id = ?', [id])));
  }

  findByName(name: string): Promise<DatasetRecord | undefined> {
    return this.db.transaction(async (tx) => this.full(tx, await tx.get<DatasetRow>('SELECT * FROM datasets WHERE name = ?', [name])));
  }

  async idsWithPrefix(prefix: string, limit: number): Promise<string[]> {
    // The prefix is hex only (checked by the caller), so no LIKE wildcard can be in it.
    return (await this.db.all<{ id: string }>('SELECT id FROM datasets WHERE id LIKE ? ORDER BY id LIMIT ?', [`${prefix}%`, limit])).map((r) => r.id);
  }

  async list(): Promise<DatasetSummaryRecord[]> {
    return (await this.db.all<DatasetRow>('SELECT * FROM datasets ORDER BY created_at_ms DESC, id')).map((row) => ({ ...this.summary(row), imageCount: row.image_count }));
  }

  async deleteDataset(id: string): Promise<void> {
    await this.db.run('DELETE FROM datasets WHERE id = ?', [id]);
  }

  knownImage(sha256: string): Promise<{ width: number; height: number } | undefined> {
    return this.db.get<{ width: number; height: number }>('SELECT width, height FROM dataset_images WHERE sha256 = ? LIMIT 1', [sha256]);
  }

  async runningSweepsUsing(datasetId: string): Promise<string[]> {
    // settings_json records { calibration|evaluation: { datasetId } } (sweeps' SweepDatasetsSummary); an id is 64 hex digits, so a substring match is exact.
    const rows = await this.db.all<{ id: string }>(`SELECT id FROM sweeps WHERE state = 'running' AND ${containsText(this.db.dialect, 'settings_json', '?')} ORDER BY created_at_ms, id`, [`"datasetId":"${datasetId}"`]);
    return rows.map((r) => r.id);
  }

  async isObjectReferenced(sha256: string, exceptUploadId?: string): Promise<boolean> {
    const hit = await this.db.get(
      `SELECT 1 AS one FROM dataset_images WHERE sha256 = @sha
       UNION ALL SELECT 1 FROM datasets WHERE labels_sha256 = @sha
       UNION ALL SELECT 1 FROM dataset_upload_files WHERE sha256 = @sha AND state = 'stored' AND upload_id IS DISTINCT FROM @except
       UNION ALL SELECT 1 FROM sweeps WHERE model_sha256 = @sha
       UNION ALL SELECT 1 FROM variants WHERE sha256 = @sha
       LIMIT 1`,
      { sha: sha256, except: exceptUploadId ?? null },
    );
    return hit !== undefined;
  }

  private summary(row: DatasetRow): Omit<DatasetRecord, 'images'> {
    return {
      id: row.id,
      name: row.name,
      createdAtMs: row.created_at_ms,
      totalBytes: row.total_bytes,
      ...(row.labels_json === null ? {} : { labels: JSON.parse(row.labels_json) as DatasetLabelsRecord }),
      ...(row.preprocess_json === null ? {} : { preprocess: JSON.parse(row.preprocess_json) as DatasetRecord['preprocess'] }),
    };
  }

  private async full(tx: SqlExecutor, row: DatasetRow | undefined): Promise<DatasetRecord | undefined> {
    if (!row) return undefined;
    const images = await tx.all<DatasetImageRecord>('SELECT name, sha256, size_bytes AS "sizeBytes", width, height FROM dataset_images WHERE dataset_id = ? ORDER BY position', [row.id]);
    return { ...this.summary(row), images };
  }
}
