import { status } from '@grpc/grpc-js';
import { HttpStatus } from '@nestjs/common';
import { DomainErrorCode } from './domain-error';

/** What a domain error code becomes at the REST edge and at the gRPC edge. */
export interface EdgeStatus {
  http: HttpStatus;
  grpc: status;
}

/**
 * The HTTP and gRPC status of each domain error code, in one table so the two edges cannot
 * drift apart; a record over the enum, so a new code fails the build here until it is mapped.
 * Only the edges read it (`http-error.filter.ts`, `results.grpc.ts`): services know no status.
 */
export const EDGE_STATUS_OF_CODE: Readonly<Record<DomainErrorCode, EdgeStatus>> = {
  [DomainErrorCode.InvalidArgument]: { http: HttpStatus.BAD_REQUEST, grpc: status.INVALID_ARGUMENT },
  [DomainErrorCode.UnknownVariant]: { http: HttpStatus.BAD_REQUEST, grpc: status.INVALID_ARGUMENT },
  [DomainErrorCode.InvalidShapes]: { http: HttpStatus.BAD_REQUEST, grpc: status.INVALID_ARGUMENT },
  [DomainErrorCode.InvalidModel]: { http: HttpStatus.BAD_REQUEST, grpc: status.INVALID_ARGUMENT },
  [DomainErrorCode.InvalidUpload]: { http: HttpStatus.BAD_REQUEST, grpc: status.INVALID_ARGUMENT },
  [DomainErrorCode.InvalidDataset]: { http: HttpStatus.BAD_REQUEST, grpc: status.INVALID_ARGUMENT },
  [DomainErrorCode.ModelTooLarge]: { http: HttpStatus.PAYLOAD_TOO_LARGE, grpc: status.RESOURCE_EXHAUSTED },
  [DomainErrorCode.DatasetTooLarge]: { http: HttpStatus.PAYLOAD_TOO_LARGE, grpc: status.RESOURCE_EXHAUSTED },
  [DomainErrorCode.ModelLoadFailed]: { http: HttpStatus.UNPROCESSABLE_ENTITY, grpc: status.FAILED_PRECONDITION },
  [DomainErrorCode.VariantDerivationFailed]: { http: HttpStatus.UNPROCESSABLE_ENTITY, grpc: status.FAILED_PRECONDITION },
  [DomainErrorCode.NoMatchingAgent]: { http: HttpStatus.UNPROCESSABLE_ENTITY, grpc: status.FAILED_PRECONDITION },
  [DomainErrorCode.SweepNotFound]: { http: HttpStatus.NOT_FOUND, grpc: status.NOT_FOUND },
  [DomainErrorCode.JobNotFound]: { http: HttpStatus.NOT_FOUND, grpc: status.NOT_FOUND },
  [DomainErrorCode.ResultNotFound]: { http: HttpStatus.NOT_FOUND, grpc: status.NOT_FOUND },
  [DomainErrorCode.DatasetNotFound]: { http: HttpStatus.NOT_FOUND, grpc: status.NOT_FOUND },
  [DomainErrorCode.MessagingUnavailable]: { http: HttpStatus.SERVICE_UNAVAILABLE, grpc: status.UNAVAILABLE },
  [DomainErrorCode.StaleLease]: { http: HttpStatus.CONFLICT, grpc: status.FAILED_PRECONDITION },
  [DomainErrorCode.AlreadyFinished]: { http: HttpStatus.CONFLICT, grpc: status.FAILED_PRECONDITION },
  [DomainErrorCode.ResumeMismatch]: { http: HttpStatus.CONFLICT, grpc: status.ABORTED },
  [DomainErrorCode.PermissionDenied]: { http: HttpStatus.FORBIDDEN, grpc: status.PERMISSION_DENIED },
  [DomainErrorCode.EnrollmentCodeInvalid]: { http: HttpStatus.UNAUTHORIZED, grpc: status.UNAUTHENTICATED },
  [DomainErrorCode.EnrollmentCodeUsed]: { http: HttpStatus.CONFLICT, grpc: status.FAILED_PRECONDITION },
  [DomainErrorCode.EnrollmentDisabled]: { http: HttpStatus.NOT_IMPLEMENTED, grpc: status.UNIMPLEMENTED },
};
