// `benchfarm variants`: derive, analyse and check variants of a model on this machine, without
// any agent or coordinator.
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { InvalidArgumentError, type Command } from 'commander';
import { median } from '@benchfarm/numerics';
import {
  CalibrationDataError,
  InvalidModelError,
  UnknownVariantError,
  VariantParamError,
  VariantPassError,
  analyseModel,
  compareDetections,
  compareOutputs,
  cocoGroundTruth,
  decodeYolo,
  DETECTION_THRESHOLDS,
  labelledMap,
  parseCocoLabels,
  LabelsError,
  deriveVariant,
  guessYoloLayout,
  interleavedLatencyMs,
  listImages,
  loadCalibration,
  loadImageFeeds,
  parsePreprocessConfig,
  parseVariantList,
  prepareModel,
  prepareOwnVariant,
  OwnVariantError,
  quantizationSensitivity,
  readModelFile,
  runModel,
  splitCalibrationEvaluation,
  type AutoQuantReport,
  type CalibrationSource,
  type Detection,
  type DetectionFidelity,
  type Feeds,
  type FloatTensor,
  type ModelAnalysis,
  type OutputFidelity,
  type PreprocessConfig,
} from '@benchfarm/onnx';
import { table } from './format';
import { autoSearchText, sensitivityHeading, sensitivityTable } from './sensitivity-table';

/** Options of {@link runVariants}. */
export interface VariantsOptions {
  readonly model: string;
  readonly variants: readonly string[];
  readonly outDir: string;
  /** Folder of JPEG images: split into calibration and held-out evaluation images (unless `evaluationDir` is given). */
  readonly calibrationDir?: string;
  readonly evaluationDir?: string;
  /** Preset name, or a path to a JSON file. */
  readonly preprocess?: string;
  /** Seeded random calibration inputs, only when asked; labelled RANDOM in the recipe. */
  readonly randomCalibration?: number;
  readonly shapes?: Record<string, number[]>;
  /** Bring-your-own variants: name -> ONNX file made elsewhere (QAT, distillation, ...). */
  readonly byo?: Readonly<Record<string, string>>;
  /** Interleaved latency rounds per variant (0: latency not measured). */
  readonly latencyRounds?: number;
  readonly threads?: number;
  /** COCO JSON labels of the evaluation images: real mAP@0.5 and mAP@0.5:0.95 per variant (YOLO outputs). */
  readonly labels?: string;
  /**
   * The per-layer sensitivity table: int8-auto's own when it is among the variants and
   * was derived, else measured alone on the calibration images (quantizationSensitivity).
   */
  readonly sensitivity?: boolean;
  readonly log?: (line: string) => void;
}

/** One row of the variants table. */
export interface VariantRow {
  readonly name: string;
  readonly ok: boolean;
  readonly error?: string;
  readonly path?: string;
  readonly analysis?: ModelAnalysis;
  readonly outputs?: OutputFidelity[];
  readonly detection?: DetectionFidelity;
  /** Against the labels, when given. */
  readonly labelled?: { mapAt50: number | undefined; mapAt50To95: number | undefined; reason?: string };
  readonly deriveMs?: number;
  readonly p50Ms?: number;
  readonly recipe?: Record<string, string>;
  /** int8-auto: its sensitivity table and search, whole. */
  readonly report?: AutoQuantReport;
  /** On the fp32 reference row, with `sensitivity` and no int8-auto report: the sensitivity table alone. */
  readonly sensitivity?: AutoQuantReport;
}

/** Thrown for command-line input that cannot be used (exit code 2), naming the option. */
export class VariantsInputError extends Error {
  override name = 'VariantsInputError';
  constructor(
    readonly option: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${option}: ${message}`, options);
  }
}

async function preprocessConfig(options: VariantsOptions): Promise<PreprocessConfig | undefined> {
  const candidates = [options.calibrationDir ? join(options.calibrationDir, 'preprocess.json') : undefined, `${options.model.replace(/\.onnx$/i, '')}.preprocess.json`];
  let text = options.preprocess;
  if (text === undefined) {
    const found = candidates.find((c) => c !== undefined && existsSync(c));
    if (!found) return undefined;
    text = found;
  }
  if (text.endsWith('.json')) {
    let json: unknown;
    try {
      json = JSON.parse(await readFile(text, 'utf8'));
    } catch (err) {
      throw new VariantsInputError('--preprocess', `cannot read ${text} as JSON: ${(err as Error).message}`, { cause: err });
    }
    return parsePreprocessConfig(json);
  }
  return parsePreprocessConfig(text);
}

/**
 * Derives each variant (and takes the bring-your-own files), analyses it, checks it loads in
 * onnxruntime, measures its fidelity against the fp32 reference on evaluation inputs that
 * were not used for calibration, and optionally its p50 latency interleaved with fp32.
 * Variant files land in `outDir` under their digest. A variant that fails is a row with its
 * error; bad input (model, folders, config) throws.
 */
export async function runVariants(options: VariantsOptions): Promise<{ rows: VariantRow[]; evaluation: string; reference: string }> {
  const log = options.log ?? (() => undefined);
  const names = parseVariantList(options.variants.join(','));
  await mkdir(options.outDir, { recursive: true });
  // The coordinator's preparation (shape checks, batch 1 by default); onnxruntime runs the file right after.
  const fixed = await prepareModel(options.model, options.shapes, join(options.outDir, 'fp32-reference.onnx'));
  const reference = fixed.path;

  const preprocess = await preprocessConfig(options);
  const imageInput = fixed.inputs.length === 1 ? fixed.inputs[0] : undefined;
  let calibration: CalibrationSource | undefined;
  // int8-auto checks its choice on the evaluation images (never calibrated or searched on).
  let holdout: CalibrationSource | undefined;
  let evaluationFeeds: Feeds[];
  let evaluation: string;
  let evaluationFiles: string[] = [];
  if (options.calibrationDir) {
    if (!preprocess) throw new VariantsInputError('--preprocess', `images need a preprocessing config: a preset (yolox, yolo, imagenet), a JSON file, or preprocess.json in the calibration folder`);
    if (!imageInput) throw new VariantsInputError('--calibration', `image calibration feeds a model with one input; this one has ${fixed.inputs.length}`);
    const files = await listImages(options.calibrationDir, '--calibration');
    const split = options.evaluationDir ? { calibration: files, evaluation: await listImages(options.evaluationDir, '--eval') } : splitCalibrationEvaluation(files);
    calibration = { kind: 'images', dir: options.calibrationDir, files: split.calibration, preprocess: options.preprocess && !options.preprocess.endsWith('.json') ? options.preprocess : preprocess };
    evaluationFiles = split.evaluation;
    if (split.evaluation.length > 0) holdout = { kind: 'images', files: split.evaluation, preprocess: calibration.preprocess };
    evaluationFeeds = await loadImageFeeds(split.evaluation, imageInput.name, imageInput.shape, preprocess, options.evaluationDir ? '--eval' : '--calibration');
    evaluation = `${split.evaluation.length} held-out images (${split.evaluation.map((f) => basename(f)).join(', ')}); calibration on ${split.calibration.length} others`;
  } else {
    if (options.sensitivity) throw new VariantsInputError('--sensitivity', 'the sensitivity table is measured on real images: give --calibration <dir> (random inputs would say nothing about accuracy on real ones)');
    if (options.randomCalibration !== undefined) calibration = { kind: 'random', count: options.randomCalibration, seed: 1, min: 0, max: 1 };
    evaluationFeeds = [];
    for (let k = 0; k < 4; k++) {
      const feed: Record<string, FloatTensor> = {};
      for (const input of fixed.inputs) {
        const size = input.shape.reduce((a, b) => a * b, 1);
        const data = new Float32Array(size);
        let s = 1234 + k;
        for (let i = 0; i < size; i++) {
          s = (s * 1103515245 + 12345) % 2147483648;
          data[i] = s / 2147483648;
        }
        feed[input.name] = { data, dims: input.shape };
      }
      evaluationFeeds.push(feed);
    }
    evaluation = '4 RANDOM uniform [0,1) inputs (no image folder given): fidelity on random data says little about real inputs';
  }

  const refOutputs = await runModel(reference, evaluationFeeds);
  const outputNames = [...(refOutputs[0]?.keys() ?? [])];
  const inputHw: [number, number] | undefined = imageInput && imageInput.shape.length === 4 ? [imageInput.shape[2] ?? 0, imageInput.shape[3] ?? 0] : undefined;
  const rows: VariantRow[] = [];
  let truth: (Detection[] | undefined)[] | undefined;
  if (options.labels) {
    if (evaluationFiles.length === 0 || !inputHw || !preprocess) throw new VariantsInputError('--labels', 'labels score evaluation images: give --calibration (or --eval) images too');
    let json: unknown;
    try {
      json = JSON.parse(await readFile(options.labels, 'utf8'));
    } catch (err) {
      throw new VariantsInputError('--labels', `cannot read ${options.labels} as JSON: ${(err as Error).message}`, { cause: err });
    }
    truth = cocoGroundTruth(parseCocoLabels(json), evaluationFiles, inputHw, preprocess.resize);
    if (truth.every((t) => t === undefined)) throw new VariantsInputError('--labels', `none of the evaluation images (${evaluationFiles.map((f) => basename(f)).join(', ')}) is in ${options.labels}`);
  }
  const fidelity = async (path: string): Promise<Pick<VariantRow, 'outputs' | 'detection' | 'labelled'>> => {
    const outs = await runModel(path, evaluationFeeds);
    const outputs = outputNames.map((name) =>
      compareOutputs(
        name,
        refOutputs.map((m) => m.get(name) as FloatTensor),
        outs.map((m) => m.get(name) as FloatTensor),
      ),
    );
    const first = outputNames[0];
    const layout = first && inputHw && outputNames.length === 1 ? guessYoloLayout(refOutputs[0]?.get(first)?.dims ?? [], inputHw) : undefined;
    if (!layout || !first || !inputHw) return { outputs };
    const detection = compareDetections(
      refOutputs.map((m) => m.get(first) as FloatTensor),
      outs.map((m) => m.get(first) as FloatTensor),
      layout,
      inputHw,
    );
    if (!truth) return { outputs, detection };
    const labelledIdx = truth.flatMap((t, i) => (t ? [i] : []));
    const predictions = labelledIdx.map((i) => decodeYolo(outs[i]?.get(first) as FloatTensor, { layout, inputHw, scoreThreshold: DETECTION_THRESHOLDS.variantScore, iouThreshold: DETECTION_THRESHOLDS.nmsIou }));
    return { outputs, detection, labelled: labelledMap(labelledIdx.map((i) => truth?.[i] ?? []), predictions) };
  };

  const refAnalysis = await analyseModel(fixed.model, await readFile(reference));
  rows.push({ name: 'fp32 (reference)', ok: true, path: reference, analysis: refAnalysis, ...(await fidelity(reference)) });
  for (const name of names) {
    log(`deriving ${name} ...`);
    const started = performance.now();
    try {
      const derived = await deriveVariant(name, reference, options.outDir, { isolated: false, ...(calibration ? { calibration } : {}), ...(holdout ? { holdout } : {}) });
      const deriveMs = performance.now() - started;
      const loaded = await readModelFile(derived.path);
      rows.push({ name, ok: true, path: derived.path, deriveMs, recipe: derived.recipe, ...(derived.report ? { report: derived.report } : {}), analysis: await analyseModel(loaded.model, loaded.bytes), ...(await fidelity(derived.path)) });
    } catch (err) {
      if (err instanceof UnknownVariantError || err instanceof VariantParamError) throw err;
      if (!(err instanceof VariantPassError || err instanceof InvalidModelError || err instanceof CalibrationDataError)) throw err;
      rows.push({ name, ok: false, error: err.message, deriveMs: performance.now() - started });
    }
  }
  for (const [name, path] of Object.entries(options.byo ?? {})) {
    try {
      // The coordinator's bring-your-own checks; the copy with the base model's input shapes is what runs.
      const own = await prepareOwnVariant(name, path, fixed, join(options.outDir, `own-${basename(name)}.onnx`));
      rows.push({ name: `${name} (brought)`, ok: true, path: own.path, recipe: { ...own.recipe, source: resolve(path) }, analysis: await analyseModel(own.model, await readFile(own.path)), ...(await fidelity(own.path)) });
    } catch (err) {
      if (err instanceof OwnVariantError && (err.problem === 'inputs_differ' || err.problem === 'outputs_differ')) throw new VariantsInputError('--add', err.message, { cause: err });
      rows.push({ name: `${name} (brought)`, ok: false, error: (err as Error).message });
    }
  }
  if (options.sensitivity && calibration && !rows.some((r) => r.report)) {
    log('sensitivity: each layer quantized alone, on the calibration images ...');
    const data = await loadCalibration(calibration, fixed.model);
    let sensitivity: AutoQuantReport;
    try {
      sensitivity = await quantizationSensitivity(fixed.model, data.feeds, undefined, `real images: ${data.recipe.calibrationData ?? 'calibration'}`);
    } catch (err) {
      if (err instanceof VariantPassError || err instanceof VariantParamError) throw new VariantsInputError('--sensitivity', err.message, { cause: err });
      throw err;
    }
    rows[0] = { ...(rows[0] as VariantRow), sensitivity };
  }
  if ((options.latencyRounds ?? 0) > 0) await measureLatency(rows, evaluationFeeds[0] ?? {}, options.latencyRounds ?? 0, options.threads, log);
  return { rows, evaluation, reference };
}

/** p50 latency per row, the models run in turn round after round so that drift hits all alike. */
async function measureLatency(rows: VariantRow[], feed: Feeds, rounds: number, threads: number | undefined, log: (line: string) => void): Promise<void> {
  const live = rows.filter((r) => r.ok && r.path);
  log(`latency: ${rounds} interleaved rounds x ${live.length} models`);
  const times = await interleavedLatencyMs(live.map((r) => r.path ?? ''), feed, rounds, threads ? { intraOpThreads: threads } : {});
  for (const [i, r] of live.entries()) Object.assign(r, { p50Ms: median(times[i] ?? []) });
}

const MB = 1024 * 1024;

/** The table `benchfarm variants` prints. */
export function variantsTable(rows: readonly VariantRow[]): string {
  const ref = rows[0];
  const refP50 = ref?.p50Ms;
  const withLabels = rows.some((r) => r.labelled);
  const body = rows.map((r) => {
    if (!r.ok || !r.analysis) return [r.name, ...(withLabels ? ['-', '-'] : []), '-', '-', '-', '-', '-', '-', '-', '-', '-', '-', 'no', r.deriveMs !== undefined ? (r.deriveMs / 1000).toFixed(1) : '-'];
    const a = r.analysis;
    const worst = (r.outputs ?? []).reduce<OutputFidelity | undefined>((w, o) => (!w || o.cosine < w.cosine ? o : w), undefined);
    const map = r.detection ? (r.detection.mapAt50 === undefined ? `n/a (${r.detection.reason ?? ''})` : r.detection.mapAt50.toFixed(3)) : '-';
    const labelled = r.labelled ? [r.labelled.mapAt50?.toFixed(3) ?? 'n/a', r.labelled.mapAt50To95?.toFixed(3) ?? 'n/a'] : [];
    return [
      r.name,
      ...labelled,
      (a.fileSizeBytes / MB).toFixed(2),
      (a.compressedSizeBytes / MB).toFixed(2),
      a.parameterCount.toLocaleString('en-US'),
      (a.macs / 1e9).toFixed(3),
      `${(a.sparsity * 100).toFixed(1)}%`,
      worst ? worst.cosine.toFixed(5) : '-',
      worst ? (worst.snrDb !== undefined && Number.isFinite(worst.snrDb) ? worst.snrDb.toFixed(1) : 'inf') : '-',
      worst ? worst.maxAbsError.toPrecision(3) : '-',
      map,
      r.p50Ms !== undefined ? `${r.p50Ms.toFixed(1)}${refP50 ? ` (${(r.p50Ms / refP50).toFixed(2)}x)` : ''}` : '-',
      'yes',
      r.deriveMs !== undefined ? (r.deriveMs / 1000).toFixed(1) : '-',
    ];
  });
  const out = [table(['variant', ...(withLabels ? ['mAP@0.5 (labels)', 'mAP@.5:.95 (labels)'] : []), 'size MB', 'deflated MB', 'params', 'GMACs', 'sparsity', 'cosine', 'SNR dB', 'max abs err', 'mAP@0.5 vs fp32', 'p50 ms', 'loads in ORT', 'derive s'], body)];
  const failed = rows.filter((r) => !r.ok);
  if (failed.length > 0) out.push('', 'not derived:', ...failed.map((r) => `  ${r.name}: ${r.error ?? ''}`));
  const files = rows.filter((r) => r.ok && r.path).map((r) => `  ${r.name}: ${r.path}`);
  out.push('', 'files:', ...files);
  return out.join('\n');
}

/**
 * What `benchfarm variants` prints after its table about int8-auto: each int8-auto variant's
 * search (floor, steps, search and held-out accuracy), and with `withTable` the ranked
 * sensitivity table (int8-auto's own, or the one measured alone on the reference row).
 */
export function autoQuantSection(rows: readonly VariantRow[], withTable: boolean): string {
  const out: string[] = [];
  for (const r of rows) {
    if (r.report) {
      out.push('', `${r.name}: ${autoSearchText(r.report)}`);
      if (withTable) out.push('', ...sensitivityHeading(r.report, `${r.name} sensitivity`), sensitivityTable(r.report));
    }
    if (r.sensitivity && withTable) out.push('', ...sensitivityHeading(r.sensitivity, 'sensitivity (no int8-auto search: the table alone)'), sensitivityTable(r.sensitivity));
  }
  return out.join('\n');
}

function parseByo(values: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    if (eq <= 0) throw new InvalidArgumentError(`--add takes name=path.onnx, got ${JSON.stringify(v)}`);
    out[v.slice(0, eq)] = v.slice(eq + 1);
  }
  return out;
}

function parseShapes(text: string): Record<string, number[]> {
  const shapes: Record<string, number[]> = {};
  for (const part of text.split(/[,;]/).map((p) => p.trim()).filter(Boolean)) {
    const colon = part.lastIndexOf(':');
    const dims = part.slice(colon + 1).split('x').map(Number);
    if (colon <= 0 || dims.some((d) => !Number.isInteger(d) || d <= 0)) throw new InvalidArgumentError(`--shapes: ${JSON.stringify(part)} is not "input:1x3x224x224"`);
    shapes[part.slice(0, colon)] = dims;
  }
  return shapes;
}

/** Registers `benchfarm variants` on the program. */
export function registerVariantsCommand(program: Command): void {
  program
    .command('variants')
    .description('derive variants of a model on this machine (no agent): write the files, print size, params, MACs, sparsity, fidelity vs fp32 and whether onnxruntime loads them')
    .argument('<model>', 'an ONNX file')
    .option('--variants <list>', 'comma-separated: fp16, int8-static[:options], int8-dynamic, prune-l1:<ratio>, prune-channels:<ratio>, ort-basic, ...', 'fp16,int8-static')
    .option('--calibration <dir>', 'folder of JPEG images: every third image is held out for fidelity, the rest calibrate')
    .option('--eval <dir>', 'evaluation images (then every calibration image calibrates)')
    .option('--preprocess <preset|file.json>', 'yolox, yolo, imagenet, or a JSON config (default: preprocess.json in the calibration folder, or <model>.preprocess.json)')
    .option('--random-calibration <n>', 'calibrate on n seeded random inputs (labelled RANDOM in the recipe); only when asked', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('--random-calibration must be an integer >= 1');
      return n;
    })
    .option('--shapes <input:1x3xHxW,...>', 'fix dynamic input dims', parseShapes)
    .option('--add <name=file.onnx...>', 'bring-your-own variants made elsewhere (QAT, distillation, ...)', (v: string, all: string[] = []) => [...all, v])
    .option('--out <dir>', 'where variant files are written', '.benchfarm/variants')
    .option('--latency <rounds>', 'also measure p50 latency, fp32 and variants interleaved, this many rounds', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('--latency must be an integer >= 1');
      return n;
    })
    .option('--threads <n>', 'intra-op threads for the latency runs', (v) => Number(v))
    .option('--labels <coco.json>', 'COCO JSON labels of the evaluation images: real mAP@0.5 and mAP@0.5:0.95 per variant')
    .option('--sensitivity', 'print the ranked per-layer sensitivity table (each layer quantized alone vs fp32, its share of fp32 time): int8-auto\'s own when it is among --variants, else measured alone on the calibration images; --json keeps it whole')
    .option('--json', 'print the rows as JSON')
    .action(async (model: string, flags: { variants: string; calibration?: string; eval?: string; preprocess?: string; randomCalibration?: number; shapes?: Record<string, number[]>; add?: string[]; out: string; latency?: number; threads?: number; labels?: string; sensitivity?: boolean; json?: boolean }) => {
      try {
        const result = await runVariants({
          model,
          variants: flags.variants.split(','),
          outDir: flags.out,
          ...(flags.calibration ? { calibrationDir: flags.calibration } : {}),
          ...(flags.eval ? { evaluationDir: flags.eval } : {}),
          ...(flags.preprocess ? { preprocess: flags.preprocess } : {}),
          ...(flags.randomCalibration ? { randomCalibration: flags.randomCalibration } : {}),
          ...(flags.shapes ? { shapes: flags.shapes } : {}),
          ...(flags.add ? { byo: parseByo(flags.add) } : {}),
          ...(flags.latency ? { latencyRounds: flags.latency } : {}),
          ...(flags.threads ? { threads: flags.threads } : {}),
          ...(flags.labels ? { labels: flags.labels } : {}),
          ...(flags.sensitivity ? { sensitivity: true } : {}),
          log: (line) => process.stderr.write(`${line}\n`),
        });
        if (flags.json) process.stdout.write(`${JSON.stringify(result.rows.map(({ analysis, ...r }) => ({ ...r, analysis: analysis ? { ...analysis, nodes: undefined } : undefined })), null, 2)}\n`);
        else process.stdout.write(`model ${model}\nfidelity on ${result.evaluation}\n\n${variantsTable(result.rows)}\n${autoQuantSection(result.rows, flags.sensitivity === true)}\n`);
        process.exitCode = result.rows.every((r) => r.ok) ? 0 : 1;
      } catch (err) {
        if (err instanceof VariantsInputError || err instanceof LabelsError || err instanceof CalibrationDataError || err instanceof InvalidModelError || err instanceof UnknownVariantError || err instanceof VariantParamError) {
          process.stderr.write(`benchfarm variants: ${err.message}\n`);
          process.exitCode = 2;
          return;
        }
        throw err;
      }
    });
}
