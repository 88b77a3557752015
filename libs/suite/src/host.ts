import { readdirSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import type { HostFacts, Unmeasured } from '@benchfarm/protocol';

/** Reads a small sysfs/procfs text file, trimmed; undefined when it is absent or unreadable. */
export type TextReader = (path: string) => string | undefined;
/** Lists a directory; empty when it is absent or unreadable. */
export type DirLister = (path: string) => string[];

const readText: TextReader = (path) => {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
};

const listDir: DirLister = (path) => {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
};

/** The host side of the file system the manifest reads; injected so the rules are testable on fake trees. */
export interface HostProbe {
  read: TextReader;
  list: DirLister;
  logicalCpus: () => number;
  totalMemoryBytes: () => number;
  arch: () => string;
}

/** The real host. */
export const realHostProbe: HostProbe = { read: readText, list: listDir, logicalCpus: () => os.availableParallelism(), totalMemoryBytes: () => os.totalmem(), arch: () => process.arch };

/**
 * The reproducibility manifest's host facts beyond Manifest's own: CPU count, memory,
 * frequency governor, Jetson power mode, GPU driver version and the sensors present. Each
 * fact that cannot be read here is left empty and listed in `unmeasured` with the reason.
 * Sensor sampling itself belongs to the agent; this only lists what the host exposes.
 */
export function hostFacts(modelSha256: string | undefined, probe: HostProbe = realHostProbe): HostFacts {
  const unmeasured: Unmeasured[] = [];
  const governor = probe.read('/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor');
  if (governor === undefined) unmeasured.push({ field: 'cpu_governor', reason: 'no /sys/devices/system/cpu/cpu0/cpufreq (no cpufreq driver, e.g. a VM guest)' });

  // nvpmodel keeps the active mode in /var/lib/nvpmodel/status ("pmode:0002 fmode:...").
  const nvpStatus = probe.read('/var/lib/nvpmodel/status');
  const powerMode = nvpStatus ? (/pmode:(\S+)/.exec(nvpStatus)?.[1] ?? nvpStatus) : '';
  if (!powerMode) unmeasured.push({ field: 'power_mode', reason: 'no /var/lib/nvpmodel/status (not a Jetson with nvpmodel)' });

  const drivers: string[] = [];
  const nvidia = probe.read('/proc/driver/nvidia/version');
  const nvidiaVersion = nvidia ? /Kernel Module\s+(?:for \S+\s+)?([\d.]+)/.exec(nvidia)?.[1] : undefined;
  if (nvidiaVersion) drivers.push(`nvidia ${nvidiaVersion}`);
  const jetpack = probe.read('/etc/nv_tegra_release');
  if (jetpack) drivers.push(`l4t ${jetpack.split(',')[0]?.replace(/^#\s*/, '') ?? jetpack}`);
  if (drivers.length === 0) unmeasured.push({ field: 'driver_versions', reason: 'no NVIDIA driver (/proc/driver/nvidia/version) or L4T release (/etc/nv_tegra_release) on this host' });

  const sensors: string[] = [];
  for (const zone of probe.list('/sys/class/thermal').filter((z) => z.startsWith('thermal_zone')).sort()) {
    sensors.push(`thermal:${probe.read(`/sys/class/thermal/${zone}/type`) ?? zone}`);
  }
  for (const domain of probe.list('/sys/class/powercap').filter((d) => /^intel-rapl:\d+$/.test(d)).sort()) {
    sensors.push(`rapl:${probe.read(`/sys/class/powercap/${domain}/name`) ?? domain}`);
  }
  if (probe.list('/sys/bus/i2c/drivers/ina3221').length > 0) sensors.push('ina3221');
  if (nvidiaVersion) sensors.push('nvidia-smi');
  if (sensors.length === 0) unmeasured.push({ field: 'sensors', reason: 'no thermal zone, RAPL domain, INA3221 or NVIDIA GPU visible to this process' });

  return {
    logicalCpus: probe.logicalCpus(),
    totalMemoryBytes: probe.totalMemoryBytes(),
    cpuGovernor: governor ?? '',
    powerMode,
    driverVersions: drivers.join('; '),
    sensors,
    executionProviderOptions: '{}',
    modelSha256: modelSha256 ?? '',
    arch: probe.arch(),
    unmeasured: modelSha256 ? unmeasured : [...unmeasured, { field: 'model_sha256', reason: 'the job did not name its base model' }],
  };
}
