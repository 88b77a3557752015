import type { ExternalRuntimeRequest } from '@benchfarm/protocol';
import type { RuntimeRequest } from '@benchfarm/contract';

// The runtime field of the REST contract lives in @benchfarm/contract (the CLI parses sweep files with it).
export { EXTERNAL_TOOLS, RUNTIME_PRECISIONS, parseRuntimeText, type ExternalTool, type RuntimeRequest } from '@benchfarm/contract';

/** Engine building (trtexec on a Jetson) can take minutes before the timed part: the agent's kill timeout allows this much beyond the sweep's maxDurationMs. */
export const RUNTIME_SETUP_ALLOWANCE_MS = 15 * 60_000;

/** What a job of a sweep with `runtime` carries (BenchJob.external_runtime). */
export function externalRuntimeOf(runtime: RuntimeRequest, minDurationMs: number, maxDurationMs: number): ExternalRuntimeRequest {
  return {
    tool: runtime.tool,
    precision: runtime.precision,
    device: runtime.device ?? '',
    durationSeconds: Math.max(1, Math.ceil(minDurationMs / 1000)),
    timeoutMs: Math.min(0xffff_ffff, maxDurationMs + RUNTIME_SETUP_ALLOWANCE_MS),
  };
}
