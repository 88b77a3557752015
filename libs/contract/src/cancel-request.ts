import { z } from 'zod';

/** Longest reason a cancellation may carry. */
export const CANCEL_REASON_MAX_CHARS = 500;

const REASON_PROBLEM = `reason must be a string of at most ${CANCEL_REASON_MAX_CHARS} characters`;

/** POST /sweeps/{id}/cancel: the body, optional (no body: reason "cancelled by request"). */
export const cancelSweepRequestSchema = z.object({
  reason: z
    .string({ error: REASON_PROBLEM })
    .max(CANCEL_REASON_MAX_CHARS, { error: REASON_PROBLEM })
    .meta({ description: 'Why, recorded with each cancelled job (default "cancelled by request").' })
    .optional(),
});

/** The body of POST /sweeps/{id}/cancel. */
export type CancelSweepRequest = z.input<typeof cancelSweepRequestSchema>;

