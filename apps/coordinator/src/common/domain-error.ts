/**
 * Codes of the errors the coordinator's services raise. Transports map them to an HTTP or
 * gRPC status only at the edge (`http-error.filter.ts` and `results.grpc.ts`), through one
 * exhaustive table (`edge-status.ts`), so adding a code here fails the build until it is mapped.
 */
export enum DomainErrorCode {
  /** A request field is missing, malformed or out of range. */
  InvalidArgument = 'invalid_argument',
  /** A variant name is not one the coordinator can derive. */
  UnknownVariant = 'unknown_variant',
  /** Input shapes were given for inputs the model lacks, or its dynamic dimensions cannot be fixed. */
  InvalidShapes = 'invalid_shapes',
  /** The model file is not a readable ONNX model. */
  InvalidModel = 'invalid_model',
  /** The model file is bigger than the coordinator accepts. */
  ModelTooLarge = 'model_too_large',
  /** onnxruntime refused to load the model (after its dimensions were fixed). */
  ModelLoadFailed = 'model_load_failed',
  /** Deriving a variant from a valid model failed. */
  VariantDerivationFailed = 'variant_derivation_failed',
  /** No registered, live agent matches the sweep's targets. */
  NoMatchingAgent = 'no_matching_agent',
  /** No sweep has this id. */
  SweepNotFound = 'sweep_not_found',
  /** No job of this sweep has this id. */
  JobNotFound = 'job_not_found',
  /** The job has no stored result (yet). */
  ResultNotFound = 'result_not_found',
  /** A result upload is inconsistent (headers, order, samples, count, job or agent). */
  InvalidUpload = 'invalid_upload',
  /** NATS (job stream, object store or agent registry) could not be used. */
  MessagingUnavailable = 'messaging_unavailable',
  /** An upload or renewal under a lease that is no longer the job's current one (superseded, cancelled). */
  StaleLease = 'stale_lease',
  /** The sweep or job is already finished and cannot be changed (e.g. cancelling a completed sweep). */
  AlreadyFinished = 'already_finished',
  /** A resumed upload does not start where the coordinator's copy ends; the agent asks UploadStatus again. */
  ResumeMismatch = 'resume_mismatch',
  /** The caller's credentials (the agent named by its mTLS client certificate) do not allow the call: it acts for another agent. */
  PermissionDenied = 'permission_denied',
  /** An enrollment code is unknown, expired, or was issued for another agent id. */
  EnrollmentCodeInvalid = 'enrollment_code_invalid',
  /** An enrollment code was already used (each one enrolls one agent once). */
  EnrollmentCodeUsed = 'enrollment_code_used',
  /** This coordinator has no NATS account signing key (BENCHFARM_NATS_ACCOUNT_SIGNING_KEY): it enrolls no agents. */
  EnrollmentDisabled = 'enrollment_disabled',
  /** No dataset or dataset upload has this id or name. */
  DatasetNotFound = 'dataset_not_found',
  /** A dataset (images, labels, preprocessing) is unusable: a corrupt image, labels naming missing images, an empty folder, a digest mismatch. */
  InvalidDataset = 'invalid_dataset',
  /** A dataset or one of its images is bigger than the coordinator accepts. */
  DatasetTooLarge = 'dataset_too_large',
}

/** Thrown by coordinator services when a request cannot be served; carries a code and, for bad input, the field. */
export class DomainError extends Error {
  override name = 'DomainError';
  /** The request field at fault, when there is one (e.g. `variants`, `minDurationMs`). */
  readonly field: string | undefined;

  constructor(
    readonly code: DomainErrorCode,
    message: string,
    options: { field?: string; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.field = options.field;
  }
}

/** Fails the type check when a switch misses a case, and throws if one is reached at run time anyway. */
export function assertNever(value: never): never {
  throw new Error(`unexpected value: ${JSON.stringify(value)}`);
}

/** The message of an unknown thrown value. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
