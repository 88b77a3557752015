// On THIS machine (a VM without /sys/class/powercap, thermal zones or cpufreq), with the real
// root and a real execution-provider probe (onnxruntime-node in a child process).
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { AgentCapabilities, Summary } from '@benchfarm/protocol';
import { DeviceReach } from './device-reach';
import { collectCapabilities } from './inventory';

const hasPowercap = existsSync('/sys/class/powercap/intel-rapl:0/energy_uj');

describe('device reach on this machine', () => {
  it.skipIf(hasPowercap)('reports honestly that there is no power sensor, and which providers really run', async () => {
    const capabilities: AgentCapabilities = collectCapabilities();
    const lines: Array<Record<string, unknown>> = [];
    const reach = await DeviceReach.open(capabilities, (_level, _message, fields) => lines.push(fields ?? {}), { env: { ...process.env, BENCHFARM_SYSFS_ROOT: '/', BENCHFARM_IDLE_BASELINE_MS: '200' }, probeProviders: true });
    try {
      expect(reach.detected.powerSources).toEqual([]);
      const power = capabilities.inventory!.sensors.filter((s) => s.kind === 'power');
      expect(power.length).toBeGreaterThanOrEqual(8);
      expect(power.every((s) => !s.available && s.reason.length > 0)).toBe(true);
      expect(capabilities.sensors.filter((s) => s.startsWith('rapl') || s.startsWith('nvidia'))).toEqual([]);
      // The CPU provider ran the tiny model; listed-but-unusable providers say why.
      expect(capabilities.executionProviders).toContain('cpu');
      expect(capabilities.inventory!.listedExecutionProviders).toContain('cpu');
      for (const listed of capabilities.inventory!.listedExecutionProviders) {
        const worked = capabilities.executionProviders.includes(listed);
        const failed = capabilities.inventory!.executionProviderFailures.find((f) => f.field === listed);
        expect(worked !== (failed !== undefined)).toBe(true);
      }

      const sensing = await reach.startJob('cpu');
      sensing.onSuiteEvent({ type: 'mark', mark: 'measure-begin' });
      sensing.onSuiteEvent({ type: 'mark', mark: 'measure-end' });
      const summary = { count: 10, unmeasured: [] } as unknown as Summary;
      await sensing.complete(summary, 1);
      expect(summary.power).toBeUndefined();
      const noPower = summary.unmeasured.find((u) => u.field === 'power');
      expect(noPower?.reason).toMatch(/^no power sensor on this device \(looked for external-meter, ina3221-hwmon/);
      expect(summary.thermal?.throttled).toBe(false);
      expect(summary.thermal?.unmeasured.map((u) => u.field)).toEqual(expect.arrayContaining(['zones', 'cpu_freq_mean_mhz']));
    } finally {
      await reach.close();
    }
  }, 60_000);
});
