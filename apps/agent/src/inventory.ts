import { createRequire } from 'node:module';
import { cpus, hostname, release, totalmem } from 'node:os';
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

/**
 * What this device is, from Node alone. The execution providers start as `cpu` (always
 * there); device reach (device-reach.ts) then replaces them with the providers that
 * actually ran a model here and adds the sensors and the inventory.
 */
export function collectCapabilities(): AgentCapabilities {
  const cpuList = cpus();
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
  };
}
