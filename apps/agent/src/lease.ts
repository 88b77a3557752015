import { setTimeout as sleep } from 'node:timers/promises';
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { LeaseDecision, LeaseStatus, type AcquireLeaseRequest, type AcquireLeaseResponse, type LeasesClient, type RenewLeaseResponse, type UploadStatusResponse } from '@benchfarm/protocol';
import { clientOf, type CoordinatorTarget } from './coordinator-channels';

/** Thrown when the coordinator could not be asked for a lease before the deadline. */
export class LeaseUnavailableError extends Error {
  override name = 'LeaseUnavailableError';
}

/** Deadline of one lease call. */
const CALL_DEADLINE_MS = 5_000;

type Unary<Req, Res> = (req: Req, meta: Metadata, options: { deadline: Date }, cb: (err: ServiceError | null, res: Res) => void) => unknown;

/** One call on the coordinator calls go to now; a failure is reported to the target (several coordinators: it may move on). */
function unary<Req, Res>(target: CoordinatorTarget<LeasesClient>, method: 'acquire' | 'renew' | 'uploadStatus', request: Req): Promise<Res> {
  const { client, failed } = clientOf(target);
  const call = (client[method] as unknown as Unary<Req, Res>).bind(client);
  return new Promise<Res>((resolve, reject) => {
    call(request, new Metadata(), { deadline: new Date(Date.now() + CALL_DEADLINE_MS) }, (err, res) => {
      if (!err) return resolve(res);
      failed(err);
      reject(err);
    });
  });
}

/** The lease one attempt runs under. */
export class JobLease {
  constructor(
    readonly jobId: string,
    readonly agentId: string,
    readonly token: string,
    readonly attempt: number,
  ) {}

  /**
   * Renews the lease; resolves with why it is lost (cancelled, superseded, unknown), or undefined
   * while it holds. `client`: one coordinator's client, or the agent's coordinator channels.
   */
  async renew(client: CoordinatorTarget<LeasesClient>): Promise<string | undefined> {
    const res = await unary<{ jobId: string; agentId: string; leaseToken: string }, RenewLeaseResponse>(client, 'renew', { jobId: this.jobId, agentId: this.agentId, leaseToken: this.token });
    return res.status === LeaseStatus.LEASE_STATUS_ACTIVE ? undefined : `lease ${LeaseStatus[res.status]}: ${res.reason}`;
  }

  /** How many events of the upload the coordinator holds (0 when none, or when it cannot say). */
  async heldEvents(client: CoordinatorTarget<LeasesClient>, uploadId: string): Promise<number> {
    const res = await unary<{ jobId: string; uploadId: string; leaseToken: string }, UploadStatusResponse>(client, 'uploadStatus', { jobId: this.jobId, uploadId, leaseToken: this.token });
    return res.committed ? 0 : res.eventsReceived;
  }
}

/** A lease {@link holdLease} keeps renewed while its job runs. */
export interface HeldLease {
  /** Aborted once a renewal says the lease is lost: the job is to stop. */
  readonly signal: AbortSignal;
  /** Why the lease was lost (cancelled, superseded, unknown); undefined while it holds. */
  readonly lost: string | undefined;
  /** Stops the renewals; call it when the job is over, however it ended. */
  stop(): void;
}

/**
 * Keeps a running job's message and lease alive: every `intervalMs` it tells the server the
 * message is still being worked on (AckWait only covers a dead agent) and renews the lease. The
 * first renewal that finds the lease lost calls `onLost` and aborts `signal`; a renewal that
 * fails is passed to `onRenewalFailed` and the next one is tried.
 */
export function holdLease(
  lease: JobLease,
  client: CoordinatorTarget<LeasesClient>,
  msg: { working(): void },
  intervalMs: number,
  hooks: { onLost?: (reason: string) => void; onRenewalFailed: (err: unknown) => void },
): HeldLease {
  const abort = new AbortController();
  let lost: string | undefined;
  const timer = setInterval(() => {
    msg.working();
    lease.renew(client).then((reason) => {
      if (reason && !lost) {
        lost = reason;
        hooks.onLost?.(reason);
        abort.abort();
      }
    }, hooks.onRenewalFailed);
  }, intervalMs);
  return {
    signal: abort.signal,
    get lost() {
      return lost;
    },
    stop: () => clearInterval(timer),
  };
}

/** A lease, or the reason the job message is to be dropped. */
export type LeaseOutcome = { kind: 'granted'; lease: JobLease } | { kind: 'drop'; reason: string };

/**
 * Asks for a lease, retrying while the coordinator is unreachable (restarting, or several
 * coordinators changing leader: `client` is then the agent's coordinator channels, which move to
 * the next address after each unreachable answer) until `timeoutMs`. A request the coordinator refuses as INVALID_ARGUMENT (the job message's ids are
 * not ids: a hand-made or corrupt message) is a `drop`: the message is at fault, not this device
 * or the coordinator. Thrown: {@link LeaseUnavailableError} after the deadline, on abort, or when
 * the coordinator refuses the request for another reason.
 */
export async function acquireLease(client: CoordinatorTarget<LeasesClient>, request: AcquireLeaseRequest, timeoutMs: number, signal: AbortSignal): Promise<LeaseOutcome> {
  const deadline = Date.now() + timeoutMs;
  let backoffMs = 200;
  for (;;) {
    let res: AcquireLeaseResponse;
    try {
      res = await unary<AcquireLeaseRequest, AcquireLeaseResponse>(client, 'acquire', request);
    } catch (err) {
      const code = (err as Partial<ServiceError>).code;
      if (code === status.INVALID_ARGUMENT) return { kind: 'drop', reason: `INVALID_ARGUMENT: ${(err as Partial<ServiceError>).details ?? (err as Error).message}` };
      const retryable = code === status.UNAVAILABLE || code === status.DEADLINE_EXCEEDED || code === status.INTERNAL || code === status.UNKNOWN;
      if (!retryable || signal.aborted || Date.now() + backoffMs > deadline) {
        throw new LeaseUnavailableError(`no lease for job ${request.jobId}: ${(err as Error).message}`, { cause: err });
      }
      await sleep(backoffMs);
      backoffMs = Math.min(backoffMs * 2, 2_000);
      continue;
    }
    switch (res.decision) {
      case LeaseDecision.LEASE_DECISION_GRANTED:
        return { kind: 'granted', lease: new JobLease(request.jobId, request.agentId, res.leaseToken, res.attempt) };
      case LeaseDecision.LEASE_DECISION_FINISHED:
      case LeaseDecision.LEASE_DECISION_NOT_YOURS:
        return { kind: 'drop', reason: `${LeaseDecision[res.decision]}: ${res.reason}` };
      default:
        throw new LeaseUnavailableError(`no lease for job ${request.jobId}: the coordinator answered decision ${res.decision}`);
    }
  }
}
