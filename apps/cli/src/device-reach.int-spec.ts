// End to end with real processes (nats-server, coordinator, agent, suite child) and a
// FIXTURE power sensor: the agent reads a fake Jetson Orin Nano sysfs tree through
// BENCHFARM_SYSFS_ROOT (VDD_IN 5072 mV x 1000 mA = 5.072 W). This VM has no power sensor.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '@benchfarm/messaging';
import { paddleOcrModelPath } from '@benchfarm/onnx';
import { jetsonOrinHwmonTree, writeFakeTree } from '@benchfarm/sensors';
import { CoordinatorClient } from './client';
import { repoRoot, startEmbeddedFarm, type EmbeddedFarm } from './processes';
import { createDerived, waitForAgent } from './testing/farm.fixture';

const run = promisify(execFile);
const FAST = { shapes: 'x:1x3x48x192', warmupMinQueries: 5, warmupMinDurationMs: 100, minQueries: 80, minDurationMs: 600, maxDurationMs: 20_000 };
const VDD_IN_WATTS = 5.072;

/** The stored sensors row of a job, read from the coordinator's SQLite file by a plain node process. */
async function storedSensors(dbPath: string, jobId: string): Promise<Record<string, unknown> | undefined> {
  const script = `const Database = require('better-sqlite3'); const db = new Database(process.argv[1], { readonly: true });
    const row = db.prepare('SELECT s.*, r.count FROM result_sensors s JOIN results r ON r.id = s.result_id WHERE r.job_id = ?').get(process.argv[2]);
    process.stdout.write(JSON.stringify(row ?? null));`;
  const { stdout } = await run(process.execPath, ['-e', script, dbPath, jobId], { cwd: repoRoot });
  return (JSON.parse(stdout) as Record<string, unknown> | null) ?? undefined;
}

describe('device reach end to end: an agent on a fake Jetson sysfs tree (fixture) reports power and energy per inference', () => {
  let dir: string;
  let farm: EmbeddedFarm;
  let client: CoordinatorClient;
  const saved = { ...process.env };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bf-reach-'));
    writeFakeTree(join(dir, 'sysfs'), jetsonOrinHwmonTree({ vddInMilliamps: 1000 }));
    // The farm's processes inherit these: the agent reads the fixture tree instead of /sys.
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

  it('stores the power summary with the result and exports it on /metrics', async () => {
    const created = await createDerived(client, paddleOcrModelPath('cls'), { ...FAST, variants: 'fp32', targets: 'all' });
    const deadline = Date.now() + 120_000;
    let sweep = await client.getSweep(created.id);
    while (sweep.state === 'running' && Date.now() < deadline) {
      await sleep(250);
      sweep = await client.getSweep(created.id);
    }
    expect(sweep.state).toBe('completed');
    const job = sweep.jobs[0]!;

    const row = await storedSensors(join(dir, 'coordinator.db'), job.id);
    expect(row).toBeDefined();
    expect(row!.power_sensor).toBe('ina3221-hwmon');
    expect(row!.power_domain).toBe('module');
    expect(row!.average_power_watts).toBeCloseTo(VDD_IN_WATTS, 6);
    expect(row!.idle_power_watts).toBeCloseTo(VDD_IN_WATTS, 6);
    const count = row!.count as number;
    const power = JSON.parse(row!.power_json as string) as { windowMs: number; sampleCount: number; channels: Array<{ name: string }> };
    // Energy over the BEGIN..END window divided by the inferences in it.
    expect(row!.energy_per_inference_joules as number).toBeCloseTo((VDD_IN_WATTS * power.windowMs) / 1000 / count, 6);
    // Constant fixture power: nothing above idle.
    expect(Math.abs(row!.energy_per_inference_above_idle_joules as number)).toBeLessThan(1e-9);
    expect(power.windowMs).toBeGreaterThanOrEqual(FAST.minDurationMs * 0.9);
    expect(power.sampleCount).toBeGreaterThanOrEqual(2);
    expect(power.channels.map((c) => c.name)).toEqual(['VDD_IN', 'VDD_CPU_GPU_CV', 'VDD_SOC']);
    const thermal = JSON.parse(row!.thermal_json as string) as { zones: Array<{ type: string; maxCelsius: number }>; throttled?: boolean; cpuGovernor: string };
    expect(thermal.zones[0]).toMatchObject({ type: 'cpu-thermal', maxCelsius: 47.3 });
    expect(thermal.throttled ?? false).toBe(false);
    expect(thermal.cpuGovernor).toBe('schedutil');

    const metrics = await client.metricsText();
    const line = (name: string, extra = ''): string | undefined => metrics.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes('domain="module"') && l.includes(extra));
    expect(line('benchfarm_power_watts'), metrics.slice(0, 400)).toBeDefined();
    expect(Number(line('benchfarm_power_watts')!.split(' ').pop())).toBeCloseTo(VDD_IN_WATTS, 6);
    expect(Number(line('benchfarm_energy_per_inference_joules', 'idle="included"')!.split(' ').pop())).toBeCloseTo(row!.energy_per_inference_joules as number, 9);
    expect(line('benchfarm_energy_per_inference_joules', 'idle="subtracted"')).toBeDefined();
    expect(metrics).toMatch(/benchfarm_result_throttled\{[^}]*\} 0/);
  }, 180_000);
});
