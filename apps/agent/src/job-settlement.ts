import { UploadOutcome } from '@benchfarm/protocol';

/**
 * How one job message ended on this agent. Every path of the agent's job handling ends in one of
 * these, and {@link settlementOf} alone decides what becomes of the message.
 */
export type JobOutcome =
  /** The message is not a BenchJob. */
  | { readonly kind: 'undecodable'; readonly reason: string }
  /** A BenchJob this agent cannot run: addressed to another agent, or without variant or suite settings. */
  | { readonly kind: 'invalid'; readonly reason: string }
  /** The coordinator refused the lease: the job is finished, another attempt holds it, or its ids are not ids. */
  | { readonly kind: 'leaseRefused'; readonly reason: string }
  /** The coordinator could not be asked for a lease before the deadline; `shuttingDown`: the agent is stopping. */
  | { readonly kind: 'coordinatorUnreachable'; readonly shuttingDown: boolean }
  /** The lease was cancelled or superseded while the job ran: another attempt holds the job, or it was cancelled. */
  | { readonly kind: 'leaseLost'; readonly reason: string }
  /** The agent stopped while the job ran: not the job's fault. */
  | { readonly kind: 'shutdown' }
  /**
   * The coordinator answered the upload: a result stored (success, or a duplicate of one), or the
   * attempt's error recorded; `jobFinal` says whether the job will be tried again.
   */
  | { readonly kind: 'uploaded'; readonly outcome: UploadOutcome; readonly jobFinal: boolean }
  /** The coordinator refused the result for good: sending it again cannot succeed. */
  | { readonly kind: 'resultRefused'; readonly reason: string }
  /** The result could not be delivered (the coordinator unreachable past the upload's retries). */
  | { readonly kind: 'uploadFailed' };

/** What becomes of a job message: acked (done), given back after a delay, or dropped for good. */
export type Settlement = { readonly action: 'ack' } | { readonly action: 'nak'; readonly delayMs: number } | { readonly action: 'term'; readonly reason: string };

/** Wait before a job goes back after the coordinator could not be asked for a lease: it may be restarting. */
export const NAK_COORDINATOR_UNREACHABLE_MS = 1_000;
/** Wait before a job whose attempt failed retryably goes back (the coordinator recorded the error). */
export const NAK_RETRYABLE_ERROR_MS = 2_000;
/** Wait before a job whose result could not be delivered goes back. */
export const NAK_UPLOAD_FAILED_MS = 5_000;

/**
 * What becomes of a job message, given how it ended. Pure.
 *
 * A term is for a message no attempt can ever use (malformed, not this agent's, finished or held
 * elsewhere, refused result); a nak gives back a job that is not at fault (at once on shutdown,
 * after a delay when the coordinator or the device may recover); an ack only after the
 * coordinator stored a result, or recorded the error of a job that will not be tried again.
 */
export function settlementOf(outcome: JobOutcome): Settlement {
  switch (outcome.kind) {
    case 'undecodable':
      return { action: 'term', reason: `not a BenchJob: ${outcome.reason}` };
    case 'invalid':
      return { action: 'term', reason: `job not valid for this agent: ${outcome.reason}` };
    case 'leaseRefused':
      return { action: 'term', reason: `no lease: ${outcome.reason}` };
    case 'coordinatorUnreachable':
      return { action: 'nak', delayMs: outcome.shuttingDown ? 0 : NAK_COORDINATOR_UNREACHABLE_MS };
    case 'leaseLost':
      return { action: 'term', reason: `job stopped: ${outcome.reason}` };
    case 'shutdown':
      return { action: 'nak', delayMs: 0 };
    case 'uploaded':
      return outcome.outcome === UploadOutcome.UPLOAD_OUTCOME_COMMITTED || outcome.outcome === UploadOutcome.UPLOAD_OUTCOME_DUPLICATE || outcome.jobFinal
        ? { action: 'ack' }
        : { action: 'nak', delayMs: NAK_RETRYABLE_ERROR_MS };
    case 'resultRefused':
      return { action: 'term', reason: `the coordinator refused the result: ${outcome.reason}` };
    case 'uploadFailed':
      return { action: 'nak', delayMs: NAK_UPLOAD_FAILED_MS };
    default:
      return assertNever(outcome);
  }
}

function assertNever(value: never): never {
  throw new Error(`unexpected job outcome ${JSON.stringify(value)}`);
}
