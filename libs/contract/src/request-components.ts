import { z } from 'zod';
import { cancelSweepRequestSchema } from './cancel-request';
import { datasetManifestRequestSchema } from './dataset-request';
import { createEnrollmentCodeRequestSchema, enrollRequestSchema } from './enrollment-request';

/**
 * The request bodies the OpenAPI document names as components, by component name (CreateSweep*
 * come from the sweep schema with its field docs: the coordinator's openapi/request-schemas.ts).
 */
export const REQUEST_COMPONENTS = {
  CreateEnrollmentCode: createEnrollmentCodeRequestSchema,
  EnrollRequest: enrollRequestSchema,
  DatasetManifest: datasetManifestRequestSchema,
  CancelSweep: cancelSweepRequestSchema,
} as const;
/** The name of one of {@link REQUEST_COMPONENTS}. */
export type RequestComponentName = keyof typeof REQUEST_COMPONENTS;

/** The OpenAPI (3.0) schema of every request component as a client sends it (`io: 'input'`), by name. */
export function requestComponentSchemas(): Record<RequestComponentName, Record<string, unknown>> {
  const entries = Object.entries(REQUEST_COMPONENTS).map(([name, schema]) => {
    const { $schema: _schema, ...rest } = z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input' }) as Record<string, unknown>;
    return [name, rest];
  });
  return Object.fromEntries(entries) as Record<RequestComponentName, Record<string, unknown>>;
}
