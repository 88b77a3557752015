// The shapes of the variant pipeline, apart from the code: variants.ts (the registry and
// deriveVariant), compression-passes.ts (the passes that need calibration) and
// derive-isolated.ts (the child process) all speak them, so none of the three imports another
// for a type (which closed the cycle variants -> compression-passes -> variants and
// variants -> derive-isolated -> variants).
import type { Feeds } from '../runtime/activations';
import type { ModelInfo } from '../model-io/analyse';
import type { PreprocessConfig } from '../model-io/preprocess';
import type { ModelProto } from '../model-io/proto';
import type { AutoQuantReport } from './quantize-auto.types';

/** How a variant was made, as flat strings so it can travel in the wire contract and a DB column. */
export type VariantRecipe = Record<string, string>;

/** How a pass that needs files (onnxruntime, a copy) is run. */
export interface FilePassContext {
  /** Run onnxruntime in a child process, so a crash on a hostile model does not kill the caller. */
  readonly isolated: boolean;
  readonly timeoutMs: number | undefined;
}

/**
 * A variant pass that is a pure function model -> model (fp16, quantization, pruning): the
 * registry encodes, writes and checks its result.
 */
export interface ModelPass {
  readonly kind: 'model';
  readonly description: string;
  apply(model: ModelProto, info: ModelInfo): { model: ModelProto; recipe: VariantRecipe };
}

/** A variant pass that works on files: a copy, or onnxruntime writing its optimized model. */
export interface FilePass {
  readonly kind: 'file';
  readonly description: string;
  /** False only for the identity: every other pass must change the bytes. */
  readonly changesModel: boolean;
  derive(srcPath: string, outPath: string, context: FilePassContext): Promise<VariantRecipe>;
}

/** What a {@link ComputedPass} gets besides the model. */
export interface PassContext {
  /** The text after `:` in the variant name (`prune-l1:0.5` -> `0.5`), undefined when none. */
  readonly param: string | undefined;
  /** The calibration inputs; thrown (CalibrationDataError) when the caller gave none. */
  calibration(): Promise<CalibrationData>;
  /**
   * Held-out images that a search (int8-auto) did not use, for its final check; undefined when
   * the caller gave none (the pass then holds out part of the calibration images itself).
   */
  holdout(): Promise<CalibrationData | undefined>;
}

/**
 * A variant pass that needs onnxruntime runs or calibration data to compute its model
 * (int8-static, fp16's type discovery, pruning's checks): async, otherwise like {@link ModelPass}.
 */
export interface ComputedPass {
  readonly kind: 'computed';
  readonly description: string;
  /** Validates the `:param` part of a name; thrown (VariantParamError) naming the problem. Absent: no param accepted. */
  readonly parseParam?: (param: string | undefined) => void;
  apply(model: ModelProto, info: ModelInfo, context: PassContext): Promise<{ model: ModelProto; recipe: VariantRecipe; report?: AutoQuantReport }>;
}

/** One entry of the variant registry. */
export type VariantPass = ModelPass | FilePass | ComputedPass;

/** A registry of variant passes by name. */
export type VariantRegistry = Readonly<Record<string, VariantPass>>;

/** A variant written to disk under its digest. */
export interface DerivedVariant {
  readonly name: string;
  /** `<outDir>/<sha256>.onnx`. */
  readonly path: string;
  readonly sha256: string;
  readonly sizeBytes: number;
  readonly recipe: VariantRecipe;
  /** int8-auto: the sensitivity table and the search (the recipe holds its summary). */
  readonly report?: AutoQuantReport;
}

/**
 * Where calibration inputs come from: JPEG images (a folder, or a list of files) preprocessed
 * by a per-model config; tensors the caller already has; or seeded random data, only when
 * asked, and labelled so in the recipe.
 */
export type CalibrationSource =
  | { readonly kind: 'images'; readonly dir?: string; readonly files?: readonly string[]; readonly preprocess: PreprocessConfig | string | Readonly<Record<string, unknown>> }
  | { readonly kind: 'feeds'; readonly feeds: readonly Feeds[]; readonly label: string }
  | { readonly kind: 'random'; readonly count: number; readonly seed: number; readonly min: number; readonly max: number };

/** Calibration inputs with the recipe entries that say where they came from. */
export interface CalibrationData {
  readonly feeds: readonly Feeds[];
  readonly recipe: VariantRecipe;
}
