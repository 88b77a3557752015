// Uploading a folder of JPEG images (and COCO labels) from this machine as a coordinator dataset:
// hashed locally, each file streamed in chunks, resumed from what the coordinator already has.
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import type { DatasetManifestRequest } from '@benchfarm/contract';
import { sha256File } from '@benchfarm/messaging';
import { CoordinatorRequestError, type CoordinatorClient, type DatasetUploadView } from './client';
import { preprocessFlag } from './sweep-file';

/** Thrown for a folder or file on this machine that cannot be uploaded (empty, unreadable), naming it. */
export class DatasetUploadError extends Error {
  override name = 'DatasetUploadError';
}

/** What {@link uploadDatasetDir} stored. */
export interface UploadedDatasetResult {
  id: string;
  name: string;
  images: number;
  /** The coordinator had this dataset (same images, labels and preprocessing) already. */
  reused: boolean;
}

/** Options of {@link uploadDatasetDir}. */
export interface DatasetUploadOptions {
  /** Default: the coordinator names it `dataset-<id prefix>`. */
  name?: string;
  /** A COCO JSON file on this machine. */
  labelsPath?: string;
  /** A preset, JSON text, a .json file, or the config object. */
  preprocess?: string | Record<string, unknown>;
  /** Bytes per PUT (default 8 MiB); a broken connection costs at most one chunk. */
  chunkBytes?: number;
}

const JPEG = new Set(['.jpg', '.jpeg']);
const DEFAULT_CHUNK_BYTES = 8 * 1024 * 1024;

interface LocalFile {
  path: string;
  name: string;
  sha256: string;
  sizeBytes: number;
}

const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

/** Size and digest of one file, streamed; unreadable files are named. */
async function describe(path: string, what: string): Promise<LocalFile> {
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new DatasetUploadError(`${what} ${path} is not a regular file`);
    return { path, name: basename(path), sha256: await sha256File(path), sizeBytes: info.size };
  } catch (err) {
    if (err instanceof DatasetUploadError) throw err;
    throw new DatasetUploadError(`cannot read ${what} ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** The folder's .jpg/.jpeg files (not recursive), sorted by name. */
async function listJpegs(dir: string): Promise<string[]> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (err) {
    throw new DatasetUploadError(`cannot read the folder ${dir}: ${(err as Error).message}`, { cause: err });
  }
  const files = entries.filter((f) => JPEG.has(extname(f).toLowerCase())).sort();
  if (files.length === 0) throw new DatasetUploadError(`the folder ${dir} holds no .jpg/.jpeg images (it is empty or has other files only)`);
  return files.map((f) => join(dir, f));
}

/** Sends one file from `from` on, in chunks, each streamed from disk. */
async function sendFile(client: CoordinatorClient, uploadId: string, file: LocalFile, from: number, chunkBytes: number): Promise<void> {
  let start = from;
  while (start < file.sizeBytes) {
    const length = Math.min(chunkBytes, file.sizeBytes - start);
    const body = Readable.toWeb(createReadStream(file.path, { start, end: start + length - 1 })) as unknown as ReadableStream<Uint8Array>;
    try {
      const progress = await client.putDatasetFile(uploadId, file.sha256, body, { start, length, sizeBytes: file.sizeBytes });
      start = progress.complete ? file.sizeBytes : progress.receivedBytes;
    } catch (err) {
      // The coordinator's copy ends elsewhere (an earlier run sent more): continue from there, once per chunk.
      if (!(err instanceof CoordinatorRequestError && err.code === 'resume_mismatch')) throw err;
      const missing = (await client.datasetUpload(uploadId)).missing.find((m) => m.sha256 === file.sha256);
      if (!missing) return;
      if (missing.receivedBytes === start) throw err;
      start = missing.receivedBytes;
    }
  }
}

/**
 * Uploads the JPEG images of `dir` (and `labelsPath`, COCO JSON) as a dataset of the coordinator.
 * Files are hashed here and streamed in chunks, never the whole folder in memory; content the
 * coordinator already stores is not sent; a run after an interrupted one resumes (the coordinator
 * finds the open upload of the same manifest and says which bytes it has). Thrown:
 * {@link DatasetUploadError} for an empty or unreadable folder or file, CoordinatorRequestError
 * for what the coordinator refused (its message names the file or field).
 */
export async function uploadDatasetDir(client: CoordinatorClient, dir: string, options: DatasetUploadOptions = {}, progress: (line: string) => void = () => undefined): Promise<UploadedDatasetResult> {
  const folder = resolve(dir);
  const paths = await listJpegs(folder);
  const images: LocalFile[] = [];
  for (const path of paths) images.push(await describe(path, 'image'));
  const labels = options.labelsPath === undefined ? undefined : await describe(resolve(options.labelsPath), 'labels file');
  const preprocess = typeof options.preprocess === 'string' ? await preprocessFlag(options.preprocess) : options.preprocess;
  progress(`${folder}: ${images.length} images, ${mb(images.reduce((s, f) => s + f.sizeBytes, 0))}${labels ? `, labels ${labels.name}` : ''}`);

  const manifest: DatasetManifestRequest = {
    ...(options.name !== undefined ? { name: options.name } : {}),
    ...(preprocess !== undefined ? { preprocess } : {}),
    ...(labels ? { labels: { sha256: labels.sha256, sizeBytes: labels.sizeBytes } } : {}),
    images: images.map((f) => ({ name: f.name, sha256: f.sha256, sizeBytes: f.sizeBytes })),
  };
  let upload: DatasetUploadView = await client.createDatasetUpload(manifest);
  if (upload.state !== 'complete') {
    const uploadId = upload.uploadId;
    if (uploadId === undefined) throw new Error('the coordinator opened an upload without an id');
    const byDigest = new Map([...images, ...(labels ? [labels] : [])].map((f) => [f.sha256, f]));
    const toSend = upload.missing.reduce((s, m) => s + m.sizeBytes - m.receivedBytes, 0);
    const resumed = upload.missing.filter((m) => m.receivedBytes > 0).length;
    progress(`upload ${uploadId}: ${upload.missing.length} of ${upload.files} files to send (${mb(toSend)}), ${upload.reusedFiles} stored already${resumed > 0 ? `, ${resumed} resumed` : ''}`);
    const step = Math.max(1, Math.ceil(upload.missing.length / 10));
    for (const [i, missing] of upload.missing.entries()) {
      const file = byDigest.get(missing.sha256);
      if (!file) throw new Error(`the coordinator asked for ${missing.name} (${missing.sha256}), which this upload did not declare`);
      await sendFile(client, uploadId, file, missing.receivedBytes, options.chunkBytes ?? DEFAULT_CHUNK_BYTES);
      if ((i + 1) % step === 0 || i + 1 === upload.missing.length) progress(`sent ${i + 1}/${upload.missing.length}: ${file.name}`);
    }
    upload = await client.completeDatasetUpload(uploadId);
  }
  const dataset = upload.dataset;
  if (!dataset) throw new Error('the coordinator completed the upload without the dataset');
  progress(`${upload.reused ? 'dataset exists already' : 'dataset stored'}: ${dataset.name} (${dataset.id.slice(0, 12)}), ${dataset.imageCount} images`);
  return { id: dataset.id, name: dataset.name, images: dataset.imageCount, reused: upload.reused === true };
}
