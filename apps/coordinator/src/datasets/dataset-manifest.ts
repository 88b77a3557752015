// What a client declares before uploading a dataset, checked before a byte is stored (pure).
import { createHash } from 'node:crypto';
import { SHA256_HEX_PATTERN, datasetManifestRequestSchema, datasetNameSchema, isInlineLabels } from '@benchfarm/contract';
import { CalibrationDataError, LabelsError, parseCocoLabels, parsePreprocessConfig, type CocoLabels } from '@benchfarm/onnx';
import { DomainError, DomainErrorCode } from '../common/domain-error';
import { parseRequest } from '../common/parse-request';
import type { DatasetLabelsRecord } from './dataset.types';

/** The size limits a dataset upload is held to (from the coordinator's configuration). */
export interface DatasetLimits {
  readonly maxImageBytes: number;
  readonly maxDatasetBytes: number;
  readonly maxImages: number;
  readonly maxLabelsBytes: number;
}

/** One declared file: its name (images) and content. */
export interface DeclaredFile {
  readonly name: string;
  readonly sha256: string;
  readonly sizeBytes: number;
}

/** A validated upload manifest. Images are sorted by name. */
export interface DatasetManifest {
  /** Absent: the coordinator names the dataset after its id. */
  readonly name: string | undefined;
  readonly images: readonly DeclaredFile[];
  /** Labels as a file to upload, or inline (stored as `inlineBytes`, whose digest is `sha256`). */
  readonly labels: { readonly sha256: string; readonly sizeBytes: number; readonly inlineBytes?: Buffer } | undefined;
  readonly preprocess: string | Record<string, unknown> | undefined;
}

/** A refusal of bad dataset input, naming the field (and so the file). */
export const invalidDataset = (field: string, message: string, cause?: unknown): DomainError =>
  new DomainError(DomainErrorCode.InvalidDataset, `${field}: ${message}`, { field, ...(cause === undefined ? {} : { cause }) });

const tooLarge = (field: string, message: string): DomainError => new DomainError(DomainErrorCode.DatasetTooLarge, `${field}: ${message}`, { field });

/** Whether a string is a lower-case SHA-256 hex digest. */
export function isSha256(value: unknown): value is string {
  return typeof value === 'string' && SHA256_HEX_PATTERN.test(value);
}

/**
 * Checks a dataset name: 1-100 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit,
 * and not 8+ hex digits only (it would read as an id prefix). Thrown: `invalid_dataset`, field `name`.
 */
export function checkDatasetName(value: unknown): string {
  return parseRequest(datasetNameSchema, value, { code: DomainErrorCode.InvalidDataset, fieldOf: () => 'name' });
}

/**
 * A manifest problem's field as refusals name it: `images[3].name`, `images[3] (cat.jpg).sha256`
 * (the file named once its name is a string), `labels.sha256`; the whole body is `manifest`.
 */
function manifestField(body: unknown, path: readonly PropertyKey[]): string {
  if (path.length === 0) return 'manifest';
  const [head, index, ...rest] = path;
  if (head !== 'images' || typeof index !== 'number') return path.map(String).join('.');
  const entry: unknown = (body as { images: unknown[] }).images[index];
  const name: unknown = typeof entry === 'object' && entry !== null ? (entry as { name?: unknown }).name : undefined;
  const image = rest.length > 0 && rest[0] !== 'name' && typeof name === 'string' ? `images[${index}] (${name})` : `images[${index}]`;
  return [image, ...rest.map(String)].join('.');
}

/** Sorts object keys so that the same preprocessing config always gives the same id. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') return Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonical((value as Record<string, unknown>)[k])]));
  return value;
}

/**
 * Validates an upload manifest `{ name?, preprocess?, labels?, images: [{ name, sha256, sizeBytes }] }`
 * with the REST contract's schema (@benchfarm/contract), then against the limits and what needs
 * more than one field. `labels` is COCO JSON inline (an object with `images`) or `{ sha256, sizeBytes }`
 * of a labels file uploaded like an image. Thrown: `invalid_dataset` naming the field or file
 * (empty list, bad or duplicate names, duplicate contents, bad digests, bad preprocess, inline
 * labels that do not fit the images), `dataset_too_large` over a limit.
 */
export function parseDatasetManifest(body: unknown, limits: DatasetLimits): DatasetManifest {
  const parsed = parseRequest(datasetManifestRequestSchema, body, { code: DomainErrorCode.InvalidDataset, fieldOf: (path) => manifestField(body, path) });

  let preprocess: DatasetManifest['preprocess'];
  if (parsed.preprocess !== undefined) {
    try {
      parsePreprocessConfig(parsed.preprocess);
    } catch (err) {
      if (err instanceof CalibrationDataError) throw invalidDataset(err.field, err.message.replace(/^[^:]*: /, ''), err);
      throw err;
    }
    preprocess = canonical(parsed.preprocess) as DatasetManifest['preprocess'];
  }

  if (parsed.images.length > limits.maxImages) throw tooLarge('images', `${parsed.images.length} images, more than this coordinator accepts (${limits.maxImages}, BENCHFARM_MAX_DATASET_IMAGES)`);
  const byName = new Map<string, DeclaredFile>();
  const byDigest = new Map<string, string>();
  let total = 0;
  for (const [i, { name: imageName, sha256, sizeBytes }] of parsed.images.entries()) {
    const field = `images[${i}]`;
    const at = `images[${i}] (${imageName})`;
    if (byName.has(imageName)) throw invalidDataset(`${field}.name`, `${JSON.stringify(imageName)} appears twice`);
    const twin = byDigest.get(sha256);
    // A copy under two names would be counted twice and could land in both calibration and evaluation.
    if (twin !== undefined) throw invalidDataset(`${at}.sha256`, `has the same content as ${JSON.stringify(twin)}; each image once`);
    if (sizeBytes > limits.maxImageBytes) throw tooLarge(`${at}.sizeBytes`, `${sizeBytes} bytes, more than this coordinator accepts per image (${limits.maxImageBytes}, BENCHFARM_MAX_DATASET_IMAGE_BYTES)`);
    total += sizeBytes;
    byName.set(imageName, { name: imageName, sha256, sizeBytes });
    byDigest.set(sha256, imageName);
  }
  const images = [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  let labels: DatasetManifest['labels'];
  if (parsed.labels !== undefined && parsed.labels !== null) {
    if (isInlineLabels(parsed.labels)) {
      // Digested as sent: the parsed copy may order its keys otherwise.
      const sent = (body as { labels: unknown }).labels;
      const inlineBytes = Buffer.from(JSON.stringify(sent));
      summarizeLabels(sent, images);
      labels = { sha256: createHash('sha256').update(inlineBytes).digest('hex'), sizeBytes: inlineBytes.length, inlineBytes };
    } else {
      const { sha256, sizeBytes } = parsed.labels as { sha256: string; sizeBytes: number };
      labels = { sha256, sizeBytes };
    }
    if (labels.sizeBytes > limits.maxLabelsBytes) throw tooLarge('labels.sizeBytes', `${labels.sizeBytes} bytes, more than this coordinator accepts for labels (${limits.maxLabelsBytes}, BENCHFARM_MAX_DATASET_LABELS_BYTES)`);
    if (byDigest.has(labels.sha256)) throw invalidDataset('labels.sha256', `is the digest of image ${JSON.stringify(byDigest.get(labels.sha256))}`);
    total += labels.sizeBytes;
  }
  if (total > limits.maxDatasetBytes) throw tooLarge('images', `${total} bytes in all, more than this coordinator accepts per dataset (${limits.maxDatasetBytes}, BENCHFARM_MAX_DATASET_BYTES)`);
  return { name: parsed.name, images, labels, preprocess };
}

/**
 * The dataset's id: SHA-256 of its canonical manifest (images by name with digest and size,
 * the labels digest, the preprocessing). The same content gives the same id, whatever its name.
 */
export function datasetId(manifest: Pick<DatasetManifest, 'images' | 'labels' | 'preprocess'>): string {
  const text = JSON.stringify({
    images: manifest.images.map((i) => [i.name, i.sha256, i.sizeBytes]),
    labels: manifest.labels?.sha256 ?? null,
    preprocess: manifest.preprocess ?? null,
  });
  return createHash('sha256').update(text).digest('hex');
}

/** An image as the labels check sees it: its size when decoded (absent before decoding). */
export interface LabelledImage {
  readonly name: string;
  readonly width?: number;
  readonly height?: number;
}

/**
 * Checks COCO labels against the dataset's images and summarizes them: valid COCO (libs/onnx's
 * parser), unique image and category ids, every labelled file name (base name, as the evaluation
 * matches it) an image of the dataset with the same width and height, every annotation on a listed
 * image and a known category. Thrown: `invalid_dataset` naming the entry (e.g. `labels.images[3]`).
 */
export function summarizeLabels(json: unknown, images: readonly LabelledImage[]): Omit<DatasetLabelsRecord, 'sha256' | 'sizeBytes'> {
  let labels: CocoLabels;
  try {
    if (!json || typeof json !== 'object' || Array.isArray(json)) throw new LabelsError('labels', 'is not a JSON object');
    const o = json as Record<string, unknown>;
    for (const key of ['images', 'annotations', 'categories'] as const) {
      const list = o[key];
      if (Array.isArray(list)) {
        const bad = list.findIndex((e) => !e || typeof e !== 'object');
        if (bad >= 0) throw new LabelsError(`labels.${key}[${bad}]`, 'must be an object');
      }
    }
    labels = parseCocoLabels(json);
  } catch (err) {
    if (err instanceof LabelsError) throw invalidDataset(err.field, err.message.replace(/^[^:]*: /, ''), err);
    throw err;
  }
  const byName = new Map(images.map((i) => [i.name, i]));
  const imageIds = new Set<number>();
  const labelledNames = new Set<string>();
  for (const [i, im] of labels.images.entries()) {
    const field = `labels.images[${i}]`;
    if (imageIds.has(im.id)) throw invalidDataset(`${field}.id`, `image id ${im.id} appears twice`);
    imageIds.add(im.id);
    const base = im.file_name.split('/').pop() ?? im.file_name;
    const image = byName.get(base);
    if (!image) throw invalidDataset(`${field}.file_name`, `${JSON.stringify(im.file_name)} is not an image of this dataset`);
    if (labelledNames.has(base)) throw invalidDataset(`${field}.file_name`, `${JSON.stringify(base)} is labelled twice`);
    labelledNames.add(base);
    if (image.width !== undefined && image.height !== undefined && (image.width !== im.width || image.height !== im.height)) {
      // Boxes are scaled by the labelled size: a different size would misplace every box.
      throw invalidDataset(`${field}`, `${base} is labelled ${im.width}x${im.height} but the image is ${image.width}x${image.height}`);
    }
  }
  const categories = new Map<number, string>();
  for (const [i, c] of labels.categories.entries()) {
    if (categories.has(c.id)) throw invalidDataset(`labels.categories[${i}].id`, `category id ${c.id} appears twice`);
    if (typeof c.name !== 'string' || c.name.length === 0) throw invalidDataset(`labels.categories[${i}].name`, 'must be a non-empty string');
    categories.set(c.id, c.name);
  }
  for (const [i, a] of labels.annotations.entries()) {
    if (!imageIds.has(a.image_id)) throw invalidDataset(`labels.annotations[${i}].image_id`, `${a.image_id} is not an image id of labels.images`);
    if (!categories.has(a.category_id)) throw invalidDataset(`labels.annotations[${i}].category_id`, `${a.category_id} is not a category id of labels.categories`);
    if (a.bbox[2] < 0 || a.bbox[3] < 0) throw invalidDataset(`labels.annotations[${i}].bbox`, 'width and height must be >= 0');
  }
  return {
    labelledImages: labelledNames.size,
    annotations: labels.annotations.length,
    categories: [...categories].sort((a, b) => a[0] - b[0]).map(([id, name]) => ({ id, name })),
  };
}
