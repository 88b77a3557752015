import { Module } from '@nestjs/common';
import { StorageModule } from '../storage/storage.module';
import { JobExpiry } from './job-expiry';

/** Jobs the job stream's limits removed: queued jobs whose message outlived the max age fail as expired. */
@Module({
  imports: [StorageModule],
  providers: [JobExpiry],
  exports: [JobExpiry],
})
export class JobsModule {}
