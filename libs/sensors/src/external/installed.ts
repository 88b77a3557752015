import type { InstalledRuntime } from '@benchfarm/protocol';
import { SensorFormatError } from '../errors';
import type { CommandRunner } from '../io';

/** How each tool is asked for its banner without running a model (trtexec and benchmark_app print their version first). */
const VERSION_ARGS: Readonly<Record<string, readonly string[]>> = { trtexec: ['--help'], benchmark_app: ['-h'], benchmark_model: ['--help'] };

/**
 * A TensorRT version as trtexec prints it: `TensorRT version: 8.6.1`, or the banner's
 * `[TensorRT v8601]` (8.x: major, minor, patch as 1+1+2 digits) / `[TensorRT v100300]`
 * (10.x: 2+2+2 digits). Empty when the text names none.
 */
export function trtexecVersion(text: string): string {
  const plain = /TensorRT version:\s*([\d.]+)/.exec(text)?.[1];
  if (plain) return plain;
  const code = /\[TensorRT v(\d+)\]/.exec(text)?.[1];
  if (!code) return '';
  if (code.length === 4) return `${code[0]}.${code[1]}.${Number(code.slice(2))}`;
  if (code.length === 6) return `${Number(code.slice(0, 2))}.${Number(code.slice(2, 4))}.${Number(code.slice(4))}`;
  return code;
}

/** The version a tool's banner names, or "" (benchmark_model prints none). */
export function externalToolVersion(tool: string, text: string): string {
  if (tool === 'trtexec') return trtexecVersion(text);
  if (tool === 'benchmark_app') return /Build \.+ (\S+)/.exec(text)?.[1] ?? '';
  return /TensorFlow Lite version:?\s*(\S+)/i.exec(text)?.[1] ?? '';
}

/**
 * The found tools with their versions, asked with a short timeout. A tool whose banner
 * cannot be read is still listed (it is installed), with an empty version.
 */
export async function probeInstalledRuntimes(commands: CommandRunner, found: ReadonlyArray<{ tool: string; path: string }>): Promise<InstalledRuntime[]> {
  const out: InstalledRuntime[] = [];
  for (const { tool, path } of found) {
    let version = '';
    try {
      const banner = await commands.run(path, VERSION_ARGS[tool] ?? ['--help'], { timeoutMs: 10_000 });
      version = externalToolVersion(tool, `${banner.stdout}\n${banner.stderr}`);
    } catch {
      // Installed but its banner could not be read: listed without a version.
    }
    out.push({ tool, version, path });
  }
  return out;
}

/**
 * Per-iteration host latencies (ms) from trtexec's `--exportTimes` JSON: an array whose
 * first element may be `{ "count": N }`, then one object per iteration with `latencyMs`
 * (H2D + compute + D2H, the figure trtexec's "Latency:" line summarises). Thrown:
 * SensorFormatError naming the field when the file is not such an array.
 */
export function parseTrtexecExportTimes(text: string): number[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new SensorFormatError('trtexec --exportTimes', `not JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(data)) throw new SensorFormatError('trtexec --exportTimes', 'not a JSON array');
  const latencies: number[] = [];
  data.forEach((entry: unknown, i) => {
    if (typeof entry !== 'object' || entry === null) throw new SensorFormatError(`trtexec --exportTimes[${i}]`, 'not an object');
    const record = entry as Record<string, unknown>;
    if (!('latencyMs' in record)) {
      if ('count' in record) return;
      throw new SensorFormatError(`trtexec --exportTimes[${i}].latencyMs`, 'missing');
    }
    const v = record.latencyMs;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new SensorFormatError(`trtexec --exportTimes[${i}].latencyMs`, `not a latency: ${JSON.stringify(v)}`);
    latencies.push(v);
  });
  return latencies;
}
