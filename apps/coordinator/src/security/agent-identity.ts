import { readFileSync } from 'node:fs';
import type { PeerCertificate } from 'node:tls';
import { DomainError, DomainErrorCode } from '../common/domain-error';
import type { CoordinatorConfig } from '../config';
import { agentIdOfCertificate } from './pki';

/** The PEM material the gRPC server binds with; `clientCaPem` present means mTLS is required. */
export interface GrpcServerTls {
  readonly certificatePem: Buffer;
  readonly keyPem: Buffer;
  readonly clientCaPem?: Buffer | undefined;
}

/**
 * Reads the gRPC TLS files of a validated configuration (loadConfig already checked that they
 * exist, parse and match); undefined when gRPC TLS is off.
 */
export function readGrpcServerTls(config: Pick<CoordinatorConfig, 'grpcTlsCertFile' | 'grpcTlsKeyFile' | 'grpcTlsClientCaFile'>): GrpcServerTls | undefined {
  if (config.grpcTlsCertFile === undefined || config.grpcTlsKeyFile === undefined) return undefined;
  return {
    certificatePem: readFileSync(config.grpcTlsCertFile),
    keyPem: readFileSync(config.grpcTlsKeyFile),
    clientCaPem: config.grpcTlsClientCaFile === undefined ? undefined : readFileSync(config.grpcTlsClientCaFile),
  };
}

/** What the identity checks need of a gRPC server call. */
export interface AuthenticatedCall {
  getAuthContext(): { sslPeerCertificate?: PeerCertificate | undefined } | null;
}

/**
 * Ties gRPC calls to the agent their mTLS client certificate names. With mTLS on, a call that
 * acts for another agent (a lease request or result header naming another agent id, or a job
 * assigned to another agent) is refused with `permission_denied` before any service sees it, so
 * nothing is written. With mTLS off every check passes: loopback or explicitly allowed binds only
 * (config.ts).
 */
export class AgentIdentityGuard {
  constructor(
    /** Whether client certificates are required (BENCHFARM_GRPC_TLS_CLIENT_CA set). */
    readonly mtls: boolean,
    /** The agent a job is currently assigned to; undefined for an unknown job. */
    private readonly jobAgentId: (jobId: string) => Promise<string | undefined>,
  ) {}

  /** A guard that checks nothing (mTLS off). */
  static off(): AgentIdentityGuard {
    return new AgentIdentityGuard(false, () => Promise.resolve(undefined));
  }

  /**
   * The agent id the call's verified client certificate names; undefined with mTLS off.
   * Thrown: {@link DomainError} `permission_denied` when mTLS is on and the certificate names no agent.
   */
  callerOf(call: AuthenticatedCall): string | undefined {
    if (!this.mtls) return undefined;
    const certificate = call.getAuthContext()?.sslPeerCertificate;
    if (!certificate) throw new DomainError(DomainErrorCode.PermissionDenied, 'the call carries no verified client certificate; mTLS is required');
    const identity = agentIdOfCertificate(certificate);
    if ('problem' in identity) throw new DomainError(DomainErrorCode.PermissionDenied, identity.problem);
    return identity.agentId;
  }

  /**
   * Checks that the call acts for the agent its certificate names. Thrown: {@link DomainError}
   * `permission_denied` naming the certificate identity and the claimed agent (and `field`).
   */
  requireAgent(call: AuthenticatedCall, claimedAgentId: string, field: string): void {
    const caller = this.callerOf(call);
    if (caller === undefined || caller === claimedAgentId) return;
    throw new DomainError(DomainErrorCode.PermissionDenied, `the client certificate names agent ${caller} but ${field} claims agent ${JSON.stringify(claimedAgentId)}`, { field });
  }

  /**
   * Checks that an upload carries a lease token when mTLS is on. The lease check
   * (lease.repository.ts) takes a token-less result for a job never leased (kept for plaintext
   * loopback tools); without this, an agent could commit a queued job of its own that it was
   * never granted. Every agent sends the token of the lease it holds. Thrown:
   * {@link DomainError} `permission_denied` naming the field.
   */
  requireLeaseToken(call: AuthenticatedCall, leaseToken: string, field: string): void {
    if (this.callerOf(call) === undefined || leaseToken !== '') return;
    throw new DomainError(DomainErrorCode.PermissionDenied, `${field} is empty: with mTLS an upload must carry the lease its agent was granted (Leases.Acquire)`, { field });
  }

  /**
   * Checks that the job (when it exists) is assigned to the agent the certificate names. Thrown:
   * {@link DomainError} `permission_denied` naming the certificate identity and the job's agent.
   */
  async requireJob(call: AuthenticatedCall, jobId: string, field: string): Promise<void> {
    const caller = this.callerOf(call);
    if (caller === undefined) return;
    const owner = await this.jobAgentId(jobId);
    if (owner === undefined || owner === caller) return;
    throw new DomainError(DomainErrorCode.PermissionDenied, `the client certificate names agent ${caller} but job ${jobId} (${field}) is assigned to agent ${owner}`, { field });
  }
}
