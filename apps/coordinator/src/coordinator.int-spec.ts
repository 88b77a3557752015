import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status, type ServiceError } from '@grpc/grpc-js';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sweepViewSchema } from '@benchfarm/contract';
import { agentConsumer, ensureAgentConsumer, ensureFarmStore, startNatsServer, type FarmStore, type NatsServerHandle } from '@benchfarm/messaging';
import { AgentRecord, BenchJob, ErrorCode, Scenario, TensorDataType, UploadOutcome, type ResultsClient, type UploadHeader } from '@benchfarm/protocol';
import { readModel, writeModel, paddleOcrModelPath } from '@benchfarm/onnx';
import { startTcpProxy } from '@benchfarm/testing';
import { startCoordinator, type RunningCoordinator } from './app';
import { resultsClient, syntheticUpload, upload } from './testing/grpc-upload';
import type { SweepView } from './sweeps/sweep.view';
import type { AgentView } from './agents/agents.service';
import { fakeAgentRecord } from './testing/fake-agent';
import { untilDerived } from './testing/derived';

const MODEL = paddleOcrModelPath('cls');
const MODEL_NAME = 'ch_ppocr_mobile_v2.0_cls_infer';
/** A fake agent put into the registry by this test, so that sweeps have somewhere to go. */
const FAKE_AGENT_ID = 'fake-agent-1';
const FAKE_AGENT_NAME = 'fake-device (test)';

describe('coordinator against real nats-server, SQLite and gRPC', () => {
  let nats: NatsServerHandle;
  let dir: string;
  let coordinator: RunningCoordinator;
  let nc: NatsConnection;
  let farm: FarmStore;
  let client: ResultsClient;

  const post = async (form: FormData | object): Promise<{ status: number; body: Record<string, unknown> }> => {
    const init: RequestInit = form instanceof FormData ? { method: 'POST', body: form } : { method: 'POST', body: JSON.stringify(form), headers: { 'content-type': 'application/json' } };
    const response = await fetch(`${coordinator.httpUrl}/sweeps`, init);
    return { status: response.status, body: await untilDerived(coordinator.httpUrl, (await response.json()) as Record<string, unknown>) };
  };
  const getJson = async <T>(path: string): Promise<{ status: number; body: T }> => {
    const response = await fetch(`${coordinator.httpUrl}${path}`);
    return { status: response.status, body: (await response.json()) as T };
  };
  const modelForm = (fields: Record<string, string>, bytes: Uint8Array | Buffer = readModelBytes(), fileName = `${MODEL_NAME}.onnx`): FormData => {
    const form = new FormData();
    form.append('model', new Blob([bytes]), fileName);
    // These tests count one job per variant x agent: leave out the interleaved comparison job.
    for (const [key, value] of Object.entries({ compare: 'none', ...fields })) form.append(key, value);
    return form;
  };
  const rowCounts = (): { sweeps: number; variants: number; jobs: number; results: number; samples: number } => {
    const db = new Database(coordinator.config.dbPath, { readonly: true });
    try {
      const count = (table: string): number => (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
      return { sweeps: count('sweeps'), variants: count('variants'), jobs: count('jobs'), results: count('results'), samples: count('result_samples') };
    } finally {
      db.close();
    }
  };
  const scratchLeft = (): string[] => ['uploads', 'work'].flatMap((sub) => readdirSync(join(coordinator.config.dataDir, sub)).map((f) => `${sub}/${f}`));
  const putFakeAgent = async (record: Partial<AgentRecord> & { agentId: string }): Promise<void> => {
    const full = fakeAgentRecord(record.agentId, { name: FAKE_AGENT_NAME, labels: { site: 'lab', role: 'test' }, ...record });
    await farm.agents.put(record.agentId, AgentRecord.encode(full).finish());
  };

  beforeAll(async () => {
    nats = await startNatsServer();
    dir = mkdtempSync(join(tmpdir(), 'bf-coordinator-'));
    coordinator = await startCoordinator({ natsUrl: nats.url, httpPort: 0, grpcPort: 0, dbPath: join(dir, 'coordinator.db'), dataDir: join(dir, 'data'), logLevel: 'error' });
    nc = await connect({ servers: nats.url });
    farm = await ensureFarmStore(nc);
    // The registry entry a real agent would keep fresh; this test has no agent process.
    await putFakeAgent({ agentId: FAKE_AGENT_ID });
    await ensureAgentConsumer(farm.jsm, FAKE_AGENT_ID);
    client = resultsClient(coordinator.grpcAddress);
  });

  // The registry bucket's TTL drops an entry nobody refreshes (a real agent heartbeats); under
  // load the tests below can outlast it, so the fake agent heartbeats before each one.
  beforeEach(async () => {
    await putFakeAgent({ agentId: FAKE_AGENT_ID });
  });

  afterAll(async () => {
    client?.close();
    await nc?.close();
    await coordinator?.close();
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  let sweep: SweepView;
  let jobs: BenchJob[];

  it('lists the fake agent from the registry', async () => {
    const { status: code, body } = await getJson<AgentView[]>('/agents');
    expect(code).toBe(200);
    const agent = body.find((a) => a.agentId === FAKE_AGENT_ID);
    expect(agent).toMatchObject({ name: FAKE_AGENT_NAME, state: 'idle', stale: false, labels: { site: 'lab' }, agentVersion: 'test' });
    expect(agent?.capabilities?.executionProviders).toEqual(['cpu']);
    expect(Date.parse(agent!.heartbeatAt)).toBeGreaterThan(Date.now() - 60_000);
  });

  it('creates a sweep from an uploaded model and publishes one BenchJob per variant x agent', async () => {
    const { status: code, body } = await post(modelForm({ variants: 'fp32,ort-basic', targets: 'label:site=lab', shapes: 'x:1x3x48x192', minQueries: '20', minDurationMs: '100', maxDurationMs: '5000', seed: '7' }));
    expect(code, JSON.stringify(body)).toBe(201);
    sweep = body as unknown as SweepView;
    expect(sweep).toMatchObject({ name: MODEL_NAME, state: 'running', agents: [FAKE_AGENT_ID], model: { name: MODEL_NAME, sizeBytes: 578_966 } });
    expect(sweep.model.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(sweep.inputs).toEqual([{ name: 'x', dataType: 'float32', shape: [1, 3, 48, 192] }]);
    expect(sweep.settings).toMatchObject({ minQueries: 20, minDurationMs: 100, maxDurationMs: 5000, seed: 7, warmupMinQueries: 10, warmupMinDurationMs: 500, intraOpThreads: 0, executionProvider: 'cpu', batch: 1 });
    expect(sweep.variants.map((v) => v.name)).toEqual(['fp32', 'ort-basic']);
    const [fp32, basic] = sweep.variants;
    expect(fp32!.sha256).not.toBe(basic!.sha256);
    expect(basic!.recipe).toMatchObject({ pass: 'ort-optimize', level: 'basic' });
    expect(sweep.jobs).toHaveLength(2);
    expect(sweep.jobs.every((j) => j.state === 'queued' && j.attempts === 0 && j.agentId === FAKE_AGENT_ID)).toBe(true);
    for (const variant of sweep.variants) {
      const info = await farm.models.info(variant.sha256);
      expect(info?.size).toBe(variant.sizeBytes);
    }

    const consumer = await agentConsumer(farm.js, FAKE_AGENT_ID);
    jobs = [];
    for (let i = 0; i < 2; i++) {
      const msg = await consumer.next({ expires: 5000 });
      expect(msg, `job message ${i}`).not.toBeNull();
      expect(msg!.subject).toBe(`bench.jobs.${FAKE_AGENT_ID}`);
      const job = BenchJob.decode(msg!.data);
      expect(msg!.headers?.get('Nats-Msg-Id')).toBe(job.jobId);
      jobs.push(job);
      await msg!.ackAck();
    }
    expect(jobs.map((j) => j.jobId)).toEqual(sweep.jobs.map((j) => j.id));
    for (const [i, job] of jobs.entries()) {
      expect(job).toMatchObject({
        sweepId: sweep.id,
        agentId: FAKE_AGENT_ID,
        executionProvider: 'cpu',
        intraOpThreads: 0,
        batch: 1,
        inputs: [{ name: 'x', dataType: TensorDataType.TENSOR_DATA_TYPE_FLOAT32, shape: [1, 3, 48, 192] }],
        suite: { scenario: Scenario.SCENARIO_SINGLE_STREAM, minQueries: 20, minDurationMs: 100, maxDurationMs: 5000, warmupMinQueries: 10, warmupMinDurationMs: 500, seed: 7 },
      });
      expect(job.variant).toMatchObject({ modelName: MODEL_NAME, variant: sweep.variants[i]!.name, sha256: sweep.variants[i]!.sha256, sizeBytes: sweep.variants[i]!.sizeBytes });
    }
    expect(scratchLeft()).toEqual([]);
  });

  const headerOf = (job: BenchJob, attempt = 1, uploadId = `${job.jobId}.${attempt}.a`): UploadHeader => ({ jobId: job.jobId, sweepId: job.sweepId, agentId: job.agentId, attempt, uploadId, leaseToken: '', resumeFromEvent: 0 });
  const latencies = Array.from({ length: 150 }, (_, i) => 5 + (i % 10) * 0.25);

  it('shows live progress while an upload is open, then commits the result once', async () => {
    const job = jobs[0]!;
    const events = syntheticUpload(headerOf(job), latencies, { variantSha256: job.variant!.sha256 });
    let ackPromise: Promise<unknown> | undefined;
    const stream = client.upload((err, ack) => {
      ackPromise = err ? Promise.reject(err) : Promise.resolve(ack);
    });
    stream.write(events[0]!);
    stream.write(events[1]!);
    await expect.poll(async () => (await getJson<SweepView>(`/sweeps/${sweep.id}`)).body.jobs[0], { timeout: 5000 }).toMatchObject({ state: 'running', attempts: 1, progress: { phase: 'measure', queriesDone: 75 } });
    // A job with progress, then with a result, meets the REST contract the CLI is typed by.
    expect(sweepViewSchema.safeParse((await getJson<SweepView>(`/sweeps/${sweep.id}`)).body).error?.issues ?? []).toEqual([]);
    for (const event of events.slice(2)) stream.write(event);
    stream.end();
    await expect.poll(() => ackPromise !== undefined, { timeout: 5000 }).toBe(true);
    const ack = (await ackPromise) as { outcome: UploadOutcome; resultId: string; jobFinal: boolean; jobId: string };
    expect(ack).toMatchObject({ jobId: job.jobId, outcome: UploadOutcome.UPLOAD_OUTCOME_COMMITTED, jobFinal: true });

    const view = (await getJson<SweepView>(`/sweeps/${sweep.id}`)).body;
    expect(sweepViewSchema.safeParse(view).error?.issues ?? []).toEqual([]);
    const stored = view.jobs[0]!;
    expect(stored).toMatchObject({ state: 'done', attempts: 1 });
    expect(stored.progress).toBeUndefined();
    expect(stored.result).toMatchObject({ id: ack.resultId, count: 150, device: FAKE_AGENT_NAME, provider: 'cpu', stopReason: 'min_reached', peakRssBytes: 123_000_000, unmeasured: [{ field: 'rss_after_session_bytes', reason: 'synthetic result' }] });
    expect(stored.result!.rssAfterSessionBytes).toBeUndefined();
    expect(stored.result!.percentiles).toEqual([
      { quantile: 0.5, valueMs: expect.any(Number), status: 'ok', minSamples: 1 },
      { quantile: 0.9, valueMs: expect.any(Number), status: 'ok', minSamples: 64 },
      { quantile: 0.99, status: 'insufficient_samples', minSamples: 662 },
    ]);
    expect(view.state).toBe('running');

    const samples = await getJson<{ latencyMs: number[] }>(`/sweeps/${sweep.id}/jobs/${job.jobId}/samples`);
    expect(samples.body.latencyMs).toEqual(latencies);
  });

  it('stores a result once when it is sent twice (and answers DUPLICATE with the same result id)', async () => {
    const job = jobs[0]!;
    const before = rowCounts();
    const again = await upload(client, syntheticUpload(headerOf(job, 1, `${job.jobId}.1.retry`), latencies.map((v) => v + 1)));
    const first = (await getJson<SweepView>(`/sweeps/${sweep.id}`)).body.jobs[0]!.result!;
    expect(again).toMatchObject({ outcome: UploadOutcome.UPLOAD_OUTCOME_DUPLICATE, resultId: first.id, jobFinal: true });
    expect(rowCounts()).toEqual(before);
    expect(before.results).toBe(1);
    const samples = await getJson<{ latencyMs: number[] }>(`/sweeps/${sweep.id}/jobs/${job.jobId}/samples`);
    expect(samples.body.latencyMs).toEqual(latencies);
  });

  it.each([
    ['an unknown job', (h: UploadHeader) => ({ ...h, jobId: 'job_nope' }), /job job_nope does not exist/],
    ['another agent', (h: UploadHeader) => ({ ...h, agentId: 'intruder' }), /assigned to agent fake-agent-1, not intruder/],
    ['another sweep', (h: UploadHeader) => ({ ...h, sweepId: 'sweep_other' }), /belongs to sweep/],
  ])('refuses an upload for %s with INVALID_ARGUMENT and writes nothing', async (_what, mutate, message) => {
    const before = rowCounts();
    const job = jobs[1]!;
    const err = (await upload(client, syntheticUpload(mutate(headerOf(job)), latencies)).catch((e: unknown) => e)) as ServiceError;
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(message);
    expect(rowCounts()).toEqual(before);
    expect((await getJson<SweepView>(`/sweeps/${sweep.id}`)).body.jobs[1]).toMatchObject({ state: 'queued', attempts: 0 });
  });

  it('refuses gapped samples and a count that does not match, naming the problem', async () => {
    const job = jobs[1]!;
    const events = syntheticUpload(headerOf(job), latencies, { chunk: 50 });
    const gapped = events.filter((e, i) => !(e.event?.$case === 'samples' && i === 3));
    let err = (await upload(client, gapped).catch((e: unknown) => e)) as ServiceError;
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/not contiguous/);

    const short = events.slice();
    const summary = short[short.length - 1]!;
    if (summary.event?.$case === 'summary') summary.event.value = { ...summary.event.value, count: 149 };
    err = (await upload(client, short).catch((e: unknown) => e)) as ServiceError;
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/summary.count is 149 but 150 samples/);
    expect(rowCounts().results).toBe(1);
  });

  it("keeps a broken upload parked for its own agent: a resume naming another agent or job is refused and does not take it", async () => {
    const job = jobs[1]!;
    const uploadId = `${job.jobId}.1.parked`;
    const events = syntheticUpload(headerOf(job, 1, uploadId), latencies, { chunk: 50 });
    // The stream breaks as a network would break it (a client's cancel reaches the server as an end).
    const [host, port] = coordinator.grpcAddress.split(':');
    const link = await startTcpProxy({ host: host!, port: Number(port) });
    const breaking = resultsClient(link.address);
    const stream = breaking.upload(() => undefined);
    stream.on('error', () => undefined);
    for (const event of events.slice(0, 2)) stream.write(event);
    // Both events are in once the progress shows (events are handled in order).
    await expect.poll(async () => (await getJson<SweepView>(`/sweeps/${sweep.id}`)).body.jobs[1]?.progress?.queriesDone, { timeout: 5000 }).toBe(75);
    await link.close();
    breaking.close();
    const resumeWith = (mutate: (h: UploadHeader) => UploadHeader, from = 2): Promise<ServiceError> => {
      const resumed = syntheticUpload({ ...mutate(headerOf(job, 1, uploadId)), resumeFromEvent: from }, latencies, { chunk: 50 }).slice(from);
      return upload(client, resumed).then(() => { throw new Error('resume accepted'); }, (e: unknown) => e as ServiceError);
    };
    // Wait until the coordinator parked the two events: until then an intruder's resume is
    // refused for its count; from then on for its agent id (and neither takes the upload).
    await expect.poll(async () => (await resumeWith((h) => ({ ...h, agentId: 'intruder' }))).details, { timeout: 5000 }).toMatch(/does not match upload/);
    const before = rowCounts();
    for (let i = 0; i < 5; i++) {
      const intruder = await resumeWith((h) => ({ ...h, agentId: 'intruder' }));
      expect(intruder.code).toBe(status.INVALID_ARGUMENT);
      expect(intruder.details).toMatch(/header.agent_id "intruder" does not match upload .* \(it belongs to agent_id "fake-agent-1"\)/);
      const otherJob = await resumeWith((h) => ({ ...h, jobId: jobs[0]!.jobId }));
      expect(otherJob.code).toBe(status.INVALID_ARGUMENT);
      expect(otherJob.details).toMatch(/header.job_id .* does not match upload/);
    }
    // Still parked, whole: the rightful agent would resume from event 2.
    expect((await resumeWith((h) => h, 1)).details).toMatch(/holds 2 events/);
    expect(rowCounts()).toEqual(before);
  });

  it('records attempt errors; the job fails for good at JOB_MAX_DELIVER and the sweep completes', async () => {
    const job = jobs[1]!;
    const failing = (attempt: number) => [
      { header: headerOf(job, attempt), event: { $case: 'started' as const, value: { startedAtUnixMs: Date.now(), onnxruntimeVersion: '1.30.0', childPid: 1 } } },
      { header: headerOf(job, attempt), event: { $case: 'error' as const, value: { code: ErrorCode.ERROR_CODE_CHILD_CRASHED, message: 'suite child died (SIGSEGV)', retryable: true } } },
    ];
    const first = await upload(client, failing(1));
    expect(first).toMatchObject({ outcome: UploadOutcome.UPLOAD_OUTCOME_ERROR_RECORDED, jobFinal: false });
    let view = (await getJson<SweepView>(`/sweeps/${sweep.id}`)).body;
    expect(view.jobs[1]).toMatchObject({ state: 'queued', attempts: 1, error: 'child_crashed: suite child died (SIGSEGV)' });
    expect(view.state).toBe('running');

    const last = await upload(client, failing(3));
    expect(last).toMatchObject({ outcome: UploadOutcome.UPLOAD_OUTCOME_ERROR_RECORDED, jobFinal: true });
    view = (await getJson<SweepView>(`/sweeps/${sweep.id}`)).body;
    expect(view.jobs[1]).toMatchObject({ state: 'failed', attempts: 3 });
    expect(view.state).toBe('completed');
    const list = (await getJson<Array<{ id: string; state: string; name: string; createdAt: string }>>('/sweeps')).body;
    expect(list.find((s) => s.id === sweep.id)).toMatchObject({ state: 'completed', name: MODEL_NAME });
  });

  it('exposes the result on /metrics with bounded labels only', async () => {
    const response = await fetch(`${coordinator.httpUrl}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/text\/plain/);
    const text = await response.text();
    const series = `model="${MODEL_NAME}",variant="fp32",device="${FAKE_AGENT_NAME}",provider="cpu"`;
    expect(text).toMatch(new RegExp(`benchfarm_inference_latency_seconds\\{${escape(series)},quantile="0.5"\\} 0\\.00`));
    expect(text).toContain(`benchfarm_inference_latency_seconds{${series},quantile="0.9"}`);
    expect(text).not.toContain('quantile="0.99"');
    expect(text).toContain(`benchfarm_throughput_queries_per_second{${series}}`);
    expect(text).toContain(`benchfarm_peak_memory_bytes{${series}} 123000000`);
    expect(text).toContain('benchfarm_model_size_bytes{model="ch_ppocr_mobile_v2.0_cls_infer",variant="fp32"}');
    expect(text).toContain('benchfarm_results_total{outcome="committed"} 1');
    expect(text).toContain('benchfarm_results_total{outcome="duplicate"} 1');
    expect(text).toContain('benchfarm_results_total{outcome="error_recorded"} 2');
    expect(text).toContain('benchfarm_results_ingested_total 1');
    expect(text).toContain('benchfarm_jobs{state="done"} 1');
    expect(text).toContain('benchfarm_jobs{state="failed"} 1');
    expect(text).toContain('benchfarm_agents{state="idle"} 1');
    for (const id of [sweep.id, ...jobs.map((j) => j.jobId)]) expect(text).not.toContain(id);
    const labelNames = new Set([...text.matchAll(/[{,]([a-z_]+)="/g)].map((m) => m[1]));
    expect([...labelNames].sort()).toEqual(['device', 'model', 'outcome', 'provider', 'quantile', 'state', 'variant']);
  });

  it.each([
    ['not-ONNX bytes', () => modelForm({ shapes: 'x:1x3x48x192' }, Buffer.from('this is not a model at all'), 'notes.onnx'), 400, 'invalid_model', 'model'],
    ['an empty file', () => modelForm({}, Buffer.alloc(0)), 400, 'invalid_model', 'model'],
    ['an unknown variant', () => modelForm({ variants: 'fp32,turbo', shapes: 'x:1x3x48x192' }), 400, 'unknown_variant', 'variants'],
    ['min > max duration', () => modelForm({ minDurationMs: '9000', maxDurationMs: '1000', shapes: 'x:1x3x48x192' }), 400, 'invalid_argument', 'minDurationMs'],
    ['shapes of an input the model lacks', () => modelForm({ shapes: 'images:1x3x48x192' }), 400, 'invalid_shapes', 'shapes'],
    ['dynamic dims without shapes', () => modelForm({}), 400, 'invalid_shapes', 'shapes'],
    ['a bad target', () => modelForm({ targets: 'no spaces allowed', shapes: 'x:1x3x48x192' }), 400, 'invalid_argument', 'targets'],
    ['no matching agent', () => modelForm({ targets: 'label:site=nowhere', shapes: 'x:1x3x48x192' }), 422, 'no_matching_agent', 'targets'],
    ['an agent id not registered', () => modelForm({ targets: 'ghost-agent', shapes: 'x:1x3x48x192' }), 422, 'no_matching_agent', 'targets'],
    ['a JSON modelPath that does not exist', () => ({ modelPath: join(dir, 'missing.onnx') }), 400, 'invalid_argument', 'modelPath'],
    ['JSON without a model', () => ({ variants: ['fp32'] }), 400, 'invalid_argument', 'model'],
  ])('refuses %s (HTTP status, code and field checked), leaving no rows and no scratch files', async (_what, make, statusCode, code, field) => {
    const before = rowCounts();
    const { status: got, body } = await post(make());
    expect(got, JSON.stringify(body)).toBe(statusCode);
    expect(body).toMatchObject({ statusCode, code, field });
    expect(typeof body.message).toBe('string');
    if (code === 'unknown_variant') expect(body.message).toMatch(/turbo.*fp32.*ort-basic/);
    expect(rowCounts()).toEqual(before);
    expect(scratchLeft()).toEqual([]);
  });

  it('refuses a model onnxruntime cannot load with 422 model_load_failed and ORT\'s message', async () => {
    const model = readModel(readModelBytes());
    // A valid protobuf that ORT refuses: the first node now uses an operator that does not exist.
    model.graph!.node![0]!.opType = 'NoSuchOperator';
    const before = rowCounts();
    const { status: got, body } = await post(modelForm({ shapes: 'x:1x3x48x192' }, writeModel(model)));
    expect(got, JSON.stringify(body)).toBe(422);
    expect(body).toMatchObject({ code: 'model_load_failed' });
    expect(String(body.message)).toMatch(/NoSuchOperator/);
    expect(rowCounts()).toEqual(before);
  });

  it('ignores a stale agent, and accepts JSON { modelPath } for an agent named by id', async () => {
    await putFakeAgent({ agentId: 'stale-agent', heartbeatAtUnixMs: Date.now() - 60_000 });
    const agents = (await getJson<AgentView[]>('/agents')).body;
    expect(agents.find((a) => a.agentId === 'stale-agent')?.stale).toBe(true);
    const refused = await post({ modelPath: MODEL, targets: 'stale-agent', shapes: { x: [1, 3, 48, 192] } });
    expect(refused.status).toBe(422);
    expect(refused.body.message).toMatch(/stale/);

    const { status: code, body } = await post({ modelPath: MODEL, name: 'by path', variants: ['fp32'], targets: [FAKE_AGENT_ID], shapes: { x: [1, 3, 48, 192] }, threads: 1 });
    expect(code, JSON.stringify(body)).toBe(201);
    expect(body).toMatchObject({ name: 'by path', agents: [FAKE_AGENT_ID], settings: { intraOpThreads: 1 } });
    expect((body.variants as unknown[]).length).toBe(1);
  });

  it('serves /healthz and an OpenAPI document listing every route', async () => {
    expect((await getJson<{ status: string }>('/healthz')).body).toEqual({ status: 'ok', nats: 'connected', database: 'ok' });
    const { status: code, body } = await getJson<{ openapi: string; paths: Record<string, Record<string, unknown>>; components: { schemas: Record<string, unknown> } }>('/openapi.json');
    expect(code).toBe(200);
    expect(body.openapi).toMatch(/^3\./);
    expect(Object.keys(body.paths).sort()).toEqual(['/agents', '/healthz', '/metrics', '/sweeps', '/sweeps/{id}', '/sweeps/{id}/cancel', '/sweeps/{id}/jobs/{jobId}/samples', '/sweeps/{id}/suite-reports', '/v1/datasets', '/v1/datasets/uploads', '/v1/datasets/uploads/{id}', '/v1/datasets/uploads/{id}/complete', '/v1/datasets/uploads/{id}/files/{sha256}', '/v1/datasets/{idOrName}', '/v1/enroll', '/v1/enrollments']);
    expect(Object.keys(body.paths['/sweeps']!).sort()).toEqual(['get', 'post']);
    const post201 = (body.paths['/sweeps']!.post as { responses: Record<string, unknown> }).responses;
    expect(Object.keys(post201)).toEqual(expect.arrayContaining(['201', '400', '422']));
    expect(body.components.schemas).toHaveProperty('SweepView');
    expect(JSON.stringify(body.components.schemas.CreateSweepMultipart)).toContain('"default":60000');
    const requestBody = (body.paths['/sweeps']!.post as { requestBody: { content: Record<string, { schema: { $ref: string } }> } }).requestBody;
    expect(requestBody.content['multipart/form-data']!.schema.$ref).toMatch(/CreateSweepMultipart$/);
    expect(requestBody.content['application/json']!.schema.$ref).toMatch(/CreateSweepJson$/);
  });

  it('answers unknown sweeps and jobs with 404', async () => {
    expect((await getJson('/sweeps/sweep_nope')).body).toMatchObject({ statusCode: 404, code: 'sweep_not_found' });
    expect((await getJson(`/sweeps/${sweep.id}/jobs/job_nope/samples`)).body).toMatchObject({ statusCode: 404, code: 'job_not_found' });
  });

  it('keeps sweeps, results and the series gauges across a restart on the same database', async () => {
    const config = coordinator.config;
    await coordinator.close();
    coordinator = await startCoordinator({ ...config, httpPort: 0, grpcPort: 0 });
    const view = (await getJson<SweepView>(`/sweeps/${sweep.id}`)).body;
    expect(view.jobs.map((j) => j.state)).toEqual(['done', 'failed']);
    const text = await (await fetch(`${coordinator.httpUrl}/metrics`)).text();
    expect(text).toContain(`benchfarm_inference_latency_seconds{model="${MODEL_NAME}",variant="fp32",device="${FAKE_AGENT_NAME}",provider="cpu",quantile="0.5"}`);
  });
});

function readModelBytes(): Buffer {
  return readFileSyncCached();
}

let cached: Buffer | undefined;
function readFileSyncCached(): Buffer {
  cached ??= readFileSync(MODEL);
  return cached;
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
