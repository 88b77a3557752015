// The accuracy phase's cost, three figures for docs/BENCHMARKS.md:
//   (a) evaluation time per image against pure inference time of the same images
//       (target: the phase adds at most 50% over the inference it contains);
//   (b) the suite process's RSS while it evaluates 50 and 200 images (target: bounded, not
//       growing with the set: images are streamed from disk one at a time);
//   (c) each variant's interleaved latency in the same comparison job with and without the
//       evaluation (target: within noise: the phase runs after the timed rounds).
//
//   npx tsx scripts/bench-evaluation.ts [--sets 50,200] [--variants fp16,int8-static,int8-dynamic]
//       [--threads 0] [--repeats 2] [--rounds 10] [--round-queries 20] [--work DIR]
//
// Everything runs as an agent runs it: the real suite process (runSuiteInChild) with a
// comparison job that carries an EvaluationRequest, on the YOLOX-nano detector shipped in
// examples/yolox-nano. The N evaluation images are distinct JPEGs made from the 10 labelled
// photos there (horizontal flips, seeded crops, JPEG re-encodes at other qualities, with jpeg-js),
// their COCO boxes moved with them, written to a temporary folder. The suite process's RSS is
// sampled from /proc/<pid>/status every 50 ms and tagged with the phase it last reported.
// Pure inference: this process opens the same variant files with the suite's session options
// and times `session.run` alone on the same images (decoded and preprocessed beforehand,
// untimed), image by image in the order the phase runs them.
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import * as os from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { PREPROCESS_PRESETS, decodeJpeg, deriveVariant, imageToTensor, sha256Hex } from '@benchfarm/onnx';
import { Scenario, TensorDataType, type EvaluationRequest, type SuiteReport, type TensorSpec } from '@benchfarm/protocol';
import { cpuModel, readProcStatusBytes, runSuiteInChild, type SuiteJob } from '@benchfarm/suite';
import { sessionOptions } from '../libs/suite/src/session';
import { makeImageSet } from './eval-image-set';
import { median } from '@benchfarm/numerics';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const EXAMPLE = join(root, 'examples/yolox-nano');
const MODEL = join(EXAMPLE, 'yolox_nano_3class.onnx');
const INPUT: TensorSpec = { name: 'images', dataType: TensorDataType.TENSOR_DATA_TYPE_FLOAT32, shape: [1, 3, 416, 416] };

/** Thrown when the command line cannot describe a bench run. */
class BenchUsageError extends Error {
  override name = 'BenchUsageError';
}

/** Thrown when the suite process reports an error, or a result lacks what the bench reads. */
class BenchRunError extends Error {
  override name = 'BenchRunError';
}

interface Options {
  sets: number[];
  variants: string[];
  threads: number;
  repeats: number;
  rounds: number;
  roundQueries: number;
  work: string | undefined;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      sets: { type: 'string', default: '50,200' },
      variants: { type: 'string', default: 'fp16,int8-static,int8-dynamic' },
      threads: { type: 'string', default: '0' },
      repeats: { type: 'string', default: '2' },
      rounds: { type: 'string', default: '10' },
      'round-queries': { type: 'string', default: '20' },
      work: { type: 'string' },
    },
  });
  const int = (name: string, text: string, min: number): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min) throw new BenchUsageError(`--${name} must be an integer >= ${min}, got ${JSON.stringify(text)}`);
    return n;
  };
  const sets = values.sets.split(',').map((s) => int('sets', s.trim(), 1));
  return {
    sets,
    variants: values.variants.split(',').map((v) => v.trim()).filter(Boolean),
    threads: int('threads', values.threads, 0),
    repeats: int('repeats', values.repeats, 0),
    rounds: int('rounds', values.rounds, 2),
    roundQueries: int('round-queries', values['round-queries'], 1),
    work: values.work,
  };
}

interface Variant {
  name: string;
  sha256: string;
  path: string;
}

async function deriveVariants(names: readonly string[], dir: string): Promise<Variant[]> {
  const variants: Variant[] = [{ name: 'fp32', sha256: sha256Hex(readFileSync(MODEL)), path: MODEL }];
  const calibration = { kind: 'images', dir: join(EXAMPLE, 'calibration'), preprocess: 'yolox' } as const;
  for (const name of names) {
    const derived = await deriveVariant(name, MODEL, dir, { isolated: false, calibration });
    variants.push({ name, sha256: derived.sha256, path: derived.path });
  }
  return variants;
}

interface Evaluation {
  files: string[];
  labelsPath: string;
}

function comparisonJob(variants: readonly Variant[], options: Options, evaluation: Evaluation | undefined): SuiteJob {
  const job: SuiteJob = {
    modelPath: variants[0]!.path,
    inputs: [INPUT],
    executionProvider: 'cpu',
    intraOpThreads: options.threads,
    interOpThreads: 0,
    suite: {
      scenario: Scenario.SCENARIO_SINGLE_STREAM,
      warmupMinQueries: 20,
      warmupMinDurationMs: 500,
      minQueries: 0,
      minDurationMs: 0,
      maxDurationMs: 600_000,
      seed: 1,
      scenarioOptions: { batchSizes: [], concurrency: [], targetQps: 0, latencyBoundMs: 0, searchPeakQps: false, searchSteps: 0, interleaveRounds: options.rounds, roundMinQueries: options.roundQueries, profile: false, profileQueries: 0, profileTop: 0, stabilityTolerancePct: 0, stabilityWindows: 0, bootstrapResamples: 0 },
    },
    manifest: { variantSha256: variants[0]!.sha256, agentVersion: 'bench', batch: 1 },
    comparison: variants.map((v) => ({ variant: v.name, sha256: v.sha256, modelPath: v.path })),
  };
  if (!evaluation) return job;
  const labelsBytes = readFileSync(evaluation.labelsPath);
  const request: EvaluationRequest = {
    datasetId: 'bench',
    datasetName: `bench-${evaluation.files.length}`,
    images: evaluation.files.map((f) => ({ name: basename(f), sha256: '', sizeBytes: 0 })),
    datasetImages: evaluation.files.length,
    split: 'all images (bench)',
    preprocessJson: JSON.stringify(PREPROCESS_PRESETS.yolox),
    task: 'detection',
    detectionLayout: 'yolox',
    labelsSha256: sha256Hex(labelsBytes),
    labelsSizeBytes: labelsBytes.length,
    bootstrapResamples: 0,
    seed: 1,
  };
  return { ...job, evaluation: { request, imagePaths: evaluation.files, labelsPath: evaluation.labelsPath } };
}

interface RssSample {
  phase: string;
  rssBytes: number;
}

interface SuiteRun {
  report: SuiteReport;
  rss: RssSample[];
  hwmBytes: number | undefined;
  wallMs: number;
}


async function runJob(job: SuiteJob): Promise<SuiteRun> {
  let pid: number | undefined;
  let phase = 'start';
  let report: SuiteReport | undefined;
  let failure: string | undefined;
  let hwmBytes: number | undefined;
  const rss: RssSample[] = [];
  const timer = setInterval(() => {
    if (pid === undefined) return;
    const bytes = readProcStatusBytes(pid, 'VmRSS');
    if (bytes !== undefined) rss.push({ phase, rssBytes: bytes });
    hwmBytes = readProcStatusBytes(pid, 'VmHWM') ?? hwmBytes;
  }, 50);
  const started = performance.now();
  try {
    await runSuiteInChild(job, {
      onEvent: (event) => {
        if (event.type === 'started') pid = event.pid;
        if (event.type === 'progress') phase = event.phase;
        if (event.type === 'summary') report = event.summary.report;
        if (event.type === 'error') failure = event.message;
      },
    });
  } finally {
    clearInterval(timer);
  }
  if (!report) throw new BenchRunError(failure ?? 'the suite process ended without a report');
  return { report, rss, hwmBytes, wallMs: performance.now() - started };
}

/** session.run alone on the same images and variants, image-major like the phase; ms summed per variant. */
async function pureInference(variants: readonly Variant[], files: readonly string[], job: SuiteJob): Promise<{ perVariantMs: number[]; totalMs: number }> {
  const sessions = [];
  for (const v of variants) sessions.push(await ort.InferenceSession.create(v.path, sessionOptions(job)));
  const perVariantMs = variants.map(() => 0);
  try {
    // One untimed run each first: the phase's sessions are warm from the latency rounds.
    const warm = imageToTensor(decodeJpeg(await readFile(files[0]!)), INPUT.shape, PREPROCESS_PRESETS.yolox);
    for (const s of sessions) await s.run({ images: new ort.Tensor('float32', warm.data, [...warm.dims]) });
    for (const file of files) {
      const tensor = imageToTensor(decodeJpeg(await readFile(file)), INPUT.shape, PREPROCESS_PRESETS.yolox);
      const feeds = { images: new ort.Tensor('float32', tensor.data, [...tensor.dims]) };
      for (const [i, s] of sessions.entries()) {
        const t0 = process.hrtime.bigint();
        await s.run(feeds);
        perVariantMs[i]! += Number(process.hrtime.bigint() - t0) / 1e6;
      }
    }
  } finally {
    for (const s of sessions) await s.release();
  }
  return { perVariantMs, totalMs: perVariantMs.reduce((a, b) => a + b, 0) };
}

const mb = (bytes: number | undefined): string => (bytes === undefined ? 'n/a' : (bytes / 1024 / 1024).toFixed(1));
const ms = (value: number, digits = 2): string => value.toFixed(digits);
const load = (): string => os.loadavg().map((l) => l.toFixed(2)).join(' ');

async function main(): Promise<void> {
  const options = parseOptions();
  const work = options.work ? resolve(options.work) : await mkdtemp(join(os.tmpdir(), 'bench-evaluation-'));
  console.log('accuracy phase cost: real suite process (runSuiteInChild), comparison job + EvaluationRequest, YOLOX-nano 416x416 (examples/yolox-nano)');
  console.log(`machine: ${cpuModel()}, ${os.availableParallelism()} logical cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${process.platform} ${os.release()} ${process.arch}`);
  console.log(`node ${process.version}, onnxruntime-node ${ort.env.versions.node ?? ort.env.versions.common}, intra-op threads ${options.threads || 'onnxruntime default'}`);
  console.log(`work folder ${work}; load average at start ${load()}`);
  try {
    const variants = await deriveVariants(options.variants, join(work, 'variants'));
    console.log(`variants: ${variants.map((v) => `${v.name} ${v.sha256.slice(0, 12)}`).join(', ')}`);
    console.log(`interleaved rounds: ${options.rounds} x ${options.roundQueries} queries per variant\n`);

    console.log('(a) + (b): evaluation of N distinct images, all variants, after the interleaved rounds');
    console.log('   N  phase ms/img  load ms/img  infer ms/img (in phase)  post ms/img  pure infer ms/img  phase / pure  RSS MB eval start  RSS MB eval max  phase peak MB  VmHWM MB  load avg');
    const withEvaluation: SuiteRun[] = [];
    for (const n of options.sets) {
      const set = await makeImageSet(n, join(work, `images-${n}`));
      const job = comparisonJob(variants, options, set);
      const run = await runJob(job);
      withEvaluation.push(run);
      const e = run.report.evaluation;
      if (!e || e.images === 0) throw new BenchRunError(`no evaluation in the report for ${n} images: ${e?.variants.map((v) => v.error).filter(Boolean).join('; ') ?? 'absent'}`);
      const errors = e.variants.filter((v) => v.error).map((v) => `${v.variant}: ${v.error}`);
      if (errors.length > 0) throw new BenchRunError(`evaluation errors: ${errors.join('; ')}`);
      const inPhase = e.variants.reduce((a, v) => a + v.inferenceMs, 0);
      const post = e.variants.reduce((a, v) => a + v.postprocessMs, 0);
      const pure = await pureInference(variants, set.files, job);
      const evalRss = run.rss.filter((s) => s.phase === 'evaluation').map((s) => s.rssBytes);
      console.log(
        `${String(e.images).padStart(4)}  ${ms(e.durationMs / e.images).padStart(12)}  ${ms(e.loadMs / e.images).padStart(11)}  ${ms(inPhase / e.images).padStart(23)}  ${ms(post / e.images).padStart(11)}` +
          `  ${ms(pure.totalMs / e.images).padStart(17)}  ${ms(e.durationMs / pure.totalMs, 3).padStart(12)}  ${mb(evalRss[0]).padStart(17)}  ${mb(evalRss.length ? Math.max(...evalRss) : undefined).padStart(15)}` +
          `  ${mb(e.peakRssBytes).padStart(13)}  ${mb(run.hwmBytes).padStart(8)}  ${load()}`,
      );
      const metric = (v: (typeof e.variants)[number], name: string): string => {
        const m = v.metrics.find((x) => x.metric === name);
        return m?.value === undefined ? 'n/a' : m.value.toFixed(3);
      };
      console.log(`      per variant: ${e.variants.map((v) => `${v.variant} infer ${ms(v.inferenceMs / e.images)} ms/img (pure ${ms((pure.perVariantMs[variants.findIndex((x) => x.name === v.variant)] ?? NaN) / e.images)}), map50_agreement ${metric(v, 'map50_agreement')}, map50 ${metric(v, 'map50')}`).join('; ')}`);
    }

    console.log('\n(c) interleaved latency of each variant in the same comparison job, with and without the evaluation (alternating runs)');
    const set = await makeImageSet(options.sets[0] ?? 50, join(work, `images-${options.sets[0] ?? 50}`));
    const byMode: Record<'with' | 'without', SuiteReport[]> = { with: [], without: [] };
    for (let r = 0; r < options.repeats; r++) {
      for (const mode of r % 2 === 0 ? (['without', 'with'] as const) : (['with', 'without'] as const)) {
        const run = await runJob(comparisonJob(variants, options, mode === 'with' ? set : undefined));
        byMode[mode].push(run.report);
        const c = run.report.comparison;
        if (!c) throw new BenchRunError('the comparison job returned no comparison');
        console.log(`  run ${r + 1} ${mode.padEnd(7)} ${c.variants.map((v) => `${v.variant} ${ms(v.medianMs, 3)} ms (ratio ${ms(v.ratioToReference, 3)}${v.ratioCi ? ` [${ms(v.ratioCi.low, 3)}, ${ms(v.ratioCi.high, 3)}]` : ''})`).join('  ')}  load ${load()}`);
      }
    }
    if (options.repeats > 0) {
      console.log('  variant        ms with: median (min..max)  ms without: median (min..max)  with/without  ratio to fp32 with  ratio to fp32 without');
      for (const v of variants) {
        const pick = (reports: SuiteReport[], key: 'medianMs' | 'ratioToReference'): number[] => reports.map((rep) => rep.comparison?.variants.find((x) => x.variant === v.name)?.[key] ?? NaN);
        const spread = (values: number[]): string => `${ms(median(values), 3)} (${ms(Math.min(...values), 3)}..${ms(Math.max(...values), 3)})`;
        const w = pick(byMode.with, 'medianMs');
        const wo = pick(byMode.without, 'medianMs');
        console.log(
          `  ${v.name.padEnd(13)}  ${spread(w).padStart(26)}  ${spread(wo).padStart(29)}  ${ms(median(w) / median(wo), 3).padStart(12)}` +
            `  ${ms(median(pick(byMode.with, 'ratioToReference')), 3).padStart(18)}  ${ms(median(pick(byMode.without, 'ratioToReference')), 3).padStart(21)}`,
        );
      }
    }
    console.log(`\nload average at end ${load()}`);
  } finally {
    if (!options.work) await rm(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? `${err.name}: ${err.message}` : err);
  process.exitCode = 1;
});
