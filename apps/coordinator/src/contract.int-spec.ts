import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { ensureFarmStore, startNatsServer, type NatsServerHandle } from '@benchfarm/messaging';
import { AgentRecord } from '@benchfarm/protocol';
import { agentViewSchema, datasetSchema, datasetUploadSchema, errorBodySchema, healthSchema, restComponentSchemas, suiteReportsSchema, sweepListItemSchema, sweepViewSchema } from '@benchfarm/contract';
import { paddleOcrModelPath } from '@benchfarm/onnx';
import { repoRoot } from '@benchfarm/testing';
import { startCoordinator, type RunningCoordinator } from './app';
import { DomainErrorCode } from './common/domain-error';
import { JsonLogger } from './common/json-logger';
import { ERROR_CODES } from './openapi/schemas';
import { sweepRequestSchema } from './sweeps/sweep-request';
import { fakeAgentRecord } from './testing/fake-agent';
import { untilDerived } from './testing/derived';

/**
 * The REST contract against a real coordinator (nats-server with JetStream,
 * SQLite, NestJS on express): the OpenAPI document holds every field the server accepts and
 * nothing it refuses, wrong methods get 405 with Allow, bodies of other media types 415, model
 * errors name the field the model came from, calibration fields need a variant that calibrates,
 * and a max duration below the default min duration is not refused.
 */
const MODEL = paddleOcrModelPath('cls');
const SHAPES = 'x:1x3x48x192';
const AGENT = 'contract-agent';
/** Fields whose example names a dataset: resolved before the model, so an unknown one is a 404. */
const DATASET_FIELDS = new Set(['dataset', 'calibrationDataset', 'evaluationDataset', 'task']);
/** What a documented field needs beside it to pass the cross-field rules (the example alone is refused by them). */
const COMPANIONS: Record<string, Record<string, unknown>> = {
  task: { dataset: 'no-such-dataset' },
  calibrationDir: { variants: 'int8-static', calibrationPreprocess: 'yolox' },
  calibrationPreprocess: { variants: 'int8-static' },
  calibrationRandom: { variants: 'int8-static' },
  batchSizes: { scenario: 'offline' },
  concurrency: { scenario: 'offline' },
  searchPeakQps: { scenario: 'server', targetQps: 100, latencyBoundMs: 50, minQueries: 662 },
  // The search settings apply to a configuration search: refused (naming themselves) without dimensions.
  ...Object.fromEntries(['search', 'budgetMinutes', 'pointWarmupMs', 'pointDurationMs', 'pointMinQueries', 'confirmRounds'].map((f) => [f, { dimensions: 'threads=1,2' }])),
};

interface OpenApiProperty {
  description?: string;
  example?: unknown;
}
interface OpenApiDocument {
  paths: Record<string, Record<string, { requestBody?: { content: Record<string, unknown> } }>>;
  components: { schemas: Record<string, { properties: Record<string, OpenApiProperty & { enum?: string[] }>; required?: string[]; additionalProperties?: unknown }> };
}

describe('REST contract (real nats-server, coordinator)', () => {
  let nats: NatsServerHandle;
  let dir: string;
  let coordinator: RunningCoordinator;
  let nc: NatsConnection;
  let document: OpenApiDocument;

  const send = async (method: string, path: string, init: { body?: string | Uint8Array | FormData; contentType?: string } = {}): Promise<{ status: number; allow: string | null; body: Record<string, unknown> }> => {
    const response = await fetch(`${coordinator.httpUrl}${path}`, { method, ...(init.body === undefined ? {} : { body: init.body }), headers: init.contentType === undefined ? {} : { 'content-type': init.contentType } });
    const text = await response.text();
    return { status: response.status, allow: response.headers.get('allow'), body: (text === '' ? {} : JSON.parse(text)) as Record<string, unknown> };
  };
  const postJson = (body: object) => send('POST', '/sweeps', { body: JSON.stringify(body), contentType: 'application/json' });
  const absentModel = (): string => join(dir, 'absent.onnx');
  /** The fake agent's heartbeat goes stale after 15 s: written again before each sweep that targets it. */
  const putAgent = async (): Promise<void> => {
    await (await ensureFarmStore(nc)).agents.put(AGENT, AgentRecord.encode(fakeAgentRecord(AGENT)).finish());
  };

  beforeAll(async () => {
    nats = await startNatsServer();
    dir = mkdtempSync(join(tmpdir(), 'bf-contract-'));
    coordinator = await startCoordinator({ natsUrl: nats.url, httpPort: 0, grpcPort: 0, dbPath: join(dir, 'coordinator.db'), dataDir: join(dir, 'data') }, { logger: new JsonLogger('error') });
    nc = await connect({ servers: nats.url });
    document = (await (await fetch(`${coordinator.httpUrl}/openapi.json`)).json()) as OpenApiDocument;
  });

  afterAll(async () => {
    await nc?.close();
    await coordinator?.close();
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe('the OpenAPI document', () => {
    it('documents every field POST /sweeps accepts, with a description, and no other', () => {
      const accepted = Object.keys(sweepRequestSchema.shape).sort();
      const json = document.components.schemas.CreateSweepJson!;
      const multipart = document.components.schemas.CreateSweepMultipart!;
      expect(Object.keys(json.properties).sort()).toEqual(accepted);
      expect(Object.keys(multipart.properties).sort()).toEqual([...accepted.filter((f) => f !== 'modelPath'), 'model'].sort());
      expect(json.required).toEqual(['modelPath']);
      expect(json.additionalProperties).toBe(false);
      // The fields the OpenAPI document once lacked.
      for (const field of ['scenario', 'batchSizes', 'concurrency', 'targetQps', 'latencyBoundMs', 'searchPeakQps', 'compare', 'rounds', 'profile', 'stabilityTolerancePct', 'dataset', 'task']) {
        expect(json.properties[field]?.description, field).toMatch(/\w{3}/);
      }
      const undocumented = Object.entries(json.properties).filter(([, schema]) => !schema.description);
      expect(undocumented.map(([field]) => field)).toEqual([]);
    });

    it('lists every error code the coordinator answers with', () => {
      const codes = document.components.schemas.Error!.properties.code!.enum!;
      for (const code of Object.values(DomainErrorCode)) expect(codes, code).toContain(code);
      for (const code of ['payload_too_large', 'method_not_allowed', 'unsupported_media_type', 'not_found', 'bad_request', 'unauthorized', 'internal']) expect(codes, code).toContain(code);
    });

    it('every documented field of CreateSweepJson is accepted by the server with its example value', async () => {
      const fields = Object.entries(document.components.schemas.CreateSweepJson!.properties);
      for (const [field, schema] of fields) {
        expect(schema.example, `${field} has an example`).toBeDefined();
        const body = { modelPath: absentModel(), ...COMPANIONS[field], [field]: field === 'modelPath' ? absentModel() : schema.example };
        const { status, body: answer } = await postJson(body);
        // Everything before the model file was accepted: the refusal is about the (absent) model, or the (unknown) dataset.
        const expected = DATASET_FIELDS.has(field) ? { status: 404, code: 'dataset_not_found' } : { status: 400, code: 'invalid_argument', field: 'modelPath' };
        expect({ status, code: answer.code, ...(DATASET_FIELDS.has(field) ? {} : { field: answer.field }) }, `${field}=${JSON.stringify(schema.example)}: ${JSON.stringify(answer)}`).toEqual(expected);
      }
    });
  });

  describe('the other request bodies', () => {
    it('DatasetManifest: a manifest with every documented property is taken, an undocumented one is refused naming it', async () => {
      const properties = Object.keys(document.components.schemas.DatasetManifest!.properties).sort();
      expect(properties).toEqual(['images', 'labels', 'name', 'preprocess']);
      const manifest = { name: 'contract-probe', preprocess: 'yolox', labels: { sha256: 'b'.repeat(64), sizeBytes: 100 }, images: [{ name: 'a.jpg', sha256: 'a'.repeat(64), sizeBytes: 100 }] };
      const taken = await send('POST', '/v1/datasets/uploads', { body: JSON.stringify(manifest), contentType: 'application/json' });
      expect(taken.status, JSON.stringify(taken.body)).toBe(201);
      await send('DELETE', `/v1/datasets/uploads/${String(taken.body.uploadId)}`);
      const extra = await send('POST', '/v1/datasets/uploads', { body: JSON.stringify({ ...manifest, name: 'contract-probe-2', owner: 'x' }), contentType: 'application/json' });
      expect(extra).toMatchObject({ status: 400, body: { field: 'owner' } });
    });
  });

  describe('methods (405)', () => {
    it('answers a wrong method on every documented path with 405 and an Allow header of its methods; unknown paths stay 404', async () => {
      const paths = Object.entries(document.paths);
      expect(paths.length).toBeGreaterThan(10);
      for (const [template, operations] of paths) {
        const path = template.replace(/\{[^}]+\}/g, 'probe');
        const { status, allow, body } = await send('PATCH', path);
        expect(status, `PATCH ${path}: ${JSON.stringify(body)}`).toBe(405);
        expect(body).toMatchObject({ statusCode: 405, code: 'method_not_allowed' });
        const allowed = (allow ?? '').split(',').map((m) => m.trim());
        for (const method of Object.keys(operations)) expect(allowed, `Allow of ${path}`).toContain(method.toUpperCase());
        if ('get' in operations) expect(allowed).toContain('HEAD');
      }
      const del = await send('DELETE', '/sweeps');
      expect(del).toMatchObject({ status: 405, allow: 'GET, HEAD, POST' });
      expect(String(del.body.message)).toMatch(/DELETE .*\/sweeps.*GET, HEAD, POST/);
      expect(await send('POST', '/sweeps/sweep_x')).toMatchObject({ status: 405, allow: 'GET, HEAD' });
      expect(await send('POST', '/openapi.json')).toMatchObject({ status: 405, allow: 'GET, HEAD' });
      expect(await send('OPTIONS', '/sweeps')).toMatchObject({ status: 204, allow: 'GET, HEAD, POST, OPTIONS' });
      expect(await send('PATCH', '/no/such/route')).toMatchObject({ status: 404, body: { code: 'not_found' } });
      expect(await send('GET', '/sweeps/sweep_x')).toMatchObject({ status: 404, body: { code: 'sweep_not_found' } });
    });
  });

  describe('media types (415)', () => {
    it('refuses a text/plain, form-urlencoded or untyped body to POST /sweeps with 415 naming the content type', async () => {
      const plain = await send('POST', '/sweeps', { body: `modelPath=${MODEL}`, contentType: 'text/plain' });
      expect(plain).toMatchObject({ status: 415, body: { statusCode: 415, code: 'unsupported_media_type', field: 'content-type' } });
      expect(String(plain.body.message)).toMatch(/text\/plain.*application\/json.*multipart\/form-data/);
      const form = await send('POST', '/sweeps', { body: `modelPath=${encodeURIComponent(MODEL)}`, contentType: 'application/x-www-form-urlencoded' });
      expect(form).toMatchObject({ status: 415, body: { code: 'unsupported_media_type' } });
      expect(String(form.body.message)).toContain('application/x-www-form-urlencoded');
      const untyped = await send('POST', '/sweeps', { body: new TextEncoder().encode(JSON.stringify({ modelPath: MODEL })) });
      expect(untyped).toMatchObject({ status: 415, body: { code: 'unsupported_media_type', field: 'content-type' } });
      expect(String(untyped.body.message)).toMatch(/no content-type/);
    });

    it('refuses other media types on every JSON route, and JSON where bytes are due; JSON with a charset still passes', async () => {
      for (const path of ['/v1/enrollments', '/v1/enroll', '/v1/datasets/uploads']) {
        const { status, body } = await send('POST', path, { body: '{}', contentType: 'text/plain;charset=UTF-8' });
        expect(status, `${path}: ${JSON.stringify(body)}`).toBe(415);
        expect(String(body.message)).toMatch(/text\/plain.*application\/json/);
      }
      const bytes = await send('PUT', `/v1/datasets/uploads/upload_x/files/${'0'.repeat(64)}`, { body: '{}', contentType: 'application/json' });
      expect(bytes).toMatchObject({ status: 415, body: { code: 'unsupported_media_type' } });
      expect(String(bytes.body.message)).toMatch(/application\/json.*application\/octet-stream/);
      const charset = await send('POST', '/sweeps', { body: JSON.stringify({ modelPath: absentModel() }), contentType: 'application/json; charset=utf-8' });
      expect(charset).toMatchObject({ status: 400, body: { field: 'modelPath' } });
      // A bodiless POST is not a media type question.
      expect(await send('POST', '/sweeps/sweep_x/cancel')).toMatchObject({ status: 404, body: { code: 'sweep_not_found' } });
      // The body is checked with the contract's schema before the sweep is looked up.
      const badReason = await send('POST', '/sweeps/sweep_x/cancel', { body: JSON.stringify({ reason: 'x'.repeat(501) }), contentType: 'application/json' });
      expect(badReason).toMatchObject({ status: 400, body: { code: 'invalid_argument', field: 'reason', message: 'reason must be a string of at most 500 characters' } });
      expect(await send('POST', '/sweeps/sweep_x/cancel', { body: JSON.stringify({ reason: 7 }), contentType: 'application/json' })).toMatchObject({ status: 400, body: { field: 'reason' } });
    });
  });

  describe('field names', () => {
    it('names modelPath (not model) for a model path that is not ONNX, and model for an upload that is not', async () => {
      await putAgent();
      const notOnnx = join(dir, 'not-a-model.onnx');
      writeFileSync(notOnnx, 'this is not an ONNX model\n');
      const byPath = await postJson({ modelPath: notOnnx, shapes: SHAPES, variants: 'fp32', targets: AGENT });
      expect(byPath).toMatchObject({ status: 400, body: { code: 'invalid_model', field: 'modelPath' } });
      const form = new FormData();
      form.append('model', new Blob([new TextEncoder().encode('this is not an ONNX model\n')]), 'not-a-model.onnx');
      form.append('variants', 'fp32');
      form.append('targets', AGENT);
      const uploaded = await send('POST', '/sweeps', { body: form });
      expect(uploaded).toMatchObject({ status: 400, body: { code: 'invalid_model', field: 'model' } });
    });

    it.each([
      ['calibrationDir', { calibrationDir: '/data/calibration', calibrationPreprocess: 'yolox' }],
      ['calibrationRandom', { calibrationRandom: 4 }],
      ['calibrationPreprocess', { calibrationPreprocess: 'yolox' }],
    ])('refuses %s when no variant uses calibration, naming the field', async (field, fields) => {
      await putAgent();
      const { status, body } = await postJson({ modelPath: MODEL, shapes: SHAPES, variants: 'fp32,ort-basic', targets: AGENT, ...fields });
      expect(status, JSON.stringify(body)).toBe(400);
      expect(body).toMatchObject({ code: 'invalid_argument', field });
      expect(String(body.message)).toMatch(/int8-static.*int8-auto/);
    });

    it('takes calibration fields beside int8-auto with options (its base name calibrates)', async () => {
      const { status, body } = await postJson({ modelPath: absentModel(), variants: 'fp32,int8-auto:floor=0.97', calibrationRandom: 4 });
      expect({ status, field: body.field }, JSON.stringify(body)).toEqual({ status: 400, field: 'modelPath' });
    });
  });

  describe('answers: what the running coordinator sends meets the contract the CLI is typed by', () => {
    /** Every issue of `value` against `schema`, path and message; [] when it meets it. */
    const issues = (schema: z.ZodType, value: unknown): string[] => {
      const parsed = schema.safeParse(value);
      return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}${i.code === 'unrecognized_keys' ? ` (${i.keys.join(', ')})` : ''}`);
    };

    it('serves the components generated from the contract', () => {
      const generated = restComponentSchemas();
      for (const name of ['SweepView', 'JobView', 'ResultView', 'Settings', 'SweepListItem', 'AgentView', 'DeviceComparisonView', 'Dataset', 'DatasetUpload', 'SuiteReports', 'Health', 'Enrollment'] as const) {
        expect(document.components.schemas[name], name).toEqual(generated[name]);
      }
    });

    it('sweeps: POST /sweeps (comparison and configuration search), GET /sweeps/{id} and GET /sweeps', async () => {
      await putAgent();
      const created = await postJson({ modelPath: MODEL, shapes: SHAPES, variants: 'fp32,ort-basic', targets: AGENT, maxDurationMs: 500 });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      expect(issues(sweepViewSchema, created.body)).toEqual([]);
      expect(created.body.state).toBe('deriving');
      expect(((await untilDerived(coordinator.httpUrl, created.body)).comparisons as unknown[]).length).toBe(1);
      await putAgent();
      const searched = await postJson({ modelPath: MODEL, shapes: SHAPES, variants: 'fp32', targets: AGENT, dimensions: 'threads=1,2', budgetMinutes: 5 });
      expect(searched.status, JSON.stringify(searched.body)).toBe(201);
      expect((await untilDerived(coordinator.httpUrl, searched.body)).configSearch).toBeDefined();
      expect(issues(sweepViewSchema, searched.body)).toEqual([]);
      for (const id of [created.body.id, searched.body.id]) {
        const got = await send('GET', `/sweeps/${String(id)}`);
        expect(got.status).toBe(200);
        expect(issues(sweepViewSchema, got.body), String(id)).toEqual([]);
        const reports = await send('GET', `/sweeps/${String(id)}/suite-reports`);
        expect(issues(suiteReportsSchema, reports.body), `suite-reports of ${String(id)}`).toEqual([]);
      }
      const list = await send('GET', '/sweeps');
      expect(issues(sweepListItemSchema.array().min(2), list.body)).toEqual([]);
    }, 120_000);

    it('agents, datasets and health: GET /agents, POST /v1/datasets/uploads, GET /v1/datasets, GET /healthz', async () => {
      expect(issues(healthSchema, (await send('GET', '/healthz')).body)).toEqual([]);
      await putAgent();
      const agents = await send('GET', '/agents');
      expect(issues(agentViewSchema.array().min(1), agents.body)).toEqual([]);
      const manifest = { name: 'contract-answers', preprocess: 'yolox', images: [{ name: 'a.jpg', sha256: 'c'.repeat(64), sizeBytes: 100 }] };
      const upload = await send('POST', '/v1/datasets/uploads', { body: JSON.stringify(manifest), contentType: 'application/json' });
      expect(upload.status, JSON.stringify(upload.body)).toBe(201);
      expect(issues(datasetUploadSchema, upload.body)).toEqual([]);
      await send('DELETE', `/v1/datasets/uploads/${String(upload.body.uploadId)}`);
      expect(issues(datasetSchema.array(), (await send('GET', '/v1/datasets')).body)).toEqual([]);
    });

    it('errors: 400, 404, 405 and 415 bodies, with a documented code', async () => {
      const answers = [
        await postJson({ modelPath: absentModel(), threads: -1 }),
        await send('GET', '/sweeps/sweep_x'),
        await send('PATCH', '/sweeps'),
        await send('POST', '/sweeps', { body: 'x', contentType: 'text/plain' }),
      ];
      expect(answers.map((a) => a.status)).toEqual([400, 404, 405, 415]);
      for (const answer of answers) {
        expect(issues(errorBodySchema, answer.body), JSON.stringify(answer.body)).toEqual([]);
        expect(ERROR_CODES).toContain(answer.body.code);
      }
    });
  });

  describe('duration defaults', () => {
    it('takes maxDurationMs 500 alone: minDurationMs defaults to min(2000, maxDurationMs)', async () => {
      await putAgent();
      const { status, body } = await postJson({ modelPath: MODEL, shapes: SHAPES, variants: 'fp32', compare: 'none', targets: AGENT, maxDurationMs: 500 });
      expect(status, JSON.stringify(body)).toBe(201);
      expect(body.settings).toMatchObject({ minDurationMs: 500, maxDurationMs: 500 });
      const explicit = await postJson({ modelPath: absentModel(), minDurationMs: 2000, maxDurationMs: 500 });
      expect(explicit).toMatchObject({ status: 400, body: { field: 'minDurationMs' } });
    });

    it('the CLI sweep with --max-ms 500 alone is accepted by the coordinator', async () => {
      await putAgent();
      const { stdout } = await promisify(execFile)(join(repoRoot, 'bin/benchfarm'), ['--coordinator', coordinator.httpUrl, 'sweep', MODEL, '--shapes', SHAPES, '--variants', 'fp32', '--targets', AGENT, '--compare', 'none', '--max-ms', '500', '--no-wait', '--json'], {
        timeout: 120_000,
      });
      const sweep = JSON.parse(stdout) as { settings: { minDurationMs: number; maxDurationMs: number } };
      expect(sweep.settings).toMatchObject({ minDurationMs: 500, maxDurationMs: 500 });
    }, 150_000);
  });
});

