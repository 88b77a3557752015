import type { DeviceInventory } from '@benchfarm/protocol';
import type { SensorContext } from './power.types';
import { readPowerMode } from './thermal';
import { probeInstalledRuntimes } from './external/installed';

/** CPU flags from /proc/cpuinfo: `flags` on x86, `Features` on ARM. */
export function parseCpuFlags(cpuinfo: string): string[] {
  const m = /^(?:flags|Features)\s*:\s*(.*)$/m.exec(cpuinfo);
  return m ? m[1]!.trim().split(/\s+/).filter(Boolean) : [];
}

/** `PRETTY_NAME` of /etc/os-release. */
export function parseOsRelease(text: string): string {
  const m = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(text);
  return m ? m[1]! : '';
}

/** L4T release from /etc/nv_tegra_release: `# R35 (release), REVISION: 4.1, ...` -> "35.4.1". */
export function parseNvTegraRelease(text: string): string | undefined {
  const m = /^#\s*R(\d+)\s*\(release\),\s*REVISION:\s*([\d.]+)/m.exec(text);
  return m ? `${m[1]}.${m[2]}` : undefined;
}

/** JetPack releases by L4T release (NVIDIA's JetPack archive); unknown ones stay empty. */
const JETPACK_BY_L4T: Readonly<Record<string, string>> = {
  '32.4.3': '4.4',
  '32.4.4': '4.4.1',
  '32.5.0': '4.5',
  '32.5.1': '4.5.1',
  '32.6.1': '4.6',
  '32.7.1': '4.6.1',
  '32.7.2': '4.6.2',
  '32.7.3': '4.6.3',
  '32.7.4': '4.6.4',
  '32.7.5': '4.6.5',
  '35.1.0': '5.0.2',
  '35.2.1': '5.1',
  '35.3.1': '5.1.1',
  '35.4.1': '5.1.2',
  '35.5.0': '5.1.3',
  '35.6.0': '5.1.4',
  '36.2.0': '6.0 DP',
  '36.3.0': '6.0',
  '36.4.0': '6.1',
  '36.4.3': '6.2',
};

/** The JetPack release of an L4T release, or "" when the table does not know it. */
export function jetpackForL4t(l4t: string): string {
  return JETPACK_BY_L4T[l4t] ?? '';
}

/** Where the external runtimes usually live besides PATH (JetPack puts trtexec here). */
const EXTRA_RUNTIME_PATHS: Readonly<Record<string, string>> = { trtexec: '/usr/src/tensorrt/bin/trtexec' };

/** The external runtimes installed here: `trtexec`, `benchmark_app`, `benchmark_model`, with their paths. */
export function findExternalRuntimes(ctx: SensorContext): Array<{ tool: string; path: string }> {
  const found: Array<{ tool: string; path: string }> = [];
  for (const tool of ['trtexec', 'benchmark_app', 'benchmark_model']) {
    const onPath = ctx.commands.which(tool);
    const extra = EXTRA_RUNTIME_PATHS[tool];
    const path = onPath ?? (extra !== undefined && ctx.sysfs.read(extra) !== undefined ? extra : undefined);
    if (path) found.push({ tool, path });
  }
  return found;
}

/**
 * What this device is: CPU flags, board model (device tree on ARM, DMI on x86), OS, GPU
 * model and driver (nvidia-smi), L4T/JetPack release, power mode, external runtimes.
 * Execution providers are filled in by the caller from {@link probeExecutionProviders}.
 */
export async function collectInventory(ctx: SensorContext): Promise<DeviceInventory> {
  const read = (p: string): string => {
    try {
      return ctx.sysfs.read(p) ?? '';
    } catch {
      return '';
    }
  };
  const dtModel = (read('/proc/device-tree/model') || read('/sys/firmware/devicetree/base/model')).replace(/\0/g, '').trim();
  const dmi = [read('/sys/class/dmi/id/sys_vendor'), read('/sys/class/dmi/id/product_name')].filter(Boolean).join(' ');
  const l4t = parseNvTegraRelease(read('/etc/nv_tegra_release')) ?? '';
  let gpuModel = '';
  let gpuDriver = '';
  if (ctx.commands.which('nvidia-smi')) {
    try {
      const out = (await ctx.commands.run('nvidia-smi', ['--query-gpu=name,driver_version', '--format=csv,noheader'])).stdout.trim().split('\n')[0] ?? '';
      [gpuModel = '', gpuDriver = ''] = out.split(',').map((s) => s.trim());
    } catch {
      // No usable driver: the fields stay empty.
    }
  } else if (l4t) {
    gpuModel = 'NVIDIA Tegra integrated GPU';
    gpuDriver = `L4T ${l4t}`;
  }
  const runtimes = findExternalRuntimes(ctx);
  return {
    cpuFlags: parseCpuFlags(read('/proc/cpuinfo')),
    boardModel: dtModel || dmi,
    osPrettyName: parseOsRelease(read('/etc/os-release')),
    gpuModel,
    gpuDriver,
    l4tRelease: l4t,
    jetpackRelease: l4t ? jetpackForL4t(l4t) : '',
    powerMode: (await readPowerMode(ctx)) ?? '',
    externalRuntimes: runtimes.map((r) => `${r.tool} ${r.path}`),
    installedRuntimes: await probeInstalledRuntimes(ctx.commands, runtimes),
    listedExecutionProviders: [],
    executionProviderFailures: [],
    sensors: [],
  };
}
