import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '@benchfarm/messaging';
import { paddleOcrModelPath } from '@benchfarm/onnx';
import { idleChildRssBytes } from '@benchfarm/suite';
import { CoordinatorClient, CoordinatorRequestError } from './client';
import { repoRoot, startEmbeddedFarm, type EmbeddedFarm } from './processes';
import { createDerived, waitForAgent, waitForSweep } from './testing/farm.fixture';

const run = promisify(execFile);
// A small real pretrained model (PaddleOCR direction classifier), so the sweep is quick.
const CLS_MODEL = paddleOcrModelPath('cls');
const FAST = { shapes: 'x:1x3x48x192', warmupMinQueries: 5, warmupMinDurationMs: 100, minQueries: 80, minDurationMs: 400, maxDurationMs: 20_000 };

describe('one real sweep end to end on the embedded default (nats-server, coordinator, agent processes)', () => {
  let dir: string;
  let farm: EmbeddedFarm;
  let client: CoordinatorClient;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bf-farm-'));
    farm = await startEmbeddedFarm({ dir, natsPort: await freePort(), httpPort: 0, grpcPort: 0, agent: true });
    client = new CoordinatorClient(farm.httpUrl);
    await waitForAgent(client, farm.agentId);
  }, 120_000);

  afterAll(async () => {
    await farm?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('measures fp32 and ort-basic on the local agent and stores honest results', async () => {
    const created = await createDerived(client, CLS_MODEL, { ...FAST, variants: 'fp32,ort-basic', targets: 'all', compare: 'none' });
    expect(created.jobs).toHaveLength(2);
    const sweep = await waitForSweep(client, created.id);
    expect(sweep.state).toBe('completed');

    const [fp32, basic] = ['fp32', 'ort-basic'].map((name) => sweep.variants.find((v) => v.name === name));
    expect(fp32?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(basic?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(basic?.sha256).not.toBe(fp32?.sha256);

    const idleRss = await idleChildRssBytes();
    for (const job of sweep.jobs) {
      expect(job.state).toBe('done');
      const r = job.result!;
      expect(r.count).toBeGreaterThanOrEqual(FAST.minQueries);
      expect(r.measuredDurationMs).toBeGreaterThanOrEqual(FAST.minDurationMs);
      expect(r.minMs).toBeLessThanOrEqual(r.meanMs);
      expect(r.meanMs).toBeLessThanOrEqual(r.maxMs);
      const p50 = r.percentiles.find((p) => p.quantile === 0.5)!;
      const p90 = r.percentiles.find((p) => p.quantile === 0.9)!;
      const p99 = r.percentiles.find((p) => p.quantile === 0.99)!;
      expect(p50.status).toBe('ok');
      expect(p90.status).toBe(r.count >= 64 ? 'ok' : 'insufficient_samples');
      if (p99.status === 'ok') expect(p50.valueMs!).toBeLessThanOrEqual(p99.valueMs!);
      else {
        expect(r.count).toBeLessThan(662);
        expect(p99.valueMs).toBeUndefined();
      }
      expect(r.throughputQps).toBeGreaterThan(0);
      expect(r.sessionCreationMs).toBeGreaterThan(0);
      expect(r.firstInferenceMs).toBeGreaterThan(0);
      expect(r.peakRssBytes).toBeGreaterThan(0);
      expect(r.peakRssBytes!).toBeGreaterThan(r.rssBeforeSessionBytes!);
      expect(r.peakRssBytes!).toBeGreaterThan(idleRss);
      expect(r.modelFileSizeBytes).toBe(sweep.variants.find((v) => v.name === job.variant)!.sizeBytes);

      // The raw samples reached the coordinator, one per measured query.
      const samples = (await (await fetch(`${farm.httpUrl}/sweeps/${sweep.id}/jobs/${job.id}/samples`)).json()) as { latencyMs: number[] };
      expect(samples.latencyMs).toHaveLength(r.count);
      expect(Math.min(...samples.latencyMs)).toBeCloseTo(r.minMs, 6);
    }

    // /metrics shows the same figures, with bounded labels only.
    const metrics = await client.metricsText();
    for (const job of sweep.jobs) {
      const p50 = job.result!.percentiles.find((p) => p.quantile === 0.5)!.valueMs!;
      const line = metrics
        .split('\n')
        .find((l) => l.startsWith('benchfarm_inference_latency_seconds{') && l.includes(`variant="${job.variant}"`) && l.includes('quantile="0.5"'));
      expect(line, `p50 series of ${job.variant}`).toBeDefined();
      expect(Number(line!.split(' ').at(-1))).toBeCloseTo(p50 / 1000, 6);
      expect(line).not.toContain(sweep.id);
      expect(line).not.toContain(job.id);
    }
  }, 180_000);

  it('refuses bad input with a clear 4xx and leaves no sweep behind', async () => {
    const before = (await (await fetch(`${farm.httpUrl}/sweeps`)).json()) as unknown[];
    const notOnnx = join(dir, 'not-a-model.onnx');
    writeFileSync(notOnnx, 'this is a text file, not an ONNX model\n');
    const refused = async (promise: Promise<unknown>): Promise<CoordinatorRequestError> => {
      try {
        await promise;
      } catch (err) {
        if (err instanceof CoordinatorRequestError) return err;
        throw err;
      }
      throw new Error('expected the coordinator to refuse');
    };
    const e1 = await refused(createDerived(client, notOnnx, FAST));
    expect(e1.status).toBe(400);
    expect(e1.message.toLowerCase()).toContain('onnx');

    const e2 = await refused(createDerived(client, CLS_MODEL, { ...FAST, variants: 'fp32,int9-magic' }));
    expect(e2.status).toBe(400);
    expect(e2.message).toContain('int9-magic');

    const e3 = await refused(createDerived(client, CLS_MODEL, { ...FAST, targets: 'no-such-agent' }));
    expect(e3.status).toBe(422);

    const after = (await (await fetch(`${farm.httpUrl}/sweeps`)).json()) as unknown[];
    expect(after).toHaveLength(before.length);
  }, 120_000);

  it('the CLI runs a sweep and prints the report, and fails clearly when the coordinator is unreachable', async () => {
    const bin = join(repoRoot, 'bin/benchfarm');
    const { stdout } = await run(bin, ['--coordinator', farm.httpUrl, 'sweep', CLS_MODEL, '--shapes', FAST.shapes, '--min-queries', '30', '--min-ms', '200', '--warmup-queries', '3', '--variants', 'fp32'], { timeout: 120_000 });
    expect(stdout).toMatch(/variant\s+device\s+state\s+queries\s+p50 ms\s+p99 ms/);
    expect(stdout).toMatch(/fp32\s+\S+\s+done\s+\d+/);

    const port = await freePort();
    const failed = await run(bin, ['--coordinator', `http://127.0.0.1:${port}`, 'agents']).then(
      () => undefined,
      (err: { code: number; stderr: string }) => err,
    );
    expect(failed?.code).toBe(3);
    expect(failed?.stderr).toContain('unreachable');
  }, 180_000);
});
