import { status } from '@grpc/grpc-js';
import { HttpException, PayloadTooLargeException } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { grpcStatusOf } from '../results/results.grpc';
import { DomainError, DomainErrorCode } from './domain-error';
import { httpStatusOf, toHttpError } from './http-error.filter';

describe('domain error codes at the edges', () => {
  it.each<[DomainErrorCode, number, status]>([
    [DomainErrorCode.InvalidArgument, 400, status.INVALID_ARGUMENT],
    [DomainErrorCode.UnknownVariant, 400, status.INVALID_ARGUMENT],
    [DomainErrorCode.InvalidShapes, 400, status.INVALID_ARGUMENT],
    [DomainErrorCode.InvalidModel, 400, status.INVALID_ARGUMENT],
    [DomainErrorCode.InvalidUpload, 400, status.INVALID_ARGUMENT],
    [DomainErrorCode.ModelTooLarge, 413, status.RESOURCE_EXHAUSTED],
    [DomainErrorCode.ModelLoadFailed, 422, status.FAILED_PRECONDITION],
    [DomainErrorCode.VariantDerivationFailed, 422, status.FAILED_PRECONDITION],
    [DomainErrorCode.NoMatchingAgent, 422, status.FAILED_PRECONDITION],
    [DomainErrorCode.SweepNotFound, 404, status.NOT_FOUND],
    [DomainErrorCode.JobNotFound, 404, status.NOT_FOUND],
    [DomainErrorCode.ResultNotFound, 404, status.NOT_FOUND],
    [DomainErrorCode.MessagingUnavailable, 503, status.UNAVAILABLE],
    [DomainErrorCode.StaleLease, 409, status.FAILED_PRECONDITION],
    [DomainErrorCode.AlreadyFinished, 409, status.FAILED_PRECONDITION],
    [DomainErrorCode.ResumeMismatch, 409, status.ABORTED],
    [DomainErrorCode.PermissionDenied, 403, status.PERMISSION_DENIED],
    [DomainErrorCode.EnrollmentCodeInvalid, 401, status.UNAUTHENTICATED],
    [DomainErrorCode.EnrollmentCodeUsed, 409, status.FAILED_PRECONDITION],
    [DomainErrorCode.EnrollmentDisabled, 501, status.UNIMPLEMENTED],
    [DomainErrorCode.DatasetNotFound, 404, status.NOT_FOUND],
    [DomainErrorCode.InvalidDataset, 400, status.INVALID_ARGUMENT],
    [DomainErrorCode.DatasetTooLarge, 413, status.RESOURCE_EXHAUSTED],
  ])('%s -> HTTP %i, gRPC %i', (code, http, grpc) => {
    expect(httpStatusOf(code)).toBe(http);
    expect(grpcStatusOf(code)).toBe(grpc);
  });

  it('covers every code', () => {
    for (const code of Object.values(DomainErrorCode)) {
      expect(() => httpStatusOf(code)).not.toThrow();
      expect(() => grpcStatusOf(code)).not.toThrow();
    }
  });

  it.each<[unknown, object]>([
    [new DomainError(DomainErrorCode.UnknownVariant, 'unknown variant x', { field: 'variants' }), { statusCode: 400, code: 'unknown_variant', message: 'unknown variant x', field: 'variants' }],
    [new PayloadTooLargeException('File too large'), { statusCode: 413, code: 'model_too_large', message: 'File too large' }],
    [new HttpException('Unexpected field', 400), { statusCode: 400, code: 'bad_request', message: 'Unexpected field' }],
    [Object.assign(new SyntaxError('Unexpected token'), { status: 400 }), { statusCode: 400, code: 'bad_request', message: 'Unexpected token' }],
    [new Error('secret internals'), { statusCode: 500, code: 'internal', message: 'internal error' }],
  ])('maps %s to the REST error body', (err, body) => {
    expect(toHttpError(err)).toEqual(body);
  });
});
