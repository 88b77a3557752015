import type { SerializedError } from './serialize';

/** The parent's one request to a runIsolated child. */
export interface IsolatedRequest {
  readonly kind: 'isolate.run';
  readonly input: unknown;
}

/** The child's one answer. */
export type IsolatedAnswer = { readonly kind: 'isolate.answer'; readonly ok: true; readonly value: unknown } | { readonly kind: 'isolate.answer'; readonly ok: false; readonly error: SerializedError };

/** A short, bounded rendering of a message for an error text. */
export function preview(message: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(message) ?? String(message);
  } catch {
    text = String(message);
  }
  return text.length > 200 ? `${text.slice(0, 200)}... (${text.length} chars)` : text;
}
