import { describe, expect, it } from 'vitest';
import { REQUEST_COMPONENTS, requestComponentSchemas, type RequestComponentName } from '@benchfarm/contract';
import { DomainErrorCode } from '../common/domain-error';
import { HTTP_EDGE_CODES, toHttpError } from '../common/http-error.filter';
import { sweepRequestSchema } from '../sweeps/sweep-request';
import { SWEEP_FIELD_DOCS, createSweepSchemas, sweepFieldSchemas, type SweepField } from './request-schemas';
import { OPENAPI_SCHEMAS } from './schemas';

type Props = Record<string, { description?: string; default?: unknown; enum?: unknown[]; anyOf?: unknown[] } & Record<string, unknown>>;
const fields = Object.keys(sweepRequestSchema.shape).sort() as SweepField[];

describe('CreateSweep schemas generated from the sweep request schema', () => {
  const { CreateSweepJson, CreateSweepMultipart } = createSweepSchemas() as unknown as Record<string, { properties: Props; required: string[]; additionalProperties: boolean }>;

  it('document exactly the fields the server parses (JSON: modelPath; multipart: the model file)', () => {
    expect(Object.keys(CreateSweepJson!.properties).sort()).toEqual(fields);
    expect(Object.keys(CreateSweepMultipart!.properties).sort()).toEqual([...fields.filter((f) => f !== 'modelPath'), 'model'].sort());
    expect(CreateSweepJson).toMatchObject({ required: ['modelPath'], additionalProperties: false });
    expect(CreateSweepMultipart).toMatchObject({ required: ['model'], additionalProperties: false });
    expect(OPENAPI_SCHEMAS.CreateSweepJson).toEqual(CreateSweepJson);
  });

  it('give every field a description, an example and a real schema (types, bounds and defaults from zod)', () => {
    const props = CreateSweepJson!.properties;
    for (const field of fields) {
      const { description, example, ...schema } = props[field]!;
      expect(description, field).toBe(SWEEP_FIELD_DOCS[field].description);
      expect(example, field).toEqual(SWEEP_FIELD_DOCS[field].example);
      expect(Object.keys(schema).length, `${field} has a schema`).toBeGreaterThan(0);
    }
    expect(props.threads).toMatchObject({ type: 'integer', minimum: 0, maximum: 1024, default: 0 });
    expect(props.maxDurationMs).toMatchObject({ type: 'integer', default: 60_000 });
    expect(props.minDurationMs!.default).toBeUndefined(); // min(2000, maxDurationMs): said in words
    expect(props.scenario).toMatchObject({ enum: ['single_stream', 'offline', 'server', 'cold_start'], default: 'single_stream' });
    expect(props.targetQps).toMatchObject({ type: 'number', minimum: 0, exclusiveMinimum: true });
    expect(props.shapes!.anyOf).toContainEqual({ type: 'string', example: 'images:1x3x416x416' });
    expect(JSON.stringify(CreateSweepJson)).not.toContain('$schema');
  });

  it('has examples the server accepts: each alone passes its field, and its text form too', () => {
    for (const field of fields) {
      const doc = SWEEP_FIELD_DOCS[field];
      const schema = sweepRequestSchema.shape[field];
      expect(schema.safeParse(doc.example).success, `${field}: ${JSON.stringify(doc.example)}`).toBe(true);
      if (doc.text !== undefined) expect(schema.safeParse(doc.text).success, `${field} text ${doc.text}`).toBe(true);
      const whole = sweepRequestSchema.safeParse({ [field]: doc.example });
      expect(whole.success ? [] : whole.error.issues.filter((i) => i.code === 'unrecognized_keys'), field).toEqual([]);
    }
  });

  it('matches sweepFieldSchemas field by field', () => {
    expect(sweepFieldSchemas().modelPath).toEqual(CreateSweepJson!.properties.modelPath);
  });
});

describe('the other request bodies, generated from the schemas the services parse them with', () => {
  const generated = requestComponentSchemas();

  it('are the components of the document', () => {
    const names = Object.keys(REQUEST_COMPONENTS) as RequestComponentName[];
    expect(names.sort()).toEqual(['CancelSweep', 'CreateEnrollmentCode', 'DatasetManifest', 'EnrollRequest']);
    for (const name of names) expect(OPENAPI_SCHEMAS[name], name).toEqual(generated[name]);
    expect(JSON.stringify(generated)).not.toContain('$schema');
  });

  it('state the rules the services check: required fields, patterns, bounds, defaults, no unknown manifest field', () => {
    expect(generated.CreateEnrollmentCode).toMatchObject({
      type: 'object',
      required: ['agentId'],
      properties: { agentId: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' }, ttlSeconds: { type: 'integer', minimum: 1, maximum: 604_800, default: 3600 } },
    });
    expect(generated.CancelSweep).toMatchObject({ type: 'object', properties: { reason: { type: 'string', maxLength: 500 } } });
    expect(generated.CancelSweep).not.toHaveProperty('required');
    expect(generated.EnrollRequest).toMatchObject({ required: ['agentId', 'code', 'natsPublicKey'], properties: { code: { pattern: '^[A-Za-z0-9_-]{16,128}$' } } });
    expect(generated.DatasetManifest).toMatchObject({
      required: ['images'],
      additionalProperties: false,
      properties: {
        name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$' },
        images: { type: 'array', minItems: 1, items: { type: 'object', required: ['name', 'sha256', 'sizeBytes'], properties: { sha256: { pattern: '^[0-9a-f]{64}$' }, sizeBytes: { type: 'integer', minimum: 1 } } } },
      },
    });
  });
});

describe('the Error schema', () => {
  const codes = ((OPENAPI_SCHEMAS.Error as { properties: Record<string, unknown> }).properties.code as { enum: string[] }).enum;

  it('lists every domain error code and every code of the HTTP edge', () => {
    expect(codes).toEqual([...Object.values(DomainErrorCode), ...HTTP_EDGE_CODES]);
    expect(codes).toEqual(expect.arrayContaining(['payload_too_large', 'already_finished', 'enrollment_disabled', 'method_not_allowed', 'unsupported_media_type']));
  });

  it('holds every code toHttpError gives a framework error, whatever its status', () => {
    for (let status = 400; status < 600; status++) {
      expect(codes, `status ${status}`).toContain(toHttpError(Object.assign(new Error('x'), { status })).code);
    }
    expect(toHttpError(Object.assign(new Error('too big'), { status: 413 }))).toMatchObject({ statusCode: 413, code: 'payload_too_large' });
    expect(toHttpError(Object.assign(new Error('charset'), { status: 415 }))).toMatchObject({ statusCode: 415, code: 'unsupported_media_type' });
  });
});
