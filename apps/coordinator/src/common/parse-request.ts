import type { z } from 'zod';
import { DomainError, DomainErrorCode } from './domain-error';

/** How {@link parseRequest} names fields and what it refuses with. */
export interface ParseRequestOptions {
  /** The refusal's code (default `invalid_argument`). */
  readonly code?: DomainErrorCode;
  /** A problem's field from its path (default: the path joined with `.`, '' for the whole body). */
  readonly fieldOf?: (path: readonly PropertyKey[]) => string;
  /** The field the refusal names, from its first problem's field (default: that field). */
  readonly errorField?: (first: string) => string;
}

const dotted = (path: readonly PropertyKey[]): string => path.map(String).join('.');

/**
 * Parses a request body with its schema from the REST contract (@benchfarm/contract). Thrown
 * ({@link DomainError}, `invalid_argument` unless `code` says otherwise) with `field` naming the
 * first bad field and a message listing every problem, each after its field unless it names it
 * itself (`ttlSeconds: must be ...; code: must be ...`).
 */
export function parseRequest<S extends z.ZodType>(schema: S, body: unknown, options: ParseRequestOptions = {}): z.output<S> {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const fieldOf = options.fieldOf ?? dotted;
  const problems = parsed.error.issues.map((issue) => ({ field: issue.code === 'unrecognized_keys' ? (issue.keys[0] ?? '') : fieldOf(issue.path), message: issue.message }));
  const message = problems.map((p) => (p.message.startsWith(p.field) || p.field === '' ? p.message : `${p.field}: ${p.message}`)).join('; ');
  const first = problems[0]?.field ?? '';
  const field = (options.errorField ? options.errorField(first) : first) || undefined;
  throw new DomainError(options.code ?? DomainErrorCode.InvalidArgument, message, field === undefined ? {} : { field });
}
