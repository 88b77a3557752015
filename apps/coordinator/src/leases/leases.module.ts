import { Module } from '@nestjs/common';
import type { FarmStore } from '@benchfarm/messaging';
import { COORDINATOR_CONFIG, FARM_STORE } from '../common/tokens';
import type { CoordinatorConfig } from '../config';
import { StorageModule } from '../storage/storage.module';
import { AgentPoolMemory, KvAgentPoolMemory } from './agent-pools';
import { FleetMonitor } from './fleet-monitor';
import { JetStreamJobStream, JobStream } from './job-stream';
import { LeaseService } from './lease.service';
import { LeasesController } from './leases.controller';
import { MaxDeliverWatcher } from './max-deliver.watcher';

/** Per-attempt leases, lease expiry and stale-agent handling, MaxDeliver advisories, sweep cancellation. */
@Module({
  imports: [StorageModule],
  controllers: [LeasesController],
  providers: [
    { provide: JobStream, useFactory: (farm: FarmStore) => new JetStreamJobStream(farm.jsm), inject: [FARM_STORE] },
    { provide: AgentPoolMemory, useFactory: (farm: FarmStore, config: CoordinatorConfig) => new KvAgentPoolMemory(farm, config.natsReplicas), inject: [FARM_STORE, COORDINATOR_CONFIG] },
    LeaseService,
    FleetMonitor,
    MaxDeliverWatcher,
  ],
  exports: [LeaseService, FleetMonitor, MaxDeliverWatcher],
})
export class LeasesModule {}
