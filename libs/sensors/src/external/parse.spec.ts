// Parsers of external runtimes against RECORDED-SHAPE FIXTURES (../fixtures), not live tools.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PercentileStatus, type Manifest } from '@benchfarm/protocol';
import { recordedCommands } from '../fake-device.fixture';
import { parseBenchmarkAppOutput, parseBenchmarkModelOutput, parseTrtexecOutput } from './parse';
import { externalCommand, externalResultToSummary, runExternalRuntime } from './run';

const fixture = (name: string): string => readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');

describe('trtexec', () => {
  it('reads the performance summary, the query count and the version', () => {
    const r = parseTrtexecOutput(fixture('trtexec-8.6-fp16.txt'));
    expect(r).toMatchObject({ runtime: 'trtexec', version: '8.6.1', throughputQps: 471.204, minMs: 2.05347, maxMs: 2.81055, meanMs: 2.11862, count: 1416, durationMs: 3005.07 });
    expect([...r.percentilesMs]).toEqual([[0.5, 2.10742], [0.9, 2.15039], [0.95, 2.17773], [0.99, 2.3291]]);
  });
  it('a run that failed before its summary is an error naming the field', () => {
    expect(() => parseTrtexecOutput('&&&& FAILED TensorRT.trtexec [TensorRT v8601]\n')).toThrow(/trtexec Throughput/);
  });
  it('builds fp16 / int8 / DLA command lines', () => {
    expect(externalCommand({ runtime: 'trtexec', toolPath: 'trtexec', modelPath: 'm.onnx', precision: 'int8', durationSeconds: 3, device: 'DLA0' }).args).toEqual(['--onnx=m.onnx', '--duration=3', '--warmUp=1000', '--int8', '--fp16', '--useDLACore=0', '--allowGPUFallback']);
    expect(() => externalCommand({ runtime: 'trtexec', toolPath: 'trtexec', modelPath: 'm.onnx', precision: 'fp16', durationSeconds: 0 })).toThrow(/durationSeconds/);
  });
});

describe('OpenVINO benchmark_app', () => {
  it('reads count, duration, latency block, throughput, device and build', () => {
    const r = parseBenchmarkAppOutput(fixture('benchmark_app-2024.0.txt'));
    expect(r).toMatchObject({ version: '2024.0.0-14509-34caeefd078-releases/2024/0', count: 733, durationMs: 10010.39, meanMs: 13.57, minMs: 12.86, maxMs: 21.33, throughputQps: 73.22, device: 'CPU' });
    expect(r.percentilesMs.get(0.5)).toBe(13.41);
  });
  it('rejects output without the statistics report', () => {
    expect(() => parseBenchmarkAppOutput('[Step 1/11] Parsing and validating input arguments\n')).toThrow(/benchmark_app Throughput/);
  });
});

describe('TFLite benchmark_model', () => {
  it('takes the measured (last) statistics line in µs, not the warm-up one', () => {
    const r = parseBenchmarkModelOutput(fixture('benchmark_model-2.16.txt'));
    expect(r).toMatchObject({ count: 76, meanMs: 13.1703, minMs: 12.95, maxMs: 14.31, stdMs: 0.22, initMs: 3.456, firstInferenceMs: 20.344 });
    expect(r.percentilesMs.get(0.5)).toBe(13.101);
    expect(r.throughputQps).toBeCloseTo(1000 / 13.1703, 6);
  });
});

describe('into the result schema', () => {
  const manifest: Manifest = { variantSha256: 'ab', onnxruntimeVersion: '', executionProvider: '', intraOpThreads: 0, interOpThreads: 0, batch: 1, inputShapes: '', seed: 0, agentVersion: '0.1.0', os: 'linux', osRelease: '', cpuModel: '', nodeVersion: '', graphOptimizationLevel: '' };
  it('records the runtime, keeps reported figures and lists the ones the tool does not report', async () => {
    const commands = recordedCommands({ 'trtexec --onnx=m.onnx --duration=3 --warmUp=1000 --fp16': fixture('trtexec-8.6-fp16.txt') });
    const { result, commandLine } = await runExternalRuntime(commands, { runtime: 'trtexec', toolPath: 'trtexec', modelPath: 'm.onnx', precision: 'fp16', durationSeconds: 3 });
    const s = externalResultToSummary(result, { precision: 'fp16', commandLine, modelFileSizeBytes: 10, manifest });
    expect(s.externalRuntime).toMatchObject({ runtime: 'trtexec', version: '8.6.1', precision: 'fp16', command: 'trtexec --onnx=m.onnx --duration=3 --warmUp=1000 --fp16' });
    expect(s.manifest?.executionProvider).toBe('trtexec');
    expect(s.count).toBe(1416);
    expect(s.percentiles.find((p) => p.quantile === 0.99)).toMatchObject({ valueMs: 2.3291, status: PercentileStatus.PERCENTILE_STATUS_OK });
    expect(s.unmeasured.map((u) => u.field)).toEqual(expect.arrayContaining(['std_ms', 'session_creation_ms', 'first_inference_ms', 'peak_rss_bytes']));
  });
});
