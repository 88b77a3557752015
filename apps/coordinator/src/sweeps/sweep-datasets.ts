import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import {
  CalibrationDataError,
  decodeJpeg,
  guessYoloLayout,
  imageToTensor,
  parsePreprocessConfig,
  splitCalibrationEvaluation,
  type PreprocessConfig,
  type RgbImage,
  type YoloLayout,
} from '@benchfarm/onnx';
import { TensorDataType, type EvaluationRequest, type TensorSpec } from '@benchfarm/protocol';
import { DomainError, DomainErrorCode, errorMessage } from '../common/domain-error';
import type { DatasetCatalog, DatasetImageRecord, DatasetRecord } from '../datasets/dataset.types';
import type { EvaluationTask, SweepRequest } from './sweep-request';

/** Bootstrap resamples of every evaluation CI (over images), as the latency CIs use. */
export const EVALUATION_BOOTSTRAP_RESAMPLES = 1000;

/**
 * Calibration images at most: int8-static holds every calibration tensor in memory (a
 * 416x416 input is 2 MB), and a few hundred images are as many as calibration profits from.
 * A bigger calibration split is cut evenly spaced by name, and the cut recorded.
 */
export const CALIBRATION_IMAGES_MAX = 100;

/** The request field a dataset was named in: it is the field every refusal about it names. */
export type DatasetField = 'dataset' | 'calibrationDataset' | 'evaluationDataset';

/** Images of one dataset chosen for one purpose, with the preprocessing they are read with. */
export interface DatasetPart {
  readonly field: DatasetField;
  readonly dataset: DatasetRecord;
  readonly images: readonly DatasetImageRecord[];
  readonly preprocess: PreprocessConfig;
  /** How the preprocessing was given: a preset name, or "config" for an object. */
  readonly preprocessLabel: string;
}

/** A sweep's datasets resolved and split, before the model is looked at. */
export interface SweepDatasets {
  readonly calibration?: DatasetPart;
  readonly evaluation?: DatasetPart;
  /** How calibration and evaluation images were chosen, in words (recipe `split`, EvaluationRequest.split). */
  readonly split: string;
}

/** What the evaluation measures on this model, decided from its outputs (or the request, checked against them). */
export interface EvaluationTarget {
  readonly task: EvaluationTask;
  readonly detectionLayout?: YoloLayout;
  /** Classes the detector / classifier can output; absent for fidelity. */
  readonly classes?: number;
}

/** An output of the prepared model with its declared dims (undefined: symbolic). */
export interface ModelOutput {
  readonly name: string;
  readonly dims: readonly (number | undefined)[] | null;
}

const fail = (field: string, message: string, cause?: unknown): DomainError => new DomainError(DomainErrorCode.InvalidArgument, message, { field, ...(cause === undefined ? {} : { cause }) });

const datasetLabel = (d: DatasetRecord): string => `${d.name} (${d.id.slice(0, 12)})`;

/** Evenly spaced pick of `max` items (by index), deterministic; all when there are no more than `max`. */
export function evenlySpaced<T>(items: readonly T[], max: number): T[] {
  if (items.length <= max) return [...items];
  return Array.from({ length: max }, (_, i) => items[Math.floor((i * items.length) / max)] as T);
}

/** One image per digest (the first by name): two names for the same bytes must not land on both sides of the split. */
function distinctByDigest(images: readonly DatasetImageRecord[]): DatasetImageRecord[] {
  const seen = new Set<string>();
  return images.filter((im) => (seen.has(im.sha256) ? false : (seen.add(im.sha256), true)));
}

function preprocessOf(request: SweepRequest, dataset: DatasetRecord, field: DatasetField): { config: PreprocessConfig; label: string } {
  // The request's own preprocess wins (the user says how this model reads images); else the dataset's; else, for calibration, the legacy calibrationPreprocess.
  const given = request.preprocess ?? dataset.preprocess ?? (field === 'calibrationDataset' ? request.calibrationPreprocess : undefined);
  const from = request.preprocess !== undefined ? 'preprocess' : dataset.preprocess !== undefined ? field : 'calibrationPreprocess';
  if (given === undefined) {
    throw fail('preprocess', `${field} ${datasetLabel(dataset)} has no preprocessing config: give preprocess (a preset: yolox, yolo, imagenet, or a config object) so its images can become the model input`);
  }
  try {
    return { config: parsePreprocessConfig(given), label: typeof given === 'string' ? given : 'config' };
  } catch (err) {
    if (err instanceof CalibrationDataError) throw fail(from, `${from === field ? `the preprocessing stored with ${field} ${datasetLabel(dataset)}` : from}: ${err.message}`, err);
    throw err;
  }
}

/**
 * Resolves the datasets a sweep names and splits them into calibration and evaluation
 * images, deterministically:
 * - `dataset`: its images (sorted by name, one per digest) split as libs/onnx
 *   `splitCalibrationEvaluation` does: every 3rd image from the 2nd is held out for
 *   evaluation, the rest calibrate;
 * - `calibrationDataset` / `evaluationDataset`: all images of each; refused (field
 *   `evaluationDataset`) when the two share an image digest.
 * Calibration is cut to {@link CALIBRATION_IMAGES_MAX}, evaluation to `evaluationImages`,
 * both evenly spaced by name, and every cut is said in `split`. Undefined when the request
 * names no dataset. Thrown ({@link DomainError}): `dataset_not_found` (from the catalog),
 * `invalid_argument` naming the field.
 */
export async function resolveSweepDatasets(request: SweepRequest, catalog: DatasetCatalog | undefined): Promise<SweepDatasets | undefined> {
  const named = (['dataset', 'calibrationDataset', 'evaluationDataset'] as const).filter((f) => request[f] !== undefined);
  if (named.length === 0) return undefined;
  if (!catalog) throw fail(named[0] ?? 'dataset', 'this coordinator keeps no datasets (no dataset catalog is configured)');
  const cuts: string[] = [];
  const capCalibration = (images: readonly DatasetImageRecord[]): DatasetImageRecord[] => {
    const kept = evenlySpaced(images, CALIBRATION_IMAGES_MAX);
    if (kept.length < images.length) cuts.push(`calibration cut to ${kept.length} of ${images.length} images, evenly spaced by name (at most ${CALIBRATION_IMAGES_MAX})`);
    return kept;
  };
  const capEvaluation = (images: readonly DatasetImageRecord[]): DatasetImageRecord[] => {
    const kept = evenlySpaced(images, request.evaluationImages);
    if (kept.length < images.length) cuts.push(`evaluation cut to ${kept.length} of ${images.length} images, evenly spaced by name (evaluationImages ${request.evaluationImages})`);
    return kept;
  };
  const part = (field: DatasetField, dataset: DatasetRecord, images: readonly DatasetImageRecord[]): DatasetPart => {
    const { config, label } = preprocessOf(request, dataset, field);
    return { field, dataset, images, preprocess: config, preprocessLabel: label };
  };
  const nonEmpty = (field: DatasetField, dataset: DatasetRecord): DatasetRecord => {
    if (dataset.images.length === 0) throw fail(field, `${field} ${datasetLabel(dataset)} holds no images`);
    return dataset;
  };

  if (request.dataset !== undefined) {
    const dataset = nonEmpty('dataset', await catalog.resolve(request.dataset, 'dataset'));
    const images = distinctByDigest(dataset.images);
    const duplicates = dataset.images.length - images.length;
    if (images.length < 2) throw fail('dataset', `dataset ${datasetLabel(dataset)} has ${images.length} distinct image(s); a split needs at least 2 (some to calibrate, others to evaluate on)`);
    const byName = new Map(images.map((im) => [im.name, im]));
    const names = splitCalibrationEvaluation(images.map((im) => im.name));
    const pick = (list: readonly string[]) => list.map((n) => byName.get(n)).filter((im): im is DatasetImageRecord => im !== undefined);
    const calibration = capCalibration(pick(names.calibration));
    const evaluation = capEvaluation(pick(names.evaluation));
    const split = [
      `dataset ${datasetLabel(dataset)}: every 3rd image by name from the 2nd held out for evaluation (${names.evaluation.length}), the other ${names.calibration.length} calibrate`,
      ...(duplicates > 0 ? [`${duplicates} image(s) with the digest of an earlier one left out`] : []),
      ...cuts,
    ].join('; ');
    return { calibration: part('dataset', dataset, calibration), evaluation: part('dataset', dataset, evaluation), split };
  }

  const calibrationSet = request.calibrationDataset === undefined ? undefined : nonEmpty('calibrationDataset', await catalog.resolve(request.calibrationDataset, 'calibrationDataset'));
  const evaluationSet = request.evaluationDataset === undefined ? undefined : nonEmpty('evaluationDataset', await catalog.resolve(request.evaluationDataset, 'evaluationDataset'));
  if (calibrationSet && evaluationSet) assertNoSharedImages(calibrationSet.images, evaluationSet.images, `calibrationDataset ${datasetLabel(calibrationSet)}`);
  const calibration = calibrationSet ? part('calibrationDataset', calibrationSet, capCalibration(distinctByDigest(calibrationSet.images))) : undefined;
  const evaluation = evaluationSet ? part('evaluationDataset', evaluationSet, capEvaluation(distinctByDigest(evaluationSet.images))) : undefined;
  if (calibration && evaluation && JSON.stringify(calibration.preprocess) !== JSON.stringify(evaluation.preprocess)) {
    throw fail('preprocess', `calibrationDataset and evaluationDataset are preprocessed differently (${calibration.preprocessLabel} vs ${evaluation.preprocessLabel}); the variants would be calibrated on other inputs than they are evaluated on: give preprocess to use one config for both`);
  }
  const split = [
    ...(calibrationSet ? [`calibration: every image of calibrationDataset ${datasetLabel(calibrationSet)}`] : []),
    ...(evaluationSet ? [`evaluation: every image of evaluationDataset ${datasetLabel(evaluationSet)}`] : []),
    ...(calibrationSet && evaluationSet ? ['no image digest in both'] : []),
    ...cuts,
  ].join('; ');
  return { ...(calibration ? { calibration } : {}), ...(evaluation ? { evaluation } : {}), split };
}

/**
 * Refuses (field `evaluationDataset`) evaluation images that are also calibration images
 * (same SHA-256): a variant must never be scored on the images it was calibrated on.
 */
export function assertNoSharedImages(calibration: readonly { name: string; sha256: string }[], evaluation: readonly DatasetImageRecord[], calibrationLabel: string): void {
  const calibrationDigests = new Map(calibration.map((im) => [im.sha256, im.name]));
  const shared = evaluation.filter((im) => calibrationDigests.has(im.sha256));
  if (shared.length === 0) return;
  const examples = shared.slice(0, 3).map((im) => `${im.name} (= ${calibrationDigests.get(im.sha256) ?? '?'})`).join(', ');
  throw fail('evaluationDataset', `evaluationDataset shares ${shared.length} image(s) with ${calibrationLabel} (same SHA-256): ${examples}${shared.length > 3 ? ', ...' : ''}; calibration and evaluation images must not overlap`);
}

/** Height and width of an image input read with this config's layout. */
function inputHwOf(dims: readonly number[], config: PreprocessConfig): [number, number] {
  return config.layout === 'NCHW' ? [dims[2] ?? 0, dims[3] ?? 0] : [dims[1] ?? 0, dims[2] ?? 0];
}

const dimsText = (o: ModelOutput): string => `${o.name} [${(o.dims ?? []).map((d) => d ?? '?').join(', ')}]`;

/**
 * What an evaluation measures on a model, from its declared output dims: an output in a
 * YOLO-family layout (libs/onnx `guessYoloLayout` for the input size) makes it a detector, a
 * [1, C] output (C > 1) a classifier, anything else is scored by output fidelity only. A
 * requested task is checked against the outputs. Thrown ({@link DomainError}
 * `invalid_argument`, field `task`) for detection on a model without a YOLO-family output
 * or classification without a [1, C] output.
 */
export function evaluationTargetOf(outputs: readonly ModelOutput[], inputHw: readonly [number, number], requested: EvaluationTask | undefined): EvaluationTarget {
  let detection: EvaluationTarget | undefined;
  let classification: EvaluationTarget | undefined;
  for (const output of outputs) {
    const dims = output.dims;
    if (!dims || dims.some((d) => d === undefined)) continue;
    const known = dims as readonly number[];
    const layout = guessYoloLayout(known, inputHw);
    if (layout && !detection) detection = { task: 'detection', detectionLayout: layout, classes: layout === 'yolov8' ? (known[1] ?? 0) - 4 : (known[2] ?? 0) - 5 };
    if (known.length === 2 && known[0] === 1 && (known[1] ?? 0) > 1 && !classification) classification = { task: 'classification', classes: known[1] ?? 0 };
  }
  const shown = outputs.map(dimsText).join(', ');
  switch (requested) {
    case 'detection':
      if (!detection) throw fail('task', `task detection needs a YOLO-family output for the ${inputHw[0]}x${inputHw[1]} input ([1, N, 5+C] YOLOX/YOLOv5 or [1, 4+C, N] YOLOv8, N = grid cells of strides 8/16/32); the model's outputs are ${shown}`);
      return detection;
    case 'classification':
      if (!classification) throw fail('task', `task classification needs an output [1, C] of class scores; the model's outputs are ${shown}`);
      return classification;
    case 'fidelity':
      return { task: 'fidelity' };
    case undefined:
      return detection ?? classification ?? { task: 'fidelity' };
  }
}

/**
 * Checks that a dataset's images can feed the model: one float32 image input of rank 4,
 * batch 1, 3 channels for the config's layout, proven by decoding `firstImagePath` and
 * turning it into the input tensor. Returns the input's height and width. Thrown
 * ({@link DomainError} `invalid_argument`, field `part.field`) naming the input and the image.
 */
export async function assertImagesFitModel(part: DatasetPart, inputs: readonly TensorSpec[], firstImagePath: string): Promise<[number, number]> {
  const what = `${part.field} ${datasetLabel(part.dataset)}`;
  const input = inputs[0];
  if (inputs.length !== 1 || !input) throw fail(part.field, `${what}: images feed a model with one input; this one has ${inputs.length} (${inputs.map((i) => i.name).join(', ')})`);
  if (input.dataType !== TensorDataType.TENSOR_DATA_TYPE_FLOAT32) throw fail(part.field, `${what}: the model input ${JSON.stringify(input.name)} is not float32; images cannot feed it`);
  const name = part.images[0]?.name ?? basename(firstImagePath);
  let image: RgbImage;
  try {
    image = decodeJpeg(await readFile(firstImagePath));
  } catch (err) {
    throw fail(part.field, `${what}: image ${name} does not decode as JPEG: ${errorMessage(err)}`, err);
  }
  try {
    imageToTensor(image, input.shape, part.preprocess);
  } catch (err) {
    if (err instanceof CalibrationDataError) throw fail(part.field, `${what}: its images do not fit the model input ${input.name} [${input.shape.join(', ')}] (image ${name}, ${image.width}x${image.height}, preprocess ${part.preprocessLabel}): ${err.message}`, err);
    throw err;
  }
  return inputHwOf(input.shape, part.preprocess);
}

/**
 * Refuses labels that name more categories than the model can output (field `part.field`):
 * categories become class indices in ascending id order, so category n+1 has no class.
 */
export function assertLabelsFit(part: DatasetPart, target: EvaluationTarget): void {
  const labels = part.dataset.labels;
  if (!labels || target.classes === undefined) return;
  if (labels.categories.length > target.classes) {
    const names = labels.categories.slice(0, 5).map((c) => `${c.id} ${c.name}`).join(', ');
    throw fail(part.field, `${part.field} ${datasetLabel(part.dataset)}: its labels name ${labels.categories.length} categories (${names}${labels.categories.length > 5 ? ', ...' : ''}); the ${target.task === 'detection' ? `detector (${target.detectionLayout ?? '?'} layout)` : 'classifier'} outputs ${target.classes} classes`);
  }
}

/**
 * The evaluation every all-variants job of the sweep runs after its interleaved rounds:
 * the evaluation split, the full preprocessing config, the task, and the labels when the
 * task can use them.
 */
export function evaluationRequestOf(part: DatasetPart, target: EvaluationTarget, split: string, seed: number): EvaluationRequest {
  const labels = target.task === 'fidelity' ? undefined : part.dataset.labels;
  return {
    datasetId: part.dataset.id,
    datasetName: part.dataset.name,
    images: part.images.map((im) => ({ name: im.name, sha256: im.sha256, sizeBytes: im.sizeBytes })),
    datasetImages: part.dataset.images.length,
    split,
    preprocessJson: JSON.stringify(part.preprocess),
    task: target.task,
    detectionLayout: target.detectionLayout ?? '',
    labelsSha256: labels?.sha256 ?? '',
    labelsSizeBytes: labels?.sizeBytes ?? 0,
    bootstrapResamples: EVALUATION_BOOTSTRAP_RESAMPLES,
    seed,
  };
}

/** The recipe entries every variant of a sweep with datasets carries: where calibration and evaluation images came from. */
export function datasetRecipe(datasets: SweepDatasets, target: EvaluationTarget | undefined): Record<string, string> {
  return {
    ...(datasets.calibration ? { 'calibration.dataset': datasetLabel(datasets.calibration.dataset), 'calibration.images': String(datasets.calibration.images.length) } : {}),
    ...(datasets.evaluation ? { 'evaluation.dataset': datasetLabel(datasets.evaluation.dataset), 'evaluation.images': String(datasets.evaluation.images.length) } : {}),
    ...(target ? { 'evaluation.task': target.task + (target.detectionLayout ? ` (${target.detectionLayout})` : '') } : {}),
    split: datasets.split,
  };
}
