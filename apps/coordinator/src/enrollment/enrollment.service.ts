import { createHash, randomBytes } from 'node:crypto';
import { Inject, Injectable, Logger, Optional, type OnApplicationBootstrap } from '@nestjs/common';
import { ENROLLMENT_CODE_TTL_SECONDS, createEnrollmentCodeRequestSchema, enrollRequestSchema } from '@benchfarm/contract';
import { Clock } from '../common/clock';
import { DomainError, DomainErrorCode, errorMessage } from '../common/domain-error';
import { parseRequest } from '../common/parse-request';
import { COORDINATOR_CONFIG } from '../common/tokens';
import { AGENT_CERTIFICATE_ISSUER, type AgentCertificateIssuer } from '../security/agent-certificates';
import type { CoordinatorConfig } from '../config';
import { AgentProvisioner } from './agent-provisioner';
import { EnrollmentRepository } from './enrollment.repository';

/** What an admin gets from `POST /v1/enrollments`: the code to hand to the agent's operator, once. */
export interface EnrollmentCodeView {
  agentId: string;
  code: string;
  expiresAt: string;
  expiresAtUnixMs: number;
}

/** What an enrolling agent gets from `POST /v1/enroll`. */
export interface EnrollmentView {
  agentId: string;
  /** The agent's NATS user JWT (its seed stayed on the agent). */
  natsUserJwt: string;
  /** NATS URL(s) the agent should dial. */
  natsUrl: string;
  /** The coordinator's gRPC host:port the agent should dial. */
  grpcAddress: string;
  /** JetStream domain of the hub the agent must use (BENCHFARM_NATS_JS_DOMAIN), when the coordinator has one (BENCHFARM_PUBLIC_NATS_JS_DOMAIN). */
  natsJsDomain?: string;
  /** The agent's gRPC client certificate and the farm CA, when it sent a TLS key and the coordinator has a farm CA. */
  tls?: { certificatePem: string; caCertificatePem: string };
}

const invalid = (field: string, message: string): DomainError => new DomainError(DomainErrorCode.InvalidArgument, `${field}: ${message}`, { field });
const sha256 = (value: string): string => createHash('sha256').update(value).digest('hex');
/** A body that is not a JSON object is read as one without fields (the contract's schema then names the first missing one). */
const fieldsOf = (body: unknown): object => (typeof body === 'object' && body !== null && !Array.isArray(body) ? body : {});

/**
 * Enrollment: an admin asks for a one-time code for an agent id; the agent's operator runs
 * `benchfarm agent enroll` with it, which sends the agent's public keys (NATS nkey, and a TLS key
 * when gRPC uses mTLS) and gets back a NATS user restricted to that agent's subjects, and a client
 * certificate. Codes are random (256 bit), stored only as SHA-256, expire, and enroll once.
 */
@Injectable()
export class EnrollmentService implements OnApplicationBootstrap {
  private ownGrpcAddress: string;
  private readonly log = new Logger('Enrollment');

  constructor(
    @Inject(EnrollmentRepository) private readonly codes: EnrollmentRepository,
    @Inject(AgentProvisioner) private readonly nats: AgentProvisioner,
    @Inject(Clock) private readonly clock: Clock,
    @Inject(COORDINATOR_CONFIG) private readonly config: CoordinatorConfig,
    @Optional() @Inject(AGENT_CERTIFICATE_ISSUER) private readonly certificates: AgentCertificateIssuer | null = null,
  ) {
    this.ownGrpcAddress = `${config.grpcHost}:${config.grpcPort}`;
  }

  /**
   * Recreates the job consumer of every enrolled agent that lacks one (the agent's user may not
   * create it): after the JetStream store was lost or reset, enrolled agents would otherwise
   * refuse to start until enrolled again. Idempotent; a failure is logged, not fatal (the
   * coordinator also serves agents without enrollment).
   */
  async onApplicationBootstrap(): Promise<void> {
    if (!this.nats.enabled) return;
    const restored: string[] = [];
    for (const agentId of await this.codes.enrolledAgentIds()) {
      try {
        await this.nats.ensureConsumer(agentId);
        restored.push(agentId);
      } catch (err) {
        this.log.warn(`cannot ensure the job consumer of enrolled agent ${agentId}: ${errorMessage(err)}`);
      }
    }
    if (restored.length > 0) this.log.log(`job consumers ensured for ${restored.length} enrolled agent(s)`);
  }

  /** Records the gRPC address actually bound (port 0 picks one), used when no public address is configured. */
  setOwnGrpcAddress(address: string): void {
    this.ownGrpcAddress = address;
  }

  /**
   * Issues a one-time code for `agentId`.
   *
   * Thrown errors: DomainError EnrollmentDisabled without a signing key; InvalidArgument naming
   * `agentId` or `ttlSeconds`.
   */
  async createCode(body: unknown): Promise<EnrollmentCodeView> {
    this.requireEnabled();
    const { agentId, ttlSeconds: givenTtl } = parseRequest(createEnrollmentCodeRequestSchema, fieldsOf(body));
    const ttlSeconds = givenTtl ?? ENROLLMENT_CODE_TTL_SECONDS;
    const code = randomBytes(32).toString('base64url');
    const nowMs = this.clock.nowMs();
    const expiresAtUnixMs = nowMs + ttlSeconds * 1000;
    await this.codes.insert({ codeSha256: sha256(code), agentId, createdAtMs: nowMs, expiresAtMs: expiresAtUnixMs });
    return { agentId, code, expiresAt: new Date(expiresAtUnixMs).toISOString(), expiresAtUnixMs };
  }

  /**
   * Enrolls an agent with a code. Everything is checked before anything is written: a request
   * that fails for any reason but the code itself leaves the code usable.
   *
   * Thrown errors: DomainError EnrollmentDisabled; InvalidArgument naming `agentId`, `code`,
   * `natsPublicKey` or `tlsPublicKeyPem`; EnrollmentCodeInvalid (unknown, expired, or issued for
   * another agent id); EnrollmentCodeUsed; MessagingUnavailable when the consumer cannot be created.
   */
  async enroll(body: unknown): Promise<EnrollmentView> {
    this.requireEnabled();
    const { agentId, code, natsPublicKey, tlsPublicKeyPem } = parseRequest(enrollRequestSchema, fieldsOf(body));

    const codeSha256 = sha256(code);
    const record = await this.codes.find(codeSha256);
    const nowMs = this.clock.nowMs();
    if (!record) throw new DomainError(DomainErrorCode.EnrollmentCodeInvalid, 'code: unknown enrollment code', { field: 'code' });
    if (record.usedAtMs !== null) throw new DomainError(DomainErrorCode.EnrollmentCodeUsed, `code: this enrollment code was already used at ${new Date(record.usedAtMs).toISOString()}; ask for a new one`, { field: 'code' });
    if (record.expiresAtMs <= nowMs) throw new DomainError(DomainErrorCode.EnrollmentCodeInvalid, `code: this enrollment code expired at ${new Date(record.expiresAtMs).toISOString()}; ask for a new one`, { field: 'code' });
    if (record.agentId !== agentId) throw new DomainError(DomainErrorCode.EnrollmentCodeInvalid, `agentId: this enrollment code was issued for another agent id, not ${JSON.stringify(agentId)}`, { field: 'agentId' });

    // Signing and certificate issuance write nothing; do them before the code is claimed.
    const natsUserJwt = await this.nats.signAgentUser(agentId, natsPublicKey, this.config.publicNatsJsDomain);
    let tls: EnrollmentView['tls'];
    if (typeof tlsPublicKeyPem === 'string' && this.certificates) {
      try {
        tls = await this.certificates.issue(agentId, tlsPublicKeyPem);
      } catch (err) {
        if (err instanceof DomainError && err.code === DomainErrorCode.InvalidArgument) throw invalid('tlsPublicKeyPem', err.message);
        throw err;
      }
    }
    if (!(await this.codes.claim(codeSha256, nowMs, natsPublicKey))) {
      throw new DomainError(DomainErrorCode.EnrollmentCodeUsed, 'code: this enrollment code was used meanwhile, or expired; ask for a new one', { field: 'code' });
    }
    try {
      await this.nats.ensureConsumer(agentId);
    } catch (err) {
      await this.codes.release(codeSha256, natsPublicKey);
      throw new DomainError(DomainErrorCode.MessagingUnavailable, `cannot create the agent's job consumer: ${errorMessage(err)}`, { cause: err });
    }
    // The key is what `benchfarm security revoke --key` needs to cut this user off later.
    this.log.log(`enrolled agent ${agentId}: NATS user ${natsPublicKey}${tls ? ', gRPC client certificate issued' : ''}`);
    return {
      agentId,
      natsUserJwt,
      natsUrl: this.config.publicNatsUrl ?? this.config.natsUrl,
      grpcAddress: this.config.publicGrpcAddress ?? this.ownGrpcAddress,
      ...(this.config.publicNatsJsDomain ? { natsJsDomain: this.config.publicNatsJsDomain } : {}),
      ...(tls ? { tls } : {}),
    };
  }

  private requireEnabled(): void {
    if (!this.nats.enabled) {
      throw new DomainError(DomainErrorCode.EnrollmentDisabled, 'enrollment is off on this coordinator: start it with BENCHFARM_NATS_CREDS and BENCHFARM_NATS_ACCOUNT_SIGNING_KEY (from `benchfarm security init`)');
    }
  }
}
