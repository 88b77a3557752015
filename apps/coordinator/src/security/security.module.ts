import { readFile } from 'node:fs/promises';
import { Global, Module } from '@nestjs/common';
import { COORDINATOR_CONFIG } from '../common/tokens';
import { ResultRepository } from '../storage/result.repository';
import { StorageModule } from '../storage/storage.module';
import { AGENT_CERTIFICATE_ISSUER, type AgentCertificateIssuer } from './agent-certificates';
import { AgentIdentityGuard } from './agent-identity';
import { FarmCaCertificateIssuer } from './farm-ca.issuer';
import { FarmCa } from './pki';
import type { CoordinatorConfig } from '../config';

/**
 * gRPC security: the {@link AgentIdentityGuard} of the gRPC edge and the agent certificate issuer
 * (`null` when the farm CA is not configured). Global, so that enrollment injects the issuer by
 * its token without importing this module.
 */
@Global()
@Module({
  imports: [StorageModule],
  providers: [
    {
      provide: AGENT_CERTIFICATE_ISSUER,
      inject: [COORDINATOR_CONFIG],
      useFactory: async (config: CoordinatorConfig): Promise<AgentCertificateIssuer | null> => {
        if (config.pkiCaCertFile === undefined || config.pkiCaKeyFile === undefined) return null;
        const [certificatePem, keyPem] = await Promise.all([readFile(config.pkiCaCertFile, 'utf8'), readFile(config.pkiCaKeyFile, 'utf8')]);
        return new FarmCaCertificateIssuer(await FarmCa.load(certificatePem, keyPem));
      },
    },
    {
      provide: AgentIdentityGuard,
      inject: [COORDINATOR_CONFIG, ResultRepository],
      useFactory: (config: CoordinatorConfig, results: ResultRepository): AgentIdentityGuard =>
        new AgentIdentityGuard(config.grpcTlsClientCaFile !== undefined, async (jobId) => (await results.getJobContext(jobId))?.agentId),
    },
  ],
  exports: [AGENT_CERTIFICATE_ISSUER, AgentIdentityGuard],
})
export class SecurityModule {}
