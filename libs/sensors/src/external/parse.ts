import { SensorFormatError } from '../errors';

/** Which external tool produced a result. */
export type ExternalRuntime = 'trtexec' | 'openvino-benchmark_app' | 'tflite-benchmark_model';

/** What an external benchmark tool reported, in benchfarm's units. */
export interface ExternalRunResult {
  runtime: ExternalRuntime;
  version: string;
  /** Measured queries (iterations), when the tool says. */
  count?: number;
  /** Wall time of the measured phase, ms. */
  durationMs?: number;
  throughputQps?: number;
  meanMs?: number;
  minMs?: number;
  maxMs?: number;
  stdMs?: number;
  /** Quantile (0.5, 0.9, ...) -> ms, as the tool reported them. */
  percentilesMs: Map<number, number>;
  /** First inference (ms) and initialisation (ms), when the tool reports them. */
  firstInferenceMs?: number;
  initMs?: number;
  device?: string;
}

const num = (s: string | undefined, field: string): number => {
  const v = Number(s);
  if (s === undefined || !Number.isFinite(v)) throw new SensorFormatError(field, `not a number: ${JSON.stringify(s)}`);
  return v;
};

/**
 * trtexec's performance summary (TensorRT 8.x/10.x):
 * `[I] Throughput: 1043.21 qps`, `[I] Latency: min = 0.91 ms, max = ..., mean = ..., median = ...,
 * percentile(90%) = ... ms, ...`, `[I] Timing trace has 3130 queries over 3.00312 s`, and
 * the version from `&&&& PASSED TensorRT.trtexec [TensorRT v8601]` or `TensorRT version: 8.6.1`.
 */
export function parseTrtexecOutput(text: string): ExternalRunResult {
  const result: ExternalRunResult = { runtime: 'trtexec', version: '', percentilesMs: new Map() };
  const version = /TensorRT version:\s*([\d.]+)/.exec(text)?.[1] ?? /\[TensorRT v(\d+)\]/.exec(text)?.[1];
  result.version = version ?? '';
  const throughput = /\]\s*Throughput:\s*([\d.eE+-]+)\s*qps/.exec(text);
  if (!throughput) throw new SensorFormatError('trtexec Throughput', 'no "Throughput: N qps" line: the run did not reach its performance summary');
  result.throughputQps = num(throughput[1], 'trtexec Throughput');
  const latency = /\]\s*Latency:\s*(.*)$/m.exec(text);
  if (!latency) throw new SensorFormatError('trtexec Latency', 'no "Latency: min = ..." line');
  for (const part of latency[1]!.split(',')) {
    const m = /^\s*(min|max|mean|median|percentile\((\d+(?:\.\d+)?)%\))\s*=\s*([\d.eE+-]+)\s*ms\s*$/.exec(part);
    if (!m) continue;
    const ms = num(m[3], `trtexec Latency ${m[1]}`);
    if (m[1] === 'min') result.minMs = ms;
    else if (m[1] === 'max') result.maxMs = ms;
    else if (m[1] === 'mean') result.meanMs = ms;
    else if (m[1] === 'median') result.percentilesMs.set(0.5, ms);
    else result.percentilesMs.set(num(m[2], 'trtexec percentile') / 100, ms);
  }
  if (result.meanMs === undefined) throw new SensorFormatError('trtexec Latency mean', 'missing from the Latency line');
  const trace = /Timing trace has (\d+) queries over ([\d.]+) s/.exec(text);
  if (trace) {
    result.count = num(trace[1], 'trtexec queries');
    result.durationMs = Math.round(num(trace[2], 'trtexec duration') * 1e6) / 1e3;
  } else {
    const wall = /Total Host Walltime:\s*([\d.]+)\s*s/.exec(text);
    if (wall) result.durationMs = Math.round(num(wall[1], 'trtexec Total Host Walltime') * 1e6) / 1e3;
  }
  return result;
}

/**
 * OpenVINO benchmark_app's statistics report (2022.1+):
 * `[ INFO ] Count:            6624 iterations`, `Duration: 60019.04 ms`, `Latency:` then
 * `Median/Average/Min/Max: N ms`, `Throughput: 110.36 FPS`; version from `Build ... 2024.0.0-...`.
 */
export function parseBenchmarkAppOutput(text: string): ExternalRunResult {
  const result: ExternalRunResult = { runtime: 'openvino-benchmark_app', version: /Build \.+ (\S+)/.exec(text)?.[1] ?? '', percentilesMs: new Map() };
  const throughput = /Throughput:\s*([\d.]+)\s*FPS/.exec(text);
  if (!throughput) throw new SensorFormatError('benchmark_app Throughput', 'no "Throughput: N FPS" line: the statistics report is missing');
  result.throughputQps = num(throughput[1], 'benchmark_app Throughput');
  const count = /Count:\s*(\d+)\s*iterations/.exec(text);
  if (count) result.count = num(count[1], 'benchmark_app Count');
  const duration = /Duration:\s*([\d.]+)\s*ms/.exec(text);
  if (duration) result.durationMs = num(duration[1], 'benchmark_app Duration');
  const devices = /Execution Devices:\s*\[([^\]]*)\]/.exec(text);
  if (devices) result.device = devices[1]!.replace(/['\s]/g, '');
  // Only the overall Latency block: with -latency_percentile or per-group stats, later blocks repeat the keys.
  const block = /Latency:\s*\n((?:.*(?:Median|Average|Min|Max|Percentile).*\n?)+)/.exec(text)?.[1] ?? '';
  for (const m of block.matchAll(/(Median|Average|Min|Max):\s*([\d.]+)\s*ms/g)) {
    const ms = num(m[2], `benchmark_app Latency ${m[1]}`);
    if (m[1] === 'Median') result.percentilesMs.set(0.5, ms);
    else if (m[1] === 'Average') result.meanMs = ms;
    else if (m[1] === 'Min') result.minMs = ms;
    else result.maxMs = ms;
  }
  if (result.meanMs === undefined) throw new SensorFormatError('benchmark_app Latency Average', 'missing from the statistics report');
  return result;
}

/**
 * TFLite benchmark_model: the last `count=76 first=13290 curr=13101 min=12950 max=14310
 * avg=13170.3 std=220` line (µs) is the measured run (the first is warm-up); newer builds
 * add `p5=... median=... p95=...`. Init and first inference from `Inference timings in us:`.
 */
export function parseBenchmarkModelOutput(text: string): ExternalRunResult {
  const result: ExternalRunResult = { runtime: 'tflite-benchmark_model', version: /TensorFlow Lite version:?\s*(\S+)/i.exec(text)?.[1] ?? '', percentilesMs: new Map() };
  const lines = [...text.matchAll(/^(?:INFO:\s*)?count=(\d+)\s+(.*)$/gm)];
  const last = lines[lines.length - 1];
  if (!last) throw new SensorFormatError('benchmark_model count=', 'no "count=N ... avg=..." statistics line');
  result.count = num(last[1], 'benchmark_model count');
  const fields = new Map([...last[2]!.matchAll(/(\w+)=([\d.eE+-]+)/g)].map((m) => [m[1]!, num(m[2], `benchmark_model ${m[1]}`)]));
  const us = (key: string): number | undefined => (fields.has(key) ? fields.get(key)! / 1000 : undefined);
  result.meanMs = us('avg');
  result.minMs = us('min');
  result.maxMs = us('max');
  result.stdMs = us('std');
  if (result.meanMs === undefined) throw new SensorFormatError('benchmark_model avg', 'missing from the statistics line');
  for (const [key, q] of [['p5', 0.05], ['median', 0.5], ['p95', 0.95]] as const) {
    const v = us(key);
    if (v !== undefined) result.percentilesMs.set(q, v);
  }
  result.throughputQps = 1000 / result.meanMs;
  result.durationMs = result.count * result.meanMs;
  const timings = /Inference timings in us:\s*Init:\s*([\d.]+),\s*First inference:\s*([\d.]+)/.exec(text);
  if (timings) {
    result.initMs = num(timings[1], 'benchmark_model Init') / 1000;
    result.firstInferenceMs = num(timings[2], 'benchmark_model First inference') / 1000;
  }
  return result;
}
