// Errors as they cross a process boundary: JSON-safe, with name, message, stack, the cause
// chain and the own fields of domain errors (code, field, variant...), so that the parent can
// rebuild the same class with the same fields.

/** A JSON value. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** An error (or a thrown non-error) in JSON-safe form. */
export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  /** Own enumerable fields other than name, message, stack and cause, made JSON-safe. */
  readonly fields: Readonly<Record<string, JsonValue>>;
  readonly cause?: SerializedError;
  /** The errors of an AggregateError. */
  readonly errors?: readonly SerializedError[];
  /** Set when what was thrown was not an Error (a string, a plain object). */
  readonly nonError?: true;
}

/** Error classes the parent may rebuild, by the `name` their instances carry. */
export type KnownErrors = Readonly<Record<string, abstract new (...args: never[]) => Error>>;

const MAX_DEPTH = 8;
const MAX_STRING = 64 * 1024;
const SKIPPED = new Set(['name', 'message', 'stack', 'cause', 'errors']);

function jsonSafe(value: unknown, depth: number, seen: Set<object>): JsonValue | undefined {
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'string') return value.length > MAX_STRING ? `${value.slice(0, MAX_STRING)}...` : value;
  if (typeof value === 'bigint') return value.toString();
  if (typeof value !== 'object' || depth > MAX_DEPTH || seen.has(value)) return undefined;
  if (ArrayBuffer.isView(value)) return `[${value.constructor.name} of ${value.byteLength} bytes]`;
  seen.add(value);
  try {
    if (Array.isArray(value)) return value.map((v) => jsonSafe(v, depth + 1, seen) ?? null);
    const out: Record<string, JsonValue> = {};
    for (const [key, v] of Object.entries(value)) {
      const safe = jsonSafe(v, depth + 1, seen);
      if (safe !== undefined) out[key] = safe;
    }
    return out;
  } finally {
    seen.delete(value);
  }
}

function serialize(err: unknown, depth: number, seen: Set<object>): SerializedError {
  if (!(err instanceof Error)) {
    const message = typeof err === 'string' ? err : (JSON.stringify(jsonSafe(err, 0, new Set())) ?? String(err));
    return { name: 'Error', message, fields: {}, nonError: true };
  }
  seen.add(err);
  const fields: Record<string, JsonValue> = {};
  for (const [key, v] of Object.entries(err)) {
    if (SKIPPED.has(key)) continue;
    const safe = jsonSafe(v, 1, new Set());
    if (safe !== undefined) fields[key] = safe;
  }
  const next = (e: unknown): SerializedError | undefined => {
    if (depth >= MAX_DEPTH || (typeof e === 'object' && e !== null && seen.has(e))) return undefined;
    return serialize(e, depth + 1, seen);
  };
  const cause = 'cause' in err && err.cause !== undefined ? next(err.cause) : undefined;
  const errors = err instanceof AggregateError && Array.isArray(err.errors) ? err.errors.map(next).filter((e): e is SerializedError => e !== undefined) : undefined;
  return {
    name: err.name,
    message: err.message,
    ...(err.stack !== undefined && { stack: err.stack }),
    fields,
    ...(cause && { cause }),
    ...(errors && { errors }),
  };
}

/**
 * Turns anything thrown into a JSON-safe {@link SerializedError}: name, message, stack, own
 * fields, and the `cause` chain (and AggregateError's errors), up to 8 levels deep; cycles are
 * cut. Never throws.
 */
export function serializeError(err: unknown): SerializedError {
  return serialize(err, 0, new Set());
}

const hidden = (value: unknown): PropertyDescriptor => ({ value, writable: true, enumerable: false, configurable: true });

/**
 * Rebuilds an error serialized by {@link serializeError}. An error whose name is a key of
 * `known` becomes an instance of that class (its constructor is not run: the fields are copied
 * as they were), so `instanceof` and the domain fields hold; any other becomes an Error whose
 * `name` is the original one. The stack is the child's; the cause chain is rebuilt the same way.
 */
export function reviveError(serialized: SerializedError, known: KnownErrors = {}): Error {
  const cls = Object.hasOwn(known, serialized.name) ? known[serialized.name] : undefined;
  const err: Error = cls ? (Object.create(cls.prototype) as Error) : new Error(serialized.message);
  Object.defineProperty(err, 'message', hidden(serialized.message));
  Object.defineProperty(err, 'stack', hidden(serialized.stack ?? `${serialized.name}: ${serialized.message}`));
  if (cls || serialized.name !== 'Error') Object.defineProperty(err, 'name', { value: serialized.name, writable: true, enumerable: Boolean(cls), configurable: true });
  Object.assign(err, serialized.fields);
  if (serialized.cause) Object.defineProperty(err, 'cause', hidden(reviveError(serialized.cause, known)));
  if (serialized.errors) Object.defineProperty(err, 'errors', hidden(serialized.errors.map((e) => reviveError(e, known))));
  return err;
}

/** Whether a value has the shape of a {@link SerializedError} (for messages from a child). */
export function isSerializedError(value: unknown): value is SerializedError {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<SerializedError>;
  return typeof v.name === 'string' && typeof v.message === 'string' && typeof v.fields === 'object' && v.fields !== null && (v.cause === undefined || isSerializedError(v.cause));
}
