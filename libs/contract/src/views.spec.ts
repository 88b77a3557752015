import { describe, expect, it } from 'vitest';
import { REST_COMPONENTS, restComponentSchemas, sweepListItemSchema } from './views';

/** Every `$ref` target in a JSON value. */
function refs(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v) => refs(v, out));
  else if (typeof value === 'object' && value !== null) {
    for (const [key, v] of Object.entries(value)) {
      if (key === '$ref' && typeof v === 'string') out.push(v);
      else refs(v, out);
    }
  }
  return out;
}

describe('restComponentSchemas', () => {
  const schemas = restComponentSchemas();

  it('generates one OpenAPI schema per component, each an object schema', () => {
    expect(Object.keys(schemas).sort()).toEqual(Object.keys(REST_COMPONENTS).sort());
    for (const [name, schema] of Object.entries(schemas)) expect(schema, name).toMatchObject({ type: 'object' });
  });

  it('refers only to components of the document, and hoists nothing outside them', () => {
    const targets = new Set(refs(schemas));
    for (const target of targets) expect(Object.keys(schemas).map((n) => `#/components/schemas/${n}`), target).toContain(target);
    expect(targets).toContain('#/components/schemas/JobView');
    expect(JSON.stringify(schemas)).not.toMatch(/"(\$defs|definitions|\$id)"/);
  });

  it('keeps integers unbounded and formats, enums and descriptions from the zod metadata', () => {
    const sweep = schemas.SweepView as { properties: Record<string, Record<string, unknown>>; required: string[] };
    expect(sweep.properties.etaMs).toMatchObject({ type: 'integer' });
    expect(sweep.properties.etaMs).not.toHaveProperty('maximum');
    expect(sweep.properties.createdAt).toEqual({ type: 'string', format: 'date-time' });
    expect(sweep.properties.state).toMatchObject({ enum: ['deriving', 'running', 'completed', 'failed'], description: expect.stringMatching(/completed/) });
    expect(sweep.required).toEqual(expect.arrayContaining(['id', 'settings', 'jobs', 'comparisons']));
    expect(sweep.required).not.toContain('etaMs');
    const agent = schemas.AgentView as { properties: Record<string, Record<string, unknown>> };
    expect(agent.properties.state).toMatchObject({ type: 'string', enum: expect.arrayContaining(['idle', 'busy']) });
  });
});

describe('answer schemas', () => {
  it('refuse a field the contract does not name, naming it', () => {
    const item = { id: 'sweep_1', name: 'n', state: 'running', createdAt: '2026-01-01T00:00:00.000Z' };
    expect(sweepListItemSchema.safeParse(item).success).toBe(true);
    const parsed = sweepListItemSchema.safeParse({ ...item, owner: 'x' });
    expect(parsed.success ? [] : parsed.error.issues.map((i) => i.code === 'unrecognized_keys' && i.keys)).toEqual([['owner']]);
  });
});
