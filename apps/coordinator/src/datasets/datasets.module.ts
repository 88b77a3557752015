import { Global, Module } from '@nestjs/common';
import type { FarmStore } from '@benchfarm/messaging';
import { COORDINATOR_CONFIG, FARM_STORE } from '../common/tokens';
import type { CoordinatorConfig } from '../config';
import { DatasetObjects, NatsDatasetObjects } from './dataset-objects';
import { DatasetRepository, SqlDatasetRepository } from './dataset.repository';
import { DatasetCatalog } from './dataset.types';
import { DatasetsController } from './datasets.controller';
import { DatasetsService } from './datasets.service';
import { LocalUploadStaging, UploadStaging } from './upload-staging';

/**
 * Datasets: `/v1/datasets` (resumable uploads, list, show, remove) and the {@link DatasetCatalog}
 * that sweeps inject to resolve a dataset and fetch its images and labels. Global, so the catalog
 * reaches SweepsService (which takes it as optional) without an import cycle between the two modules.
 */
@Global()
@Module({
  controllers: [DatasetsController],
  providers: [
    DatasetsService,
    { provide: DatasetCatalog, useExisting: DatasetsService },
    { provide: DatasetRepository, useClass: SqlDatasetRepository },
    // Dataset files share the models bucket: agents fetch them with fetchModel under the same NATS permissions.
    { provide: DatasetObjects, inject: [FARM_STORE], useFactory: (farm: FarmStore): DatasetObjects => new NatsDatasetObjects(farm.models) },
    { provide: UploadStaging, inject: [COORDINATOR_CONFIG], useFactory: (config: CoordinatorConfig): UploadStaging => new LocalUploadStaging(config.dataDir) },
  ],
  exports: [DatasetCatalog, DatasetsService],
})
export class DatasetsModule {}
