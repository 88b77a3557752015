// End to end with real processes (nats-server, coordinator, agent) and a FIXTURE external tool:
// an executable named `trtexec`, first on the agent's PATH, that replays a RECORDED trtexec 8.6
// report (libs/sensors/src/fixtures/trtexec-8.6-fp16.txt) and writes an --exportTimes file.
// It is not TensorRT: this VM has no NVIDIA GPU or TensorRT. The agent also reads a FIXTURE
// Jetson sysfs tree (VDD_IN 5.072 W), so the power sampled while the tool runs is known.
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '@benchfarm/messaging';
import { paddleOcrModelPath } from '@benchfarm/onnx';
import { jetsonOrinHwmonTree, writeFakeTree } from '@benchfarm/sensors';
import { CoordinatorClient, CoordinatorRequestError, type SweepView } from './client';
import { sweepReport } from './format';
import { repoRoot, startEmbeddedFarm, type EmbeddedFarm } from './processes';
import { createDerived, waitForAgent } from './testing/farm.fixture';

const run = promisify(execFile);
const FAST = { shapes: 'x:1x3x48x192', warmupMinQueries: 5, warmupMinDurationMs: 100, minQueries: 80, minDurationMs: 600, maxDurationMs: 20_000, variants: 'fp32', targets: 'all' };
const VDD_IN_WATTS = 5.072;
const RECORDED_REPORT = readFileSync(join(repoRoot, 'libs/sensors/src/fixtures/trtexec-8.6-fp16.txt'), 'utf8');
/** Iterations the fixture's --exportTimes file holds: the recorded report's "Timing trace has 1416 queries". */
const EXPORTED = 1416;

/**
 * The FIXTURE `trtexec`: `--help` prints the TensorRT 8.6.1 banner; `--int8` fails like a
 * failed engine build (stderr, exit 1); otherwise it checks the model file exists, logs
 * "Starting inference", waits 700 ms (the timed phase, sampled by the agent), prints the
 * recorded report and writes `--exportTimes` with one entry per iteration.
 */
function fixtureTrtexec(argsLog: string): string {
  return `#!${process.execPath}
// FIXTURE: recorded trtexec 8.6 output replayed for tests; not TensorRT.
const fs = require('node:fs');
const args = process.argv.slice(2);
fs.appendFileSync(${JSON.stringify(argsLog)}, JSON.stringify(args) + '\\n');
if (args.includes('--help')) { console.log('&&&& RUNNING TensorRT.trtexec [TensorRT v8601] # trtexec --help'); process.exit(0); }
if (args.includes('--int8')) {
  console.log('[I] === Build Options ===');
  console.error('[E] Error[2]: [builder.cpp::buildSerializedNetwork::751] Error Code 2: Internal Error (Assertion engine != nullptr failed. INT8 calibration failed)');
  console.error('&&&& FAILED TensorRT.trtexec [TensorRT v8601]');
  process.exit(1);
}
const onnx = (args.find((a) => a.startsWith('--onnx=')) || '').slice(7);
if (!fs.existsSync(onnx)) { console.error('[E] Cannot find ONNX file: ' + onnx); process.exit(1); }
console.log('[I] Starting inference');
setTimeout(() => {
  process.stdout.write(${JSON.stringify(RECORDED_REPORT)});
  const out = (args.find((a) => a.startsWith('--exportTimes=')) || '').slice(14);
  if (out) {
    const times = [{ count: ${EXPORTED} }];
    for (let i = 0; i < ${EXPORTED}; i++) times.push({ startH2DMs: i * 2.12, h2dMs: 0.066, computeMs: 2.036, d2hMs: 0.016, latencyMs: 2.05347 + (i % 100) * 0.001, enqueueMs: 0.57 });
    fs.writeFileSync(out, JSON.stringify(times));
  }
}, 700);
`;
}

/** The stored result and sensors rows of a job, read from the coordinator's SQLite file by a plain node process. */
async function storedRows(dbPath: string, jobId: string): Promise<{ result: Record<string, unknown>; sensors: Record<string, unknown>; samples: number }> {
  const script = `const Database = require('better-sqlite3'); const db = new Database(process.argv[1], { readonly: true });
    const result = db.prepare('SELECT * FROM results WHERE job_id = ?').get(process.argv[2]);
    const sensors = result ? db.prepare('SELECT * FROM result_sensors WHERE result_id = ?').get(result.id) : null;
    const samples = result ? db.prepare('SELECT count FROM result_samples WHERE result_id = ?').get(result.id) : null;
    process.stdout.write(JSON.stringify({ result, sensors, samples: samples ? samples.count : -1 }));`;
  const { stdout } = await run(process.execPath, ['-e', script, dbPath, jobId], { cwd: repoRoot });
  return JSON.parse(stdout) as { result: Record<string, unknown>; sensors: Record<string, unknown>; samples: number };
}

async function finished(client: CoordinatorClient, id: string): Promise<SweepView> {
  const deadline = Date.now() + 120_000;
  let sweep = await client.getSweep(id);
  while (sweep.state === 'running' && Date.now() < deadline) {
    await sleep(250);
    sweep = await client.getSweep(id);
  }
  return sweep;
}

describe('external runtime end to end: a sweep with runtime=trtexec runs a FIXTURE trtexec on the agent', () => {
  let dir: string;
  let argsLog: string;
  let farm: EmbeddedFarm;
  let client: CoordinatorClient;
  const saved = { ...process.env };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bf-external-'));
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    argsLog = join(dir, 'trtexec-args.jsonl');
    writeFileSync(join(bin, 'trtexec'), fixtureTrtexec(argsLog));
    chmodSync(join(bin, 'trtexec'), 0o755);
    writeFakeTree(join(dir, 'sysfs'), jetsonOrinHwmonTree({ vddInMilliamps: 1000 }));
    // The farm's processes inherit these: the fixture tool first on PATH, the fixture sysfs tree.
    process.env.PATH = `${bin}${delimiter}${process.env.PATH ?? ''}`;
    process.env.BENCHFARM_SYSFS_ROOT = join(dir, 'sysfs');
    process.env.BENCHFARM_IDLE_BASELINE_MS = '300';
    process.env.BENCHFARM_PROBE_EPS = 'off';
    farm = await startEmbeddedFarm({ dir, natsPort: await freePort(), httpPort: 0, grpcPort: 0, agent: true });
    client = new CoordinatorClient(farm.httpUrl);
    await waitForAgent(client, farm.agentId);
  }, 120_000);

  afterAll(async () => {
    await farm?.stop();
    process.env = saved;
    rmSync(dir, { recursive: true, force: true });
  });

  it('the agent advertises trtexec with the version its banner names', async () => {
    const agent = (await client.listAgents()).find((a) => a.agentId === farm.agentId) as unknown as { capabilities: { externalRuntimes: Array<{ tool: string; version: string; path: string }> } };
    expect(agent.capabilities.externalRuntimes).toEqual([{ tool: 'trtexec', version: '8.6.1', path: join(dir, 'bin', 'trtexec') }]);
  });

  it('runtime=trtexec:fp16 stores the parsed report, the exported per-iteration samples, the runtime, the precision and the power sampled while the tool ran', async () => {
    const created = await createDerived(client, paddleOcrModelPath('cls'), { ...FAST, runtime: 'trtexec:fp16' });
    expect(created.jobs).toHaveLength(1);
    const sweep = await finished(client, created.id);
    expect(sweep.state, JSON.stringify(sweep.jobs.map((j) => j.error))).toBe('completed');
    const job = sweep.jobs[0]!;

    const calls = readFileSync(argsLog, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as string[]);
    const runArgs = calls.find((a) => a.some((x) => x.startsWith('--onnx=')))!;
    expect(runArgs).toEqual(expect.arrayContaining(['--fp16', '--duration=1', '--warmUp=1000']));
    expect(runArgs.some((a) => a.startsWith('--exportTimes='))).toBe(true);

    const { result, sensors, samples } = await storedRows(join(dir, 'coordinator.db'), job.id);
    expect(result.provider).toBe('trtexec');
    expect(result.count).toBe(EXPORTED);
    expect(samples).toBe(EXPORTED);
    expect(result.mean_ms).toBe(2.11862);
    expect(result.throughput_qps).toBe(471.204);
    expect(JSON.parse(result.percentiles_json as string)).toEqual(expect.arrayContaining([expect.objectContaining({ quantile: 0.99, valueMs: 2.3291 })]));
    expect(result.stop_reason).toBe('external_runtime');
    const runtime = JSON.parse(sensors.external_runtime_json as string) as Record<string, string>;
    expect(runtime).toMatchObject({ runtime: 'trtexec', version: '8.6.1', precision: 'fp16' });
    expect(runtime.command).toContain('--fp16');
    // Sampled from "Starting inference" to the tool's exit (700 ms in the fixture) on the fixture rail.
    expect(sensors.average_power_watts).toBeCloseTo(VDD_IN_WATTS, 6);
    const power = JSON.parse(sensors.power_json as string) as { windowMs: number };
    expect(power.windowMs).toBeGreaterThanOrEqual(500);
    expect(sensors.energy_per_inference_joules as number).toBeCloseTo((VDD_IN_WATTS * power.windowMs) / 1000 / EXPORTED, 7);

    // The REST view carries the same, and the report shows the power and runtime columns.
    const view = job.result!;
    expect(view.provider).toBe('trtexec');
    expect(view.externalRuntime).toMatchObject({ runtime: 'trtexec', precision: 'fp16', version: '8.6.1' });
    expect(view.power).toMatchObject({ sensor: 'ina3221-hwmon', domain: 'module' });
    expect(view.power!.averagePowerWatts).toBeCloseTo(VDD_IN_WATTS, 6);
    expect(view.unmeasured.map((u) => u.field)).toEqual(expect.arrayContaining(['std_ms', 'peak_rss_bytes']));
    expect(view.unmeasured.map((u) => u.field)).not.toContain('latency_samples');
    expect((await client.samples(sweep.id, job.id)).length).toBe(EXPORTED);
    const text = sweepReport(sweep);
    expect(text).toMatch(/avg W +J\/inference +runtime/);
    expect(text).toMatch(/5\.07 +[\d.e-]+ +trtexec 8\.6\.1 fp16/);
  }, 180_000);

  it('a tool that exits non-zero fails the job for good, with its stderr tail', async () => {
    const created = await createDerived(client, paddleOcrModelPath('cls'), { ...FAST, runtime: 'trtexec:int8' });
    const sweep = await finished(client, created.id);
    expect(sweep.state).toBe('failed');
    const job = sweep.jobs[0]!;
    expect(job.state).toBe('failed');
    expect(job.attempts).toBe(1);
    expect(job.error).toMatch(/^external_runtime: trtexec exited with code 1; stderr tail: .*INT8 calibration failed/s);
  }, 180_000);

  it('a runtime no agent has is refused with 422 naming the field; a malformed one with 400', async () => {
    const missing = await createDerived(client, paddleOcrModelPath('cls'), { ...FAST, runtime: 'benchmark_app:fp32' }).catch((err: unknown) => err);
    expect(missing).toBeInstanceOf(CoordinatorRequestError);
    expect(missing).toMatchObject({ status: 422, code: 'no_matching_agent', field: 'runtime' });
    expect((missing as Error).message).toMatch(/benchmark_app installed/);
    const bad = await createDerived(client, paddleOcrModelPath('cls'), { ...FAST, runtime: 'trtexec:fp8' }).catch((err: unknown) => err);
    expect(bad).toMatchObject({ status: 400, field: 'runtime' });
    expect((bad as Error).message).toMatch(/precision "fp8"/);
  }, 60_000);
});
