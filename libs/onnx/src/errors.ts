/**
 * Why a model was refused. Callers map these to transport errors at the edge
 * (e.g. gRPC INVALID_ARGUMENT) with an exhaustive switch.
 */
export const INVALID_MODEL_CODES = [
  'not_onnx',
  'no_graph',
  'unsupported_opset',
  'external_data_traversal',
  'external_data_invalid',
  'ort_load_failed',
  'invalid_shape',
  'ambiguous_shape',
  'unsupported_input_type',
] as const;

/** One of {@link INVALID_MODEL_CODES}. */
export type InvalidModelCode = (typeof INVALID_MODEL_CODES)[number];

/**
 * Thrown when a file or protobuf is not a model benchfarm can accept: not ONNX at all, missing
 * its graph or opset, pointing its external data outside its folder, refused by onnxruntime,
 * or given input shapes that do not fit it. `field` names the part of the model (or of the
 * caller's request, e.g. `shapes.x[2]`) that is at fault; `''` when it is the file as a whole.
 */
export class InvalidModelError extends Error {
  override name = 'InvalidModelError';
  constructor(
    readonly code: InvalidModelCode,
    readonly field: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Thrown when a variant name is not in the registry; the message lists the known ones. */
export class UnknownVariantError extends Error {
  override name = 'UnknownVariantError';
  constructor(
    readonly variant: string,
    readonly known: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(
      variant === ''
        ? `no variant named; known variants: ${known.join(', ')}`
        : `unknown variant ${JSON.stringify(variant)}; known variants: ${known.join(', ')}`,
      options,
    );
  }
}

/**
 * Thrown when a variant pass ran but its output is unusable: not valid ONNX, not loadable by
 * onnxruntime, or byte-identical to its source (a variant that is the source again would
 * only duplicate it in the store under the same digest).
 */
export class VariantPassError extends Error {
  override name = 'VariantPassError';
  constructor(
    readonly variant: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`variant ${variant}: ${message}`, options);
  }
}

/** Thrown when the parameter of a variant name (`prune-l1:<ratio>`, `int8-static:<options>`) is invalid; the message names it and says what is accepted. */
export class VariantParamError extends Error {
  override name = 'VariantParamError';
  constructor(
    readonly variant: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`variant ${variant}: ${message}`, options);
  }
}
