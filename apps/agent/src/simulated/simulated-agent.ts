import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Channel, type ChannelOptions } from '@grpc/grpc-js';
import type { Consumer, JsMsg } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { SimulatedJobOutcome, SimulatedJobRecord } from '@benchfarm/fleet';
import { ModelFetchError, ackConfirmed, agentConsumer, ensureAgentConsumer, ensureFarmStore, termConfirmed, type FarmStore } from '@benchfarm/messaging';
import {
  BenchJob,
  ErrorCode,
  LeasesClient,
  ResultsClient,
  UploadOutcome,
  type AgentCapabilities,
  type HealthCheckReport,
} from '@benchfarm/protocol';
import { AGENT_VERSION } from '../agent';
import type { AgentLog } from '../agent-log';
import { AgentStateMachine, registryStateOf } from '../agent-state';
import { CloserStack } from '../closer-stack';
import { settlementOf, type JobOutcome } from '../job-settlement';
import { loadAgentConfig, type AgentConfig } from '../config';
import { agentChannelCredentials } from '../grpc-credentials';
import { LeaseUnavailableError, acquireLease, holdLease, type JobLease } from '../lease';
import { MODEL_FETCH_RETRY_BUDGET_MS, retryTransientFetch } from '../model-fetch';
import { connectAgentNats } from '../nats-connect';
import { putAgentRecord } from '../registry-record';
import { JobUpload, UploadFailedError, UploadRejectedError } from '../upload';
import type { CachedModel, SimulatedModelCache } from './model-cache';
import { simulatedCapabilities, simulatedHealthReport, SYNTHETIC_RUNTIME_VERSION } from './simulated-device';
import { samplesChunks, syntheticLatenciesMs, syntheticQueryCount, syntheticSummary, variantKey } from './synthetic-suite';

/** The version a simulated agent reports: the real agent's, marked as simulated (the wire contract is the real one's). */
export const SIMULATED_AGENT_VERSION = `${AGENT_VERSION}+simulated`;

/** gRPC keepalive of the real agent's clients (agent.ts), kept the same here. */
const GRPC_KEEPALIVE: ChannelOptions = {
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
  'grpc.keepalive_permit_without_calls': 1,
};

/** One NATS connection and the farm's streams, shared by the simulated agents of a process. */
export interface SharedNats {
  readonly nc: NatsConnection;
  readonly farm: FarmStore;
}

/**
 * Opens the NATS connection a process's simulated agents share (`natsConnections: 'process'`):
 * connects like a real agent without creds (reconnecting for ever) and opens or creates the
 * farm's streams once. Thrown: whatever connect / ensureFarmStore throw (NatsError, FarmStoreError).
 */
export async function openSharedNats(natsUrl: string, name: string): Promise<SharedNats> {
  const nc = await connect({ servers: natsUrl.split(',').map((u) => u.trim()), maxReconnectAttempts: -1, reconnectTimeWait: 1_000, name });
  try {
    return { nc, farm: await ensureFarmStore(nc) };
  } catch (err) {
    await nc.close();
    throw err;
  }
}

/**
 * A gRPC channel to the coordinator for the simulated agents of a process to share
 * (`grpcChannels: 'process'`): one HTTP/2 connection for all of them. Thrown: whatever
 * `agentChannelCredentials` throws for unreadable TLS files.
 */
export function openSharedChannel(config: Pick<AgentConfig, 'grpcAddress' | 'grpcTlsCaFile' | 'grpcTlsCertFile' | 'grpcTlsKeyFile'>): Channel {
  return new Channel(config.grpcAddress, agentChannelCredentials(config), { ...GRPC_KEEPALIVE });
}

/** What {@link startSimulatedAgent} is given. */
export interface SimulatedAgentOptions {
  /**
   * The agent's settings as the real agent takes them (validated by `loadAgentConfig`: the same
   * errors naming the field); `agentId`, `natsUrl` and `grpcAddress` are needed, the rest
   * defaults to the real agent's (heartbeat 5 s, working 10 s, pull 5 s, AckWait 30 s).
   */
  readonly config: Partial<AgentConfig> & Pick<AgentConfig, 'agentId' | 'natsUrl' | 'grpcAddress'>;
  /** The model cache of this process. */
  readonly cache: SimulatedModelCache;
  /**
   * A NATS connection shared by the process's agents; absent: the agent opens its own, exactly as
   * the real agent does (`connectAgentNats`).
   */
  readonly sharedNats?: SharedNats;
  /** A gRPC channel shared by the process's agents; absent: the agent opens its own (one HTTP/2 connection per agent). */
  readonly sharedChannel?: Channel;
  /** Wall time one job takes (the synthetic suite's "measurement"), ms; default 200. */
  readonly jobMs?: number;
  /** How long the simulated health check takes before the agent reports idle, ms; default 0. */
  readonly healthCheckMs?: number;
  /** How often a running job reports progress, ms; default 1000 (the real suite's rhythm). */
  readonly progressEveryMs?: number;
  /** Capabilities of the made-up device, over {@link simulatedCapabilities}. */
  readonly device?: Partial<AgentCapabilities>;
  readonly log?: AgentLog;
  /** Hears every job message once it is settled. */
  readonly onJob?: (record: SimulatedJobRecord) => void;
}

/** A running simulated agent. */
export interface SimulatedAgent {
  readonly agentId: string;
  readonly capabilities: AgentCapabilities;
  /** When its first registry entry (CHECKING) was written, ms since the epoch. */
  readonly registeredAtMs: number;
  /** When it reported idle with a passed health check. */
  readonly idleAtMs: number;
  /** Resolves when the agent stopped pulling. */
  readonly done: Promise<void>;
  /** Reads a model into the process's cache as a job would (for the model-fetch figure), timing it. */
  fetchModel(digest: string): Promise<CachedModel & { ms: number }>;
  /** Stops pulling (a running job goes back to the queue), removes the registry entry, closes its own connections. */
  close(): Promise<void>;
}

/**
 * Starts a simulated agent that speaks the real agent's protocol: it registers in the KV registry
 * (the real AgentRecord, a made-up device's capabilities, CHECKING then IDLE with a health report
 * the coordinator verifies), heartbeats at the configured interval, pulls from its own durable
 * consumer one job at a time, asks the coordinator for a lease (lease.ts), fetches the job's
 * model from the object store (through the process's cache), streams started / progress /
 * samples / summary over the Results upload (upload.ts) under the lease token, and acks the job
 * only once the coordinator confirmed the result (`ackConfirmed`). Instead of onnxruntime, the
 * synthetic suite waits `jobMs` and reports deterministic latencies. Nothing in its messages says
 * it is simulated beyond its self-description (agent version, cpu model, runtime version).
 *
 * Thrown: AgentConfigError for bad settings; NATS or gRPC errors when it cannot connect or
 * register (what it had opened is closed again).
 */
export async function startSimulatedAgent(options: SimulatedAgentOptions): Promise<SimulatedAgent> {
  const config = loadAgentConfig(options.config);
  // What this agent opened (not the shared connection or channel), closed last first.
  const opened = new CloserStack();
  try {
    let nats: SharedNats;
    if (options.sharedNats) {
      nats = options.sharedNats;
      await ensureAgentConsumer(nats.farm.jsm, config.agentId, { ackWaitMs: config.ackWaitMs });
    } else {
      nats = await connectAgentNats(config);
      const own = nats.nc;
      opened.push('NATS connection', () => own.close());
    }
    const consumer = await agentConsumer(nats.farm.js, config.agentId);
    let channel = options.sharedChannel;
    if (!channel) {
      // Its own channel outside grpc-js's global subchannel pool: one HTTP/2 connection per agent,
      // carrying both services, as a real agent on its own device has.
      const own = new Channel(config.grpcAddress, agentChannelCredentials(config), { ...GRPC_KEEPALIVE, 'grpc.use_local_subchannel_pool': 1 });
      opened.push('gRPC channel', () => own.close());
      channel = own;
    }
    const credentials = agentChannelCredentials(config);
    const results = new ResultsClient(config.grpcAddress, credentials, { channelOverride: channel });
    const leases = new LeasesClient(config.grpcAddress, credentials, { channelOverride: channel });
    const agent = new SimulatedAgentRunner(config, nats, consumer, results, leases, simulatedCapabilities(config.agentId, options.device), options);
    const registeredAtMs = await agent.register(options.healthCheckMs ?? 0);
    const idleAtMs = Date.now();
    const done = agent.run();
    return {
      agentId: config.agentId,
      capabilities: agent.capabilities,
      registeredAtMs,
      idleAtMs,
      done,
      fetchModel: (digest) => agent.fetchModel(digest),
      async close() {
        agent.stop();
        try {
          await done;
          await agent.unregister();
        } finally {
          await opened.closeAll();
          agent.closed();
        }
      },
    };
  } catch (err) {
    await opened.closeAll();
    throw err;
  }
}

class SimulatedAgentRunner {
  private readonly abort = new AbortController();
  /** The real agent's state machine (agent-state.ts); the registry state derives from it. */
  private readonly machine = new AgentStateMachine();
  private currentJobId = '';
  private health: HealthCheckReport | undefined;
  private readonly startedAtUnixMs = Date.now();
  private readonly log: AgentLog;
  private readonly jobMs: number;
  private readonly progressEveryMs: number;

  constructor(
    private readonly config: AgentConfig,
    private readonly nats: SharedNats,
    private readonly consumer: Consumer,
    private readonly results: ResultsClient,
    private readonly leases: LeasesClient,
    readonly capabilities: AgentCapabilities,
    private readonly options: SimulatedAgentOptions,
  ) {
    this.log = options.log ?? (() => undefined);
    this.jobMs = options.jobMs ?? 200;
    this.progressEveryMs = options.progressEveryMs ?? 1_000;
    if (!(Number.isFinite(this.jobMs) && this.jobMs >= 0)) throw new RangeError(`jobMs must be a number of milliseconds >= 0, got ${this.jobMs}`);
    if (!(Number.isFinite(this.progressEveryMs) && this.progressEveryMs >= 10)) throw new RangeError(`progressEveryMs must be at least 10, got ${this.progressEveryMs}`);
  }

  /** Registers as CHECKING, runs the simulated health check, reports IDLE; resolves with when the first entry was written. */
  async register(healthCheckMs: number): Promise<number> {
    this.machine.fire('registered');
    await this.heartbeat();
    const registeredAtMs = Date.now();
    if (healthCheckMs > 0) await sleep(healthCheckMs);
    this.health = simulatedHealthReport({ attempt: 1, trigger: 'joined', durationMs: healthCheckMs });
    this.machine.fire(this.health.passed ? 'checkPassed' : 'checkFailed');
    await this.heartbeat();
    return registeredAtMs;
  }

  async run(): Promise<void> {
    const timer = setInterval(() => {
      this.heartbeat().catch((err: unknown) => this.log('warn', 'heartbeat failed', { agentId: this.config.agentId, error: String(err) }));
    }, this.config.heartbeatIntervalMs);
    let freeAtMs = Date.now();
    try {
      while (this.machine.pulling) {
        let msg: JsMsg | null;
        try {
          msg = await this.consumer.next({ expires: this.config.pullExpiresMs });
        } catch (err) {
          if (!this.machine.pulling) break;
          this.log('warn', 'pull failed; retrying', { agentId: this.config.agentId, error: String(err) });
          await sleep(1_000);
          continue;
        }
        if (!msg) continue;
        const record = await this.handle(msg, freeAtMs);
        freeAtMs = record.settledAtMs;
        this.options.onJob?.(record);
      }
    } finally {
      clearInterval(timer);
    }
  }

  /** Stops pulling and aborts a running job. A closed agent stays closed. */
  stop(): void {
    if (this.machine.phase === 'stopped') return;
    this.machine.fire('stop');
    this.abort.abort();
  }

  /** Its own connections are closed. */
  closed(): void {
    this.machine.fire('closed');
  }

  async heartbeat(): Promise<void> {
    if (this.nats.nc.isClosed()) return;
    await putAgentRecord(this.nats.farm.agents, {
      agentId: this.config.agentId,
      name: this.config.name,
      agentVersion: SIMULATED_AGENT_VERSION,
      labels: { ...this.config.labels },
      capabilities: this.capabilities,
      state: registryStateOf(this.machine.phase),
      currentJobId: this.currentJobId,
      startedAtUnixMs: this.startedAtUnixMs,
      health: this.health,
    });
  }

  async unregister(): Promise<void> {
    try {
      await this.nats.farm.agents.delete(this.config.agentId);
    } catch (err) {
      this.log('warn', 'could not remove the registry entry', { agentId: this.config.agentId, error: String(err) });
    }
  }

  async fetchModel(digest: string): Promise<CachedModel & { ms: number }> {
    const started = performance.now();
    const model = await this.options.cache.get(this.nats.farm.models, digest, this.config.agentId);
    return { ...model, ms: performance.now() - started };
  }

  /** One job message, handled as the real agent handles it (agent.ts `handle`). */
  private async handle(msg: JsMsg, freeAtMs: number): Promise<SimulatedJobRecord> {
    const receivedAtMs = Date.now();
    const record: SimulatedJobRecord = {
      agentId: this.config.agentId,
      jobId: '',
      sweepId: '',
      variant: '',
      deliveryCount: msg.info.deliveryCount,
      publishedAtMs: Math.floor(msg.info.timestampNanos / 1e6),
      freeAtMs,
      receivedAtMs,
      settledAtMs: receivedAtMs,
      outcome: 'dropped',
    };
    const settle = (outcome: SimulatedJobOutcome, reason?: string): SimulatedJobRecord => {
      record.outcome = outcome;
      record.settledAtMs = Date.now();
      if (reason !== undefined) record.reason = reason;
      return record;
    };
    let job: BenchJob;
    try {
      job = BenchJob.decode(msg.data);
    } catch (err) {
      return settle('dropped', await this.apply(msg, { kind: 'undecodable', reason: String(err) }));
    }
    record.jobId = job.jobId;
    record.sweepId = job.sweepId;
    record.variant = variantKey(job);
    if (job.agentId !== this.config.agentId || !job.variant || !job.suite) {
      return settle('dropped', await this.apply(msg, { kind: 'invalid', reason: job.agentId !== this.config.agentId ? 'addressed to another agent' : 'without variant or suite settings' }));
    }
    let lease: JobLease;
    const waiting = setInterval(() => msg.working(), this.config.workingIntervalMs);
    try {
      const outcome = await acquireLease(this.leases, { jobId: job.jobId, sweepId: job.sweepId, agentId: this.config.agentId, deliveryCount: msg.info.deliveryCount }, this.config.leaseAcquireTimeoutMs, this.abort.signal);
      if (outcome.kind === 'drop') return settle('dropped', await this.apply(msg, { kind: 'leaseRefused', reason: outcome.reason }));
      lease = outcome.lease;
      record.leaseAtMs = Date.now();
      record.attempt = lease.attempt;
    } catch (err) {
      this.machine.fire('coordinatorUnreachable');
      await this.apply(msg, { kind: 'coordinatorUnreachable', shuttingDown: !this.machine.pulling });
      this.log('error', 'no lease: the coordinator is unreachable; job returned to the queue', { agentId: this.config.agentId, jobId: job.jobId, error: String(err), cause: err instanceof LeaseUnavailableError ? String(err.cause) : undefined });
      return settle('returned', `no lease: ${String(err)}`);
    } finally {
      clearInterval(waiting);
    }
    this.machine.fire('jobLeased');
    this.currentJobId = job.jobId;
    await this.heartbeat().catch(() => undefined);
    const held = holdLease(lease, this.leases, msg, this.config.workingIntervalMs, {
      onRenewalFailed: (err) => this.log('warn', 'lease renewal failed', { agentId: this.config.agentId, jobId: job.jobId, error: String(err) }),
    });
    const upload = new JobUpload(
      this.results,
      { jobId: job.jobId, sweepId: job.sweepId, agentId: this.config.agentId, attempt: lease.attempt, uploadId: `${job.jobId}.${lease.attempt}.${randomUUID()}`, leaseToken: lease.token, resumeFromEvent: 0 },
      undefined,
      (header) => lease.heldEvents(this.leases, header.uploadId),
    );
    try {
      const aborted = await this.execute(job, upload, record, AbortSignal.any([this.abort.signal, held.signal]));
      if (aborted && held.lost) {
        upload.cancel();
        return settle('dropped', await this.apply(msg, { kind: 'leaseLost', reason: held.lost }));
      }
      if (aborted) {
        upload.cancel();
        await this.apply(msg, { kind: 'shutdown' });
        return settle('aborted', 'the agent stopped');
      }
      const ack = await upload.finish();
      record.uploadAckAtMs = Date.now();
      if (ack.resultId) record.resultId = ack.resultId;
      await this.apply(msg, { kind: 'uploaded', outcome: ack.outcome, jobFinal: ack.jobFinal });
      return settle(ack.outcome === UploadOutcome.UPLOAD_OUTCOME_COMMITTED ? 'committed' : ack.outcome === UploadOutcome.UPLOAD_OUTCOME_DUPLICATE ? 'duplicate' : 'error_recorded');
    } catch (err) {
      upload.cancel();
      if (err instanceof UploadRejectedError) return settle('dropped', await this.apply(msg, { kind: 'resultRefused', reason: err.message }));
      await this.apply(msg, { kind: 'uploadFailed' });
      this.log('error', 'job could not be reported; returned to the queue', { agentId: this.config.agentId, jobId: job.jobId, error: String(err), cause: err instanceof UploadFailedError ? String(err.cause) : undefined });
      return settle('returned', String(err));
    } finally {
      held.stop();
      this.machine.fire('jobEnded');
      this.currentJobId = '';
      await this.heartbeat().catch(() => undefined);
    }
  }

  /**
   * The synthetic suite: fetches the model like the real agent, then streams started, progress
   * while `jobMs` passes, the samples and the summary. Jobs the synthetic suite cannot stand in
   * for (comparison, configuration search, external runtime, evaluation) get a non-retryable
   * error event saying so. Returns true when aborted.
   */
  private async execute(job: BenchJob, upload: JobUpload, record: SimulatedJobRecord, signal: AbortSignal): Promise<boolean> {
    const variant = job.variant;
    const suite = job.suite;
    if (!variant || !suite) return false;
    let model: CachedModel;
    try {
      model = await retryTransientFetch(() => this.options.cache.get(this.nats.farm.models, variant.sha256, this.config.agentId), MODEL_FETCH_RETRY_BUDGET_MS, signal, (err, waitMs) =>
        this.log('warn', 'model fetch failed; trying again', { agentId: this.config.agentId, jobId: job.jobId, error: String(err), retryInMs: waitMs }),
      );
      record.modelCacheHit = model.hit;
    } catch (err) {
      await upload.send({ $case: 'error', value: { code: ErrorCode.ERROR_CODE_MODEL_FETCH, message: (err as Error).message, retryable: !(err instanceof ModelFetchError) || err.transient } });
      return false;
    }
    const unsupported = job.comparison ? 'an interleaved comparison' : job.configSearch ? 'a configuration search' : job.externalRuntime ? 'an external runtime' : job.evaluation ? 'an evaluation' : undefined;
    if (unsupported) {
      await upload.send({ $case: 'error', value: { code: ErrorCode.ERROR_CODE_INTERNAL, message: `this simulated agent's synthetic suite runs single-variant jobs only, not ${unsupported}`, retryable: false } });
      return false;
    }
    const count = syntheticQueryCount(suite);
    const started = Date.now();
    await upload.send({ $case: 'started', value: { startedAtUnixMs: started, onnxruntimeVersion: SYNTHETIC_RUNTIME_VERSION, childPid: process.pid } });
    for (;;) {
      const elapsedMs = Date.now() - started;
      const queriesDone = this.jobMs === 0 ? count : Math.min(count, Math.floor((count * elapsedMs) / this.jobMs));
      await upload.send({ $case: 'progress', value: { phase: 'measure', queriesDone, elapsedMs } });
      const left = this.jobMs - elapsedMs;
      if (left <= 0) break;
      try {
        await sleep(Math.min(left, this.progressEveryMs), undefined, { signal });
      } catch {
        return true;
      }
    }
    if (signal.aborted) return true;
    const latencies = syntheticLatenciesMs(this.config.agentId, variantKey(job), count);
    for (const chunk of samplesChunks(latencies)) await upload.send({ $case: 'samples', value: chunk });
    const summary = syntheticSummary(job, latencies, { agentVersion: SIMULATED_AGENT_VERSION, os: this.capabilities.os, osRelease: this.capabilities.osRelease, cpuModel: this.capabilities.cpuModel, modelFileSizeBytes: model.sizeBytes });
    await upload.send({ $case: 'summary', value: summary });
    return false;
  }

  /** Terminates a message for good (confirmed, like the real agent's drop); resolves with the reason, noting an unconfirmed term. */
  private async drop(msg: JsMsg, reason: string): Promise<string> {
    try {
      await termConfirmed(this.nats.nc, msg, { timeoutMs: this.config.ackWaitMs });
      return reason;
    } catch (err) {
      this.log('error', 'job message dropped here, but its term was not confirmed', { agentId: this.config.agentId, reason, error: String(err) });
      return `${reason} (term not confirmed: ${String(err)})`;
    }
  }

  /**
   * Acks, gives back or drops a job message as the real agent does: {@link settlementOf} decides
   * from how it ended. Resolves with the reason of a drop (noting an unconfirmed term).
   */
  private async apply(msg: JsMsg, outcome: JobOutcome): Promise<string | undefined> {
    const settlement = settlementOf(outcome);
    switch (settlement.action) {
      case 'ack':
        try {
          await ackConfirmed(this.nats.nc, msg, { timeoutMs: this.config.ackWaitMs });
        } catch (err) {
          this.log('warn', 'the ack of a finished job was not confirmed; it will come back after AckWait and be dropped', { agentId: this.config.agentId, subject: msg.subject, error: String(err) });
        }
        return undefined;
      case 'nak':
        msg.nak(settlement.delayMs);
        return undefined;
      case 'term':
        return this.drop(msg, settlement.reason);
    }
  }
}
