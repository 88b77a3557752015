import { readFile } from 'node:fs/promises';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { startCoordinator, type RunningCoordinator } from '../app';
import { JsonLogger } from '../common/json-logger';
import type { CoordinatorConfig } from '../config';
import type { SqlDatabase } from '../storage/sql';
import { fencedDatabase } from './fenced-database';
import { LeaderElection, LeaderElectionStoppedError } from './leader-election';
import { LeaderLease, describeHolder, openLeaderBucket, type LeaderRecord, type LeaseHolder } from './leader-lease';
import type { LeadershipConfig } from './leadership.config';

/** Hooks of {@link startLeaderElectedCoordinator}. */
export interface LeaderElectedCoordinatorOptions {
  /**
   * This instance lost the lease while it led. The receiver must stop every write at once: the
   * coordinator process exits (main.ts), because closing it gracefully would keep it writing
   * beside the new leader for as long as the close takes.
   */
  onLost(reason: string): void;
  /** Waiting as a standby; `holder` is who leads (undefined: nobody, this instance tries now). */
  onStandby?(holder: LeaseHolder | undefined): void;
  /** The lease was taken; the coordinator is starting. */
  onAcquired?(record: LeaderRecord): void;
  /**
   * Starts the coordinator once this instance leads (default {@link startCoordinator}; tests
   * replace it), with `guardStore`: the fence every store statement must pass.
   */
  start?: (config: CoordinatorConfig, guardStore: (db: SqlDatabase) => SqlDatabase) => Promise<RunningCoordinator>;
  /** Where log lines go (default JSON lines on stderr at the configured level). */
  logger?: JsonLogger;
}

/** A coordinator process under leader election. */
export interface LeaderElectedCoordinator {
  /** This process's id in the lease. */
  readonly instanceId: string;
  /**
   * Resolves with the running coordinator once this process leads and serves. Rejects when the
   * coordinator fails to start (the lease is released again) or when {@link close} came first
   * ({@link LeaderElectionStoppedError}).
   */
  readonly serving: Promise<RunningCoordinator>;
  /** When this instance took the lease (Unix ms), once it did. */
  readonly leaderSinceUnixMs: number | undefined;
  /** A clean stop: the coordinator (when leading) closes, then the lease is given up, so a standby takes over at once. */
  close(): Promise<void>;
}

/**
 * Runs a coordinator as one of several sharing one database and one NATS: waits as a standby
 * until it holds the leader lease (NATS KV bucket `benchfarm_leader`), then starts the
 * coordinator, which opens the shared store and resumes like a restarted one, and writes its
 * REST and gRPC addresses into the lease. Keeps the lease renewed; on losing it, calls
 * `onLost` (fail-stop). The coordinator's store is fenced: every statement first checks, against
 * the clock, that this instance may still lead, so a process resumed after a pause past its fence
 * writes nothing. The lease has its own NATS connection, so that the coordinator's
 * connection draining or reconnecting never delays a renewal.
 *
 * Resolves once NATS is reached and the bucket is open; {@link LeaderElectedCoordinator.serving}
 * follows the rest.
 *
 * Thrown errors: connection errors naming the NATS URL; `LeaderBucketMismatchError` when the
 * bucket exists with another lease TTL.
 */
export async function startLeaderElectedCoordinator(config: CoordinatorConfig, leadership: LeadershipConfig, options: LeaderElectedCoordinatorOptions): Promise<LeaderElectedCoordinator> {
  const logger = options.logger ?? new JsonLogger(config.logLevel);
  const context = 'Leadership';
  let nc: NatsConnection;
  try {
    const authenticator = config.natsCredsFile === undefined ? undefined : credsAuthenticator(await readFile(config.natsCredsFile));
    nc = await connect({ servers: config.natsUrl.split(',').map((s) => s.trim()), maxReconnectAttempts: -1, reconnectTimeWait: 250, name: `benchfarm-coordinator-leadership-${leadership.instanceId}`, ...(authenticator ? { authenticator } : {}) });
  } catch (err) {
    throw new Error(`leader election cannot connect to NATS at ${config.natsUrl}: ${(err as Error).message}`, { cause: err });
  }
  let lease: LeaderLease;
  try {
    lease = new LeaderLease(await openLeaderBucket(nc, { ttlMs: leadership.leaseTtlMs, replicas: config.natsReplicas }), leadership.instanceId, leadership.leaseTtlMs);
  } catch (err) {
    await nc.close();
    throw err;
  }

  let coordinator: RunningCoordinator | undefined;
  let leaderSinceUnixMs: number | undefined;
  let lost = false;
  const election = new LeaderElection(
    lease,
    { pollIntervalMs: leadership.pollIntervalMs },
    {
      standby: (holder) => {
        logger.log(`standby (instance ${leadership.instanceId}): the leader is ${describeHolder(holder)}`, context);
        options.onStandby?.(holder);
      },
      acquired: (record) => {
        leaderSinceUnixMs = record.sinceUnixMs;
        logger.log(`instance ${leadership.instanceId} took the leader lease; starting the coordinator`, context);
        options.onAcquired?.(record);
      },
      lost: (reason) => {
        lost = true;
        logger.error(`instance ${leadership.instanceId} lost the leader lease and stops serving at once: ${reason}`, context);
        options.onLost(reason);
      },
      warn: (message) => logger.warn(message, context),
    },
  );

  const start = options.start ?? ((c: CoordinatorConfig, guardStore: (db: SqlDatabase) => SqlDatabase) => startCoordinator(c, { logger, guardStore }));
  // Every statement first asks whether this instance may still lead (the clock against the fence).
  const guardStore = (db: SqlDatabase): SqlDatabase => fencedDatabase(db, () => election.assertLeading());
  const serving = (async (): Promise<RunningCoordinator> => {
    await election.waitUntilLeader();
    try {
      coordinator = await start(config, guardStore);
    } catch (err) {
      await election.stop({ release: true });
      throw err;
    }
    // Operators (and tests) read where the leader serves from the lease: its own bound
    // addresses. BENCHFARM_PUBLIC_GRPC_ADDRESS is not used here: with two coordinators it lists both.
    await election.announce({ state: 'serving', httpUrl: coordinator.httpUrl, grpcAddress: coordinator.grpcAddress });
    if (lost) throw new Error('the leader lease was lost while the coordinator started');
    return coordinator;
  })();
  // close() and the caller read the outcome; this only keeps an early rejection from going unhandled.
  serving.catch(() => undefined);

  let closing: Promise<void> | undefined;
  return {
    instanceId: leadership.instanceId,
    serving,
    get leaderSinceUnixMs() {
      return leaderSinceUnixMs;
    },
    close: () =>
      (closing ??= (async () => {
        // While the coordinator closes it still writes: it keeps the lease (renewing) until it is closed.
        if (election.isLeader) {
          await serving.catch(() => undefined);
          await coordinator?.close();
        }
        await election.stop({ release: true });
        await nc.close();
        await serving.catch((err: unknown) => {
          if (!(err instanceof LeaderElectionStoppedError)) logger.warn(`the coordinator had not started: ${(err as Error).message}`, context);
        });
      })()),
  };
}
