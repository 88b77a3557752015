import { join } from 'node:path';
import {
  InvalidModelError,
  CalibrationDataError,
  UnknownVariantError,
  VariantParamError,
  VariantPassError,
  OwnVariantError,
  VARIANT_PASSES,
  deriveVariant,
  listImages,
  loadCalibration,
  parseVariantList,
  prepareModel,
  prepareOwnVariant,
  readModelFile,
  type CalibrationSource,
  type InvalidModelCode,
  type PrepareOptions,
} from '@benchfarm/onnx';
import type { TensorSpec } from '@benchfarm/protocol';
import { DomainError, DomainErrorCode, assertNever, errorMessage } from '../common/domain-error';
import { sensitivityRecipeEntry } from './auto-quant-summary';

/** A user's model with every input dimension fixed, written where onnxruntime loaded it. */
export interface PreparedModel {
  /** The fixed model file, inside the work folder. */
  readonly path: string;
  readonly inputs: TensorSpec[];
  /** The outputs as the fixed model declares them (a dim undefined when symbolic); absent when not inspected. */
  readonly outputs?: readonly { readonly name: string; readonly dims: readonly (number | undefined)[] | null }[];
}

/** A variant file derived from a prepared model. */
export interface VariantFile {
  readonly name: string;
  readonly path: string;
  readonly recipe: Record<string, string>;
}

/**
 * Images int8-auto checks its chosen layer set on and never searches on, with the request
 * field that supplied them: a refusal of these images names that field.
 */
export interface HoldoutImages {
  readonly source: CalibrationSource;
  /** The request field the images came from (`dataset`, `evaluationDataset`). */
  readonly field: string;
}

/** Model checks and variant derivation (libs/onnx), as the sweep planner needs them. */
export abstract class ModelToolkit {
  /** Variant names that can be derived. */
  abstract knownVariants(): string[];
  /** Checks variant names; thrown ({@link DomainError} `unknown_variant`, field `variants`) for an unknown one. */
  abstract parseVariants(names: readonly string[]): string[];
  /**
   * Reads a model, checks it is ONNX, fixes its dynamic dimensions (given shapes, else batch
   * 1), writes it to `workDir` and proves onnxruntime loads it in a child process. Thrown
   * ({@link DomainError}): `invalid_model`, `invalid_shapes` (field `shapes`), `model_load_failed`.
   */
  abstract prepare(sourcePath: string, shapes: Readonly<Record<string, number[]>> | undefined, workDir: string): Promise<PreparedModel>;
  /**
   * Derives one variant of a prepared model into `workDir`; `calibration` feeds int8-static and
   * int8-auto, `holdout` are the images int8-auto checks its choice on (without them it holds
   * out every 3rd calibration image). int8-auto's recipe gains a compact `sensitivity` entry.
   * Thrown: `variant_derivation_failed`, `invalid_argument` (field `calibrationDir` or
   * `calibrationPreprocess`) for unusable calibration data, (field `holdout.field`) for unusable
   * held-out images, ... `signal` stops it (the derivation's child process is killed).
   */
  abstract deriveVariant(name: string, preparedPath: string, workDir: string, calibration?: CalibrationSource, holdout?: HoldoutImages, signal?: AbortSignal): Promise<VariantFile>;
  /**
   * The cheap part of a calibration's checks, before POST /sweeps answers: a source is given,
   * its folder lists images, its preprocessing parses and fits the prepared model, its first
   * image decodes (the derivation step loads them all). Thrown as {@link deriveVariant} for
   * unusable calibration data (`invalid_argument`, field `calibrationDir` or `calibrationPreprocess`).
   */
  checkCalibration(_preparedPath: string, _calibration: CalibrationSource | undefined): Promise<void> {
    return Promise.resolve();
  }
  /**
   * Takes a variant made elsewhere (QAT, distillation, a lighter architecture) as a variant of
   * the prepared model. Thrown ({@link DomainError} `invalid_argument`, field `ownVariants`)
   * when it is not ONNX, its inputs differ from the base model's, or onnxruntime refuses it.
   */
  registerOwnVariant(name: string, _path: string, _prepared: PreparedModel, _workDir: string): Promise<VariantFile> {
    return Promise.reject(new DomainError(DomainErrorCode.InvalidArgument, `variant ${name}: this coordinator does not take bring-your-own variants`, { field: 'ownVariants' }));
  }
}

/** Maps an {@link InvalidModelError} of libs/onnx onto the coordinator's error codes. */
export function domainErrorOfInvalidModel(err: InvalidModelError): DomainError {
  const code: InvalidModelCode = err.code;
  switch (code) {
    case 'not_onnx':
    case 'no_graph':
    case 'unsupported_opset':
    case 'external_data_traversal':
    case 'external_data_invalid':
    case 'unsupported_input_type':
      return new DomainError(DomainErrorCode.InvalidModel, err.message, { field: 'model', cause: err });
    case 'invalid_shape':
    case 'ambiguous_shape':
      return new DomainError(DomainErrorCode.InvalidShapes, err.message, { field: 'shapes', cause: err });
    case 'ort_load_failed':
      return new DomainError(DomainErrorCode.ModelLoadFailed, err.message, { field: 'model', cause: err });
    default:
      return assertNever(code);
  }
}

function translate(err: unknown, holdoutField?: string): unknown {
  if (err instanceof InvalidModelError) return domainErrorOfInvalidModel(err);
  if (err instanceof UnknownVariantError) return new DomainError(DomainErrorCode.UnknownVariant, err.message, { field: 'variants', cause: err });
  if (err instanceof VariantPassError) return new DomainError(DomainErrorCode.VariantDerivationFailed, err.message, { field: 'variants', cause: err });
  if (err instanceof VariantParamError) return new DomainError(DomainErrorCode.UnknownVariant, err.message, { field: 'variants', cause: err });
  if (err instanceof CalibrationDataError && (err.field === 'holdout' || err.field.startsWith('holdout.'))) {
    const problem = err.message.startsWith(`${err.field}: `) ? err.message.slice(err.field.length + 2) : err.message;
    return new DomainError(DomainErrorCode.InvalidArgument, `held-out images of int8-auto (${holdoutField ?? 'evaluation images'}): ${problem}`, { field: holdoutField ?? 'evaluationDataset', cause: err });
  }
  if (err instanceof CalibrationDataError) {
    const field = err.field.startsWith('preprocess') ? 'calibrationPreprocess' : 'calibrationDir';
    return new DomainError(DomainErrorCode.InvalidArgument, `${err.message}${err.field === 'calibration' && err.message.includes('needs calibration inputs') ? ' (sweep fields calibrationDir + calibrationPreprocess, or calibrationRandom)' : ''}`, { field, cause: err });
  }
  return err;
}

/** {@link ModelToolkit} on libs/onnx; onnxruntime only ever runs on the user's model in child processes. */
export class OnnxModelToolkit extends ModelToolkit {
  constructor(private readonly options: { ortTimeoutMs?: number } = {}) {
    super();
  }

  knownVariants(): string[] {
    return Object.keys(VARIANT_PASSES);
  }

  parseVariants(names: readonly string[]): string[] {
    try {
      return parseVariantList(names.join(','));
    } catch (err) {
      throw translate(err);
    }
  }

  async prepare(sourcePath: string, shapes: Readonly<Record<string, number[]>> | undefined, workDir: string): Promise<PreparedModel> {
    try {
      const prepared = await prepareModel(sourcePath, shapes, join(workDir, 'prepared.onnx'), this.prepareOptions());
      return { path: prepared.path, inputs: prepared.inputs, outputs: prepared.outputs };
    } catch (err) {
      throw translate(err);
    }
  }

  override async checkCalibration(preparedPath: string, calibration: CalibrationSource | undefined): Promise<void> {
    try {
      const { model } = await readModelFile(preparedPath);
      // One image stands for the folder here: every one is decoded by the derivation step.
      const source = calibration?.kind === 'images' ? { ...calibration, files: (calibration.files ?? (await listImages(calibration.dir ?? '', 'calibration'))).slice(0, 1) } : calibration;
      await loadCalibration(source, model);
    } catch (err) {
      throw translate(err);
    }
  }

  override async registerOwnVariant(name: string, path: string, prepared: PreparedModel, workDir: string): Promise<VariantFile> {
    try {
      const own = await prepareOwnVariant(name, path, prepared, join(workDir, `own-${name}.onnx`), this.prepareOptions());
      return { name, path: own.path, recipe: own.recipe };
    } catch (err) {
      if (err instanceof DomainError) throw err;
      throw new DomainError(DomainErrorCode.InvalidArgument, err instanceof OwnVariantError ? err.message : `own variant ${name} (${path}): ${errorMessage(err)}`, { field: 'ownVariants', cause: err });
    }
  }

  private prepareOptions(): PrepareOptions {
    return { checkLoads: true, ...(this.options.ortTimeoutMs === undefined ? {} : { ortTimeoutMs: this.options.ortTimeoutMs }) };
  }

  async deriveVariant(name: string, preparedPath: string, workDir: string, calibration?: CalibrationSource, holdout?: HoldoutImages, signal?: AbortSignal): Promise<VariantFile> {
    try {
      const derived = await deriveVariant(name, preparedPath, join(workDir, 'variants'), {
        ...(signal ? { signal } : {}),
        ...(this.options.ortTimeoutMs === undefined ? {} : { timeoutMs: this.options.ortTimeoutMs }),
        ...(calibration ? { calibration } : {}),
        ...(holdout ? { holdout: holdout.source } : {}),
      });
      return { name: derived.name, path: derived.path, recipe: { ...derived.recipe, ...(derived.report ? { sensitivity: sensitivityRecipeEntry(derived.report) } : {}) } };
    } catch (err) {
      const translated = translate(err, holdout?.field);
      if (translated instanceof DomainError) throw translated;
      throw new DomainError(DomainErrorCode.VariantDerivationFailed, `variant ${name}: ${errorMessage(err)}`, { field: 'variants', cause: err });
    }
  }
}
