import { Inject, Injectable } from '@nestjs/common';
import type { SqliteDatabase } from '../storage/database';
import { SQLITE_DATABASE } from '../storage/storage.tokens';
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

/** Storage of datasets and their upload sessions. Each method is one SQLite transaction. */
export abstract class DatasetRepository {
  /** Stores a new upload session with its files. */
  abstract insertUpload(session: UploadSessionRecord): void;
  /** The upload session with this id, or undefined. */
  abstract findUpload(id: string): UploadSessionRecord | undefined;
  /** The id of an open session for this dataset id and name (a client that lost its upload id asks again). */
  abstract findUploadFor(datasetId: string, name: string): string | undefined;
  /** Records a file's new state (and an image's decoded size). */
  abstract setFileState(uploadId: string, sha256: string, state: UploadFileState, size?: { width: number; height: number }): void;
  /** Pushes the session's expiry out (it is in use). */
  abstract touchUpload(id: string, expiresAtMs: number): void;
  /** Removes an upload session and its file rows. */
  abstract deleteUpload(id: string): void;
  /** Ids of sessions that expired at `nowMs`. */
  abstract expiredUploads(nowMs: number): string[];
  /** Ids of every open session. */
  abstract uploadIds(): string[];
  /** Stores a complete dataset and, in the same transaction, removes the upload session it came from. */
  abstract insertDataset(record: DatasetRecord, fromUploadId: string | undefined): void;
  /** The dataset with exactly this id. */
  abstract findById(id: string): DatasetRecord | undefined;
  /** The dataset with this name. */
  abstract findByName(name: string): DatasetRecord | undefined;
  /** Ids of datasets starting with `prefix` (at most `limit`). */
  abstract idsWithPrefix(prefix: string, limit: number): string[];
  /** Every dataset, newest first, without image lists. */
  abstract list(): DatasetSummaryRecord[];
  /** Removes a dataset record. */
  abstract deleteDataset(id: string): void;
  /**
   * The decoded size of an image stored under this digest by some dataset, so a second upload of
   * the same content need not send or decode it again.
   */
  abstract knownImage(sha256: string): { width: number; height: number } | undefined;
  /** Ids of running sweeps whose settings name this dataset (their agents still fetch its images). */
  abstract runningSweepsUsing(datasetId: string): string[];
  /**
   * Whether an object-store object is still in use by a dataset (image or labels), an open upload
   * session other than `exceptUploadId` that relies on it being stored, or a sweep (model or variant).
   */
  abstract isObjectReferenced(sha256: string, exceptUploadId?: string): boolean;
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

/** {@link DatasetRepository} on the coordinator's SQLite file (tables of the datasets migration). */
@Injectable()
export class SqliteDatasetRepository extends DatasetRepository {
  constructor(@Inject(SQLITE_DATABASE) private readonly db: SqliteDatabase) {
    super();
  }

  insertUpload(session: UploadSessionRecord): void {
    const manifest = JSON.stringify({ images: session.images, labels: session.labels ?? null, preprocess: session.preprocess ?? null });
    this.db.transaction(() => {
      this.db
        .prepare('INSERT INTO dataset_uploads (id, dataset_id, name, manifest_json, created_at_ms, expires_at_ms) VALUES (?, ?, ?, ?, ?, ?)')
        .run(session.id, session.datasetId, session.name, manifest, session.createdAtMs, session.expiresAtMs);
      const insert = this.db.prepare('INSERT INTO dataset_upload_files (upload_id, sha256, size_bytes, kind, state, width, height) VALUES (?, ?, ?, ?, ?, ?, ?)');
      for (const f of session.files) insert.run(session.id, f.sha256, f.sizeBytes, f.kind, f.state, f.width ?? null, f.height ?? null);
    })();
  }

  findUpload(id: string): UploadSessionRecord | undefined {
    const row = this.db.prepare('SELECT * FROM dataset_uploads WHERE id = ?').get(id) as UploadRow | undefined;
    if (!row) return undefined;
    const manifest = JSON.parse(row.manifest_json) as { images: UploadSessionRecord['images']; labels: { sha256: string; sizeBytes: number } | null; preprocess: UploadSessionRecord['preprocess'] | null };
    const files = (this.db.prepare('SELECT sha256, size_bytes, kind, state, width, height FROM dataset_upload_files WHERE upload_id = ? ORDER BY rowid').all(id) as UploadFileRow[]).map(
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
  }

  findUploadFor(datasetId: string, name: string): string | undefined {
    return (this.db.prepare('SELECT id FROM dataset_uploads WHERE dataset_id = ? AND name = ? ORDER BY created_at_ms DESC LIMIT 1').get(datasetId, name) as { id: string } | undefined)?.id;
  }

  setFileState(uploadId: string, sha256: string, state: UploadFileState, size?: { width: number; height: number }): void {
    this.db.prepare('UPDATE dataset_upload_files SET state = ?, width = ?, height = ? WHERE upload_id = ? AND sha256 = ?').run(state, size?.width ?? null, size?.height ?? null, uploadId, sha256);
  }

  touchUpload(id: string, expiresAtMs: number): void {
    this.db.prepare('UPDATE dataset_uploads SET expires_at_ms = MAX(expires_at_ms, ?) WHERE id = ?').run(expiresAtMs, id);
  }

  deleteUpload(id: string): void {
    this.db.prepare('DELETE FROM dataset_uploads WHERE id = ?').run(id);
  }

  expiredUploads(nowMs: number): string[] {
    return (this.db.prepare('SELECT id FROM dataset_uploads WHERE expires_at_ms <= ? ORDER BY expires_at_ms').all(nowMs) as Array<{ id: string }>).map((r) => r.id);
  }

  uploadIds(): string[] {
    return (this.db.prepare('SELECT id FROM dataset_uploads').all() as Array<{ id: string }>).map((r) => r.id);
  }

  insertDataset(record: DatasetRecord, fromUploadId: string | undefined): void {
    this.db.transaction(() => {
      this.db
        .prepare('INSERT INTO datasets (id, name, created_at_ms, image_count, total_bytes, labels_sha256, labels_json, preprocess_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
        .run(record.id, record.name, record.createdAtMs, record.images.length, record.totalBytes, record.labels?.sha256 ?? null, record.labels ? JSON.stringify(record.labels) : null, record.preprocess === undefined ? null : JSON.stringify(record.preprocess));
      const insert = this.db.prepare('INSERT INTO dataset_images (dataset_id, position, name, sha256, size_bytes, width, height) VALUES (?, ?, ?, ?, ?, ?, ?)');
      for (const [position, image] of record.images.entries()) insert.run(record.id, position, image.name, image.sha256, image.sizeBytes, image.width, image.height);
      if (fromUploadId !== undefined) this.db.prepare('DELETE FROM dataset_uploads WHERE id = ?').run(fromUploadId);
    })();
  }

  findById(id: string): DatasetRecord | undefined {
    return this.full(this.db.prepare('SELECT * FROM datasets WHERE id = ?').get(id) as DatasetRow | undefined);
  }

  findByName(name: string): DatasetRecord | undefined {
    return this.full(this.db.prepare('SELECT * FROM datasets WHERE name = ?').get(name) as DatasetRow | undefined);
  }

  idsWithPrefix(prefix: string, limit: number): string[] {
    // The prefix is hex only (checked by the caller), so no LIKE wildcard can be in it.
    return (this.db.prepare('SELECT id FROM datasets WHERE id LIKE ? ORDER BY id LIMIT ?').all(`${prefix}%`, limit) as Array<{ id: string }>).map((r) => r.id);
  }

  list(): DatasetSummaryRecord[] {
    return (this.db.prepare('SELECT * FROM datasets ORDER BY created_at_ms DESC, id').all() as DatasetRow[]).map((row) => ({ ...this.summary(row), imageCount: row.image_count }));
  }

  deleteDataset(id: string): void {
    this.db.prepare('DELETE FROM datasets WHERE id = ?').run(id);
  }

  knownImage(sha256: string): { width: number; height: number } | undefined {
    return this.db.prepare('SELECT width, height FROM dataset_images WHERE sha256 = ? LIMIT 1').get(sha256) as { width: number; height: number } | undefined;
  }

  runningSweepsUsing(datasetId: string): string[] {
    // settings_json records { calibration|evaluation: { datasetId } } (sweeps' SweepDatasetsSummary); an id is 64 hex digits, so a substring match is exact.
    return (this.db.prepare("SELECT id FROM sweeps WHERE state = 'running' AND instr(settings_json, ?) > 0 ORDER BY created_at_ms").all(`"datasetId":"${datasetId}"`) as Array<{ id: string }>).map((r) => r.id);
  }

  isObjectReferenced(sha256: string, exceptUploadId?: string): boolean {
    const hit = this.db
      .prepare(
        `SELECT 1 FROM dataset_images WHERE sha256 = @sha
         UNION ALL SELECT 1 FROM datasets WHERE labels_sha256 = @sha
         UNION ALL SELECT 1 FROM dataset_upload_files WHERE sha256 = @sha AND state = 'stored' AND upload_id IS NOT @except
         UNION ALL SELECT 1 FROM sweeps WHERE model_sha256 = @sha
         UNION ALL SELECT 1 FROM variants WHERE sha256 = @sha
         LIMIT 1`,
      )
      .get({ sha: sha256, except: exceptUploadId ?? null });
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

  private full(row: DatasetRow | undefined): DatasetRecord | undefined {
    if (!row) return undefined;
    const images = this.db.prepare('SELECT name, sha256, size_bytes AS sizeBytes, width, height FROM dataset_images WHERE dataset_id = ? ORDER BY position').all(row.id) as DatasetImageRecord[];
    return { ...this.summary(row), images };
  }
}
