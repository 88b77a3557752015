import { parseRequest } from '../common/parse-request';
import { defaultMinDurationMs, sweepRequestSchema, type EvaluationTask, type RuntimeRequest, type ScenarioRequest } from '@benchfarm/contract';
import type { MeasurementLimits } from '../storage/records';
import { configSearchOf, type ConfigSearchRequest } from './config-search-request';

// The schema of POST /sweeps is the REST contract's (@benchfarm/contract): the OpenAPI document and the CLI's sweep file come from it too.
export { CALIBRATED_VARIANTS, EVALUATION_TASKS, SWEEP_DEFAULTS, SWEEP_LIMITS, defaultMinDurationMs, parseShapesText, sweepRequestSchema, usesCalibration, type EvaluationTask } from '@benchfarm/contract';

/** A sweep's options after validation, defaults applied (scenario options: scenario-request.ts). */
export interface SweepRequest extends ScenarioRequest, MeasurementLimits {
  name?: string;
  /** A model file on the coordinator's machine (JSON requests only). */
  modelPath?: string;
  variants: string[];
  targets: string[];
  shapes?: Record<string, number[]>;
  /** A folder of JPEG images on the coordinator's machine: calibration for int8-static. */
  calibrationDir?: string;
  /** Preprocessing of those images: a preset name (yolox, yolo, imagenet) or a config object. */
  calibrationPreprocess?: string | Record<string, unknown>;
  /** Calibrate on this many seeded random inputs instead, only when asked (labelled RANDOM in the recipe). */
  calibrationRandom?: number;
  /** A stored dataset (id, id prefix or name), split deterministically into calibration and evaluation images. */
  dataset?: string;
  /** A stored dataset whose images all calibrate int8-static (instead of `dataset`). */
  calibrationDataset?: string;
  /** A stored dataset whose images all evaluate every variant on every device (instead of `dataset`); never sharing an image with the calibration. */
  evaluationDataset?: string;
  /** What the evaluation measures; absent: guessed from the model's outputs. */
  task?: EvaluationTask;
  /** Preprocessing of the dataset images when the dataset has none (a preset name or a config object); also serves `calibrationDir`. */
  preprocess?: string | Record<string, unknown>;
  /** Evaluation images at most; a bigger evaluation split is cut deterministically and the cut recorded. */
  evaluationImages: number;
  /** Bring-your-own variants made elsewhere (QAT, distillation, ...): name -> ONNX file on the coordinator's machine. */
  ownVariants?: Record<string, string>;
  threads: number;
  /** Run the variants with an external tool instead of onnxruntime-node. */
  runtime?: RuntimeRequest;
  /** Runtime settings searched per device (`dimensions` and the search fields), defaults applied; absent without dimensions. */
  configSearch?: ConfigSearchRequest;
}

/**
 * Validates a sweep request's options (JSON body or multipart text fields; numbers may come
 * as strings) and applies defaults. Thrown ({@link parseRequest}: DomainError `invalid_argument`) with
 * `field` naming the first bad field and a message listing every problem.
 */
export function parseSweepRequest(body: unknown): SweepRequest {
  // An axis of the dimensions is named in full (`dimensions.intra_op_threads`); other nested paths by their field.
  const data = parseRequest(sweepRequestSchema, body ?? {}, { errorField: (first) => (first.startsWith('dimensions.') ? first : (first.split('.')[0] ?? '')) });
  const { name, modelPath, shapes: givenShapes, calibrationDir, calibrationPreprocess, calibrationRandom, ownVariants, runtime, dataset, calibrationDataset, evaluationDataset, task, preprocess, minDurationMs, ...withSearch } = data;
  const { dimensions, search, budgetMinutes, pointWarmupMs, pointDurationMs, pointMinQueries, confirmRounds, ...rest } = withSearch;
  const configSearch = configSearchOf({ dimensions, search, budgetMinutes, pointWarmupMs, pointDurationMs, pointMinQueries, confirmRounds, scenario: rest.scenario });
  return {
    ...rest,
    minDurationMs: minDurationMs ?? defaultMinDurationMs(rest.maxDurationMs),
    ...(name === undefined ? {} : { name }),
    ...(modelPath === undefined ? {} : { modelPath }),
    ...(givenShapes === undefined ? {} : { shapes: givenShapes }),
    ...(calibrationDir === undefined ? {} : { calibrationDir }),
    ...(calibrationPreprocess === undefined ? {} : { calibrationPreprocess }),
    ...(calibrationRandom === undefined ? {} : { calibrationRandom }),
    ...(ownVariants === undefined ? {} : { ownVariants }),
    ...(runtime === undefined ? {} : { runtime }),
    ...(dataset === undefined ? {} : { dataset }),
    ...(calibrationDataset === undefined ? {} : { calibrationDataset }),
    ...(evaluationDataset === undefined ? {} : { evaluationDataset }),
    ...(task === undefined ? {} : { task }),
    ...(preprocess === undefined ? {} : { preprocess }),
    ...(configSearch === undefined ? {} : { configSearch }),
  };
}
