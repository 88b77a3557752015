import { PercentileStatus, type Manifest, type Percentile, type Summary, type Unmeasured } from '@benchfarm/protocol';
import { SensorConfigError } from '../errors';
import type { CommandRunner } from '../io';
import { parseBenchmarkAppOutput, parseBenchmarkModelOutput, parseTrtexecOutput, type ExternalRunResult, type ExternalRuntime } from './parse';

/** One run of an external tool. */
export interface ExternalRunSpec {
  runtime: ExternalRuntime;
  /** Path of the tool (from findExternalRuntimes) or its name on PATH. */
  toolPath: string;
  /** .onnx for trtexec, .onnx/.xml for benchmark_app, .tflite for benchmark_model. */
  modelPath: string;
  precision: 'fp32' | 'fp16' | 'int8';
  /** benchmark_app device (CPU, GPU, NPU); trtexec: "GPU" or "DLA0"/"DLA1". */
  device?: string;
  /** How long the tool measures. */
  durationSeconds: number;
  threads?: number;
}

/** The command line that runs a spec; throws SensorConfigError naming the field it cannot honour. */
export function externalCommand(spec: ExternalRunSpec): { command: string; args: string[] } {
  if (!(spec.durationSeconds > 0)) throw new SensorConfigError([`durationSeconds: must be > 0, got ${spec.durationSeconds}`]);
  switch (spec.runtime) {
    case 'trtexec': {
      const args = [`--onnx=${spec.modelPath}`, `--duration=${Math.ceil(spec.durationSeconds)}`, '--warmUp=1000'];
      if (spec.precision === 'fp16') args.push('--fp16');
      // int8 without a calibration cache measures speed only: TensorRT uses placeholder scales.
      if (spec.precision === 'int8') args.push('--int8', '--fp16');
      const dla = /^DLA(\d)$/.exec(spec.device ?? '');
      if (dla) args.push(`--useDLACore=${dla[1]}`, '--allowGPUFallback');
      return { command: spec.toolPath, args };
    }
    case 'openvino-benchmark_app': {
      const args = ['-m', spec.modelPath, '-d', spec.device ?? 'CPU', '-t', String(Math.ceil(spec.durationSeconds)), '-hint', 'latency'];
      if (spec.precision !== 'fp32') args.push('-infer_precision', spec.precision === 'fp16' ? 'f16' : 'i8');
      if (spec.threads) args.push('-nthreads', String(spec.threads));
      return { command: spec.toolPath, args };
    }
    case 'tflite-benchmark_model': {
      if (spec.precision === 'fp16') throw new SensorConfigError(['precision: benchmark_model runs the .tflite as converted; give an fp16 .tflite and precision fp32']);
      const args = [`--graph=${spec.modelPath}`, `--min_secs=${spec.durationSeconds}`, '--warmup_min_secs=1'];
      if (spec.threads) args.push(`--num_threads=${spec.threads}`);
      return { command: spec.toolPath, args };
    }
    default: {
      const never: never = spec.runtime;
      throw new SensorConfigError([`runtime: unknown ${String(never)}`]);
    }
  }
}

/** Parses a tool's output by runtime. */
export function parseExternalOutput(runtime: ExternalRuntime, text: string): ExternalRunResult {
  switch (runtime) {
    case 'trtexec':
      return parseTrtexecOutput(text);
    case 'openvino-benchmark_app':
      return parseBenchmarkAppOutput(text);
    case 'tflite-benchmark_model':
      return parseBenchmarkModelOutput(text);
    default: {
      const never: never = runtime;
      throw new SensorConfigError([`runtime: unknown ${String(never)}`]);
    }
  }
}

/** Runs the tool (it must be installed) and parses its report. */
export async function runExternalRuntime(commands: CommandRunner, spec: ExternalRunSpec): Promise<{ result: ExternalRunResult; commandLine: string }> {
  const { command, args } = externalCommand(spec);
  // Engine building (trtexec) can take minutes on a Jetson before the timed part starts.
  const out = await commands.run(command, args, { timeoutMs: spec.durationSeconds * 1000 + 15 * 60_000 });
  // trtexec and benchmark_app log to stdout, benchmark_model to stderr.
  return { result: parseExternalOutput(spec.runtime, `${out.stdout}\n${out.stderr}`), commandLine: [command, ...args].join(' ') };
}

/**
 * The same result schema as an onnxruntime-node run: what the tool reported is filled in,
 * what it did not report is listed in `unmeasured` (left 0 in the proto3 scalar), and the
 * runtime, precision and command are recorded in `external_runtime`.
 */
export function externalResultToSummary(
  result: ExternalRunResult,
  context: { precision: string; commandLine: string; modelFileSizeBytes: number; manifest: Manifest },
): Summary {
  const unmeasured: Unmeasured[] = [];
  const need = (value: number | undefined, field: string): number => {
    if (value === undefined) {
      unmeasured.push({ field, reason: `${result.runtime} does not report it` });
      return 0;
    }
    return value;
  };
  const percentiles: Percentile[] = [...result.percentilesMs.entries()].sort((a, b) => a[0] - b[0]).map(([quantile, valueMs]) => ({ quantile, valueMs, status: PercentileStatus.PERCENTILE_STATUS_OK, minSamples: 0 }));
  const summary: Summary = {
    count: need(result.count, 'count'),
    meanMs: need(result.meanMs, 'mean_ms'),
    stdMs: need(result.stdMs, 'std_ms'),
    minMs: need(result.minMs, 'min_ms'),
    maxMs: need(result.maxMs, 'max_ms'),
    percentiles,
    throughputQps: need(result.throughputQps, 'throughput_qps'),
    measuredDurationMs: need(result.durationMs, 'measured_duration_ms'),
    warmupQueries: 0,
    warmupDurationMs: 0,
    sessionCreationMs: need(result.initMs, 'session_creation_ms'),
    firstInferenceMs: need(result.firstInferenceMs, 'first_inference_ms'),
    modelFileSizeBytes: context.modelFileSizeBytes,
    stopReason: 'external_runtime',
    manifest: { ...context.manifest, executionProvider: result.runtime },
    unmeasured,
    externalRuntime: { runtime: result.runtime, version: result.version, precision: context.precision, device: result.device ?? '', command: context.commandLine },
  };
  unmeasured.push({ field: 'warmup_queries', reason: `${result.runtime} warms up by time and does not count` }, { field: 'peak_rss_bytes', reason: 'measured by the external tool, not a suite process' });
  return summary;
}
