import { readFileSync } from 'node:fs';
import * as os from 'node:os';

/** The memory lines of /proc/<pid>/status the suite reads. */
export type ProcStatusKey = 'VmHWM' | 'VmRSS';

/**
 * Bytes of a `/proc/<pid>/status` memory line ("VmHWM:   123456 kB"), or undefined when
 * the line is absent. The kernel's "kB" is KiB.
 */
export function parseProcStatusBytes(statusText: string, key: ProcStatusKey): number | undefined {
  const match = new RegExp(`^${key}:\\s*(\\d+)\\s*kB\\s*$`, 'm').exec(statusText);
  return match ? Number(match[1]) * 1024 : undefined;
}

/** A memory line of this process's /proc/self/status, or undefined where there is no /proc (macOS, Windows). */
export function readOwnProcStatusBytes(key: ProcStatusKey): number | undefined {
  return readProcStatusBytes('self', key);
}

/** A memory line of another process's /proc/<pid>/status, or undefined when it is gone or there is no /proc. */
export function readProcStatusBytes(pid: number | 'self', key: ProcStatusKey): number | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  return parseProcStatusBytes(text, key);
}

/** Host facts a result's manifest carries. */
export interface MachineFacts {
  /** process.platform: linux, darwin. */
  os: string;
  /** Kernel release (os.release()). */
  osRelease: string;
  cpuModel: string;
  /** process.version, e.g. "v20.19.0". */
  nodeVersion: string;
}

/** Reads the host facts of the manifest; cheap, so read once per run. */
export function machineFacts(): MachineFacts {
  return { os: process.platform, osRelease: os.release(), cpuModel: cpuModel(), nodeVersion: process.version };
}

/**
 * The CPU's model name. os.cpus() is empty or model-less on some ARM boards and containers,
 * where /proc/cpuinfo still names the SoC ("Model" on a Raspberry Pi, "Hardware" on older
 * kernels); "unknown" when neither says.
 */
export function cpuModel(): string {
  const fromNode = os.cpus()[0]?.model?.trim();
  if (fromNode && fromNode !== 'unknown') return fromNode;
  try {
    return parseCpuinfoModel(readFileSync('/proc/cpuinfo', 'utf8')) ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The model line of /proc/cpuinfo text, preferring "model name", then "Model", then "Hardware". */
export function parseCpuinfoModel(cpuinfoText: string): string | undefined {
  for (const key of ['model name', 'Model', 'Hardware']) {
    const match = new RegExp(`^${key}\\s*:\\s*(.+?)\\s*$`, 'm').exec(cpuinfoText);
    if (match?.[1]) return match[1];
  }
  return undefined;
}
