import { Global, Module, type DynamicModule, type Provider } from '@nestjs/common';
import type { FarmMetrics } from '@benchfarm/metrics';
import type { FarmStore } from '@benchfarm/messaging';
import { AgentRegistry, KvAgentRegistry } from './agents/agent-registry';
import { Clock, SystemClock } from './common/clock';
import { IdGenerator, RandomIdGenerator } from './common/ids';
import { NatsConnectionState } from './common/nats-state';
import { COORDINATOR_CONFIG, FARM_STORE } from './common/tokens';
import { FARM_METRICS } from './metrics/metrics.service';
import { SQL_DATABASE } from './storage/storage.tokens';
import { SqlLeaseRepository } from './storage/lease.repository';
import { JetStreamJobBus, JobBus, RecordingJobBus } from './sweeps/job-bus';
import { ModelStore, NatsModelStore } from './variants/model-store';
import { ModelToolkit, OnnxModelToolkit } from './variants/model-toolkit';
import { Workspace } from './variants/workspace';
import type { CoordinatorConfig } from './config';
import type { SqlDatabase } from './storage/sql';

/** Adapters a caller (a test) may replace; each defaults to the real one. */
export interface InfrastructureOverrides {
  clock?: Clock;
  ids?: IdGenerator;
  toolkit?: ModelToolkit;
  jobBus?: JobBus;
  modelStore?: ModelStore;
  agentRegistry?: AgentRegistry;
}

/** The resources opened before Nest starts, handed to the module tree. */
export interface CoordinatorResources {
  config: CoordinatorConfig;
  db: SqlDatabase;
  farm: FarmStore;
  natsState: NatsConnectionState;
  metrics: FarmMetrics;
  workspace: Workspace;
}

/**
 * The composition root of side effects: configuration, the SQL store, NATS handles, metrics
 * registry and every adapter interface (clock, ids, model toolkit, job bus, model store,
 * agent registry, workspace), global so feature modules inject them by token.
 */
@Global()
@Module({})
export class InfrastructureModule {
  /** Builds the module from opened resources and optional replacement adapters. */
  static forRoot(resources: CoordinatorResources, overrides: InfrastructureOverrides = {}): DynamicModule {
    const providers: Provider[] = [
      { provide: COORDINATOR_CONFIG, useValue: resources.config },
      { provide: SQL_DATABASE, useValue: resources.db },
      { provide: FARM_STORE, useValue: resources.farm },
      { provide: FARM_METRICS, useValue: resources.metrics },
      { provide: NatsConnectionState, useValue: resources.natsState },
      { provide: Workspace, useValue: resources.workspace },
      { provide: Clock, useValue: overrides.clock ?? new SystemClock() },
      { provide: IdGenerator, useValue: overrides.ids ?? new RandomIdGenerator() },
      { provide: ModelToolkit, useValue: overrides.toolkit ?? new OnnxModelToolkit() },
      { provide: JobBus, useValue: new RecordingJobBus(overrides.jobBus ?? new JetStreamJobBus(resources.farm.js), new SqlLeaseRepository(resources.db)) },
      { provide: ModelStore, useValue: overrides.modelStore ?? new NatsModelStore(resources.farm.models) },
      { provide: AgentRegistry, useValue: overrides.agentRegistry ?? new KvAgentRegistry(resources.farm.agents, { jsm: resources.farm.jsm }) },
    ];
    return { module: InfrastructureModule, providers, exports: providers.map((p) => (p as { provide: unknown }).provide as symbol) };
  }
}
