import { Catch, HttpException, HttpStatus, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
import { DomainError, DomainErrorCode, errorMessage } from './domain-error';
import { EDGE_STATUS_OF_CODE } from './edge-status';

/** The JSON body of every REST error. */
export interface HttpErrorBody {
  statusCode: number;
  code: string;
  message: string;
  field?: string;
}

/** The HTTP status of a domain error code (see {@link EDGE_STATUS_OF_CODE}). */
export function httpStatusOf(code: DomainErrorCode): number {
  return EDGE_STATUS_OF_CODE[code].http;
}

/**
 * Codes of the errors no service raised: the framework's own (routing, body parsing, upload
 * limits), the API token check and the request contract (405, 415). With the
 * {@link DomainErrorCode}s they are every code a REST error carries (the OpenAPI Error enum).
 */
export const HTTP_EDGE_CODES = ['bad_request', 'unauthorized', 'forbidden', 'not_found', 'method_not_allowed', 'payload_too_large', 'unsupported_media_type', 'internal'] as const;
/** One of {@link HTTP_EDGE_CODES}. */
export type HttpEdgeCode = (typeof HTTP_EDGE_CODES)[number];

const EDGE_CODE_OF_STATUS: Readonly<Partial<Record<number, HttpEdgeCode>>> = {
  [HttpStatus.BAD_REQUEST]: 'bad_request',
  [HttpStatus.UNAUTHORIZED]: 'unauthorized',
  [HttpStatus.FORBIDDEN]: 'forbidden',
  [HttpStatus.NOT_FOUND]: 'not_found',
  [HttpStatus.METHOD_NOT_ALLOWED]: 'method_not_allowed',
  [HttpStatus.PAYLOAD_TOO_LARGE]: 'payload_too_large',
  [HttpStatus.UNSUPPORTED_MEDIA_TYPE]: 'unsupported_media_type',
};

/** The code of an error Nest or express raised themselves; a closed set, so the document can list it. */
function codeOfStatus(statusCode: number): HttpEdgeCode {
  return EDGE_CODE_OF_STATUS[statusCode] ?? (statusCode >= 500 ? 'internal' : 'bad_request');
}

/** Maps any thrown value to the REST error body. */
export function toHttpError(err: unknown): HttpErrorBody {
  if (err instanceof DomainError) {
    return { statusCode: httpStatusOf(err.code), code: err.code, message: err.message, ...(err.field === undefined ? {} : { field: err.field }) };
  }
  if (err instanceof HttpException) {
    const statusCode = err.getStatus();
    const response = err.getResponse();
    const raw = typeof response === 'object' && response !== null ? (response as { message?: unknown }).message : response;
    const message = Array.isArray(raw) ? raw.join('; ') : typeof raw === 'string' ? raw : err.message;
    return { statusCode, code: statusCode === 413 ? DomainErrorCode.ModelTooLarge : codeOfStatus(statusCode), message };
  }
  const statusCode = (err as { status?: unknown; type?: unknown })?.status;
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
    // body-parser errors (malformed JSON, body too large) carry a status and reach here.
    return { statusCode, code: codeOfStatus(statusCode), message: errorMessage(err) };
  }
  return { statusCode: 500, code: 'internal', message: 'internal error' };
}

/** Writes every error of a REST route as {@link HttpErrorBody}; only the edge knows HTTP statuses. */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  private readonly log = new Logger('Http');

  catch(exception: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<Response>();
    const body = toHttpError(exception);
    if (body.statusCode >= 500) this.log.error(`request failed: ${errorMessage(exception)}`, exception instanceof Error ? exception.stack : undefined);
    response.status(body.statusCode).json(body);
  }
}
