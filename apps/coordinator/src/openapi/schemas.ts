import { ApiResponse } from '@nestjs/swagger';
import { requestComponentSchemas, restComponentSchemas, type RequestComponentName, type RestComponentName } from '@benchfarm/contract';
import { DomainErrorCode } from '../common/domain-error';
import { HTTP_EDGE_CODES } from '../common/http-error.filter';
import { createSweepSchemas, type Schema } from './request-schemas';

export type { Schema } from './request-schemas';

/** A reference to one of {@link OPENAPI_SCHEMAS}. */
export function ref(name: keyof typeof OPENAPI_SCHEMAS): Schema {
  return { $ref: `#/components/schemas/${name}` };
}

/** Documents an error answer of a route: its status, when it is given, and the Error body. */
export function errorResponse(status: number, description: string): MethodDecorator & ClassDecorator {
  return ApiResponse({ status, description, schema: ref('Error') });
}

/** Every code an error answer may carry: those a service raises, then those of the HTTP edge itself (routing, parsing, token, 405/415). */
export const ERROR_CODES: readonly string[] = [...Object.values(DomainErrorCode), ...HTTP_EDGE_CODES];

/**
 * The answers' schemas, generated from the REST contract's zod schemas (@benchfarm/contract,
 * the schemas the CLI's types come from); the Error body's code narrowed to {@link ERROR_CODES}.
 */
export function responseSchemas(): Record<RestComponentName, Schema> {
  const generated = restComponentSchemas();
  const error = generated.Error as { properties: Record<string, object> };
  const withCodes = { ...error, properties: { ...error.properties, code: { ...error.properties.code, enum: [...ERROR_CODES] } } };
  return { ...generated, Error: withCodes } as Record<RestComponentName, Schema>;
}

/** Schemas of the REST API, placed in `components.schemas` of the document. */
export const OPENAPI_SCHEMAS = {
  ...responseSchemas(),
  // Generated from the schema POST /sweeps parses with (request-schemas.ts).
  ...createSweepSchemas(),
  // Generated from the schemas the services parse the other request bodies with (enrollment, dataset manifest).
  ...(requestComponentSchemas() as Record<RequestComponentName, Schema>),
} satisfies Record<string, Schema>;
