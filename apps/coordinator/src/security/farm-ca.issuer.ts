import type { AgentCertificateIssuer } from './agent-certificates';
import type { FarmCa } from './pki';

/** Issues agent client certificates with the farm CA the coordinator was given (BENCHFARM_PKI_CA_CERT/KEY). */
export class FarmCaCertificateIssuer implements AgentCertificateIssuer {
  constructor(private readonly ca: FarmCa) {}

  /** See {@link AgentCertificateIssuer.issue}. */
  async issue(agentId: string, publicKeyPem: string): Promise<{ certificatePem: string; caCertificatePem: string }> {
    const certificatePem = await this.ca.issueAgentCertificate(agentId, publicKeyPem);
    return { certificatePem, caCertificatePem: this.ca.certificatePem };
  }
}
