// Runtime settings as sweep dimensions, on the coordinator side, with real parts: a real
// nats-server (JetStream), the coordinator on SQLite with its REST API and gRPC ingest, and a
// real Prometheus (Debian package) answering the dashboard's best-configuration queries. The
// agents are registry entries written by the test (FAKE: no agent process) reporting different
// cores and providers, and the search job's result is a SYNTHETIC upload (FABRICATED figures,
// labelled so): what is under test is the planning per device, the refusal before queueing,
// the store, the view, the gauges and the PromQL.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COORDINATOR_JOB, expandTemplateVariables, panelQueries, renderAllDashboards } from '@benchfarm/dashboards';
import { JOB_STREAM, ensureFarmStore, freePort, jobSubject, startNatsServer, type FarmStore, type NatsServerHandle } from '@benchfarm/messaging';
import { paddleOcrModelPath } from '@benchfarm/onnx';
import { AgentCapabilities, AgentRecord, BenchJob, UploadOutcome, type ConfigSearchResult, type ResultsClient } from '@benchfarm/protocol';
import { BASELINE_SETTINGS, baselineConfig, withId } from '@benchfarm/suite';
import { startCoordinator, type RunningCoordinator } from '../app';
import { fakeAgentRecord } from '../testing/fake-agent';
import { resultsClient, syntheticUpload, upload } from '../testing/grpc-upload';
import type { SweepView } from './sweep.view';
import { untilDerived } from '../testing/derived';

const MODEL = paddleOcrModelPath('cls');
const SHAPES = 'x:1x3x48x192';
const MODEL_NAME = 'ch_ppocr_mobile_v2.0_cls_infer';
/** FAKE devices: a 2-core CPU box reporting 1 physical core, and a 4-core box with CUDA that does not report its physical cores. */
const SMALL = { id: 'search-small', name: 'small-box', caps: { cpuCores: 2, cpuPhysicalCores: 1, executionProviders: ['cpu'] } };
const BIG = { id: 'search-big', name: 'gpu-box', caps: { cpuCores: 4, executionProviders: ['cpu', 'cuda'] } };
const DIMENSIONS = 'provider=cpu,cuda;threads=auto,2;level=basic,all';

interface PromVector {
  status: string;
  error?: string;
  data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
}

/** FABRICATED: what an agent's search job reports for one variant on the small box (four points, t1 basic best, confirmed 0.82x). */
function searchReport(variant: string): ConfigSearchResult {
  const baseline = baselineConfig();
  const points = [1, 2].flatMap((t) => ['basic', 'all'].map((level) => withId({ ...BASELINE_SETTINGS, intraOpThreads: t, graphOptimizationLevel: level })));
  const best = points[0]!;
  return {
    strategy: 'grid',
    objective: 'p50_latency',
    spacePoints: 4,
    pointsMeasured: 4,
    budgetMs: 1_800_000,
    spentMs: 21_000,
    budgetExhausted: false,
    configs: [baseline, ...points],
    points: points.map((c, i) => ({ variant, configId: c.id, measured: true, skipReason: '', order: i + 1, queries: 200, p50Ms: 4 + i * 0.3, meanMs: 4.1 + i * 0.3, queriesPerSecond: 240, samplesPerSecond: 240, sessionCreationMs: 30, durationMs: 2000, meetsBound: true })),
    best: [{ variant, configId: best.id, baselineConfigId: baseline.id, ratioToBaseline: 0.82, ratioCi: { low: 0.78, high: 0.86, level: 0.95 }, rounds: 10, roundQueries: 20, bestMedianMs: 4.1, baselineMedianMs: 5, verdict: 'faster', note: '' }],
    skipped: [{ axis: 'provider', value: 'cuda', reason: 'this device cannot create a cuda session (it reports cpu)', label: '' }],
    latencyBoundMs: 0,
  };
}

describe('runtime settings as sweep dimensions (real nats-server, coordinator, gRPC, Prometheus)', () => {
  let nats: NatsServerHandle;
  let dir: string;
  let coordinator: RunningCoordinator;
  let nc: NatsConnection;
  let farm: FarmStore;
  let client: ResultsClient;
  let prometheus: ChildProcess | undefined;
  let promUrl: string;
  let searchSweep: SweepView;

  const heartbeat = async (): Promise<void> => {
    for (const d of [SMALL, BIG]) {
      const record = fakeAgentRecord(d.id, { name: d.name, capabilities: AgentCapabilities.fromPartial({ arch: 'x64', os: 'linux', onnxruntimeVersion: '1.30.0', ...d.caps }) });
      await farm.agents.put(record.agentId, AgentRecord.encode(record).finish());
    }
  };
  const post = async (body: object): Promise<{ status: number; body: Record<string, unknown> }> => {
    await heartbeat();
    const response = await fetch(`${coordinator.httpUrl}/sweeps`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ modelPath: MODEL, shapes: SHAPES, ...body }) });
    return { status: response.status, body: await untilDerived(coordinator.httpUrl, (await response.json()) as Record<string, unknown>) };
  };
  const getSweep = async (id: string): Promise<SweepView> => (await (await fetch(`${coordinator.httpUrl}/sweeps/${id}`)).json()) as SweepView;
  const streamState = async (): Promise<{ messages: number; lastSeq: number }> => {
    const info = await (await jetstreamManager(nc)).streams.info(JOB_STREAM);
    return { messages: info.state.messages, lastSeq: info.state.last_seq };
  };
  /** The job messages published after `afterSeq`, as the agents will receive them. */
  const publishedSince = async (afterSeq: number): Promise<Array<{ subject: string; job: BenchJob }>> => {
    const jsm = await jetstreamManager(nc);
    const { lastSeq } = await streamState();
    const out: Array<{ subject: string; job: BenchJob }> = [];
    for (let seq = afterSeq + 1; seq <= lastSeq; seq++) {
      const msg = await jsm.streams.getMessage(JOB_STREAM, { seq });
      if (msg) out.push({ subject: msg.subject, job: BenchJob.decode(msg.data) });
    }
    return out;
  };
  const metrics = async (): Promise<string[]> => (await (await fetch(`${coordinator.httpUrl}/metrics`)).text()).split('\n');
  const promQuery = async (expr: string): Promise<PromVector> => (await (await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`)).json()) as PromVector;

  beforeAll(async () => {
    nats = await startNatsServer();
    dir = mkdtempSync(join(tmpdir(), 'bf-config-search-'));
    coordinator = await startCoordinator({ natsUrl: nats.url, httpPort: 0, grpcPort: 0, dbPath: join(dir, 'coordinator.db'), dataDir: join(dir, 'data'), logLevel: 'error' });
    nc = await connect({ servers: nats.url });
    farm = await ensureFarmStore(nc);
    client = resultsClient(coordinator.grpcAddress);
  }, 60_000);

  afterAll(async () => {
    if (prometheus && prometheus.exitCode === null) {
      const exited = new Promise((r) => prometheus?.once('exit', r));
      prometheus.kill('SIGTERM');
      await exited;
    }
    client?.close();
    await nc?.close();
    await coordinator?.close();
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('queues exactly one search job per agent, carrying every variant and the axes narrowed to that agent', async () => {
    const before = await streamState();
    const { status, body } = await post({ variants: 'fp32,ort-basic', compare: 'none', dimensions: DIMENSIONS, budgetMinutes: 60, targets: `${SMALL.id},${BIG.id}` });
    expect(status, JSON.stringify(body)).toBe(201);
    searchSweep = body as unknown as SweepView;
    const published = await publishedSince(before.lastSeq);
    // 2 variants x 2 agents + one search job per agent.
    expect(published).toHaveLength(4 + 2);
    // In the order the registry lists the agents (by id).
    const searches = published.filter((p) => p.job.configSearch).sort((a, b) => (a.job.agentId === SMALL.id ? -1 : b.job.agentId === SMALL.id ? 1 : 0));
    expect(searches.map((p) => [p.subject, p.job.agentId])).toEqual([
      [jobSubject(SMALL.id), SMALL.id],
      [jobSubject(BIG.id), BIG.id],
    ]);
    const axes = (job: BenchJob): string => (job.configSearch?.axes ?? []).map((a) => `${a.name}=${a.values.join(',')}`).join(';');
    // The small box: no CUDA, auto = its 1 physical core, 2 threads fit its 2 logical cores.
    expect(axes(searches[0]!.job)).toBe('provider=cpu;intra_op_threads=1,2;graph_optimization_level=basic,all');
    expect(searches[0]!.job.configSearch?.skipped).toEqual([{ axis: 'provider', value: 'cuda', reason: 'this device cannot create a cuda session (it reports cpu)', label: '' }]);
    // The CUDA box: auto = 1..4 logical cores (no physical count reported).
    expect(axes(searches[1]!.job)).toBe('provider=cpu,cuda;intra_op_threads=1,2,3,4;graph_optimization_level=basic,all');
    for (const { job } of searches) {
      expect(job.configSearch?.variants.map((v) => v.variant)).toEqual(['fp32', 'ort-basic']);
      expect(job.configSearch).toMatchObject({ strategy: 'grid', objective: 'p50_latency', budgetMs: 3_600_000, pointWarmupMs: 500, pointDurationMs: 2000, confirmRounds: 10 });
      expect(job.configSearch?.baseline?.id).toBe(baselineConfig().id);
    }
    // The view: the request's axes, each device's job and estimate, and a time left.
    expect(searchSweep.configSearch).toMatchObject({ strategy: 'grid', objective: 'p50_latency', budgetMs: 3_600_000 });
    expect(searchSweep.configSearch?.axes.map((a) => `${a.name}=${a.values.join(',')}`)).toEqual(['provider=cpu,cuda', 'intra_op_threads=auto,2', 'graph_optimization_level=basic,all']);
    const devices = [...(searchSweep.configSearch?.devices ?? [])].sort((a, b) => a.agentId.localeCompare(b.agentId)).reverse();
    expect(devices.map((d) => [d.agentId, d.agentName, d.jobId, d.state])).toEqual([
      [SMALL.id, SMALL.name, searches[0]!.job.jobId, 'queued'],
      [BIG.id, BIG.name, searches[1]!.job.jobId, 'queued'],
    ]);
    expect(devices[0]?.notes).toEqual([]);
    expect(devices[1]?.notes).toEqual(['intra_op_threads=auto ran 1..4 (logical cores): the device did not report its physical cores']);
    // Nothing ran: the CUDA box's queue (its 2 variant jobs and its 16-point search) is the longest.
    expect(searchSweep.etaMs).toBe(devices[1]!.estimatedMs + 2 * (500 + 2000));
  }, 120_000);

  it('lists a device where no point can run as skipped with the reason, and gives it no job', async () => {
    const before = await streamState();
    const { status, body } = await post({ variants: 'fp32', compare: 'none', dimensions: 'provider=cuda;threads=1,2', targets: `${SMALL.id},${BIG.id}` });
    expect(status, JSON.stringify(body)).toBe(201);
    const sweep = body as unknown as SweepView;
    const published = await publishedSince(before.lastSeq);
    expect(published.filter((p) => p.job.configSearch).map((p) => p.job.agentId)).toEqual([BIG.id]);
    expect(sweep.jobs).toHaveLength(2 + 1);
    const small = sweep.configSearch?.devices.find((d) => d.agentId === SMALL.id);
    expect(small).toMatchObject({ jobId: '', state: 'skipped', estimatedMs: 0, notes: ['no search on this device: no value of provider can run here (see skipped)'] });
    expect(small?.skipped).toEqual([{ axis: 'provider', value: 'cuda', reason: 'this device cannot create a cuda session (it reports cpu)', label: '' }]);
  }, 120_000);

  it('takes the search fields as multipart text, dimensions as the JSON text a sweep file sends', async () => {
    await heartbeat();
    const before = await streamState();
    const form = new FormData();
    form.append('model', new Blob([readFileSync(MODEL)]), 'cls.onnx');
    const fields = { shapes: SHAPES, variants: 'fp32', compare: 'none', targets: SMALL.id, dimensions: '{"threads":[1,2],"level":["basic","all"]}', search: 'quick', budgetMinutes: '0.5', pointDurationMs: '500', pointWarmupMs: '100', pointMinQueries: '5', confirmRounds: '4' };
    for (const [key, value] of Object.entries(fields)) form.append(key, value);
    const response = await fetch(`${coordinator.httpUrl}/sweeps`, { method: 'POST', body: form });
    const body = await untilDerived(coordinator.httpUrl, (await response.json()) as SweepView);
    expect(response.status, JSON.stringify(body)).toBe(201);
    const [search] = (await publishedSince(before.lastSeq)).filter((p) => p.job.configSearch);
    expect(search?.job.configSearch).toMatchObject({ strategy: 'quick', budgetMs: 30_000, pointDurationMs: 500, pointWarmupMs: 100, pointMinQueries: 5, confirmRounds: 4, axes: [{ name: 'intra_op_threads', values: ['1', '2'] }, { name: 'graph_optimization_level', values: ['basic', 'all'] }] });
    expect(body.settings.configSearch).toMatchObject({ strategy: 'quick', budgetMinutes: 0.5 });
  }, 120_000);

  it('refuses an over-budget grid with 400 naming budgetMinutes, queueing nothing', async () => {
    const before = await streamState();
    const sweepsBefore = ((await (await fetch(`${coordinator.httpUrl}/sweeps`)).json()) as unknown[]).length;
    const { status, body } = await post({ variants: 'fp32,ort-basic', dimensions: DIMENSIONS, budgetMinutes: 1, targets: `${SMALL.id},${BIG.id}` });
    expect(status, JSON.stringify(body)).toBe(400);
    expect(body).toMatchObject({ code: 'invalid_argument', field: 'budgetMinutes' });
    // The slowest device is the CUDA box: 2 providers x 4 threads x 2 levels.
    expect(String(body['message'])).toMatch(/^budgetMinutes: a grid search on gpu-box measures 16 points x 2 variant\(s\) = 32 measurements, estimated [\d.]+ min with the confirmation rounds, over the budget of 1 min: use search quick/);
    expect(await streamState()).toEqual(before);
    expect(((await (await fetch(`${coordinator.httpUrl}/sweeps`)).json()) as unknown[]).length).toBe(sweepsBefore);
  }, 120_000);

  it("carries the search job's stored result in the view, sets the bounded best-configuration gauges, and keeps the job out of the variant's series", async () => {
    const small = searchSweep.configSearch!.devices.find((d) => d.agentId === SMALL.id)!;
    const latencies = Array.from({ length: 64 }, (_, i) => 4 + (i % 5) * 0.05);
    const events = syntheticUpload({ jobId: small.jobId, sweepId: searchSweep.id, agentId: SMALL.id, attempt: 1, uploadId: `${small.jobId}.1.a`, leaseToken: '', resumeFromEvent: 0 }, latencies);
    const summary = events.at(-1)?.event;
    if (summary?.$case !== 'summary') throw new Error('synthetic upload ends without a summary');
    summary.value.report = { scenario: 'config_search', profiles: [], unmeasured: [], configSearch: searchReport('fp32') };
    expect((await upload(client, events)).outcome).toBe(UploadOutcome.UPLOAD_OUTCOME_COMMITTED);

    const view = await getSweep(searchSweep.id);
    const device = view.configSearch?.devices.find((d) => d.agentId === SMALL.id);
    expect(device?.state).toBe('done');
    expect(device?.result).toMatchObject({ strategy: 'grid', pointsMeasured: 4, best: [{ variant: 'fp32', ratioToBaseline: 0.82, verdict: 'faster' }] });
    expect(device?.result?.points).toHaveLength(4);

    const best = searchReport('fp32').best[0]!;
    const lines = await metrics();
    const labels = `model="${MODEL_NAME}",variant="fp32",device="${SMALL.name}",provider="cpu",config="${best.configId}"`;
    expect(lines).toContain(`benchfarm_config_best_ratio{${labels}} 0.82`);
    expect(lines).toContain(`benchfarm_config_best_ratio_ci_low{${labels}} 0.78`);
    expect(lines).toContain(`benchfarm_config_best_ratio_ci_high{${labels}} 0.86`);
    const p50 = lines.find((l) => l.startsWith(`benchfarm_config_best_p50_seconds{${labels}} `));
    expect(Number(p50?.split(' ').at(-1))).toBeCloseTo(0.0041, 9);
    expect(lines).toContain(
      `benchfarm_run_config_info{config="${best.configId}",provider="cpu",provider_options="none",intra_op_threads="1",inter_op_threads="0",execution_mode="sequential",graph_optimization_level="basic",batch_size="0",concurrency="0"} 1`,
    );
    // Bounded: the best and its baseline, not every point measured.
    expect(lines.filter((l) => l.startsWith('benchfarm_run_config_info{'))).toHaveLength(2);
    // The search job measured many settings: its summary is no result of the fp32 series on this device.
    expect(lines.filter((l) => l.startsWith('benchfarm_inference_latency_seconds{') && l.includes(`device="${SMALL.name}"`))).toEqual([]);
  }, 120_000);

  it("answers the dashboard's best-configuration queries with data in a real Prometheus", async () => {
    const promPort = await freePort();
    promUrl = `http://127.0.0.1:${promPort}`;
    const promDir = join(dir, 'prometheus');
    mkdirSync(join(promDir, 'data'), { recursive: true });
    writeFileSync(
      join(promDir, 'prometheus.yml'),
      `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: ${COORDINATOR_JOB}\n    metrics_path: /metrics\n    static_configs:\n      - targets: ['${new URL(coordinator.httpUrl).host}']\n`,
    );
    let log = '';
    prometheus = spawn('prometheus', [`--config.file=${join(promDir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(promDir, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
    prometheus.stderr?.on('data', (chunk: Buffer) => void (log += chunk.toString()));
    const deadline = Date.now() + 30_000;
    for (;;) {
      const scraped = await promQuery('benchfarm_config_best_ratio').then((r) => r.status === 'success' && r.data.result.length > 0, () => false);
      if (scraped) break;
      if (Date.now() > deadline || prometheus.exitCode !== null) throw new Error(`prometheus did not scrape the coordinator: ${log.slice(-2000)}`);
      await sleep(250);
    }
    const [, comparison] = [...renderAllDashboards()].find(([file]) => file === 'sweep-comparison.json')!;
    const queries = panelQueries(comparison).filter((q) => q.panel === 'Best run configuration vs onnxruntime defaults');
    expect(queries).toHaveLength(4);
    for (const q of queries) {
      const expr = expandTemplateVariables(q.expr);
      const response = await promQuery(expr);
      expect(response.status, `${q.panel} / ${q.refId}: ${expr}: ${response.error}`).toBe('success');
      expect(response.data.result.length, `${q.panel} / ${q.refId} returned no data: ${expr}`).toBe(1);
    }
    // The ratio row carries the settings of its configuration, joined from the info series.
    const [row] = (await promQuery(expandTemplateVariables(queries[0]!.expr))).data.result;
    expect(row?.metric).toMatchObject({ variant: 'fp32', device: SMALL.name, provider: 'cpu', intra_op_threads: '1', graph_optimization_level: 'basic', execution_mode: 'sequential' });
    expect(Number(row?.value[1])).toBe(0.82);
  }, 120_000);

  it('rebuilds the best-configuration gauges from the store after a restart', async () => {
    await coordinator.close();
    coordinator = await startCoordinator({ natsUrl: nats.url, httpPort: 0, grpcPort: 0, dbPath: join(dir, 'coordinator.db'), dataDir: join(dir, 'data'), logLevel: 'error' });
    const lines = await metrics();
    const best = searchReport('fp32').best[0]!;
    expect(lines).toContain(`benchfarm_config_best_ratio{model="${MODEL_NAME}",variant="fp32",device="${SMALL.name}",provider="cpu",config="${best.configId}"} 0.82`);
    expect(lines.filter((l) => l.startsWith('benchfarm_run_config_info{'))).toHaveLength(2);
    expect(lines.filter((l) => l.startsWith('benchfarm_inference_latency_seconds{') && l.includes(`device="${SMALL.name}"`))).toEqual([]);
  }, 60_000);
});
