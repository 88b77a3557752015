import { Module } from '@nestjs/common';
import { StorageModule } from '../storage/storage.module';
import { SuiteReportsController } from './suite-reports.controller';
import { SuiteReportsService } from './suite-reports.service';

/** The measurement suite's reports per sweep. */
@Module({ imports: [StorageModule], controllers: [SuiteReportsController], providers: [SuiteReportsService] })
export class SuiteReportsModule {}
