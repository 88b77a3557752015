import 'reflect-metadata';
import { mkdir, readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { Registry } from 'prom-client';
import { FarmStoreError, ensureFarmStore } from '@benchfarm/messaging';
import { createFarmMetrics } from '@benchfarm/metrics';
import { AppModule } from './app.module';
import { bearerTokenMiddleware } from './common/bearer-token.middleware';
import { HttpErrorFilter } from './common/http-error.filter';
import { requestContractMiddleware, routeContractsOf } from './common/request-contract.middleware';
import { JsonLogger } from './common/json-logger';
import { NatsConnectionState } from './common/nats-state';
import { loadConfig, type CoordinatorConfig, type CoordinatorConfigInput } from './config';
import type { InfrastructureOverrides } from './infrastructure.module';
import { OPENAPI_SCHEMAS } from './openapi/schemas';
import { startGrpcServer, type GrpcServerHandle } from './results/results.grpc';
import { ResultsService } from './results/results.service';
import { LeaseService } from './leases/lease.service';
import { leasesServer } from './leases/leases.grpc';
import { AgentIdentityGuard, readGrpcServerTls } from './security/agent-identity';
import { LeasesService } from '@benchfarm/protocol';
import { openStore } from './storage/open-store';
import type { SqlDatabase } from './storage/sql';
import { EnrollmentService } from './enrollment/enrollment.service';
import { LocalWorkspace } from './variants/workspace';

/** A running coordinator. */
export interface RunningCoordinator {
  /** Base URL of the REST API, e.g. `http://127.0.0.1:8080`. */
  readonly httpUrl: string;
  /** `host:port` of the gRPC results service. */
  readonly grpcAddress: string;
  /** The validated configuration it runs with. */
  readonly config: CoordinatorConfig;
  /** Stops gRPC (letting uploads finish briefly), HTTP, NATS and the store, in that order. */
  close(): Promise<void>;
}

/** Options of {@link startCoordinator} beyond its configuration. */
export interface StartCoordinatorOptions {
  /** Replacement adapters (tests). */
  overrides?: InfrastructureOverrides;
  /** Where log lines go (default: JSON lines on stderr at the configured level). */
  logger?: JsonLogger;
  /**
   * Wraps the opened store before anything uses it: leader election's fence
   * (leadership/fenced-database.ts) checks every statement of a coordinator that may lose its lease.
   */
  guardStore?: (db: SqlDatabase) => SqlDatabase;
}

/** Thrown when the coordinator cannot start; everything it had opened is closed again. */
export class CoordinatorStartError extends Error {
  override name = 'CoordinatorStartError';
}

/** The OpenAPI document of the REST API. */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('benchfarm coordinator')
      .setDescription('Sweeps of ONNX model variants over a farm of benchmark agents. Errors are JSON { statusCode, code, message, field? }.')
      .setVersion('0.1.0')
      .build(),
  );
  document.components = { ...document.components, schemas: { ...document.components?.schemas, ...OPENAPI_SCHEMAS } };
  // @ApiBody gives every media type the same schema; POST /sweeps takes a different body per type.
  const createSweep = document.paths['/sweeps']?.post?.requestBody;
  if (createSweep && 'content' in createSweep) {
    createSweep.content = {
      'multipart/form-data': { schema: { $ref: '#/components/schemas/CreateSweepMultipart' } },
      'application/json': { schema: { $ref: '#/components/schemas/CreateSweepJson' } },
    };
  }
  return document;
}

/**
 * Starts a coordinator: validates the configuration, connects to NATS (reconnecting
 * forever), creates the JetStream resources, opens the store (the SQLite file, or PostgreSQL
 * when a database URL is set; migrated), then serves the REST API (NestJS on express) and the
 * gRPC results service. A partial configuration is
 * completed with defaults; environment variables are not read here (see `main.ts`).
 */
export async function startCoordinator(input: CoordinatorConfig | CoordinatorConfigInput, options: StartCoordinatorOptions = {}): Promise<RunningCoordinator> {
  const config = loadConfig(input, {});
  const logger = options.logger ?? new JsonLogger(config.logLevel);
  const closers: Array<() => Promise<void>> = [];
  const closeAll = async (): Promise<void> => {
    for (let close = closers.pop(); close; close = closers.pop()) {
      await close().catch((err: unknown) => logger.error(`shutdown step failed: ${(err as Error).message}`, 'Coordinator'));
    }
  };
  try {
    const workspace = new LocalWorkspace(config.dataDir);
    await mkdir(config.dataDir, { recursive: true });
    await workspace.reset();

    let nc: NatsConnection;
    try {
      // With creds (a secured farm, `benchfarm security init`) the coordinator is a full user of the farm account.
      const authenticator = config.natsCredsFile === undefined ? undefined : credsAuthenticator(await readFile(config.natsCredsFile));
      nc = await connect({ servers: config.natsUrl.split(',').map((s) => s.trim()), maxReconnectAttempts: -1, name: 'benchfarm-coordinator', ...(authenticator ? { authenticator } : {}) });
    } catch (err) {
      throw new CoordinatorStartError(`cannot connect to NATS at ${config.natsUrl}: ${(err as Error).message}`, { cause: err });
    }
    closers.push(async () => {
      await nc.drain().catch(() => nc.close());
    });
    const natsState = new NatsConnectionState(nc);
    const farm = await ensureFarmStore(nc, {
      replicas: config.natsReplicas,
      // Always given: streams an older version created without limits are brought to these.
      limits: { jobMaxAgeMs: config.jobMaxAgeMs, jobQueueMaxPerAgent: config.jobQueueMaxPerAgent, jobStreamMaxBytes: config.jobStreamMaxBytes, modelStoreMaxBytes: config.modelStoreMaxBytes },
      notice: (level, message) => (level === 'warn' ? logger.warn(message, 'Coordinator') : logger.log(message, 'Coordinator')),
    }).catch((err: unknown) => {
      throw err instanceof FarmStoreError ? new CoordinatorStartError(`${err.message} (BENCHFARM_NATS_REPLICAS=${config.natsReplicas})`, { cause: err }) : err;
    });

    const opened = await openStore(config);
    closers.push(() => opened.close());
    const db = options.guardStore ? options.guardStore(opened) : opened;

    const metrics = createFarmMetrics(new Registry());
    const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot({ config, db, farm, natsState, metrics, workspace }, options.overrides), {
      logger,
      abortOnError: false,
    });
    closers.push(() => app.close());
    const document = buildOpenApiDocument(app);
    const express = app.getHttpAdapter().getInstance() as Express;
    // Order: the token first (a caller without it learns nothing, and sends no body to parse), then
    // the route contract (405, 415) before any body parser reads a body the route does not take.
    if (config.apiToken !== undefined) express.use(bearerTokenMiddleware(config.apiToken));
    express.use(requestContractMiddleware(routeContractsOf(document, [{ path: '/openapi.json', method: 'GET' }])));
    // Replaces Nest's default JSON parser (100 kB): a dataset upload's manifest lists every image.
    app.useBodyParser('json', { limit: config.maxJsonBodyBytes });
    app.useGlobalFilters(new HttpErrorFilter());
    express.get('/openapi.json', (_req, res) => {
      res.json(document);
    });
    await app.listen(config.httpPort, config.httpHost);
    const address = app.getHttpServer().address() as AddressInfo;
    const httpHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const httpUrl = `http://${httpHost}:${address.port}`;

    let grpc: GrpcServerHandle;
    try {
      const results = app.get(ResultsService);
      const guard = app.get(AgentIdentityGuard);
      grpc = await startGrpcServer(results, config.grpcHost, config.grpcPort, [{ definition: LeasesService, implementation: leasesServer(app.get(LeaseService), results, guard) }], { tls: readGrpcServerTls(config), guard });
    } catch (err) {
      throw new CoordinatorStartError(`cannot start the gRPC server on ${config.grpcHost}:${config.grpcPort}: ${(err as Error).message}`, { cause: err });
    }
    closers.push(() => grpc.close());
    app.get(EnrollmentService).setOwnGrpcAddress(grpc.address);
    logger.log(`coordinator ready: REST ${httpUrl}, gRPC ${grpc.address} (${config.grpcTlsClientCaFile !== undefined ? 'mTLS' : config.grpcTlsCertFile !== undefined ? 'TLS, no client certificates' : 'plaintext'}), NATS ${config.natsUrl}, database ${db.description}`, 'Coordinator');

    let closing: Promise<void> | undefined;
    return {
      httpUrl,
      grpcAddress: grpc.address,
      config,
      close: () => (closing ??= closeAll()),
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
