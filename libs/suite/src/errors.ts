import { ErrorCode } from '@benchfarm/protocol';

/**
 * Base of every error the suite raises on purpose. It carries the wire `ErrorCode` so the
 * suite process can report it without guessing; anything else it catches is INTERNAL.
 */
export abstract class SuiteError extends Error {
  abstract readonly code: ErrorCode;
}

/** Thrown when onnxruntime cannot create a session from the model file (or the file is unreadable). */
export class ModelLoadError extends SuiteError {
  override name = 'ModelLoadError';
  readonly code = ErrorCode.ERROR_CODE_MODEL_LOAD;
  constructor(
    readonly modelPath: string,
    options: { cause: unknown },
  ) {
    super(`onnxruntime could not load the model ${modelPath}: ${messageOf(options.cause)}`, options);
  }
}

/** Thrown when `session.run` rejects, during warm-up or measurement. */
export class InferenceRunError extends SuiteError {
  override name = 'InferenceRunError';
  readonly code = ErrorCode.ERROR_CODE_RUN;
  constructor(
    readonly phase: 'warmup' | 'measure',
    readonly queriesDone: number,
    options: { cause: unknown },
  ) {
    super(`session.run failed during ${phase} after ${queriesDone} queries: ${messageOf(options.cause)}`, options);
  }
}

/** Thrown when a job's settings cannot describe a run (every problem is listed at once). */
export class InvalidSuiteJobError extends SuiteError {
  override name = 'InvalidSuiteJobError';
  readonly code = ErrorCode.ERROR_CODE_INTERNAL;
  constructor(readonly problems: readonly string[]) {
    super(`invalid suite job: ${problems.join('; ')}`);
  }
}

/** Thrown when a TensorSpec has no usable fixed shape (a dynamic, zero or fractional dimension). */
export class InvalidTensorSpecError extends SuiteError {
  override name = 'InvalidTensorSpecError';
  readonly code = ErrorCode.ERROR_CODE_INTERNAL;
  constructor(
    readonly inputName: string,
    reason: string,
  ) {
    super(`input ${JSON.stringify(inputName)}: ${reason}`);
  }
}

/** Thrown when a TensorSpec asks for an element type the suite cannot create with onnxruntime-node. */
export class UnsupportedTensorDataTypeError extends SuiteError {
  override name = 'UnsupportedTensorDataTypeError';
  readonly code = ErrorCode.ERROR_CODE_INTERNAL;
  constructor(
    readonly inputName: string,
    readonly dataType: number,
  ) {
    super(`input ${JSON.stringify(inputName)}: tensor data type ${dataType} is not supported by the suite`);
  }
}

/** Thrown when onnxruntime's per-operator profile is missing or cannot be parsed. */
export class ProfileParseError extends SuiteError {
  override name = 'ProfileParseError';
  readonly code = ErrorCode.ERROR_CODE_RUN;
}

/** Thrown by `idleChildRssBytes` when the platform has no /proc/self/status to read VmHWM from. */
export class PeakRssUnavailableError extends Error {
  override name = 'PeakRssUnavailableError';
}

/** Thrown by the parent-side helpers when a helper child process fails before it reports. */
export class SuiteChildError extends Error {
  override name = 'SuiteChildError';
}

/** The error's own message, or its string form for non-Error throwables. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
