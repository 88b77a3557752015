// Accuracy everywhere results go, with real parts: a real nats-server (JetStream), the
// coordinator on SQLite, results uploaded over real gRPC, a real Prometheus (Debian package)
// scraping /metrics and answering the dashboards' accuracy queries. The agent side is the only
// stand-in: the comparison job's result is a SYNTHETIC upload (fabricated figures, labelled so),
// because what is under test is the store, the REST view, the gauges and the PromQL.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COORDINATOR_JOB, expandTemplateVariables, panelQueries, renderAllDashboards } from '@benchfarm/dashboards';
import { ensureFarmStore, freePort, startNatsServer, type FarmStore, type NatsServerHandle } from '@benchfarm/messaging';
import { paddleOcrModelPath } from '@benchfarm/onnx';
import { AgentRecord, UploadOutcome, type EvaluationResult, type ResultsClient, type SuiteReport } from '@benchfarm/protocol';
import { startCoordinator, type RunningCoordinator } from '../app';
import { fakeAgentRecord } from '../testing/fake-agent';
import { resultsClient, syntheticUpload, upload } from '../testing/grpc-upload';
import type { SweepView } from '../sweeps/sweep.view';
import { untilDerived } from '../testing/derived';

const MODEL = paddleOcrModelPath('cls');
const AGENT = 'accuracy-agent';
const DEVICE = 'bench-box';
const ci = (low: number, high: number) => ({ low, high, level: 0.95, resamples: 1000 });

/** FABRICATED: what an agent's comparison job reports for two variants evaluated on 9 real images. */
function comparisonReport(fp32: string, fp16: string, withEvaluation: boolean): SuiteReport {
  const evaluation: EvaluationResult = {
    datasetId: 'ds_test',
    datasetName: 'photos',
    task: 'detection',
    images: 9,
    labelledImages: 4,
    inputs: 'real images: dataset photos (9 of 13, every 3rd held out)',
    split: 'every 3rd image held out for evaluation',
    durationMs: 900,
    loadMs: 120,
    detectionLayout: 'yolox',
    variants: [
      {
        variant: fp32,
        sha256: 'a'.repeat(64),
        reference: true,
        images: 9,
        fidelity: [],
        metrics: [
          { metric: 'map50_agreement', value: 1, ci: ci(1, 1), images: 9, against: 'reference', reason: '' },
          { metric: 'map50', value: 0.52, ci: ci(0.31, 0.7), images: 4, against: 'labels', reason: '' },
          { metric: 'map50_95', value: 0.3, ci: ci(0.2, 0.41), images: 4, against: 'labels', reason: '' },
        ],
        inferenceMs: 90,
        postprocessMs: 9,
        error: '',
      },
      {
        variant: fp16,
        sha256: 'b'.repeat(64),
        reference: false,
        images: 9,
        fidelity: [{ output: 'softmax', cosine: 0.9991, maxAbsError: 0.01, inputs: 'real images: dataset photos', images: 9, cosineCi: ci(0.998, 0.9995), randomInputs: false }],
        metrics: [
          { metric: 'map50_agreement', value: 0.97, ci: ci(0.93, 1), images: 9, against: 'reference', reason: '' },
          { metric: 'map50', value: 0.5, ci: ci(0.3, 0.69), images: 4, against: 'labels', reason: '' },
          { metric: 'map50_95', images: 0, against: 'labels', reason: 'not computed in this fixture' },
        ],
        inferenceMs: 80,
        postprocessMs: 9,
        error: '',
      },
    ],
  };
  const randomFidelity = [{ output: 'softmax', cosine: 0.91, maxAbsError: 0.2, inputs: 'random inputs: seed 0', images: 0, randomInputs: true }];
  return {
    scenario: 'comparison',
    profiles: [],
    unmeasured: [],
    comparison: {
      referenceVariant: fp32,
      rounds: 5,
      order: 'interleaved',
      roundMinQueries: 20,
      variants: [
        { variant: fp32, sha256: 'a'.repeat(64), reference: true, queries: 100, medianMs: 5, meanMs: 5.1, roundMedianMs: [5, 5, 5, 5, 5], ratioToReference: 1, fidelity: [] },
        {
          variant: fp16,
          sha256: 'b'.repeat(64),
          reference: false,
          queries: 100,
          medianMs: 4.6,
          meanMs: 4.7,
          roundMedianMs: [4.6, 4.6, 4.5, 4.7, 4.6],
          ratioToReference: 0.92,
          ratioCi: { low: 0.89, high: 0.95, level: 0.95 },
          fidelity: withEvaluation ? [] : randomFidelity,
        },
      ],
    },
    ...(withEvaluation ? { evaluation } : {}),
  };
}

interface PromVector {
  status: string;
  error?: string;
  data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
}

describe('accuracy of a comparison job: stored, in GET /sweeps/:id, in /metrics and in the dashboards (real Prometheus)', () => {
  let nats: NatsServerHandle;
  let dir: string;
  let coordinator: RunningCoordinator;
  let nc: NatsConnection;
  let farm: FarmStore;
  let client: ResultsClient;
  let prometheus: ChildProcess | undefined;
  let promUrl: string;

  const heartbeat = async (): Promise<void> => {
    const record = fakeAgentRecord(AGENT, { name: DEVICE });
    await farm.agents.put(record.agentId, AgentRecord.encode(record).finish());
  };
  const getSweep = async (id: string): Promise<SweepView> => (await (await fetch(`${coordinator.httpUrl}/sweeps/${id}`)).json()) as SweepView;
  const metrics = async (): Promise<string[]> => (await (await fetch(`${coordinator.httpUrl}/metrics`)).text()).split('\n');

  /** A sweep of fp32 + fp16 on the fake agent, every job's result uploaded over gRPC; the comparison job's carries `report`. */
  const sweepWith = async (withEvaluation: boolean): Promise<SweepView> => {
    await heartbeat();
    const response = await fetch(`${coordinator.httpUrl}/sweeps`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ modelPath: MODEL, variants: 'fp32,fp16', targets: 'all', shapes: 'x:1x3x48x192' }),
    });
    const sweep = await untilDerived(coordinator.httpUrl, (await response.json()) as SweepView);
    expect(response.status, JSON.stringify(sweep)).toBe(201);
    const comparisonIds = new Set((sweep.settings.comparisonJobs ?? []).map((c) => c.jobId));
    expect(comparisonIds.size).toBe(1);
    const [fp32, fp16] = sweep.variants.map((v) => v.name) as [string, string];
    for (const job of sweep.jobs) {
      const latencies = Array.from({ length: 64 }, (_, i) => (job.variant === fp16 ? 4.6 : 5) + (i % 5) * 0.05);
      const events = syntheticUpload({ jobId: job.id, sweepId: sweep.id, agentId: AGENT, attempt: 1, uploadId: `${job.id}.1.a`, leaseToken: '', resumeFromEvent: 0 }, latencies);
      if (comparisonIds.has(job.id)) {
        const summary = events.at(-1)?.event;
        if (summary?.$case !== 'summary') throw new Error('synthetic upload ends without a summary');
        summary.value.report = comparisonReport(fp32, fp16, withEvaluation);
      }
      expect((await upload(client, events)).outcome).toBe(UploadOutcome.UPLOAD_OUTCOME_COMMITTED);
    }
    return getSweep(sweep.id);
  };

  const promQuery = async (expr: string): Promise<PromVector> => (await (await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`)).json()) as PromVector;

  beforeAll(async () => {
    nats = await startNatsServer();
    dir = mkdtempSync(join(tmpdir(), 'bf-accuracy-'));
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

  it('without a dataset: ratios with CI, fidelity marked random inputs, no accuracy gauge', async () => {
    const sweep = await sweepWith(false);
    expect(sweep.comparisons).toHaveLength(1);
    const c = sweep.comparisons[0]!;
    expect(c).toMatchObject({ device: DEVICE, agentId: AGENT, referenceVariant: 'fp32', rounds: 5, state: 'done' });
    expect(c.evaluation).toBeUndefined();
    expect(c.unmeasured).toEqual([{ field: 'accuracy', reason: 'no evaluation dataset in this sweep: fidelity only, on random inputs (not accuracy)' }]);
    const fp16 = c.variants.find((v) => v.variant === 'fp16')!;
    expect(fp16).toMatchObject({ ratioToReference: 0.92, ratioCi: { low: 0.89, high: 0.95, level: 0.95 } });
    expect(fp16.accuracy).toMatchObject({ measuredOn: 'random_inputs', images: 0, metrics: [], fidelity: [{ cosine: 0.91, measuredOn: 'random_inputs', images: 0 }] });
    const lines = await metrics();
    expect(lines.filter((l) => l.startsWith('benchfarm_accuracy'))).toEqual([]);
    expect(lines).toContain(`benchfarm_fidelity_cosine_similarity{model="ch_ppocr_mobile_v2.0_cls_infer",variant="fp16",device="${DEVICE}",provider="cpu",inputs="random_inputs"} 0.91`);
  }, 120_000);

  it('with an evaluation: stored and served per device x variant with n and CI, gauges set, random-input fidelity gone', async () => {
    const sweep = await sweepWith(true);
    const c = sweep.comparisons[0]!;
    expect(c.evaluation).toMatchObject({ datasetId: 'ds_test', datasetName: 'photos', task: 'detection', images: 9, labelledImages: 4, detectionLayout: 'yolox' });
    expect(c.unmeasured).toEqual([]);
    const fp16 = c.variants.find((v) => v.variant === 'fp16')!;
    expect(fp16.ratioCi).toMatchObject({ low: 0.89, high: 0.95 });
    expect(fp16.accuracy).toMatchObject({ measuredOn: 'real_images', images: 9, dataset: { id: 'ds_test', name: 'photos' }, task: 'detection' });
    expect(fp16.accuracy?.metrics.find((m) => m.metric === 'map50_agreement')).toEqual({ metric: 'map50_agreement', value: 0.97, ci: { low: 0.93, high: 1, level: 0.95, resamples: 1000 }, images: 9, against: 'reference' });
    // Not computed: absent with the reason, never 0.
    expect(fp16.accuracy?.metrics.find((m) => m.metric === 'map50_95')).toEqual({ metric: 'map50_95', images: 0, against: 'labels', reason: 'not computed in this fixture' });
    expect(fp16.accuracy?.fidelity[0]).toMatchObject({ output: 'softmax', cosine: 0.9991, cosineCi: { low: 0.998, high: 0.9995 }, images: 9, measuredOn: 'real_images' });
    // The suite-reports endpoint serves the evaluation as stored.
    const reports = (await (await fetch(`${coordinator.httpUrl}/sweeps/${sweep.id}/suite-reports`)).json()) as { reports: Array<{ jobId: string; report: SuiteReport }> };
    expect(reports.reports.find((r) => r.jobId === c.jobId)?.report.evaluation?.variants).toHaveLength(2);

    const lines = await metrics();
    const series = `model="ch_ppocr_mobile_v2.0_cls_infer",variant="fp16",device="${DEVICE}",provider="cpu"`;
    expect(lines).toContain(`benchfarm_accuracy{${series},metric="map50_agreement"} 0.97`);
    expect(lines).toContain(`benchfarm_accuracy_images{${series},metric="map50_agreement"} 9`);
    expect(lines).toContain(`benchfarm_accuracy_ci_low{${series},metric="map50_agreement"} 0.93`);
    expect(lines).toContain(`benchfarm_accuracy{${series},metric="map50"} 0.5`);
    expect(lines.some((l) => l.startsWith(`benchfarm_accuracy{${series},metric="map50_95"}`))).toBe(false);
    expect(lines).toContain(`benchfarm_fidelity_cosine_similarity{${series},inputs="real_images"} 0.9991`);
    expect(lines.some((l) => !l.startsWith('#') && l.includes('inputs="random_inputs"'))).toBe(false);
    // Bounded: only the fixed metric names, no ids in labels.
    const metricLabels = new Set(lines.filter((l) => l.startsWith('benchfarm_accuracy')).map((l) => /metric="([^"]+)"/.exec(l)?.[1]));
    for (const m of metricLabels) expect(['map50_agreement', 'map50', 'map50_95', 'top1_agreement', 'top1', 'top5']).toContain(m);
  }, 120_000);

  it("answers the dashboards' accuracy and real-image fidelity queries with data in a real Prometheus", async () => {
    const promPort = await freePort();
    promUrl = `http://127.0.0.1:${promPort}`;
    const promDir = join(dir, 'prometheus');
    mkdirSync(join(promDir, 'data'), { recursive: true });
    writeFileSync(
      join(promDir, 'prometheus.yml'),
      `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: ${COORDINATOR_JOB}\n    metrics_path: /metrics\n    static_configs:\n      - targets: ['${new URL(coordinator.httpUrl).host}']\n`,
    );
    let log = '';
    prometheus = spawn('prometheus', [`--config.file=${join(promDir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(promDir, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    prometheus.stderr?.on('data', (chunk: Buffer) => void (log += chunk.toString()));
    const deadline = Date.now() + 30_000;
    for (;;) {
      const scraped = await promQuery('benchfarm_accuracy').then((r) => r.status === 'success' && r.data.result.length > 0, () => false);
      if (scraped) break;
      if (Date.now() > deadline || prometheus.exitCode !== null) throw new Error(`prometheus did not scrape the coordinator: ${log.slice(-2000)}`);
      await sleep(250);
    }
    await heartbeat();
    const [, comparison] = [...renderAllDashboards()].find(([file]) => file === 'sweep-comparison.json')!;
    const queries = panelQueries(comparison).filter((q) => /accuracy|real images/i.test(q.panel));
    expect(queries.map((q) => q.panel)).toEqual(expect.arrayContaining(['Accuracy vs latency on $device', 'Latency vs fidelity on real images']));
    for (const q of queries) {
      // $device is the repeated panel's one device here.
      const expr = expandTemplateVariables(q.expr.replace(/\$device\b/g, DEVICE));
      const response = await promQuery(expr);
      expect(response.status, `${q.panel} / ${q.refId}: ${expr}: ${response.error}`).toBe('success');
      expect(response.data.result.length, `${q.panel} / ${q.refId} returned no data: ${expr}`).toBeGreaterThan(0);
    }
    // The accuracy panel's y query: one point per variant on the device, the agreement with fp32.
    const y = queries.find((q) => q.panel === 'Accuracy vs latency on $device' && q.refId === 'B')!;
    const points = (await promQuery(expandTemplateVariables(y.expr))).data.result.map((r) => [r.metric.variant, Number(r.value[1])]).sort();
    expect(points).toEqual([
      ['fp16', 0.97],
      ['fp32', 1],
    ]);
  }, 120_000);

  it('rebuilds the accuracy and fidelity gauges from the store after a restart', async () => {
    await coordinator.close();
    coordinator = await startCoordinator({ natsUrl: nats.url, httpPort: 0, grpcPort: 0, dbPath: join(dir, 'coordinator.db'), dataDir: join(dir, 'data'), logLevel: 'error' });
    const lines = await metrics();
    const series = `model="ch_ppocr_mobile_v2.0_cls_infer",variant="fp16",device="${DEVICE}",provider="cpu"`;
    expect(lines).toContain(`benchfarm_accuracy{${series},metric="map50_agreement"} 0.97`);
    expect(lines).toContain(`benchfarm_fidelity_cosine_similarity{${series},inputs="real_images"} 0.9991`);
    expect(lines.some((l) => !l.startsWith('#') && l.includes('inputs="random_inputs"'))).toBe(false);
  }, 60_000);
});
