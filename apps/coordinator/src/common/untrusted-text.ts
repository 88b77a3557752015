/** Longest untrusted string a log line quotes whole (ids, NATS keys and subjects sent by others). */
export const LOG_TEXT_MAX_CHARS = 200;

/**
 * An untrusted string (a field a gRPC caller sent, a NATS key, subject or message field) cut to
 * `maxChars`, with how much was left out, for a log line or an error reply. A 100k-character job
 * id once went whole into the log and into the gRPC status message, which the client's HTTP/2
 * layer could not take. Pure.
 */
export function truncateUntrusted(value: string, maxChars = LOG_TEXT_MAX_CHARS): string {
  if (value.length <= maxChars) return value;
  return `${value.slice(0, maxChars)}... (${value.length - maxChars} more characters)`;
}
