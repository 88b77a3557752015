import { DomainError, DomainErrorCode } from '../common/domain-error';

/**
 * Longest value of each identifier field of the gRPC requests, wherever it appears (proto field
 * name). The coordinator makes job, sweep and lease ids of 36-38 characters; agent ids are
 * `[A-Za-z0-9_-]{1,64}`; an agent's upload id is its job id, the attempt and a UUID.
 */
export const GRPC_ID_MAX_CHARS: Readonly<Record<string, number>> = {
  job_id: 128,
  sweep_id: 128,
  agent_id: 64,
  lease_token: 128,
  upload_id: 256,
};

/** Longest other string of a gRPC request (an agent's error message with the last lines of a child's stderr fits). */
export const GRPC_TEXT_MAX_CHARS = 65_536;

/** Most entries of a repeated field of strings or messages (percentiles, profiles, evaluations: tens in practice). */
export const GRPC_REPEATED_MAX = 10_000;

/**
 * Most entries of a repeated number field (a samples chunk). The 4 MiB receive limit already
 * holds it to 524,288 doubles; the bound keeps the rule explicit for every repeated field.
 */
export const GRPC_REPEATED_NUMBERS_MAX = 1_048_576;

/** Longest status message a gRPC error reply carries (the client's HTTP/2 layer drops trailers past ~64 KiB). */
export const GRPC_DETAILS_MAX_CHARS = 1_024;

const snake = (name: string): string => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

function refuse(field: string, problem: string): DomainError {
  return new DomainError(DomainErrorCode.InvalidArgument, `${field} ${problem}`, { field });
}

function checkValue(value: unknown, path: string, name: string): void {
  if (typeof value === 'string') {
    const max = GRPC_ID_MAX_CHARS[name] ?? GRPC_TEXT_MAX_CHARS;
    if (value.length > max) throw refuse(path, `is ${value.length} characters long; at most ${max}`);
    return;
  }
  if (Array.isArray(value)) {
    const numbers = value.length > 0 && typeof value[0] === 'number';
    const max = numbers ? GRPC_REPEATED_NUMBERS_MAX : GRPC_REPEATED_MAX;
    if (value.length > max) throw refuse(path, `has ${value.length} entries; at most ${max}`);
    if (!numbers) value.forEach((item, i) => checkValue(item, `${path}[${i}]`, name));
    return;
  }
  if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array)) checkFields(value as Record<string, unknown>, path);
}

function checkFields(message: Record<string, unknown>, prefix: string): void {
  // ts-proto writes a oneof as { $case, value }; the proto path names the chosen field itself.
  if (typeof message['$case'] === 'string' && 'value' in message) {
    const name = snake(message['$case']);
    checkValue(message['value'], prefix === '' ? name : `${prefix.slice(0, prefix.lastIndexOf('.') + 1)}${name}`, name);
    return;
  }
  for (const [key, value] of Object.entries(message)) {
    const name = snake(key);
    checkValue(value, prefix === '' ? name : `${prefix}.${name}`, name);
  }
}

/**
 * Checks the sizes of a decoded gRPC request (any message of the Leases or Results services):
 * identifier fields against {@link GRPC_ID_MAX_CHARS}, every other string against
 * {@link GRPC_TEXT_MAX_CHARS}, repeated fields against {@link GRPC_REPEATED_MAX} (numbers:
 * {@link GRPC_REPEATED_NUMBERS_MAX}), at any depth. Runs before anything else sees the request,
 * so no oversized value reaches a log line, an error message or the database. Pure.
 *
 * Thrown: {@link DomainError} `invalid_argument` whose field is the proto path
 * (`header.job_id`, `summary.percentiles`) and whose message names the bound.
 */
export function assertGrpcRequestBounds(message: object): void {
  checkFields(message as Record<string, unknown>, '');
}
