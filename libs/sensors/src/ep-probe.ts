import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Unmeasured } from '@benchfarm/protocol';

/** Which onnxruntime execution providers work on this device. */
export interface ExecutionProviderProbe {
  /** What onnxruntime-node lists as compiled in. */
  listed: string[];
  /** Those that created a session on a tiny model and computed it right. */
  working: string[];
  /** field = provider, reason = why it did not work here. */
  failures: Unmeasured[];
  onnxruntimeVersion: string;
}

const entry = fileURLToPath(new URL('./ep-probe.child.ts', import.meta.url));
const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/**
 * Probes the execution providers in a separate process (onnxruntime-node never loads into
 * the agent itself). A provider that has not answered within `timeoutMs` in total is
 * listed as failed with the reason; the process is then killed.
 */
export function probeExecutionProviders(options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<ExecutionProviderProbe> {
  return new Promise((resolve) => {
    const result: ExecutionProviderProbe = { listed: [], working: [], failures: [], onnxruntimeVersion: 'unknown' };
    const answered = new Set<string>();
    let stderr = '';
    const child = fork(entry, [], { execArgv: ['--import', tsxLoader], env: options.env ?? process.env, stdio: ['ignore', 'ignore', 'pipe', 'ipc'], serialization: 'json' });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-2000);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.on('message', (m: { type?: string; providers?: string[]; onnxruntimeVersion?: string; provider?: string; ok?: boolean; reason?: string }) => {
      if (m.type === 'listed') {
        result.listed = m.providers ?? [];
        result.onnxruntimeVersion = m.onnxruntimeVersion ?? 'unknown';
      } else if (m.type === 'probed' && m.provider) {
        answered.add(m.provider);
        if (m.ok) result.working.push(m.provider);
        else result.failures.push({ field: m.provider, reason: m.reason || 'session creation failed' });
      }
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const why = signal === 'SIGKILL' ? 'timed out while probing' : `probe process ended (${signal ?? `exit ${code}`})${stderr ? `: ${stderr.trim().split('\n').pop()}` : ''}`;
      for (const p of result.listed) if (!answered.has(p)) result.failures.push({ field: p, reason: why });
      if (result.listed.length === 0) result.failures.push({ field: 'onnxruntime', reason: why });
      resolve(result);
    });
  });
}
