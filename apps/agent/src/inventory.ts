import { cpus, hostname, release, totalmem } from 'node:os';
import * as ort from 'onnxruntime-node';
import type { AgentCapabilities } from '@benchfarm/protocol';

/**
 * What this device is. Execution providers are the onnxruntime-node backends compiled
 * into the installed binaries; the CPU provider is always there. Sensors are not probed
 * yet (issue: device reach), so the list is empty and results say power was not measured.
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
    onnxruntimeVersion: ort.env.versions.common ?? 'unknown',
    hostname: hostname(),
  };
}
