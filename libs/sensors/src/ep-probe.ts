import { childEntry, startIsolated } from '@benchfarm/isolate';
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

const EP_PROBE_CHILD = childEntry(new URL('./ep-probe.child.ts', import.meta.url));

/**
 * Probes the execution providers in a separate process (onnxruntime-node never loads into
 * the agent itself). A provider that has not answered within `timeoutMs` in total is
 * listed as failed with the reason; the process is then killed.
 */
export async function probeExecutionProviders(options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<ExecutionProviderProbe> {
  const result: ExecutionProviderProbe = { listed: [], working: [], failures: [], onnxruntimeVersion: 'unknown' };
  const answered = new Set<string>();
  const child = startIsolated(EP_PROBE_CHILD, {
    env: options.env ?? process.env,
    timeoutMs: options.timeoutMs ?? 30_000,
    stderrTailBytes: 2_000,
    onMessage: (message) => {
      const m = message as { type?: string; providers?: string[]; onnxruntimeVersion?: string; provider?: string; ok?: boolean; reason?: string } | null;
      if (m?.type === 'listed') {
        result.listed = m.providers ?? [];
        result.onnxruntimeVersion = m.onnxruntimeVersion ?? 'unknown';
      } else if (m?.type === 'probed' && m.provider) {
        answered.add(m.provider);
        if (m.ok) result.working.push(m.provider);
        else result.failures.push({ field: m.provider, reason: m.reason || 'session creation failed' });
      }
    },
  });
  const exit = await child.exited;
  const stderr = exit.stderrTail.trim();
  const why =
    exit.stopped?.code === 'timed_out'
      ? 'timed out while probing'
      : exit.stopped?.code === 'start_failed'
        ? `probe process ${exit.stopped.detail}`
        : `probe process ended (${exit.signal ?? `exit ${exit.code}`})${stderr ? `: ${stderr.split('\n').pop()}` : ''}`;
  for (const p of result.listed) if (!answered.has(p)) result.failures.push({ field: p, reason: why });
  if (result.listed.length === 0) result.failures.push({ field: 'onnxruntime', reason: why });
  return result;
}
