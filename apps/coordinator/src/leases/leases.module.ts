import { Module } from '@nestjs/common';
import type { FarmStore } from '@benchfarm/messaging';
import { FARM_STORE } from '../common/tokens';
import { StorageModule } from '../storage/storage.module';
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
    LeaseService,
    FleetMonitor,
    MaxDeliverWatcher,
  ],
  exports: [LeaseService, FleetMonitor, MaxDeliverWatcher],
})
export class LeasesModule {}
