import { Module } from '@nestjs/common';
import { AgentsModule } from '../agents/agents.module';
import { StorageModule } from '../storage/storage.module';
import { MetricsController } from './metrics.controller';
import { MetricsService } from './metrics.service';
import { SeriesHistoryRepository, SqlSeriesHistoryRepository } from './series-history.repository';

/** Prometheus metrics: updated on result commits, refreshed and rendered on `GET /metrics`. */
@Module({ imports: [StorageModule, AgentsModule], controllers: [MetricsController], providers: [MetricsService, { provide: SeriesHistoryRepository, useClass: SqlSeriesHistoryRepository }], exports: [MetricsService] })
export class MetricsModule {}
