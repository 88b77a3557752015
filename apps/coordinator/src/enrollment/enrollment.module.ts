import { Module } from '@nestjs/common';
import { FARM_STORE, COORDINATOR_CONFIG } from '../common/tokens';
import type { FarmStore } from '@benchfarm/messaging';
import type { CoordinatorConfig } from '../config';
import { AgentProvisioner, NatsAgentProvisioner } from './agent-provisioner';
import { EnrollmentController } from './enrollment.controller';
import { EnrollmentRepository, SqlEnrollmentRepository } from './enrollment.repository';
import { EnrollmentService } from './enrollment.service';

/**
 * Agent enrollment: `POST /v1/enrollments` and `POST /v1/enroll`. The agent certificate issuer
 * comes from the global security module when it is there.
 */
@Module({
  controllers: [EnrollmentController],
  providers: [
    EnrollmentService,
    { provide: EnrollmentRepository, useClass: SqlEnrollmentRepository },
    {
      provide: AgentProvisioner,
      inject: [FARM_STORE, COORDINATOR_CONFIG],
      // The agent's consumer gets the AckWait the coordinator's leases assume (leaseTtlMs defaults to AckWait).
      useFactory: (farm: FarmStore, config: CoordinatorConfig): AgentProvisioner => NatsAgentProvisioner.fromFiles(farm.jsm, config.natsAccountSigningKeyFile, { ackWaitMs: config.leaseTtlMs }),
    },
  ],
  exports: [EnrollmentService],
})
export class EnrollmentModule {}
