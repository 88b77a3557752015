import { restComponentSchemas, type RestComponentName } from '@benchfarm/contract';
import { DomainErrorCode } from '../common/domain-error';
import { HTTP_EDGE_CODES } from '../common/http-error.filter';
import { createSweepSchemas, type Schema } from './request-schemas';

export type { Schema } from './request-schemas';

/** A reference to one of {@link OPENAPI_SCHEMAS}. */
export function ref(name: keyof typeof OPENAPI_SCHEMAS): Schema {
  return { $ref: `#/components/schemas/${name}` };
}

/** Every code an error answer may carry: those a service raises, then those of the HTTP edge itself (routing, parsing, token, 405/415). */
export const ERROR_CODES: readonly string[] = [...Object.values(DomainErrorCode), ...HTTP_EDGE_CODES];

/**
 * The answers' schemas, generated from the REST contract's zod schemas (@benchfarm/contract,
 * the schemas the CLI's types come from); the Error body's code narrowed to {@link ERROR_CODES}.
 */
export function responseSchemas(): Record<RestComponentName, Schema> {
  const generated = restComponentSchemas();
  const error = generated.Error as { properties: Record<string, object> };
  const withCodes = { ...error, properties: { ...error.properties, code: { ...error.properties.code, enum: [...ERROR_CODES] } } };
  return { ...generated, Error: withCodes } as Record<RestComponentName, Schema>;
}

/** Schemas of the REST API, placed in `components.schemas` of the document. */
export const OPENAPI_SCHEMAS = {
  ...responseSchemas(),
  // Generated from the schema POST /sweeps parses with (request-schemas.ts).
  ...createSweepSchemas(),
  // Still by hand: the request bodies the services check without zod (enrollment/enrollment.service.ts,
  // datasets/dataset-manifest.ts).
  CreateEnrollmentCode: {
    type: 'object',
    required: ['agentId'],
    properties: {
      agentId: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$', description: 'The agent id the code enrolls (and only that one).' },
      ttlSeconds: { type: 'integer', minimum: 1, maximum: 604800, default: 3600, description: 'How long the code is valid.' },
    },
  },
  EnrollRequest: {
    type: 'object',
    required: ['agentId', 'code', 'natsPublicKey'],
    properties: {
      agentId: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' },
      code: { type: 'string' },
      natsPublicKey: { type: 'string', description: "The agent's NATS user public key (U..., 56 characters); its seed never leaves the agent." },
      tlsPublicKeyPem: { type: 'string', description: "The agent's TLS public key (SPKI PEM); with a farm CA the coordinator returns a client certificate over it." },
    },
  },
  DatasetManifest: {
    type: 'object',
    required: ['images'],
    description: 'What a dataset upload will hold. Limits: BENCHFARM_MAX_DATASET_IMAGES images, BENCHFARM_MAX_DATASET_IMAGE_BYTES per image, BENCHFARM_MAX_DATASET_LABELS_BYTES of labels, BENCHFARM_MAX_DATASET_BYTES in all (413 dataset_too_large).',
    properties: {
      name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$', description: 'Unique name; not 8+ hex digits only. Default: dataset-<first 12 digits of the id>.' },
      preprocess: { oneOf: [{ type: 'string', enum: ['yolox', 'yolo', 'imagenet'] }, { type: 'object' }], description: 'How images become the model input: a preset or { resize, padValue, channelOrder, layout, scale, mean, std } (as calibrationPreprocess).' },
      labels: {
        oneOf: [
          { type: 'object', required: ['sha256', 'sizeBytes'], properties: { sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' }, sizeBytes: { type: 'integer', minimum: 1 } }, description: 'A COCO JSON file, uploaded like an image.' },
          { type: 'object', required: ['images', 'annotations', 'categories'], description: 'COCO JSON inline (small label sets).' },
        ],
        description: "COCO labels: every images[].file_name (base name) an image of the dataset with the same width and height, every annotation on a listed image and a known category.",
      },
      images: {
        type: 'array',
        minItems: 1,
        items: {
          type: 'object',
          required: ['name', 'sha256', 'sizeBytes'],
          properties: {
            name: { type: 'string', description: 'Base name of a .jpg/.jpeg file: A-Z a-z 0-9 space . _ ( ) + , - (no folders, no leading dot); unique.' },
            sha256: { type: 'string', pattern: '^[0-9a-f]{64}$', description: 'Unique: each content once.' },
            sizeBytes: { type: 'integer', minimum: 1 },
          },
        },
      },
    },
  },
} satisfies Record<string, Schema>;
