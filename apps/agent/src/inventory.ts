import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, hostname, release, totalmem } from 'node:os';
import { join } from 'node:path';
import type { AgentCapabilities } from '@benchfarm/protocol';

/**
 * The installed onnxruntime-node's version, read from its package.json so that the agent
 * never loads the native runtime into its own process (it runs only in suite processes;
 * keeping it out keeps the idle agent small).
 */
function installedOnnxruntimeVersion(): string {
  try {
    return (createRequire(import.meta.url)('onnxruntime-node/package.json') as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Where Linux lists the CPUs and their topology. */
export const SYSFS_CPU_ROOT = '/sys/devices/system/cpu';

/**
 * Physical cores: the distinct (physical_package_id, core_id) pairs of the logical CPUs under
 * `<root>/cpu<N>/topology`, so SMT siblings count once and two sockets' core 0 count twice.
 * Undefined where sysfs does not say (not Linux, a container hiding it, a CPU without the
 * files): the caller then knows only the logical count. Reads files only.
 */
export function physicalCoreCount(root: string = SYSFS_CPU_ROOT): number | undefined {
  let names: string[];
  try {
    names = readdirSync(root).filter((name) => /^cpu\d+$/.test(name));
  } catch {
    return undefined;
  }
  const cores = new Set<string>();
  for (const name of names) {
    try {
      const topology = join(root, name, 'topology');
      const pkg = readFileSync(join(topology, 'physical_package_id'), 'utf8').trim();
      const core = readFileSync(join(topology, 'core_id'), 'utf8').trim();
      if (!/^-?\d+$/.test(pkg) || !/^-?\d+$/.test(core)) return undefined;
      cores.add(`${pkg}:${core}`);
    } catch {
      // An offline CPU has no topology directory: it is not a core this agent can use.
      continue;
    }
  }
  return cores.size > 0 ? cores.size : undefined;
}

/**
 * What this device is, from Node alone. The execution providers start as `cpu` (always
 * there); device reach (device-reach.ts) then replaces them with the providers that
 * actually ran a model here and adds the sensors and the inventory.
 */
export function collectCapabilities(): AgentCapabilities {
  const cpuList = cpus();
  const physicalCores = physicalCoreCount();
  return {
    arch: process.arch,
    os: process.platform,
    osRelease: release(),
    cpuModel: cpuList[0]?.model.trim() ?? 'unknown',
    cpuCores: cpuList.length,
    memoryBytes: totalmem(),
    executionProviders: ['cpu'],
    sensors: [],
    onnxruntimeVersion: installedOnnxruntimeVersion(),
    hostname: hostname(),
    ...(physicalCores !== undefined && { cpuPhysicalCores: physicalCores }),
  };
}
