import { Module } from '@nestjs/common';
import { MetricsModule } from '../metrics/metrics.module';
import { StorageModule } from '../storage/storage.module';
import { ProgressTracker } from './progress-tracker';
import { ResultsService } from './results.service';
import { UploadParking } from './upload-parking';

/** Result ingest (served over gRPC by `results.grpc.ts`) and stored samples. */
@Module({ imports: [StorageModule, MetricsModule], providers: [ProgressTracker, UploadParking, ResultsService], exports: [ProgressTracker, ResultsService] })
export class ResultsModule {}
