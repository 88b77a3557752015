// The accuracy phase of a comparison job: after the latency rounds, every variant
// runs on the evaluation images with the very sessions (execution provider, threads, graph
// optimisation) the rounds timed. Images are read, decoded and preprocessed in a loader thread
// two ahead of their use and their tensors dropped after it, so memory stays that of a few
// images whatever the set.
import { readFile } from 'node:fs/promises';
import type { ImageTruth, RunOutputs } from '@benchfarm/onnx';
import { TensorDataType, type EvaluationResult, type TensorSpec } from '@benchfarm/protocol';
import * as ort from 'onnxruntime-node';
import { messageOf } from './errors';
import type { Feeds } from './inputs';
import type { SuiteEvaluation } from './job';
import { readOwnProcStatusBytes } from './machine';

/** One variant's open session, the reference first. */
export interface EvaluatedVariant {
  readonly name: string;
  readonly sha256: string;
  readonly session: { run(feeds: Feeds): Promise<unknown> };
}

/** Reports images done; must return fast and never throw. */
export type EvaluationProgress = (imagesDone: number, elapsedMs: number) => void;

/** Thrown when the evaluation cannot start: a preprocessing config, labels file or model input it cannot use. */
export class EvaluationSetupError extends Error {
  override name = 'EvaluationSetupError';
  constructor(
    readonly field: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`evaluation.${field}: ${message}`, options);
  }
}

const now = process.hrtime.bigint;
const msSince = (t0: bigint): number => Number(now() - t0) / 1e6;
const round3 = (value: number): number => Math.round(value * 1000) / 1000;
const rssBytes = (): number => readOwnProcStatusBytes('VmRSS') ?? process.memoryUsage.rss();

/** The model input the images fill: the first float32 input of rank 4 with batch 1. */
export function imageInput(inputs: readonly TensorSpec[]): TensorSpec | undefined {
  return inputs.find((i) => i.shape.length === 4 && i.shape[0] === 1 && i.dataType === TensorDataType.TENSOR_DATA_TYPE_FLOAT32);
}

/** What the fidelity figures were measured on, in words. */
export function describeInputs(evaluation: SuiteEvaluation): string {
  const r = evaluation.request;
  const of = r.datasetImages > 0 ? ` of ${r.datasetImages}` : '';
  return `real images: dataset ${r.datasetName || r.datasetId} (${r.images.length}${of} images${r.split ? `; ${r.split}` : ''})`;
}

/**
 * Runs every variant on every evaluation image, reference first, and scores them (libs/onnx's
 * EvaluationAccumulator). A variant whose session fails on an image keeps an error and no
 * figures; the reference failing, or an image that does not decode, ends the phase with that
 * error on every variant still running, so the latency figures of the job are never lost to it.
 *
 * `loadAhead: false` loads each image in this thread when its turn comes (benchmarks compare).
 *
 * Thrown errors: EvaluationSetupError when nothing can be evaluated (bad preprocessing config,
 * unreadable labels, no image input) — the caller records it the same way.
 */
export async function runEvaluationPhase(
  evaluation: SuiteEvaluation,
  inputs: readonly TensorSpec[],
  latencyFeeds: Feeds,
  variants: readonly EvaluatedVariant[],
  onProgress: EvaluationProgress,
  options: { loadAhead?: boolean } = {},
): Promise<EvaluationResult> {
  const started = now();
  const onnx = await import('@benchfarm/onnx');
  const request = evaluation.request;
  const task = request.task as 'detection' | 'classification' | 'fidelity';
  let preprocess: ReturnType<typeof onnx.parsePreprocessConfig>;
  try {
    preprocess = onnx.parsePreprocessConfig(JSON.parse(request.preprocessJson) as unknown);
  } catch (err) {
    throw new EvaluationSetupError('preprocessJson', messageOf(err), { cause: err });
  }
  const input = imageInput(inputs);
  if (!input) throw new EvaluationSetupError('images', `the model has no float32 input of rank 4 with batch 1 for images; inputs: ${inputs.map((i) => `${i.name} [${i.shape.join(', ')}]`).join(', ')}`);
  const dims = input.shape;
  const inputHw: [number, number] = preprocess.layout === 'NCHW' ? [dims[2] ?? 0, dims[3] ?? 0] : [dims[1] ?? 0, dims[2] ?? 0];
  const names = request.images.map((i) => i.name);

  let truth: (ImageTruth | undefined)[] = names.map(() => undefined);
  if (evaluation.labelsPath) {
    let labels: ReturnType<typeof onnx.parseCocoLabels>;
    try {
      labels = onnx.parseCocoLabels(JSON.parse(await readFile(evaluation.labelsPath, 'utf8')) as unknown);
    } catch (err) {
      throw new EvaluationSetupError('labels', `cannot use the labels file ${evaluation.labelsPath}: ${messageOf(err)}`, { cause: err });
    }
    if (task === 'detection') truth = onnx.cocoGroundTruth(labels, names, inputHw, preprocess.resize).map((boxes) => (boxes ? { boxes } : undefined));
    else if (task === 'classification') truth = onnx.cocoImageClasses(labels, names).map((classes) => (classes ? { classes } : undefined));
  }

  const accumulator = new onnx.EvaluationAccumulator({
    task,
    ...(task === 'detection' ? { detectionLayout: request.detectionLayout as 'yolox' | 'yolov5' | 'yolov8' } : {}),
    inputHw,
    variants: variants.map((v) => ({ name: v.name, sha256: v.sha256 })),
    labelled: Boolean(evaluation.labelsPath),
    resamples: request.bootstrapResamples || onnx.DEFAULT_EVALUATION_RESAMPLES,
    seed: request.seed,
    inputs: describeInputs(evaluation),
  });
  const failed = new Set<number>();
  const failAll = (message: string): void => {
    for (let v = 0; v < variants.length; v++) if (!failed.has(v)) {
      accumulator.fail(v, message);
      failed.add(v);
    }
  };

  let loadMs = 0;
  let peakRssBytes = rssBytes();
  let lastProgress = now();
  onProgress(0, 0);
  for await (const loaded of onnx.loadImagesAhead(evaluation.imagePaths, dims, preprocess, { worker: options.loadAhead ?? true })) {
    if (failed.size === variants.length) break;
    const i = loaded.index;
    const name = names[i] ?? loaded.path;
    if ('error' in loaded) {
      failAll(`image ${name} (${loaded.path}) could not be read, decoded or preprocessed: ${loaded.error}`);
      break;
    }
    loadMs += loaded.loadMs;
    const feeds: Feeds = { ...latencyFeeds, [input.name]: new ort.Tensor('float32', loaded.tensor.data, [...loaded.tensor.dims]) };
    accumulator.beginImage(truth[i]);
    for (const [v, variant] of variants.entries()) {
      if (failed.has(v)) continue;
      const runStart = now();
      let outputs: unknown;
      try {
        outputs = await variant.session.run(feeds);
      } catch (err) {
        const message = `onnxruntime failed on image ${name}: ${messageOf(err)}`;
        if (v === 0) failAll(`the reference ${message}; nothing can be compared`);
        else {
          accumulator.fail(v, message);
          failed.add(v);
        }
        continue;
      }
      const inferenceMs = msSince(runStart);
      const postStart = now();
      try {
        accumulator.observe(v, outputs as RunOutputs);
      } catch (err) {
        const message = `outputs of image ${name} cannot be scored: ${messageOf(err)}`;
        if (v === 0) failAll(`the reference's ${message}`);
        else {
          accumulator.fail(v, message);
          failed.add(v);
        }
      }
      accumulator.addTime(v, inferenceMs, msSince(postStart));
      peakRssBytes = Math.max(peakRssBytes, rssBytes());
    }
    if (msSince(lastProgress) >= 1000) {
      lastProgress = now();
      onProgress(i + 1, msSince(started));
    }
  }
  onProgress(accumulator.counts.images, msSince(started));
  return accumulator.result({
    datasetId: request.datasetId,
    datasetName: request.datasetName,
    split: request.split,
    durationMs: round3(msSince(started)),
    loadMs: round3(loadMs),
    peakRssBytes,
  });
}

/**
 * The result of an evaluation that could not start: every variant carries the error, no
 * figure is made up, and the job's latency figures stand.
 */
export function failedEvaluation(evaluation: SuiteEvaluation, variants: readonly Pick<EvaluatedVariant, 'name' | 'sha256'>[], error: string, durationMs: number): EvaluationResult {
  const r = evaluation.request;
  return {
    datasetId: r.datasetId,
    datasetName: r.datasetName,
    task: r.task,
    images: 0,
    labelledImages: 0,
    inputs: describeInputs(evaluation),
    split: r.split,
    variants: variants.map((v, i) => ({ variant: v.name, sha256: v.sha256, reference: i === 0, images: 0, fidelity: [], metrics: [], inferenceMs: 0, postprocessMs: 0, error })),
    durationMs: round3(durationMs),
    loadMs: 0,
    detectionLayout: r.task === 'detection' ? r.detectionLayout : '',
  };
}
