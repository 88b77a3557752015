import { createPublicKey } from 'node:crypto';
import { z } from 'zod';
import { AGENT_ID_PATTERN, InvalidAgentIdError, isPublicKey } from '@benchfarm/messaging';

/** Default lifetime of an enrollment code. */
export const ENROLLMENT_CODE_TTL_SECONDS = 3600;
/** Longest lifetime an enrollment code may be given (a week). */
export const ENROLLMENT_CODE_MAX_TTL_SECONDS = 7 * 24 * 3600;
/** An enrollment code as the coordinator issues it (base64url of 32 random bytes fits). */
export const ENROLLMENT_CODE_PATTERN = /^[A-Za-z0-9_-]{16,128}$/;
/** Longest TLS public key PEM an agent may send. */
const TLS_KEY_MAX_CHARS = 16_384;

const TTL_PROBLEM = `must be an integer from 1 to ${ENROLLMENT_CODE_MAX_TTL_SECONDS}`;
const CODE_PROBLEM = 'must be the enrollment code as issued (16-128 characters of A-Z a-z 0-9 _ -)';
const NATS_KEY_PROBLEM = 'must be a NATS user public key (56 characters starting with U)';
const TLS_KEY_PROBLEM = 'must be a PEM public key';

// The agent id rule is the messaging topology's: the id becomes a subject token, a KV key and a consumer name.
const agentId = z
  .string({ error: 'must be a string' })
  .regex(AGENT_ID_PATTERN, { error: (issue) => new InvalidAgentIdError(String(issue.input)).message });

/** POST /v1/enrollments (admin): the body. Unknown fields are ignored. */
export const createEnrollmentCodeRequestSchema = z.object({
  agentId: agentId.meta({ description: 'The agent id the code enrolls (and only that one).' }),
  // A null ttlSeconds gets the default too: the coordinator reads it as absent.
  ttlSeconds: z
    .number({ error: TTL_PROBLEM })
    .int({ error: TTL_PROBLEM })
    .min(1, { error: TTL_PROBLEM })
    .max(ENROLLMENT_CODE_MAX_TTL_SECONDS, { error: TTL_PROBLEM })
    .default(ENROLLMENT_CODE_TTL_SECONDS)
    .nullable()
    .meta({ description: 'How long the code is valid.' }),
});

/** POST /v1/enroll (the agent, with its code): the body. Unknown fields are ignored. */
export const enrollRequestSchema = z.object({
  agentId,
  code: z.string({ error: CODE_PROBLEM }).regex(ENROLLMENT_CODE_PATTERN, { error: CODE_PROBLEM }),
  natsPublicKey: z
    .string({ error: NATS_KEY_PROBLEM })
    .refine((key) => isPublicKey(key, 'U'), { error: NATS_KEY_PROBLEM })
    .meta({ description: "The agent's NATS user public key (U..., 56 characters); its seed never leaves the agent." }),
  tlsPublicKeyPem: z
    .string({ error: TLS_KEY_PROBLEM })
    .max(TLS_KEY_MAX_CHARS, { error: TLS_KEY_PROBLEM, abort: true })
    .superRefine((pem, ctx) => {
      try {
        createPublicKey(pem);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: `not a PEM public key: ${err instanceof Error ? err.message : String(err)}` });
      }
    })
    .nullish()
    .meta({ description: "The agent's TLS public key (SPKI PEM); with a farm CA the coordinator returns a client certificate over it." }),
});

/** The body of POST /v1/enrollments. */
export type CreateEnrollmentCodeRequest = z.input<typeof createEnrollmentCodeRequestSchema>;
/** The body of POST /v1/enroll. */
export type EnrollRequest = z.input<typeof enrollRequestSchema>;
