import { Module } from '@nestjs/common';
import { MulterModule } from '@nestjs/platform-express';
import { AgentsModule } from '../agents/agents.module';
import { COORDINATOR_CONFIG } from '../common/tokens';
import { MetricsModule } from '../metrics/metrics.module';
import { ResultsModule } from '../results/results.module';
import { StorageModule } from '../storage/storage.module';
import { Workspace } from '../variants/workspace';
import { DerivationRunner } from './derivation.runner';
import { SweepsController } from './sweeps.controller';
import { SweepsService } from './sweeps.service';
import type { CoordinatorConfig } from '../config';

/** Sweeps: planning, creation (with model upload), the derivation step and views. */
@Module({
  imports: [
    StorageModule,
    AgentsModule,
    ResultsModule,
    MetricsModule,
    MulterModule.registerAsync({
      // Uploads go to disk under random names (never the client's file name), size-limited.
      useFactory: (workspace: Workspace, config: CoordinatorConfig) => ({
        dest: workspace.uploadDir,
        limits: { fileSize: config.maxModelBytes, files: 1, fields: 48, fieldSize: 64 * 1024, parts: 56 },
      }),
      inject: [Workspace, COORDINATOR_CONFIG],
    }),
  ],
  controllers: [SweepsController],
  providers: [SweepsService, DerivationRunner],
})
export class SweepsModule {}
