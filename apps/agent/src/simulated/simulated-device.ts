import type { AgentCapabilities, HealthCheckReport } from '@benchfarm/protocol';
import { REFERENCE_MODEL_ID, compareToReference, referenceModel } from '@benchfarm/suite';

/**
 * What a simulated agent reports as its onnxruntime version and runs its suite with: there is no
 * onnxruntime in a simulated agent, and the registry and every result say so in this field.
 */
export const SYNTHETIC_RUNTIME_VERSION = 'synthetic';

/** The execution provider of a simulated device (the only one its synthetic suite "runs"). */
export const SIMULATED_PROVIDER = 'cpu';

/**
 * The capabilities of a made-up device, the shape a real agent's inventory takes (minus the
 * sensor inventory: a simulated device has no sensors). `overrides` replaces fields.
 */
export function simulatedCapabilities(agentId: string, overrides: Partial<AgentCapabilities> = {}): AgentCapabilities {
  return {
    arch: 'x64',
    os: 'linux',
    osRelease: '6.1.0-simulated',
    cpuModel: 'Simulated 8-core CPU @ 2.0GHz',
    cpuCores: 8,
    cpuPhysicalCores: 4,
    memoryBytes: 16 * 1024 ** 3,
    executionProviders: [SIMULATED_PROVIDER],
    sensors: [],
    onnxruntimeVersion: SYNTHETIC_RUNTIME_VERSION,
    hostname: `sim-${agentId}`.slice(0, 64),
    ...overrides,
  };
}

/**
 * The simulated device's health check: its "runtime" evaluates the reference graph in plain
 * JavaScript (float64, then rounded to float32 as onnxruntime returns it) and judges the
 * outputs exactly as the real check judges onnxruntime's (`compareToReference`), so the
 * coordinator verifies the report like any other. `durationMs` is how long the simulated check
 * was made to take.
 */
export function simulatedHealthReport(options: { attempt: number; trigger: string; durationMs: number; ranAtUnixMs?: number }): HealthCheckReport {
  const started = performance.now();
  const model = referenceModel();
  const outputs = Array.from(model.expected, Math.fround);
  const inferenceMs = performance.now() - started;
  const verdict = compareToReference(outputs);
  return {
    referenceModelId: REFERENCE_MODEL_ID,
    referenceModelSha256: model.sha256,
    passed: verdict.ok,
    error: verdict.ok ? '' : verdict.reason,
    outputs,
    durationMs: options.durationMs,
    // The time the simulated runtime took to produce the outputs (microseconds: no model runs).
    inferenceMs: Math.round(inferenceMs * 1000) / 1000,
    ranAtUnixMs: options.ranAtUnixMs ?? Date.now(),
    attempt: options.attempt,
    trigger: options.trigger,
    nextAttemptAtUnixMs: 0,
    executionProvider: SIMULATED_PROVIDER,
  };
}
