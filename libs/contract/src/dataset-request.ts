import { z } from 'zod';

/** A lower-case SHA-256 hex digest: how a dataset upload names each file's content. */
export const SHA256_HEX_PATTERN = /^[0-9a-f]{64}$/;
/** A dataset name: 1-100 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit. */
export const DATASET_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
/** A name that could be mistaken for an id prefix (datasets are resolved by id or name). */
const HEX_ONLY = /^[0-9a-f]{8,64}$/;
/** Base names only: no separators, no leading dot or space, printable characters a file system and a shell-free tool keep as they are. */
const IMAGE_NAME = /^[A-Za-z0-9_(][A-Za-z0-9 ._()+,-]*$/;
const JPEG_EXTENSION = /\.jpe?g$/i;
const IMAGE_NAME_MAX_BYTES = 255;

const got = (value: unknown): string => `got ${JSON.stringify(value)}`;

/**
 * What is wrong with an image's file name, or undefined when it is a safe base name of a
 * .jpg/.jpeg file (no folders, no traversal, at most 255 bytes).
 */
export function imageNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'must be a non-empty file name';
  if (name.includes('/') || name.includes('\\') || name === '.' || name === '..') return `${JSON.stringify(name)} is not a base name: folders and ".." are not allowed`;
  if (new TextEncoder().encode(name).length > IMAGE_NAME_MAX_BYTES) return `${JSON.stringify(name.slice(0, 40))}... is longer than ${IMAGE_NAME_MAX_BYTES} bytes`;
  if (!IMAGE_NAME.test(name) || name.endsWith(' ')) return `${JSON.stringify(name)} has characters outside A-Z a-z 0-9 space . _ ( ) + , - (or starts with a dot or a space)`;
  if (!JPEG_EXTENSION.test(name)) return `${JSON.stringify(name)} is not a .jpg/.jpeg file (datasets hold JPEG images)`;
  return undefined;
}

const nameProblem = (issue: { input?: unknown }): string => `must be 1-100 characters of A-Z a-z 0-9 . _ - starting with a letter or digit, ${got(issue.input)}`;

/** A dataset's name; not 8+ hex digits only (it would read as an id prefix). */
export const datasetNameSchema = z
  .string({ error: nameProblem })
  .regex(DATASET_NAME_PATTERN, { error: nameProblem })
  .refine((name) => !HEX_ONLY.test(name), { error: (issue) => `${JSON.stringify(issue.input)} looks like a dataset id prefix; choose a name with a non-hex character` });

const digestProblem = (issue: { input?: unknown }): string => `must be a lower-case SHA-256 hex digest, ${got(issue.input)}`;
const digest = z.string({ error: digestProblem }).regex(SHA256_HEX_PATTERN, { error: digestProblem });

const sizeProblem = (issue: { input?: unknown }): string => `must be an integer >= 1 (bytes), ${got(issue.input)}`;
const sizeBytes = z.number({ error: sizeProblem }).int({ error: sizeProblem }).min(1, { error: sizeProblem });

const imageSchema = z.object(
  {
    name: z
      .string({ error: 'must be a non-empty file name' })
      .superRefine((name, ctx) => {
        const problem = imageNameProblem(name);
        if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
      })
      .meta({ description: 'Base name of a .jpg/.jpeg file: A-Z a-z 0-9 space . _ ( ) + , - (no folders, no leading dot); unique.' }),
    sha256: digest.meta({ description: 'Unique: each content once.' }),
    sizeBytes,
  },
  { error: 'must be { name, sha256, sizeBytes }' },
);

const COCO_KEYS = ['images', 'annotations', 'categories'] as const;

/** Whether labels are COCO JSON inline (they hold any of its keys) rather than a reference to an uploaded labels file. */
export function isInlineLabels(labels: object): boolean {
  return COCO_KEYS.some((key) => key in labels);
}

// COCO itself (arrays, ids, file names that match the images) is checked where the labels are read.
const inlineLabelsSchema = z
  .looseObject({
    images: z.unknown().meta({ description: 'Array of { id, file_name, width, height }.' }).optional(),
    annotations: z.unknown().meta({ description: 'Array of { image_id, category_id, bbox: [x, y, w, h] }.' }).optional(),
    categories: z.unknown().meta({ description: 'Array of { id, name }.' }).optional(),
  })
  .refine(isInlineLabels, { abort: true })
  .meta({ description: 'COCO JSON inline (small label sets).' });

const labelsFileSchema = z.object({ sha256: digest, sizeBytes }).meta({ description: 'A COCO JSON file, uploaded like an image.' });

const MANIFEST_FIELDS = 'name, preprocess, labels, images';

/**
 * POST /v1/datasets/uploads: what a dataset upload will hold. The size limits are the
 * coordinator's configuration and COCO labels are checked against the images, both after this
 * schema, by the coordinator.
 */
export const datasetManifestRequestSchema = z
  .strictObject(
    {
      name: datasetNameSchema.meta({ description: 'Unique name; not 8+ hex digits only. Default: dataset-<first 12 digits of the id>.' }).optional(),
      preprocess: z
        .union([z.string(), z.record(z.string(), z.unknown())], { error: 'must be a preset name (yolox, yolo, imagenet) or a preprocessing config object' })
        .meta({ description: 'How images become the model input: a preset (yolox, yolo, imagenet) or { resize, padValue, channelOrder, layout, scale, mean, std } (as calibrationPreprocess).' })
        .optional(),
      labels: z
        .union([inlineLabelsSchema, labelsFileSchema], { error: 'must be COCO JSON (an object with images, annotations, categories) or { sha256, sizeBytes } of an uploaded labels file' })
        .nullish()
        .meta({ description: 'COCO labels: every images[].file_name (base name) an image of the dataset with the same width and height, every annotation on a listed image and a known category.' }),
      images: z
        .array(imageSchema, { error: 'must be an array of { name, sha256, sizeBytes }' })
        .min(1, { error: 'the dataset has no images (an empty folder?)' }),
    },
    {
      error: (issue) => {
        if (issue.code === 'unrecognized_keys') return `unknown field(s) ${issue.keys.join(', ')}; fields: ${MANIFEST_FIELDS}`;
        return issue.code === 'invalid_type' ? `must be a JSON object { name?, preprocess?, labels?, images: [{ name, sha256, sizeBytes }] }` : undefined;
      },
    },
  )
  .meta({
    description:
      'What a dataset upload will hold. Limits: BENCHFARM_MAX_DATASET_IMAGES images, BENCHFARM_MAX_DATASET_IMAGE_BYTES per image, BENCHFARM_MAX_DATASET_LABELS_BYTES of labels, BENCHFARM_MAX_DATASET_BYTES in all (413 dataset_too_large).',
  });

/** The body of POST /v1/datasets/uploads. */
export type DatasetManifestRequest = z.input<typeof datasetManifestRequestSchema>;
