// Harness overhead of the single-stream suite: how much throughput the suite's measuring
// loop (two hrtime reads per query, sample storage, progress checks) and its process setup
// cost against a bare `await session.run(feeds)` loop on the same model, threads and inputs.
//
//   npx tsx scripts/bench-harness.ts [--model PATH] [--rounds 5] [--seconds 5] [--threads N]
//
// Each round runs both in fresh processes, interleaved, with the order swapped every round
// (A B, B A, A B, ...) so that drift (heat, other load) and any first-in-round advantage hit
// both alike. It prints every round's throughputs and the median suite/bare ratio with its
// min and max; the target is a median >= 0.98.
import * as os from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Scenario, TensorDataType } from '@benchfarm/protocol';
import type { Summary, TensorSpec } from '@benchfarm/protocol';
import { cpuModel, runBareLoopInChild, runSuiteInChild, type SuiteJob } from '@benchfarm/suite';
import * as ort from 'onnxruntime-node';
import { paddleOcrModelPath } from '@benchfarm/onnx';
import { median } from '@benchfarm/numerics';

const DEFAULT_MODEL = paddleOcrModelPath('cls');

/** Thrown when the command line cannot describe a bench run. */
class BenchUsageError extends Error {
  override name = 'BenchUsageError';
}

/** Thrown when the suite process reports an error or dies instead of a summary. */
class SuiteRunFailedError extends Error {
  override name = 'SuiteRunFailedError';
}

const ORT_TYPES: Record<string, TensorDataType> = {
  float32: TensorDataType.TENSOR_DATA_TYPE_FLOAT32,
  float16: TensorDataType.TENSOR_DATA_TYPE_FLOAT16,
  float64: TensorDataType.TENSOR_DATA_TYPE_FLOAT64,
  int64: TensorDataType.TENSOR_DATA_TYPE_INT64,
  int32: TensorDataType.TENSOR_DATA_TYPE_INT32,
  int8: TensorDataType.TENSOR_DATA_TYPE_INT8,
  uint8: TensorDataType.TENSOR_DATA_TYPE_UINT8,
  bool: TensorDataType.TENSOR_DATA_TYPE_BOOL,
};

function parseOptions(): { model: string; rounds: number; seconds: number; threads: number } {
  const { values } = parseArgs({
    options: {
      model: { type: 'string', default: DEFAULT_MODEL },
      rounds: { type: 'string', default: '5' },
      seconds: { type: 'string', default: '5' },
      threads: { type: 'string', default: '0' },
    },
  });
  const rounds = Number(values.rounds);
  const seconds = Number(values.seconds);
  const threads = Number(values.threads);
  const problems = [
    ...(Number.isInteger(rounds) && rounds >= 1 ? [] : [`--rounds must be a whole number >= 1, got ${values.rounds}`]),
    ...(seconds > 0 ? [] : [`--seconds must be > 0, got ${values.seconds}`]),
    ...(Number.isInteger(threads) && threads >= 0 ? [] : [`--threads must be a whole number >= 0 (0 = onnxruntime default), got ${values.threads}`]),
  ];
  if (problems.length > 0) throw new BenchUsageError(problems.join('; '));
  return { model: resolve(values.model), rounds, seconds, threads };
}

/**
 * The model's inputs, read from the model itself, with every symbolic dimension fixed: to
 * 1x3x48x192 for the default PaddleOCR classifier (the size it is trained for), else to 1.
 */
async function inputSpecs(modelPath: string): Promise<TensorSpec[]> {
  const session = await ort.InferenceSession.create(modelPath);
  try {
    return session.inputMetadata.map((meta) => {
      if (!meta.isTensor) throw new BenchUsageError(`input ${meta.name} is not a tensor`);
      const dataType = ORT_TYPES[meta.type];
      if (dataType === undefined) throw new BenchUsageError(`input ${meta.name} has type ${meta.type}, which the suite cannot generate`);
      const fallback = modelPath === DEFAULT_MODEL ? [1, 3, 48, 192] : [];
      const shape = meta.shape.map((dim, i) => (typeof dim === 'number' && dim > 0 ? dim : (fallback[i] ?? 1)));
      return { name: meta.name, dataType, shape };
    });
  } finally {
    await session.release();
  }
}

async function runSuite(job: SuiteJob): Promise<Summary> {
  let summary: Summary | undefined;
  let failure: string | undefined;
  await runSuiteInChild(job, {
    onEvent: (event) => {
      if (event.type === 'summary') summary = event.summary;
      if (event.type === 'error') failure = event.message;
    },
  });
  if (!summary) throw new SuiteRunFailedError(failure ?? 'the suite process ended without a summary');
  return summary;
}

const fmt = (value: number, digits = 1): string => value.toFixed(digits);

async function main(): Promise<void> {
  const options = parseOptions();
  const inputs = await inputSpecs(options.model);
  const durationMs = Math.round(options.seconds * 1000);
  const job: SuiteJob = {
    modelPath: options.model,
    inputs,
    executionProvider: 'cpu',
    intraOpThreads: options.threads,
    interOpThreads: 0,
    suite: {
      scenario: Scenario.SCENARIO_SINGLE_STREAM,
      warmupMinQueries: 50,
      warmupMinDurationMs: 1000,
      minQueries: 0,
      minDurationMs: durationMs,
      maxDurationMs: durationMs * 2,
      seed: 1,
    },
    manifest: { variantSha256: 'bench-harness', agentVersion: 'bench', batch: 1 },
  };

  console.log('harness overhead: suite (runSuiteInChild) vs bare `await session.run()` loop, fresh process each');
  console.log(`machine: ${cpuModel()}, ${os.availableParallelism()} logical cores, ${process.platform} ${os.release()} ${process.arch}`);
  console.log(`node ${process.version}, onnxruntime-node ${ort.env.versions.node ?? ort.env.versions.common}`);
  console.log(`model: ${options.model}`);
  console.log(`inputs: ${inputs.map((s) => `${s.name}:${s.shape.join('x')}`).join(';')}, threads: ${options.threads || 'onnxruntime default'}`);
  console.log(`rounds: ${options.rounds} x ${options.seconds} s each side, warm-up ${job.suite.warmupMinDurationMs} ms / ${job.suite.warmupMinQueries} queries`);
  console.log('');
  console.log('round  order  suite q/s   bare q/s   suite/bare  suite p50 ms  suite queries');

  const ratios: number[] = [];
  for (let round = 1; round <= options.rounds; round++) {
    const suiteFirst = round % 2 === 1;
    let summary: Summary | undefined;
    let bareQps = 0;
    for (const side of suiteFirst ? ['suite', 'bare'] : ['bare', 'suite']) {
      if (side === 'suite') summary = await runSuite(job);
      else bareQps = (await runBareLoopInChild(job)).throughputQps;
    }
    const ratio = summary!.throughputQps / bareQps;
    ratios.push(ratio);
    const p50 = summary!.percentiles.find((p) => p.quantile === 0.5)?.valueMs;
    console.log(
      `${String(round).padStart(5)}  ${suiteFirst ? 'S B' : 'B S'}  ${fmt(summary!.throughputQps).padStart(9)}  ${fmt(bareQps).padStart(9)}` +
        `  ${fmt(ratio, 4).padStart(10)}  ${(p50 === undefined ? 'n/a' : fmt(p50, 3)).padStart(12)}  ${String(summary!.count).padStart(13)}`,
    );
  }
  console.log('');
  console.log(`suite/bare throughput: median ${fmt(median(ratios), 4)}, min ${fmt(Math.min(...ratios), 4)}, max ${fmt(Math.max(...ratios), 4)} over ${ratios.length} rounds (target: median >= 0.98)`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? `${err.name}: ${err.message}` : err);
  process.exitCode = 1;
});
