// The suite process for real: onnxruntime-node on a real ONNX model, in a forked child.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, PercentileStatus, Scenario, TensorDataType } from '@benchfarm/protocol';
import type { Summary } from '@benchfarm/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idleChildRssBytes, runBareLoopInChild, runSuiteInChild, type SuiteChildEvent, type SuiteChildExit, type SuiteJob } from './index';

// libs/suite loads @benchfarm/onnx lazily (batch-model.ts) so that its entry never pulls in
// onnxruntime; the module-boundary rule then wants every import of it in this project lazy too.
const { paddleOcrModelPath } = await import('@benchfarm/onnx');

/** PaddleOCR's direction classifier: 0.6 MB, input x [?, 3, 48, 192], about 1 ms a run on a laptop core. */
const CLS_MODEL = paddleOcrModelPath('cls');
const hasProc = process.platform === 'linux';

function clsJob(suite: Partial<SuiteJob['suite']> = {}, overrides: Partial<SuiteJob> = {}): SuiteJob {
  return {
    modelPath: CLS_MODEL,
    // The model's batch dimension is dynamic; onnxruntime accepts a concrete feed for it.
    inputs: [{ name: 'x', dataType: TensorDataType.TENSOR_DATA_TYPE_FLOAT32, shape: [1, 3, 48, 192] }],
    executionProvider: 'cpu',
    intraOpThreads: 1,
    interOpThreads: 1,
    suite: {
      scenario: Scenario.SCENARIO_SINGLE_STREAM,
      warmupMinQueries: 5,
      warmupMinDurationMs: 100,
      minQueries: 100,
      minDurationMs: 0,
      maxDurationMs: 20_000,
      seed: 7,
      ...suite,
    },
    manifest: { variantSha256: 'f'.repeat(64), agentVersion: '0.0.0-test', batch: 1 },
    ...overrides,
  };
}

interface Outcome {
  events: SuiteChildEvent[];
  exit: SuiteChildExit;
}

async function run(job: SuiteJob, hooks: { onEvent?: (e: SuiteChildEvent) => void; signal?: AbortSignal } = {}): Promise<Outcome> {
  const events: SuiteChildEvent[] = [];
  const exit = await runSuiteInChild(job, {
    onEvent: (event) => {
      events.push(event);
      hooks.onEvent?.(event);
    },
    ...(hooks.signal && { signal: hooks.signal }),
  });
  return { events, exit };
}

const summaryOf = (events: SuiteChildEvent[]): Summary => {
  const last = events.at(-1);
  if (last?.type !== 'summary') throw new Error(`expected a summary last, got ${JSON.stringify(last).slice(0, 500)}`);
  return last.summary;
};
const errorsOf = (events: SuiteChildEvent[]) => events.filter((e) => e.type === 'error');
const samplesOf = (events: SuiteChildEvent[]): number[] => {
  const chunks = events.filter((e) => e.type === 'samples');
  let expectedOffset = 0;
  for (const chunk of chunks) {
    expect(chunk.offset).toBe(expectedOffset);
    expectedOffset += chunk.latencyMs.length;
  }
  return chunks.flatMap((chunk) => chunk.latencyMs);
};

describe('single-stream suite in a child process', () => {
  let idleRssBytes: number | undefined;
  let tmp: string;

  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'benchfarm-suite-'));
    if (hasProc) idleRssBytes = await idleChildRssBytes();
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('measures a real model past p99’s minimum and reports a full summary with every sample', async () => {
    const job = clsJob({ minQueries: 700, minDurationMs: 300 });
    const { events, exit } = await run(job);

    expect(exit).toMatchObject({ exitCode: 0, signal: null, sawSummary: true, sawError: false, aborted: false });
    expect(errorsOf(events)).toEqual([]);
    const started = events[0];
    expect(started).toMatchObject({ type: 'started', onnxruntimeVersion: '1.30.0' });
    expect(started?.type === 'started' && started.pid).toBeGreaterThan(0);
    const phases = events.filter((e) => e.type === 'progress').map((e) => e.phase);
    expect([...new Set(phases)]).toEqual(['session', 'warmup', 'measure']);

    const summary = summaryOf(events);
    const samples = samplesOf(events);
    expect(summary.count).toBeGreaterThanOrEqual(700);
    expect(samples.length).toBe(summary.count);
    expect(summary.stopReason).toBe('min_reached');
    expect(summary.measuredDurationMs).toBeGreaterThanOrEqual(300);
    expect(summary.throughputQps).toBeCloseTo(summary.count / (summary.measuredDurationMs / 1000), 0);
    expect(summary.warmupQueries).toBeGreaterThanOrEqual(5);
    expect(summary.warmupDurationMs).toBeGreaterThanOrEqual(100);
    expect(summary.sessionCreationMs).toBeGreaterThan(0);
    expect(summary.firstInferenceMs).toBeGreaterThan(0);
    expect(summary.minMs).toBe(Math.min(...samples));
    expect(summary.maxMs).toBe(Math.max(...samples));
    expect(summary.minMs).toBeLessThanOrEqual(summary.meanMs);
    expect(summary.meanMs).toBeLessThanOrEqual(summary.maxMs);
    expect(summary.modelFileSizeBytes).toBe(578_966);

    const byQuantile = new Map(summary.percentiles.map((p) => [p.quantile, p]));
    expect([...byQuantile.keys()]).toEqual([0.5, 0.9, 0.95, 0.99]);
    for (const p of summary.percentiles) expect(p.status).toBe(PercentileStatus.PERCENTILE_STATUS_OK);
    expect(byQuantile.get(0.5)!.valueMs!).toBeLessThanOrEqual(byQuantile.get(0.99)!.valueMs!);
    // Recomputable from the samples exactly, as LoadGen defines the percentile.
    const sorted = [...samples].sort((a, b) => a - b);
    expect(byQuantile.get(0.99)!.valueMs).toBe(sorted[Math.floor(sorted.length * 0.99)]);

    expect(summary.manifest).toMatchObject({
      variantSha256: job.manifest.variantSha256,
      onnxruntimeVersion: '1.30.0',
      executionProvider: 'cpu',
      intraOpThreads: 1,
      interOpThreads: 1,
      batch: 1,
      inputShapes: 'x:1x3x48x192',
      seed: 7,
      agentVersion: '0.0.0-test',
      os: process.platform,
      nodeVersion: process.version,
      graphOptimizationLevel: 'all',
    });
    expect(summary.manifest!.cpuModel).not.toBe('');

    if (hasProc) {
      expect(summary.unmeasured).toEqual([]);
      expect(summary.peakRssBytes).toBeGreaterThan(summary.rssBeforeSessionBytes!);
      expect(summary.rssAfterSessionBytes).toBeGreaterThan(summary.rssBeforeSessionBytes!);
      expect(summary.peakRssBytes).toBeGreaterThan(idleRssBytes!);
    } else {
      expect(summary.peakRssBytes).toBeUndefined();
      expect(summary.unmeasured.map((u) => u.field)).toContain('peak_rss_bytes');
    }
  });

  it('marks p95 and p99 insufficient when the run stops below their minimum sample counts', async () => {
    const { events, exit } = await run(clsJob({ minQueries: 100, minDurationMs: 0 }));
    expect(exit.sawSummary).toBe(true);
    const summary = summaryOf(events);
    expect(summary.count).toBe(100);
    expect(samplesOf(events)).toHaveLength(100);
    expect(summary.percentiles.map((p) => [p.quantile, p.status, p.valueMs === undefined])).toEqual([
      [0.5, PercentileStatus.PERCENTILE_STATUS_OK, false],
      [0.9, PercentileStatus.PERCENTILE_STATUS_OK, false],
      [0.95, PercentileStatus.PERCENTILE_STATUS_INSUFFICIENT_SAMPLES, true],
      [0.99, PercentileStatus.PERCENTILE_STATUS_INSUFFICIENT_SAMPLES, true],
    ]);
  });

  it('stops at the max duration and says so', async () => {
    const { events } = await run(clsJob({ minQueries: 10_000_000, maxDurationMs: 300 }));
    const summary = summaryOf(events);
    expect(summary.stopReason).toBe('max_duration');
    expect(summary.measuredDurationMs).toBeGreaterThanOrEqual(300);
    expect(samplesOf(events)).toHaveLength(summary.count);
  });

  it('reports a corrupt model as MODEL_LOAD with onnxruntime’s own text, and exits cleanly', async () => {
    const corrupt = join(tmp, 'corrupt.onnx');
    await writeFile(corrupt, randomBytes(4096));
    const { events, exit } = await run(clsJob({}, { modelPath: corrupt }));

    expect(exit).toMatchObject({ exitCode: 0, signal: null, sawSummary: false, sawError: true, aborted: false });
    expect(events[0]?.type).toBe('started');
    const errors = errorsOf(events);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ type: 'error', code: ErrorCode.ERROR_CODE_MODEL_LOAD, retryable: false });
    expect(errors[0]!.message).toContain(corrupt);
    expect(errors[0]!.message).toMatch(/protobuf parsing failed/i);
    expect(events.at(-1)).toBe(errors[0]);
  });

  it('reports a missing model file as MODEL_LOAD', async () => {
    const { events, exit } = await run(clsJob({}, { modelPath: join(tmp, 'absent.onnx') }));
    expect(exit.exitCode).toBe(0);
    expect(errorsOf(events)).toEqual([expect.objectContaining({ code: ErrorCode.ERROR_CODE_MODEL_LOAD, message: expect.stringMatching(/ENOENT/) })]);
  });

  it('reports a failing run (wrong input name) as RUN with onnxruntime’s text', async () => {
    const job = clsJob({}, { inputs: [{ name: 'images', dataType: TensorDataType.TENSOR_DATA_TYPE_FLOAT32, shape: [1, 3, 48, 192] }] });
    const { events, exit } = await run(job);
    expect(exit.exitCode).toBe(0);
    const errors = errorsOf(events);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: ErrorCode.ERROR_CODE_RUN });
    expect(errors[0]!.message).toMatch(/warmup after 0 queries/);
  });

  it('reports an input type it cannot create as INTERNAL', async () => {
    const job = clsJob({}, { inputs: [{ name: 'x', dataType: TensorDataType.TENSOR_DATA_TYPE_UNSPECIFIED, shape: [1, 3, 48, 192] }] });
    const { events } = await run(job);
    expect(errorsOf(events)).toEqual([expect.objectContaining({ code: ErrorCode.ERROR_CODE_INTERNAL, message: expect.stringMatching(/tensor data type 0 is not supported/) })]);
  });

  it('turns a child killed with SIGKILL mid-run into CHILD_CRASHED', async () => {
    let killed = false;
    let childPid = 0;
    const { events, exit } = await run(clsJob({ minDurationMs: 30_000, maxDurationMs: 60_000 }), {
      onEvent: (event) => {
        if (event.type === 'started') childPid = event.pid;
        if (event.type === 'progress' && event.phase === 'measure' && !killed) {
          killed = true;
          process.kill(childPid, 'SIGKILL');
        }
      },
    });
    expect(killed).toBe(true);
    expect(exit).toMatchObject({ exitCode: null, signal: 'SIGKILL', sawSummary: false, sawError: true, aborted: false });
    const errors = errorsOf(events);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: ErrorCode.ERROR_CODE_CHILD_CRASHED, retryable: false });
    expect(errors[0]!.message).toMatch(/^suite process died: signal SIGKILL/);
    expect(events.at(-1)).toBe(errors[0]);
  });

  it('kills the child on abort without inventing an error', async () => {
    const controller = new AbortController();
    const { events, exit } = await run(clsJob({ minDurationMs: 30_000, maxDurationMs: 60_000 }), {
      signal: controller.signal,
      onEvent: (event) => {
        if (event.type === 'progress' && event.phase === 'warmup') controller.abort();
      },
    });
    expect(exit).toMatchObject({ signal: 'SIGKILL', sawSummary: false, sawError: false, aborted: true });
    expect(errorsOf(events)).toEqual([]);
  });

  it('reports an invalid job as INTERNAL without starting a process', async () => {
    const { events, exit } = await run(clsJob({ minDurationMs: 5000, maxDurationMs: 1000 }));
    expect(exit).toMatchObject({ exitCode: null, signal: null, sawError: true });
    expect(events).toEqual([expect.objectContaining({ type: 'error', code: ErrorCode.ERROR_CODE_INTERNAL, message: expect.stringMatching(/maxDurationMs: 1000 is below/) })]);
  });

  it('runs the bare reference loop used by the harness-overhead bench', async () => {
    const result = await runBareLoopInChild(clsJob({ minDurationMs: 300 }));
    expect(result.onnxruntimeVersion).toBe('1.30.0');
    expect(result.queries).toBeGreaterThan(0);
    expect(result.durationMs).toBeGreaterThanOrEqual(300);
    expect(result.throughputQps).toBeCloseTo((result.queries / result.durationMs) * 1000, 6);
  });
});
