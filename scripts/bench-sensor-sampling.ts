// Effect of the agent's 10 Hz power sampling on measured latency. Each round runs the same
// suite job twice in fresh suite processes, once with a JobRecorder sampling a power sensor
// at 10 Hz (plus thermal at 1 Hz) between the suite's BEGIN and END marks, exactly as the
// agent does, and once without; the order alternates every round (on off, off on, ...).
// The sensor is a FIXTURE: a fake Jetson INA3221 hwmon tree in a temp dir, read through the
// real file system, so each sample costs the same file reads as on a Jetson.
//
//   npx tsx scripts/bench-sensor-sampling.ts [--rounds 6] [--seconds 4] [--rate 10]
//
// Prints every round's p50 and mean with sampling on and off and the median on/off ratio;
// the target is |ratio - 1| <= 1%.
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { paddleOcrModelPath } from '@benchfarm/onnx';
import { Scenario, TensorDataType, type Summary } from '@benchfarm/protocol';
import { JobRecorder, ThermalReader, fileSysfsReader, jetsonOrinHwmonTree, probeJetsonHwmon, processCommandRunner, writeFakeTree, type SensorContext } from '@benchfarm/sensors';
import { cpuModel, runSuiteInChild, type SuiteJob } from '@benchfarm/suite';
import { median } from '@benchfarm/numerics';

/** Thrown when a suite process ends without a summary. */
class SuiteRunFailedError extends Error {
  override name = 'SuiteRunFailedError';
}

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '6' }, seconds: { type: 'string', default: '4' }, rate: { type: 'string', default: '10' } } });
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
const rateHz = Number(values.rate);
if (!(Number.isInteger(rounds) && rounds > 0 && seconds > 0 && rateHz > 0)) throw new Error('--rounds, --seconds and --rate must be positive numbers');

const root = mkdtempSync(join(os.tmpdir(), 'bf-sampling-'));
writeFakeTree(root, jetsonOrinHwmonTree());
const ctx: SensorContext = { sysfs: fileSysfsReader(root), commands: processCommandRunner({ PATH: '' }), nowMs: () => performance.now() };
const probe = probeJetsonHwmon(ctx);
if (!probe.source) throw new Error(`fixture sensor not found: ${probe.info.reason}`);
const thermal = new ThermalReader(ctx);

const durationMs = Math.round(seconds * 1000);
const job: SuiteJob = {
  modelPath: paddleOcrModelPath('cls'),
  inputs: [{ name: 'x', dataType: TensorDataType.TENSOR_DATA_TYPE_FLOAT32, shape: [1, 3, 48, 192] }],
  executionProvider: 'cpu',
  intraOpThreads: 1,
  interOpThreads: 0,
  suite: { scenario: Scenario.SCENARIO_SINGLE_STREAM, warmupMinQueries: 50, warmupMinDurationMs: 1000, minQueries: 0, minDurationMs: durationMs, maxDurationMs: durationMs * 2, seed: 1 },
  manifest: { variantSha256: 'bench-sampling', agentVersion: 'bench', batch: 1 },
} as SuiteJob;

async function runOnce(sampling: boolean): Promise<{ summary: Summary; samples: number }> {
  const recorder = sampling ? new JobRecorder(ctx, probe.source, thermal, { powerRateHz: rateHz }) : undefined;
  let summary: Summary | undefined;
  let failure: string | undefined;
  await runSuiteInChild(job, {
    onEvent: (event) => {
      if (event.type === 'mark') {
        if (event.mark === 'measure-begin') recorder?.markBegin();
        else recorder?.markEnd();
      }
      if (event.type === 'summary') summary = event.summary;
      if (event.type === 'error') failure = event.message;
    },
  });
  if (!summary) throw new SuiteRunFailedError(failure ?? 'no summary');
  const recorded = await recorder?.finish(summary.count);
  return { summary, samples: recorded?.power?.sampleCount ?? 0 };
}

const p50 = (s: Summary): number => s.percentiles.find((p) => p.quantile === 0.5)?.valueMs ?? Number.NaN;

console.log(`sensor sampling on/off: ${rateHz} Hz power (fixture INA3221 hwmon tree, real file reads) + 1 Hz thermal, interleaved`);
console.log(`machine: ${cpuModel()}, ${os.availableParallelism()} logical cores; load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log(`model: PP-OCR cls 1x3x48x192, 1 intra-op thread; ${rounds} rounds x ${seconds} s each side`);
// The sampler's own cost, in this process: CPU time per power reading and per thermal snapshot.
for (let i = 0; i < 500; i++) await probe.source.read();
const READS = 5000;
let c0 = process.cpuUsage();
for (let i = 0; i < READS; i++) await probe.source.read();
const readUs = ((c0 = process.cpuUsage(c0)), (c0.user + c0.system) / READS);
c0 = process.cpuUsage();
for (let i = 0; i < READS; i++) thermal.snapshot();
const snapUs = ((c0 = process.cpuUsage(c0)), (c0.user + c0.system) / READS);
console.log(`sampler cost: ${readUs.toFixed(1)} us CPU per power reading, ${snapUs.toFixed(1)} us per thermal snapshot -> ${(((readUs * rateHz + snapUs) / 1e6) * 100).toFixed(3)}% of one core at ${rateHz} Hz + 1 Hz`);
console.log('round  order    on p50 ms  off p50 ms  on mean ms  off mean ms  on samples');
const p50Ratios: number[] = [];
const meanRatios: number[] = [];
try {
  for (let round = 1; round <= rounds; round++) {
    const onFirst = round % 2 === 1;
    const results: Record<'on' | 'off', { summary: Summary; samples: number }> = {} as never;
    for (const side of onFirst ? (['on', 'off'] as const) : (['off', 'on'] as const)) results[side] = await runOnce(side === 'on');
    const { on, off } = results;
    p50Ratios.push(p50(on.summary) / p50(off.summary));
    meanRatios.push(on.summary.meanMs / off.summary.meanMs);
    console.log(`${String(round).padStart(5)}  ${onFirst ? 'on,off' : 'off,on'}  ${p50(on.summary).toFixed(3).padStart(9)}  ${p50(off.summary).toFixed(3).padStart(10)}  ${on.summary.meanMs.toFixed(3).padStart(10)}  ${off.summary.meanMs.toFixed(3).padStart(11)}  ${String(on.samples).padStart(10)}`);
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
const range = (v: number[]): string => `${Math.min(...v).toFixed(3)}..${Math.max(...v).toFixed(3)}`;
console.log(`on/off p50 ratio: median ${median(p50Ratios).toFixed(4)} (${range(p50Ratios)}); mean ratio: median ${median(meanRatios).toFixed(4)} (${range(meanRatios)})`);
console.log(`load average after: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
