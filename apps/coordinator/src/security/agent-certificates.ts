/**
 * Issues gRPC client certificates to agents, signed by the farm CA.
 *
 * Used by the enrollment flow: the agent generates its key pair and sends only the public key
 * (SPKI PEM); the coordinator returns a certificate that names the agent (subject CN and SAN URI
 * `spiffe://benchfarm/agent/<agentId>`), so that with mTLS on, the gRPC edge can tie every call
 * to the agent id it acts for. The agent's private key never leaves the agent.
 */
export interface AgentCertificateIssuer {
  /**
   * Issues a client certificate (clientAuth, bounded validity) for `agentId` over `publicKeyPem`.
   * Resolves to the certificate and the farm CA certificate the agent should trust for the server.
   * Rejects with a DomainError (InvalidArgument, naming the field) when the agent id is not a valid
   * agent id or the public key is not a parseable SPKI PEM key.
   */
  issue(agentId: string, publicKeyPem: string): Promise<{ certificatePem: string; caCertificatePem: string }>;
}

/**
 * Nest provider token of the {@link AgentCertificateIssuer}. The provider's value is `null` when the
 * farm CA is not configured (gRPC TLS off or no CA key given): inject it with `@Optional()` and treat
 * `null` as "this coordinator hands out no client certificates".
 */
export const AGENT_CERTIFICATE_ISSUER = Symbol('AgentCertificateIssuer');
