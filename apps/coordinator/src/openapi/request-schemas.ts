import { z } from 'zod';
import type { OpenAPIObject } from '@nestjs/swagger';
import { SWEEP_FIELD_DOCS, sweepRequestSchema, type FieldDoc, type SweepField } from '@benchfarm/contract';

/** An OpenAPI schema object (or a reference to one). */
export type Schema = NonNullable<NonNullable<OpenAPIObject['components']>['schemas']>[string];

export { SWEEP_FIELD_DOCS, type FieldDoc, type SweepField } from '@benchfarm/contract';

/** Thrown when the sweep request's schema and its field docs disagree: a field the generator cannot document. */
export class OpenApiGenerationError extends Error {
  override name = 'OpenApiGenerationError';
}

const isEmptySchema = (schema: object | undefined): boolean => schema === undefined || Object.keys(schema).length === 0;

/**
 * The JSON Schema of each POST /sweeps field as a client sends it, generated from the schema
 * the server parses with (`io: 'input'`: a preprocessed field is documented by the schema its
 * value must then meet, which is the form a JSON client sends), with the docs merged in.
 * Thrown ({@link OpenApiGenerationError}) when a field's schema cannot be expressed and has no
 * doc schema, or has a doc schema although zod's could be used.
 */
export function sweepFieldSchemas(): Record<SweepField, Schema> {
  const generated = z.toJSONSchema(sweepRequestSchema, { io: 'input', target: 'openapi-3.0', unrepresentable: 'any' }) as { properties?: Record<string, object> };
  const properties = generated.properties ?? {};
  const fields = Object.keys(sweepRequestSchema.shape) as SweepField[];
  return Object.fromEntries(
    fields.map((field) => {
      const doc: FieldDoc = SWEEP_FIELD_DOCS[field];
      const own = properties[field];
      if (doc.schema !== undefined && !isEmptySchema(own)) throw new OpenApiGenerationError(`sweep field ${field}: zod gives a schema (${JSON.stringify(own)}); drop the doc schema`);
      if (doc.schema === undefined && isEmptySchema(own)) throw new OpenApiGenerationError(`sweep field ${field}: zod gives no JSON Schema for it; give one in its doc`);
      const base = (doc.schema ?? own) as Schema;
      const schema: Schema = doc.text === undefined ? base : { anyOf: [base, { type: 'string', example: doc.text }] };
      return [field, { ...schema, description: doc.description, example: doc.example }];
    }),
  ) as Record<SweepField, Schema>;
}

/** CreateSweepJson and CreateSweepMultipart: the same fields, with the model as a path or as the uploaded file. */
export function createSweepSchemas(): { CreateSweepJson: Schema; CreateSweepMultipart: Schema } {
  const { modelPath, ...options } = sweepFieldSchemas();
  return {
    CreateSweepJson: { type: 'object', required: ['modelPath'], additionalProperties: false, properties: { modelPath, ...options } },
    CreateSweepMultipart: {
      type: 'object',
      required: ['model'],
      additionalProperties: false,
      description: 'Every field but the file is text: numbers and lists as in their text forms, objects as JSON text.',
      properties: { model: { type: 'string', format: 'binary', description: 'The ONNX model file. Errors about the model name this field.' }, ...options },
    },
  };
}
