import { Module, type DynamicModule } from '@nestjs/common';
import { AgentsModule } from './agents/agents.module';
import { DatasetsModule } from './datasets/datasets.module';
import { EnrollmentModule } from './enrollment/enrollment.module';
import { HealthModule } from './health/health.module';
import { LeasesModule } from './leases/leases.module';
import { InfrastructureModule, type CoordinatorResources, type InfrastructureOverrides } from './infrastructure.module';
import { JobsModule } from './jobs/jobs.module';
import { MetricsModule } from './metrics/metrics.module';
import { ResultsModule } from './results/results.module';
import { SecurityModule } from './security/security.module';
import { StorageModule } from './storage/storage.module';
import { SweepsModule } from './sweeps/sweeps.module';
import { SuiteReportsModule } from './suite-reports/suite-reports.module';

/** The coordinator's module tree, one module per feature. */
@Module({})
export class AppModule {
  /** Builds the tree on opened resources. */
  static forRoot(resources: CoordinatorResources, overrides: InfrastructureOverrides = {}): DynamicModule {
    return {
      module: AppModule,
      imports: [InfrastructureModule.forRoot(resources, overrides), StorageModule, AgentsModule, MetricsModule, ResultsModule, SweepsModule, HealthModule, LeasesModule, SuiteReportsModule, SecurityModule, EnrollmentModule, DatasetsModule, JobsModule],
    };
  }
}
