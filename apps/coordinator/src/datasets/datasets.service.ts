import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { decodeJpeg } from '@benchfarm/onnx';
import { startBackgroundLoop, type BackgroundLoop } from '../common/background-loop';
import { Clock } from '../common/clock';
import { DomainError, DomainErrorCode, errorMessage } from '../common/domain-error';
import { COORDINATOR_CONFIG } from '../common/tokens';
import type { CoordinatorConfig } from '../config';
import { DatasetObjects } from './dataset-objects';
import { datasetId, invalidDataset, isSha256, parseDatasetManifest, summarizeLabels, type DatasetLimits } from './dataset-manifest';
import { DatasetRepository, type UploadFileRecord, type UploadSessionRecord } from './dataset.repository';
import { DatasetCatalog, type DatasetImageRecord, type DatasetLabelsRecord, type DatasetRecord } from './dataset.types';
import { UploadInterruptedError, UploadOverflowError, UploadStaging } from './upload-staging';

/** A dataset as the REST API shows it; `images` only on `GET /v1/datasets/:idOrName`. */
export interface DatasetView {
  id: string;
  name: string;
  createdAt: string;
  imageCount: number;
  totalBytes: number;
  labels?: DatasetLabelsRecord;
  preprocess?: string | Record<string, unknown>;
  images?: DatasetImageRecord[];
}

/** A file of an upload that the coordinator still needs. */
export interface MissingFileView {
  sha256: string;
  sizeBytes: number;
  /** Bytes already received: resume from here (`Content-Range: bytes <receivedBytes>-...`). */
  receivedBytes: number;
  /** The image name, or `labels`. */
  name: string;
}

/** Where an upload stands. `state: complete` carries the dataset (and whether it existed already). */
export interface UploadView {
  /** Absent when no session was needed (the dataset existed already). */
  uploadId?: string;
  datasetId: string;
  name: string;
  state: 'open' | 'complete';
  expiresAt?: string;
  /** Distinct files (by digest) the dataset has, images and labels. */
  files: number;
  /** Files the coordinator already had (stored by another dataset): not sent again. */
  reusedFiles: number;
  missing: MissingFileView[];
  dataset?: DatasetView;
  /** True when a dataset with the same content existed already and is returned as it is. */
  reused?: boolean;
}

/** What a PUT of file bytes left behind. */
export interface FileProgressView {
  sha256: string;
  sizeBytes: number;
  receivedBytes: number;
  /** All bytes arrived and were verified (digest, JPEG decode or labels JSON). */
  complete: boolean;
}

/** What removing a dataset did. */
export interface DatasetRemovalView {
  id: string;
  name: string;
  /** Objects deleted from the object store. */
  deletedObjects: number;
  /** Objects kept because another dataset, an upload or a sweep uses them. */
  keptObjects: number;
  /** Objects that could not be deleted (the store was unavailable); the record is gone either way. */
  failedObjects: number;
}

const UPLOAD_ID = /^upload_[0-9a-f]{32}$/;
const PREFIX = /^[0-9a-f]{8,63}$/;
/** Object-store calls in flight at once for one request. */
const STORE_CONCURRENCY = 8;

/** Runs `fn` over `items` with at most `limit` in flight; the first failure is thrown after the others settle. */
async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { err: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (next < items.length && !failure) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.err;
}

/** Parses `Content-Range: bytes <start>-<end>/<total>`; absent means the whole file from byte 0. */
function parseContentRange(header: string | undefined, sizeBytes: number): number {
  if (header === undefined || header === '') return 0;
  const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(header.trim());
  if (!m) throw new DomainError(DomainErrorCode.InvalidArgument, `content-range: must be "bytes <start>-<end>/<total>", got ${JSON.stringify(header)}`, { field: 'content-range' });
  const [start, end, total] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (total !== sizeBytes) throw new DomainError(DomainErrorCode.InvalidArgument, `content-range: total ${total} is not the file's declared size ${sizeBytes}`, { field: 'content-range' });
  if (end < start || end >= total) throw new DomainError(DomainErrorCode.InvalidArgument, `content-range: bytes ${start}-${end} are not within the file's ${total} bytes`, { field: 'content-range' });
  return start;
}

/**
 * Datasets: resumable uploads (manifest first, then each file's bytes, then complete), stored
 * once by content in the models object store, listed, shown and removed; and the
 * {@link DatasetCatalog} sweeps use. A dataset record exists only once every file is stored and
 * verified; a refused upload is dropped whole (its staged bytes and anything it stored).
 */
@Injectable()
export class DatasetsService extends DatasetCatalog implements OnModuleInit, OnModuleDestroy {
  private readonly log = new Logger('Datasets');
  private readonly limits: DatasetLimits;
  /** Completes, removals and expiries run one at a time, so one never deletes what another is storing. */
  private tail: Promise<unknown> = Promise.resolve();
  /** Files a PUT is writing now (`<uploadId>/<sha256>`). */
  private readonly writing = new Set<string>();
  private expiry: BackgroundLoop | undefined;

  constructor(
    @Inject(DatasetRepository) private readonly repo: DatasetRepository,
    @Inject(DatasetObjects) private readonly objects: DatasetObjects,
    @Inject(UploadStaging) private readonly staging: UploadStaging,
    @Inject(Clock) private readonly clock: Clock,
    @Inject(COORDINATOR_CONFIG) private readonly config: CoordinatorConfig,
  ) {
    super();
    this.limits = { maxImageBytes: config.maxDatasetImageBytes, maxDatasetBytes: config.maxDatasetBytes, maxImages: config.maxDatasetImages, maxLabelsBytes: config.maxDatasetLabelsBytes };
  }

  async onModuleInit(): Promise<void> {
    // Staged bytes of sessions the database no longer has (dropped while the coordinator was down mid-way).
    const open = new Set(await this.repo.uploadIds());
    for (const id of await this.staging.uploadIds()) if (!open.has(id)) await this.staging.removeUpload(id);
    await this.expireUploads();
    this.expiry = startBackgroundLoop(() => this.expireUploads(), { everyMs: Math.min(60_000, Math.max(1_000, this.config.datasetUploadTtlMs / 4)), log: this.log, failure: 'expiring dataset uploads failed', unref: true });
  }

  async onModuleDestroy(): Promise<void> {
    await this.expiry?.stop();
  }

  /** `POST /v1/datasets/uploads`: opens (or finds again) the upload of a manifest. */
  async createUpload(body: unknown): Promise<UploadView> {
    const manifest = parseDatasetManifest(body, this.limits);
    const id = datasetId(manifest);
    return this.serial(async () => {
      const existing = await this.repo.findById(id);
      if (existing) return this.completeView(existing, true, undefined);
      const name = manifest.name ?? `dataset-${id.slice(0, 12)}`;
      const named = await this.repo.findByName(name);
      if (named) throw invalidDataset('name', `a dataset named ${JSON.stringify(name)} exists already (id ${named.id.slice(0, 12)}) with other content: choose another name or remove it first`);
      const again = await this.repo.findUploadFor(id, name);
      if (again !== undefined) {
        const session = await this.repo.findUpload(again);
        if (session && session.expiresAtMs > this.clock.nowMs()) {
          await this.repo.touchUpload(session.id, this.clock.nowMs() + this.config.datasetUploadTtlMs);
          return this.uploadView(session);
        }
        // Expired but not swept yet: start afresh.
        await this.dropUpload(again);
      }
      const files: UploadFileRecord[] = manifest.images.map((image) => ({ sha256: image.sha256, sizeBytes: image.sizeBytes, kind: 'image', state: 'missing' }));
      // Content some dataset already stored is not sent again (its decoded size is known).
      const reused = new Map<string, { width: number; height: number }>();
      await eachLimited(files, STORE_CONCURRENCY, async (file) => {
        const known = await this.repo.knownImage(file.sha256);
        if (known && (await this.objects.has(file.sha256, file.sizeBytes))) reused.set(file.sha256, known);
      });
      const uploadId = `upload_${randomBytes(16).toString('hex')}`;
      const withState = files.map((f): UploadFileRecord => {
        const size = reused.get(f.sha256);
        return size ? { ...f, state: 'stored', ...size } : f;
      });
      if (manifest.labels) {
        const inline = manifest.labels.inlineBytes;
        if (inline) await this.staging.writeVerified(uploadId, manifest.labels.sha256, inline);
        withState.push({ sha256: manifest.labels.sha256, sizeBytes: manifest.labels.sizeBytes, kind: 'labels', state: inline ? 'verified' : 'missing' });
      }
      const now = this.clock.nowMs();
      const session: UploadSessionRecord = {
        id: uploadId,
        datasetId: id,
        name,
        images: manifest.images.map((i) => ({ name: i.name, sha256: i.sha256, sizeBytes: i.sizeBytes })),
        ...(manifest.labels ? { labels: { sha256: manifest.labels.sha256, sizeBytes: manifest.labels.sizeBytes } } : {}),
        ...(manifest.preprocess !== undefined ? { preprocess: manifest.preprocess } : {}),
        createdAtMs: now,
        expiresAtMs: now + this.config.datasetUploadTtlMs,
        files: withState,
      };
      try {
        await this.repo.insertUpload(session);
      } catch (err) {
        await this.staging.removeUpload(uploadId);
        throw err;
      }
      return this.uploadView(session);
    });
  }

  /** `GET /v1/datasets/uploads/:id`: what is still missing, so a client resumes. */
  async getUpload(uploadId: string): Promise<UploadView> {
    return this.uploadView(await this.liveUpload(uploadId));
  }

  /** `DELETE /v1/datasets/uploads/:id`: drops an open upload and its bytes. */
  async abortUpload(uploadId: string): Promise<{ uploadId: string; aborted: true }> {
    const session = await this.liveUpload(uploadId);
    await this.serial(() => this.dropUpload(session.id));
    return { uploadId: session.id, aborted: true };
  }

  /**
   * `PUT /v1/datasets/uploads/:id/files/:sha256`: bytes of one declared file, whole or from
   * `Content-Range`'s start (which must be where the coordinator's copy ends). Once all bytes are
   * there they are verified; a file that fails (digest, JPEG, labels, more bytes than declared)
   * drops the whole upload.
   */
  async putFile(uploadId: string, sha256: string, contentRange: string | undefined, body: AsyncIterable<Uint8Array>): Promise<FileProgressView> {
    const session = await this.liveUpload(uploadId);
    if (!isSha256(sha256)) throw new DomainError(DomainErrorCode.InvalidArgument, `sha256: must be a lower-case SHA-256 hex digest, got ${JSON.stringify(sha256)}`, { field: 'sha256' });
    const file = session.files.find((f) => f.sha256 === sha256);
    if (!file) throw invalidDataset('sha256', `${sha256} is not a file of upload ${uploadId}`);
    if (file.state !== 'missing') return { sha256, sizeBytes: file.sizeBytes, receivedBytes: file.sizeBytes, complete: true };
    const key = `${uploadId}/${sha256}`;
    if (this.writing.has(key)) throw new DomainError(DomainErrorCode.ResumeMismatch, `${this.fileLabel(session, sha256)}: another request is writing this file now`, { field: 'sha256' });
    const start = parseContentRange(contentRange, file.sizeBytes);
    this.writing.add(key);
    let received: number;
    try {
      const have = await this.staging.receivedBytes(uploadId, sha256);
      if (start !== 0 && start !== have) {
        throw new DomainError(DomainErrorCode.ResumeMismatch, `${this.fileLabel(session, sha256)}: the coordinator has ${have} of ${file.sizeBytes} bytes; send from byte ${have}`, { field: 'content-range' });
      }
      try {
        received = await this.staging.write(uploadId, sha256, body, start, file.sizeBytes);
      } catch (err) {
        if (err instanceof UploadInterruptedError) {
          await this.repo.touchUpload(uploadId, this.clock.nowMs() + this.config.datasetUploadTtlMs);
          throw new DomainError(DomainErrorCode.InvalidUpload, `${this.fileLabel(session, sha256)}: ${err.message}; resume from byte ${err.receivedBytes}`, { field: 'body', cause: err });
        }
        if (!(err instanceof UploadOverflowError)) throw err;
        throw await this.refuse(session, this.fileField(session, sha256), `${this.fileLabel(session, sha256)}: ${err.message}`, err);
      }
      await this.repo.touchUpload(uploadId, this.clock.nowMs() + this.config.datasetUploadTtlMs);
      if (received === file.sizeBytes) await this.verifyFile(session, file);
    } finally {
      this.writing.delete(key);
    }
    // A session dropped meanwhile (expired, refused) must not keep bytes this request wrote.
    if (!(await this.repo.findUpload(uploadId))) {
      await this.staging.removeUpload(uploadId);
      throw new DomainError(DomainErrorCode.DatasetNotFound, `upload ${uploadId} was dropped while the file was written`, { field: 'uploadId' });
    }
    return { sha256, sizeBytes: file.sizeBytes, receivedBytes: received, complete: received === file.sizeBytes };
  }

  /**
   * `POST /v1/datasets/uploads/:id/complete`: checks that every file is there and the labels fit
   * the decoded images, stores the files in the object store and only then writes the dataset.
   */
  async complete(uploadId: string): Promise<UploadView> {
    return this.serial(async () => {
      const session = await this.liveUpload(uploadId, true);
      const existing = await this.repo.findById(session.datasetId);
      if (existing) {
        await this.dropUpload(session.id);
        return this.completeView(existing, true, undefined);
      }
      // Another dataset's object this upload relied on may have gone (deleted from the store by hand).
      for (const f of session.files) {
        if (f.state === 'stored' && !(await this.objects.has(f.sha256, f.sizeBytes))) await this.repo.setFileState(session.id, f.sha256, 'missing');
      }
      const current = (await this.repo.findUpload(session.id)) ?? session;
      const missing = current.files.filter((f) => f.state === 'missing');
      if (missing.length > 0) {
        const names = missing.slice(0, 5).map((f) => this.nameOf(current, f.sha256));
        throw invalidDataset('files', `${missing.length} file(s) not uploaded yet: ${names.join(', ')}${missing.length > 5 ? ', ...' : ''} (GET /v1/datasets/uploads/${uploadId} lists them)`);
      }
      const dims = new Map(current.files.map((f) => [f.sha256, f]));
      const images: DatasetImageRecord[] = current.images.map((i) => {
        const f = dims.get(i.sha256);
        if (f?.width === undefined || f.height === undefined) throw new Error(`image ${i.name} is verified without a size`);
        return { name: i.name, sha256: i.sha256, sizeBytes: i.sizeBytes, width: f.width, height: f.height };
      });
      let labels: DatasetLabelsRecord | undefined;
      if (current.labels) {
        const bytes = await this.staging.read(current.id, current.labels.sha256);
        try {
          labels = { sha256: current.labels.sha256, sizeBytes: current.labels.sizeBytes, ...summarizeLabels(JSON.parse(bytes.toString('utf8')) as unknown, images) };
        } catch (err) {
          if (err instanceof DomainError) throw await this.refuse(current, err.field ?? 'labels', err.message, err, true);
          throw await this.refuse(current, 'labels', `labels: not JSON: ${errorMessage(err)}`, err, true);
        }
      }
      const named = await this.repo.findByName(current.name);
      if (named) throw await this.refuse(current, 'name', `name: a dataset named ${JSON.stringify(current.name)} was created meanwhile (id ${named.id.slice(0, 12)})`, undefined, true);
      const record: DatasetRecord = {
        id: current.datasetId,
        name: current.name,
        createdAtMs: this.clock.nowMs(),
        images,
        ...(labels ? { labels } : {}),
        ...(current.preprocess !== undefined ? { preprocess: current.preprocess } : {}),
        totalBytes: images.reduce((sum, i) => sum + i.sizeBytes, 0) + (labels?.sizeBytes ?? 0),
      };
      const staged = current.files.filter((f) => f.state === 'verified');
      const added: string[] = [];
      try {
        await eachLimited(staged, STORE_CONCURRENCY, async (f) => {
          const before = await this.objects.has(f.sha256, f.sizeBytes);
          await this.objects.put(this.staging.verifiedPath(current.id, f.sha256), `dataset ${record.name}: ${this.nameOf(current, f.sha256)}`);
          if (!before) added.push(f.sha256);
        });
        await this.repo.insertDataset(record, current.id);
      } catch (err) {
        // Nothing half-stored: objects this attempt added go again; the session stays for a retry.
        await this.deleteUnreferenced(added, current.id);
        throw err;
      }
      await this.staging.removeUpload(current.id);
      this.log.log(`dataset ${record.name} (${record.id.slice(0, 12)}): ${images.length} images, ${record.totalBytes} bytes, ${added.length} new objects`);
      return this.completeView(record, false, current);
    });
  }

  /** `GET /v1/datasets`. */
  async list(): Promise<DatasetView[]> {
    return (await this.repo.list()).map((d) => this.view({ ...d, images: [] }, d.imageCount, false));
  }

  /** `GET /v1/datasets/:idOrName`. */
  async show(idOrName: string): Promise<DatasetView> {
    const record = await this.resolve(idOrName, 'idOrName');
    return this.view(record, record.images.length, true);
  }

  /** `DELETE /v1/datasets/:idOrName`: the record goes; its objects go unless something else uses them. */
  async remove(idOrName: string): Promise<DatasetRemovalView> {
    return this.serial(async () => {
      const record = await this.resolve(idOrName, 'idOrName');
      const sweeps = await this.repo.runningSweepsUsing(record.id);
      if (sweeps.length > 0) {
        throw new DomainError(DomainErrorCode.InvalidArgument, `idOrName: dataset ${record.name} is used by running sweep(s) ${sweeps.join(', ')} whose agents still fetch its images; remove it once they finished`, { field: 'idOrName' });
      }
      await this.repo.deleteDataset(record.id);
      const digests = [...new Set([...record.images.map((i) => i.sha256), ...(record.labels ? [record.labels.sha256] : [])])];
      const result = await this.deleteUnreferenced(digests, undefined);
      this.log.log(`dataset ${record.name} (${record.id.slice(0, 12)}) removed: ${result.deleted} objects deleted, ${result.kept} kept, ${result.failed} failed`);
      return { id: record.id, name: record.name, deletedObjects: result.deleted, keptObjects: result.kept, failedObjects: result.failed };
    });
  }

  async resolve(idOrName: string, field: string): Promise<DatasetRecord> {
    const notFound = (why: string): DomainError => new DomainError(DomainErrorCode.DatasetNotFound, `${field}: ${why}`, { field });
    if (typeof idOrName !== 'string' || idOrName.length === 0) throw notFound('give a dataset id (or a prefix of at least 8 hex digits) or name');
    const byId = isSha256(idOrName) ? await this.repo.findById(idOrName) : undefined;
    if (byId) return byId;
    const byName = await this.repo.findByName(idOrName);
    if (byName) return byName;
    if (PREFIX.test(idOrName)) {
      const ids = await this.repo.idsWithPrefix(idOrName, 2);
      if (ids.length > 1) throw notFound(`${JSON.stringify(idOrName)} is the prefix of several dataset ids; give more digits`);
      const match = ids[0] === undefined ? undefined : await this.repo.findById(ids[0]);
      if (match) return match;
    }
    throw notFound(`no dataset has the id or name ${JSON.stringify(idOrName)}`);
  }

  async materialize(images: readonly DatasetImageRecord[], dir: string): Promise<string[]> {
    await mkdir(dir, { recursive: true });
    const paths = images.map((image) => {
      // Names were checked at upload; a record from elsewhere must not write outside `dir` either.
      if (!/^[^/\\]+$/.test(image.name) || image.name === '.' || image.name === '..') throw new DomainError(DomainErrorCode.InvalidArgument, `image name ${JSON.stringify(image.name)} is not a base name`, { field: 'images' });
      return join(dir, image.name);
    });
    await eachLimited([...images.keys()], STORE_CONCURRENCY, async (i) => {
      const image = images[i] as DatasetImageRecord;
      await this.objects.fetchTo(image.sha256, paths[i] as string);
    });
    return paths;
  }

  async readLabels(dataset: DatasetRecord): Promise<unknown> {
    if (!dataset.labels) return undefined;
    const bytes = await this.objects.read(dataset.labels.sha256);
    return JSON.parse(bytes.toString('utf8')) as unknown;
  }

  /** Drops sessions past their expiry with their bytes. */
  async expireUploads(): Promise<number> {
    const expired = await this.repo.expiredUploads(this.clock.nowMs());
    for (const id of expired) await this.serial(() => this.dropUpload(id));
    if (expired.length > 0) this.log.log(`dropped ${expired.length} expired dataset upload(s)`);
    return expired.length;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** The open session, or `dataset_not_found` (an expired one is dropped on the way). */
  private async liveUpload(uploadId: string, locked = false): Promise<UploadSessionRecord> {
    const notFound = (): DomainError => new DomainError(DomainErrorCode.DatasetNotFound, `uploadId: no open dataset upload ${JSON.stringify(uploadId)} (it completed, was refused or expired after ${this.config.datasetUploadTtlMs} ms without activity)`, { field: 'uploadId' });
    if (!UPLOAD_ID.test(uploadId)) throw notFound();
    const session = await this.repo.findUpload(uploadId);
    if (!session) throw notFound();
    if (session.expiresAtMs <= this.clock.nowMs()) {
      await (locked ? this.dropUpload(uploadId) : this.serial(() => this.dropUpload(uploadId)));
      throw notFound();
    }
    return session;
  }

  /** Removes a session, its staged bytes and objects only it kept alive. */
  private async dropUpload(uploadId: string): Promise<void> {
    const session = await this.repo.findUpload(uploadId);
    await this.repo.deleteUpload(uploadId);
    await this.staging.removeUpload(uploadId);
    if (session) await this.deleteUnreferenced(session.files.filter((f) => f.state === 'stored').map((f) => f.sha256), undefined);
  }

  /** Refuses bad content: the whole upload goes, so nothing of it is half-stored. */
  private async refuse(session: UploadSessionRecord, field: string, message: string, cause?: unknown, locked = false): Promise<DomainError> {
    await (locked ? this.dropUpload(session.id) : this.serial(() => this.dropUpload(session.id)));
    return new DomainError(DomainErrorCode.InvalidDataset, `${message}; upload ${session.id} was discarded, start it again`, { field, ...(cause === undefined ? {} : { cause }) });
  }

  private async verifyFile(session: UploadSessionRecord, file: UploadFileRecord): Promise<void> {
    const label = this.fileLabel(session, file.sha256);
    const field = this.fileField(session, file.sha256);
    const actual = await this.staging.hashPart(session.id, file.sha256);
    if (actual !== file.sha256) throw await this.refuse(session, field, `${label}: the ${file.sizeBytes} bytes received hash to ${actual}, not the declared sha256 ${file.sha256}`);
    const bytes = await this.staging.read(session.id, file.sha256);
    if (file.kind === 'image') {
      let size: { width: number; height: number };
      try {
        const image = decodeJpeg(bytes);
        size = { width: image.width, height: image.height };
      } catch (err) {
        throw await this.refuse(session, field, `${label}: not a decodable JPEG (${errorMessage(err)})`, err);
      }
      if (!(size.width > 0 && size.height > 0)) throw await this.refuse(session, field, `${label}: the JPEG decodes to ${size.width}x${size.height} pixels`);
      await this.staging.markVerified(session.id, file.sha256);
      await this.repo.setFileState(session.id, file.sha256, 'verified', size);
      return;
    }
    let json: unknown;
    try {
      json = JSON.parse(bytes.toString('utf8')) as unknown;
    } catch (err) {
      throw await this.refuse(session, 'labels', `labels: not JSON (${errorMessage(err)})`, err);
    }
    try {
      // Names and categories now; sizes against the decoded images at complete.
      summarizeLabels(json, session.images);
    } catch (err) {
      if (err instanceof DomainError) throw await this.refuse(session, err.field ?? 'labels', err.message, err);
      throw err;
    }
    await this.staging.markVerified(session.id, file.sha256);
    await this.repo.setFileState(session.id, file.sha256, 'verified');
  }

  /** Deletes the objects nothing else uses (datasets, other uploads, sweeps); counts what happened. */
  private async deleteUnreferenced(digests: readonly string[], exceptUploadId: string | undefined): Promise<{ deleted: number; kept: number; failed: number }> {
    let deleted = 0;
    let kept = 0;
    let failed = 0;
    for (const sha of digests) {
      if (await this.repo.isObjectReferenced(sha, exceptUploadId)) {
        kept++;
        continue;
      }
      try {
        await this.objects.delete(sha);
        deleted++;
      } catch (err) {
        failed++;
        this.log.warn(`could not delete object ${sha}: ${errorMessage(err)}`);
      }
    }
    return { deleted, kept, failed };
  }

  private nameOf(session: Pick<UploadSessionRecord, 'images' | 'labels'>, sha256: string): string {
    if (session.labels?.sha256 === sha256) return 'labels';
    return session.images.find((i) => i.sha256 === sha256)?.name ?? sha256;
  }

  private fileField(session: UploadSessionRecord, sha256: string): string {
    if (session.labels?.sha256 === sha256) return 'labels';
    const index = session.images.findIndex((i) => i.sha256 === sha256);
    return index >= 0 ? `images[${index}]` : 'sha256';
  }

  private fileLabel(session: UploadSessionRecord, sha256: string): string {
    return this.nameOf(session, sha256);
  }

  private async uploadView(session: UploadSessionRecord): Promise<UploadView> {
    const missing: MissingFileView[] = [];
    for (const f of session.files) {
      if (f.state !== 'missing') continue;
      missing.push({ sha256: f.sha256, sizeBytes: f.sizeBytes, receivedBytes: await this.staging.receivedBytes(session.id, f.sha256), name: this.nameOf(session, f.sha256) });
    }
    const expiresAtMs = Math.max(session.expiresAtMs, (await this.repo.findUpload(session.id))?.expiresAtMs ?? 0);
    return {
      uploadId: session.id,
      datasetId: session.datasetId,
      name: session.name,
      state: 'open',
      expiresAt: new Date(expiresAtMs).toISOString(),
      files: session.files.length,
      reusedFiles: session.files.filter((f) => f.state === 'stored').length,
      missing,
    };
  }

  private completeView(record: DatasetRecord, reused: boolean, session: UploadSessionRecord | undefined): UploadView {
    const files = new Set([...record.images.map((i) => i.sha256), ...(record.labels ? [record.labels.sha256] : [])]).size;
    return {
      ...(session ? { uploadId: session.id } : {}),
      datasetId: record.id,
      name: record.name,
      state: 'complete',
      files,
      reusedFiles: reused ? files : (session?.files.filter((f) => f.state === 'stored').length ?? 0),
      missing: [],
      dataset: this.view(record, record.images.length, false),
      reused,
    };
  }

  private view(record: DatasetRecord, imageCount: number, withImages: boolean): DatasetView {
    return {
      id: record.id,
      name: record.name,
      createdAt: new Date(record.createdAtMs).toISOString(),
      imageCount,
      totalBytes: record.totalBytes,
      ...(record.labels ? { labels: record.labels } : {}),
      ...(record.preprocess !== undefined ? { preprocess: record.preprocess } : {}),
      ...(withImages ? { images: record.images } : {}),
    };
  }
}
