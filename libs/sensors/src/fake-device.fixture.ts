// FIXTURES: fake kernel trees and recorded tool outputs for tests. Not readings of any real
// device; shaped after docs/MEASUREMENT.md. This development VM has no such sensors.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SensorCommandError, SensorPermissionError } from './errors';
import type { CommandOutput, CommandRunner, SysfsReader } from './io';

/** A file's content, or a marker that reading it is denied (RAPL on kernels >= 5.10 for non-root). */
export type FakeFile = string | { denied: true };

/** An in-memory {@link SysfsReader}; values may change between reads (`files` is live). */
export function memorySysfs(files: Record<string, FakeFile>): SysfsReader {
  return {
    root: '(memory)',
    read(path) {
      const f = files[path];
      if (f === undefined) return undefined;
      if (typeof f !== 'string') throw new SensorPermissionError(path);
      return f.trim();
    },
    list(dir) {
      const prefix = dir.endsWith('/') ? dir : `${dir}/`;
      const names = new Set<string>();
      for (const p of Object.keys(files)) if (p.startsWith(prefix)) names.add(p.slice(prefix.length).split('/')[0]!);
      return [...names].sort();
    },
  };
}

/** A {@link CommandRunner} that replays recorded outputs, keyed by `command args...`; counts calls. */
export function recordedCommands(outputs: Record<string, string | Error | (() => string)>, installed: readonly string[] = Object.keys(outputs).map((k) => k.split(' ')[0]!)): CommandRunner & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    which: (command) => (installed.includes(command) ? `/usr/bin/${command}` : undefined),
    run(command, args): Promise<CommandOutput> {
      const key = [command, ...args].join(' ');
      calls.push(key);
      const out = outputs[key];
      if (out === undefined) return Promise.reject(new SensorCommandError(command, `no recorded output for ${JSON.stringify(key)}`));
      if (out instanceof Error) return Promise.reject(out);
      return Promise.resolve({ stdout: typeof out === 'function' ? out() : out, stderr: '' });
    },
  };
}

/** Writes a fake tree of files under `root` (for BENCHFARM_SYSFS_ROOT in end-to-end fixtures). */
export function writeFakeTree(root: string, files: Record<string, string>): void {
  for (const [path, content] of Object.entries(files)) {
    const full = join(root, path);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, `${content}\n`);
  }
}

/** A Jetson Orin Nano on JetPack 5 as hwmon shows it: VDD_IN, CPU/GPU/CV and SOC rails, one NC channel, the sum channel. */
export function jetsonOrinHwmonTree(opts: { vddInMilliamps?: number } = {}): Record<string, string> {
  const dir = '/sys/bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon3';
  return {
    [`${dir}/name`]: 'ina3221',
    [`${dir}/in1_label`]: 'VDD_IN',
    [`${dir}/in1_input`]: '5072',
    [`${dir}/curr1_input`]: String(opts.vddInMilliamps ?? 1000),
    [`${dir}/in2_label`]: 'VDD_CPU_GPU_CV',
    [`${dir}/in2_input`]: '5064',
    [`${dir}/curr2_input`]: '200',
    [`${dir}/in3_label`]: 'VDD_SOC',
    [`${dir}/in3_input`]: '5064',
    [`${dir}/curr3_input`]: '300',
    [`${dir}/in4_label`]: 'NC',
    [`${dir}/in4_input`]: '0',
    [`${dir}/curr4_input`]: '0',
    [`${dir}/in7_label`]: 'sum of shunt voltages',
    [`${dir}/in7_input`]: '40',
    '/sys/class/thermal/thermal_zone0/type': 'cpu-thermal',
    '/sys/class/thermal/thermal_zone0/temp': '47281',
    '/sys/class/thermal/thermal_zone0/trip_point_0_type': 'passive',
    '/sys/class/thermal/thermal_zone0/trip_point_0_temp': '99000',
    '/sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq': '1510400',
    '/sys/devices/system/cpu/cpu0/cpufreq/scaling_max_freq': '1510400',
    '/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor': 'schedutil',
    '/proc/device-tree/model': 'NVIDIA Jetson Orin Nano Developer Kit',
    '/etc/nv_tegra_release': '# R35 (release), REVISION: 4.1, GCID: 33958178, BOARD: t186ref, EABI: aarch64, DATE: Tue Aug  1 19:57:35 UTC 2023',
  };
}

/** A fake RAPL tree: package-0 and psys; `energy_uj` of package-0 is what the caller sets. */
export function raplTree(energyUj: number, maxRangeUj = 262143328850): Record<string, string> {
  return {
    '/sys/class/powercap/intel-rapl:0/name': 'package-0',
    '/sys/class/powercap/intel-rapl:0/energy_uj': String(energyUj),
    '/sys/class/powercap/intel-rapl:0/max_energy_range_uj': String(maxRangeUj),
    '/sys/class/powercap/intel-rapl:0:0/name': 'core',
    '/sys/class/powercap/intel-rapl:0:0/energy_uj': '5',
    '/sys/class/powercap/intel-rapl:1/name': 'psys',
    '/sys/class/powercap/intel-rapl:1/energy_uj': '999',
    '/sys/class/powercap/intel-rapl:1/max_energy_range_uj': String(maxRangeUj),
  };
}
