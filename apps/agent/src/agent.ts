import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Consumer, JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { ModelFetchError, ackConfirmed, agentConsumer, fetchModel, termConfirmed, type FarmStore } from '@benchfarm/messaging';
import {
  BenchJob,
  ErrorCode,
  Scenario,
  UploadOutcome,
  type AgentCapabilities,
  type ConfigSearchJob,
  type LeasesClient,
  type ResultsClient,
  type ResultEvent,
  type SuiteSettings,
  type VariantRef,
} from '@benchfarm/protocol';
import {
  CONFIG_SEARCH_DEFAULTS,
  baselineConfig,
  runSuiteInChild,
  type ComparedModel,
  type SearchObjective,
  type SearchStrategy,
  type SuiteChildEvent,
  type SuiteConfigSearch,
  type SuiteEvaluation,
  type SuiteJob,
} from '@benchfarm/suite';
import { fetchComparisonModels, fetchSearchModels } from './comparison';
import { fetchEvaluationData } from './evaluation-data';
import { MODEL_FETCH_RETRY_BUDGET_MS, retryTransientFetch } from './model-fetch';
import type { AgentConfig } from './config';
import type { AgentLog } from './agent-log';
import type { AgentOptions } from './agent-options';
import { AgentStateMachine, registryStateOf, type AgentEvent } from './agent-state';
import { CloserStack } from './closer-stack';
import { agentChannelCredentials } from './grpc-credentials';
import { DeviceReach } from './device-reach';
import { HealthGate, type HealthCheckSettings } from './health-check';
import { runExternalJob } from './external-runtime';
import { collectCapabilities } from './inventory';
import { settlementOf, type JobOutcome, type Settlement } from './job-settlement';
import { connectAgentNats } from './nats-connect';
import { LeaseUnavailableError, acquireLease, holdLease, type JobLease } from './lease';
import { putAgentRecord } from './registry-record';
import { JobUpload, UploadFailedError, UploadRejectedError, type UploadRetries } from './upload';
import { CoordinatorChannels, type CoordinatorTarget } from './coordinator-channels';

/**
 * Upload retries with several coordinators: about 60 s of tries at most 1 s apart, beyond a
 * takeover (lease TTL, default 6 s, plus the new leader's start-up).
 */
export const FAILOVER_UPLOAD_RETRIES: UploadRetries = { attempts: 60, backoffMs: 250, maxBackoffMs: 1_000 };

/** The version this agent reports in the registry and in every result's manifest. */
export const AGENT_VERSION = '0.1.0';

/** gRPC keepalive of the agent's coordinator channels: an upload may stream for minutes. */
const GRPC_CHANNEL_OPTIONS = {
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
  'grpc.keepalive_permit_without_calls': 1,
};

/** A running agent. */
export interface RunningAgent {
  readonly agentId: string;
  readonly capabilities: AgentCapabilities;
  /** Resolves when the agent finished its current step and stopped pulling. */
  readonly done: Promise<void>;
  /**
   * Stops pulling, aborts a running job (it goes back to the queue at once), removes the
   * registry entry and closes every connection.
   */
  close(): Promise<void>;
  /**
   * Drains: reports DRAINING in the registry (the coordinator stops planning jobs here and
   * moves queued ones to pool peers), finishes the running job, stops pulling, then closes.
   */
  drain(): Promise<void>;
}

/**
 * How the agent opens what it talks to. The defaults are the real ones; a test replaces one to
 * make a start-up step fail, or to keep hold of what was opened.
 */
export interface AgentIo {
  /** Connects to NATS and opens the farm's streams (nats-connect.ts). */
  readonly connectNats: typeof connectAgentNats;
  /** Opens one gRPC channel per coordinator address. */
  readonly openChannels: (config: AgentConfig, log: AgentLog) => CoordinatorChannels;
  /** Detects sensors, inventory and execution providers (device-reach.ts). */
  readonly openDeviceReach: typeof DeviceReach.open;
}

const REAL_IO: AgentIo = {
  connectNats: connectAgentNats,
  // One channel per coordinator address; with several (one leads, the others stand by), calls
  // move to the next address when one is unreachable.
  openChannels: (config, log) => new CoordinatorChannels(config.grpcAddresses, agentChannelCredentials(config), GRPC_CHANNEL_OPTIONS, (level, message, fields) => log(level, message, fields)),
  openDeviceReach: (capabilities, log, options) => DeviceReach.open(capabilities, log, options),
};

/**
 * Starts an agent: registers it in the KV registry with a heartbeat, then pulls one job
 * at a time from its own durable consumer, runs it in a fresh suite process, streams the
 * events to the coordinator over gRPC and acks the job only after the coordinator
 * confirmed the result.
 *
 * `options` were compiled and validated before (agent-options.ts); nothing here reads settings.
 * Each resource opened pushes its closer on one stack: a throw anywhere in start-up closes what
 * was opened, last first, and rethrows; close() and drain() close the same stack.
 */
export async function startAgent(options: AgentOptions, log: AgentLog = () => undefined, io: Partial<AgentIo> = {}): Promise<RunningAgent> {
  const { connectNats, openChannels, openDeviceReach } = { ...REAL_IO, ...io };
  const config = options.agent;
  const closers = new CloserStack((name, err) => log('warn', 'shutdown step failed', { step: name, error: String(err) }));
  try {
    const { nc, farm } = await connectNats(config);
    closers.push('NATS connection', () => nc.close());
    const consumer = await agentConsumer(farm.js, config.agentId);
    const channels = openChannels(config, log);
    closers.push('coordinator channels', () => channels.close());
    const capabilities = collectCapabilities();
    // Sensors, inventory and working execution providers go into the capabilities before the first heartbeat.
    const reach = await openDeviceReach(capabilities, log, { sensors: options.sensors, probeProviders: options.probeProviders, env: { ...options.env } });
    closers.push('device reach', () => reach.close());
    const agent = new Agent({ config, health: options.health, nc, farm, consumer, channels, capabilities, reach, log });
    // Pushed before the first write: a start-up that fails after it removes the entry again.
    closers.push('registry entry', () => agent.unregister());
    // Registered as CHECKING; the first health check runs before the first pull (a failed one is
    // retried by run(), which pulls nothing until a check passed).
    await agent.register();
    const heartbeats = agent.startHeartbeats();
    closers.push('heartbeat timer', () => clearInterval(heartbeats));
    await agent.firstCheck();
    const done = agent.run();
    log('info', 'agent ready', { agentId: config.agentId, natsUrl: config.natsUrl, grpcAddress: config.grpcAddress, ...(config.grpcAddresses.length > 1 && { coordinators: config.grpcAddresses.length }) });
    let finishing: Promise<void> | undefined;
    const finish = (): Promise<void> =>
      (finishing ??= (async () => {
        try {
          await done;
        } finally {
          // Also when the pull loop failed: nothing stays open.
          await closers.closeAll();
          agent.closed();
        }
      })());
    return {
      agentId: config.agentId,
      capabilities,
      done,
      async close() {
        agent.stop();
        await finish();
      },
      async drain() {
        await agent.drain();
        await finish();
      },
    };
  } catch (err) {
    await closers.closeAll();
    throw err;
  }
}

/** What one agent works with, all opened by {@link startAgent} before it is built. */
interface AgentParts {
  readonly config: AgentConfig;
  readonly health: HealthCheckSettings;
  readonly nc: NatsConnection;
  readonly farm: FarmStore;
  readonly consumer: Consumer;
  readonly channels: { readonly results: CoordinatorTarget<ResultsClient>; readonly leases: CoordinatorTarget<LeasesClient> };
  readonly capabilities: AgentCapabilities;
  readonly reach: DeviceReach;
  readonly log: AgentLog;
}

class Agent {
  private readonly config: AgentConfig;
  private readonly nc: NatsConnection;
  private readonly farm: FarmStore;
  private readonly consumer: Consumer;
  private readonly client: CoordinatorTarget<ResultsClient>;
  private readonly leases: CoordinatorTarget<LeasesClient>;
  private readonly capabilities: AgentCapabilities;
  /** The device's sensors (device-reach.ts). */
  private readonly deviceReach: DeviceReach;
  /** The health gate (health-check.ts). */
  private readonly health: HealthGate;
  private readonly log: AgentLog;
  /** The agent's one state (agent-state.ts); the registry state derives from it. */
  private readonly machine = new AgentStateMachine();
  private readonly abort = new AbortController();
  private currentJobId = '';
  private readonly startedAtUnixMs = Date.now();

  constructor(parts: AgentParts) {
    this.config = parts.config;
    this.nc = parts.nc;
    this.farm = parts.farm;
    this.consumer = parts.consumer;
    this.client = parts.channels.results;
    this.leases = parts.channels.leases;
    this.capabilities = parts.capabilities;
    this.deviceReach = parts.reach;
    this.log = parts.log;
    this.health = new HealthGate(parts.health, (state) => this.onHealth(state), parts.log);
  }

  /** Writes the first registry entry (CHECKING). */
  async register(): Promise<void> {
    this.machine.fire('registered');
    await this.heartbeat();
  }

  /** Starts the periodic heartbeat; the caller clears the timer. */
  startHeartbeats(): NodeJS.Timeout {
    return setInterval(() => {
      this.heartbeat().catch((err: unknown) => this.log('warn', 'heartbeat failed', { error: String(err) }));
    }, this.config.heartbeatIntervalMs);
  }

  /** The health check after joining; a failed one is retried by run() before the first pull. */
  async firstCheck(): Promise<void> {
    await this.health.attempt();
  }

  async run(): Promise<void> {
    while (this.machine.pulling) {
      if (this.health.needed) {
        await this.health.untilPassed(this.abort.signal, () => !this.machine.pulling);
        continue;
      }
      let msg: JsMsg | null;
      try {
        msg = await this.consumer.next({ expires: this.config.pullExpiresMs });
      } catch (err) {
        if (!this.machine.pulling) break;
        this.log('warn', 'pull failed; retrying', { error: String(err) });
        await sleep(1_000);
        continue;
      }
      if (!msg) continue;
      await this.handle(msg);
    }
  }

  /** Stops pulling and aborts a running job. A closed agent stays closed. */
  stop(): void {
    if (this.machine.phase === 'stopped') return;
    this.machine.fire('stop');
    this.abort.abort();
  }

  /** Stops pulling after the running job; the registry shows DRAINING meanwhile. */
  async drain(): Promise<void> {
    if (this.machine.phase === 'stopped') return;
    this.machine.fire('drain');
    await this.heartbeat().catch(() => undefined);
  }

  /** Every connection is closed. */
  closed(): void {
    this.machine.fire('closed');
  }

  async heartbeat(): Promise<void> {
    if (this.nc.isClosed()) return;
    await putAgentRecord(this.farm.agents, {
      agentId: this.config.agentId,
      name: this.config.name,
      agentVersion: AGENT_VERSION,
      labels: { ...this.config.labels },
      capabilities: this.capabilities,
      state: registryStateOf(this.machine.phase),
      currentJobId: this.currentJobId,
      startedAtUnixMs: this.startedAtUnixMs,
      health: this.health.lastReport,
    });
  }

  /** Reports a health state change of the gate (a draining agent stays DRAINING: the transition table says so). */
  async onHealth(state: 'checking' | 'healthy' | 'unhealthy'): Promise<void> {
    const event: Record<typeof state, AgentEvent> = { checking: 'checkDue', healthy: 'checkPassed', unhealthy: 'checkFailed' };
    this.machine.fire(event[state]);
    await this.heartbeat().catch((err: unknown) => this.log('warn', 'heartbeat failed', { error: String(err) }));
  }

  async unregister(): Promise<void> {
    try {
      await this.farm.agents.delete(this.config.agentId);
    } catch (err) {
      this.log('warn', 'could not remove the registry entry', { error: String(err) });
    }
  }

  private async handle(msg: JsMsg): Promise<void> {
    const receivedAtMs = Date.now();
    this.log('info', 'job message received', { subject: msg.subject, streamSeq: msg.seq, deliveryCount: msg.info.deliveryCount, bytes: msg.data.length });
    let job: BenchJob;
    try {
      job = BenchJob.decode(msg.data);
    } catch (err) {
      await this.settle(msg, { kind: 'undecodable', reason: String(err) }, receivedAtMs);
      return;
    }
    const { variant, suite } = job;
    if (job.agentId !== this.config.agentId || !variant || !suite) {
      const why = job.agentId !== this.config.agentId ? `addressed to another agent (${loggable(job.agentId)})` : 'without variant or suite settings';
      await this.settle(msg, { kind: 'invalid', reason: why }, receivedAtMs, job.jobId);
      return;
    }
    // No attempt runs without the coordinator's lease: a job that was reassigned, finished
    // or cancelled meanwhile is dropped here, and a late result of this attempt is refused
    // once another attempt holds the job.
    let lease: JobLease;
    const waiting = setInterval(() => msg.working(), this.config.workingIntervalMs);
    try {
      const outcome = await acquireLease(this.leases, { jobId: job.jobId, sweepId: job.sweepId, agentId: this.config.agentId, deliveryCount: msg.info.deliveryCount }, this.config.leaseAcquireTimeoutMs, this.abort.signal);
      if (outcome.kind === 'drop') {
        await this.settle(msg, { kind: 'leaseRefused', reason: outcome.reason }, receivedAtMs, job.jobId);
        return;
      }
      lease = outcome.lease;
    } catch (err) {
      // The coordinator is unreachable: give the job back (after MaxDeliver tries the
      // coordinator's advisory watcher fails it) and report this device unhealthy.
      this.machine.fire('coordinatorUnreachable');
      await this.settle(msg, { kind: 'coordinatorUnreachable', shuttingDown: !this.machine.pulling }, receivedAtMs, job.jobId);
      this.log('error', 'no lease: the coordinator is unreachable; job returned to the queue', { jobId: loggable(job.jobId), error: String(err), cause: err instanceof LeaseUnavailableError ? String(err.cause) : undefined });
      await this.heartbeat().catch(() => undefined);
      return;
    } finally {
      clearInterval(waiting);
    }
    const attempt = lease.attempt;
    this.machine.fire('jobLeased');
    this.currentJobId = job.jobId;
    await this.heartbeat().catch(() => undefined);
    // A cancelled or superseded lease stops the job.
    const held = holdLease(lease, this.leases, msg, this.config.workingIntervalMs, {
      onLost: (reason) => this.log('warn', 'lease lost; stopping the job', { jobId: job.jobId, reason }),
      onRenewalFailed: (err) => this.log('warn', 'lease renewal failed', { jobId: job.jobId, error: String(err) }),
    });
    const upload = new JobUpload(
      this.client,
      {
        jobId: job.jobId,
        sweepId: job.sweepId,
        agentId: this.config.agentId,
        attempt,
        uploadId: `${job.jobId}.${attempt}.${randomUUID()}`,
        leaseToken: lease.token,
        resumeFromEvent: 0,
      },
      // With several coordinators a result waits out a change of leader (the lease TTL and the
      // new leader's start-up, seconds), tried about every second; one coordinator keeps the
      // default (it is back within seconds of a restart or not soon).
      this.config.grpcAddresses.length > 1 ? FAILOVER_UPLOAD_RETRIES : undefined,
      (header) => lease.heldEvents(this.leases, header.uploadId),
    );
    this.log('info', 'job started', { jobId: job.jobId, variant: variant.variant, attempt, deliveryCount: msg.info.deliveryCount });
    try {
      const aborted = await this.execute(job, variant, suite, upload, AbortSignal.any([this.abort.signal, held.signal]));
      if (aborted) {
        upload.cancel();
        // Lease lost: another attempt holds the job, or it was cancelled. Otherwise shutdown:
        // back to the queue at once, the job is not this agent's fault.
        await this.settle(msg, held.lost ? { kind: 'leaseLost', reason: held.lost } : { kind: 'shutdown' }, receivedAtMs, job.jobId);
        if (!held.lost) this.log('warn', 'job aborted by shutdown; returned to the queue', { jobId: job.jobId });
        return;
      }
      const ack = await upload.finish();
      await this.settle(msg, { kind: 'uploaded', outcome: ack.outcome, jobFinal: ack.jobFinal }, receivedAtMs, job.jobId);
      this.log('info', 'job finished', { jobId: job.jobId, outcome: UploadOutcome[ack.outcome], final: ack.jobFinal });
    } catch (err) {
      upload.cancel();
      if (err instanceof UploadRejectedError) {
        // Sending the same result again cannot succeed; keep it from looping through the fleet.
        await this.settle(msg, { kind: 'resultRefused', reason: err.message }, receivedAtMs, job.jobId);
        return;
      }
      // The result could not be delivered: let the job come back rather than lose it.
      await this.settle(msg, { kind: 'uploadFailed' }, receivedAtMs, job.jobId);
      this.log('error', 'job could not be reported; returned to the queue', { jobId: job.jobId, error: String(err), cause: err instanceof UploadFailedError ? String(err.cause) : undefined });
    } finally {
      held.stop();
      this.machine.fire('jobEnded');
      // A device-level failure during the job: the registry shows CHECKING until a check passed.
      if (this.health.needed) this.machine.fire('checkDue');
      this.currentJobId = '';
      await this.heartbeat().catch(() => undefined);
    }
  }

  /** Fetches the model and runs the suite, streaming its events. Returns true when aborted by shutdown. */
  private async execute(job: BenchJob, variant: VariantRef, suite: SuiteSettings, upload: JobUpload, signal: AbortSignal): Promise<boolean> {
    let modelPath: string;
    let comparison: ComparedModel[] | undefined;
    let evaluation: SuiteEvaluation | undefined;
    let searched: ComparedModel[] | undefined;
    try {
      // A read that fails on the way (the object store's stream electing a leader on a NATS
      // cluster takes seconds) is tried again within the attempt before the job is given back.
      // The evaluation images and labels come before the suite starts, cached by digest.
      // A configuration search carries every variant, like a comparison job: all are fetched first.
      [modelPath, comparison, evaluation, searched] = await retryTransientFetch(
        async () =>
          [
            await fetchModel(this.farm.models, variant.sha256, this.config.cacheDir),
            await fetchComparisonModels(this.farm.models, job, this.config.cacheDir),
            job.evaluation ? await fetchEvaluationData(this.farm.models, job.evaluation, this.config.cacheDir) : undefined,
            await fetchSearchModels(this.farm.models, job, this.config.cacheDir),
          ] as const,
        MODEL_FETCH_RETRY_BUDGET_MS,
        signal,
        (err, waitMs) => this.log('warn', 'model fetch failed; trying again', { jobId: job.jobId, error: String(err), retryInMs: waitMs }),
      );
    } catch (err) {
      await upload.send({
        $case: 'error',
        value: { code: ErrorCode.ERROR_CODE_MODEL_FETCH, message: (err as Error).message, retryable: !(err instanceof ModelFetchError) || err.transient },
      });
      return false;
    }
    if (job.externalRuntime) {
      // An external tool runs instead of the suite; sampling starts at the tool's measuring phase.
      const toolSensing = await this.deviceReach.startJob(job.externalRuntime.tool === 'trtexec' ? 'tensorrt' : 'cpu');
      try {
        return await runExternalJob({ job, request: job.externalRuntime, modelPath, send: (event) => upload.send(event), ...(toolSensing ? { sensing: toolSensing } : {}), signal, agentVersion: AGENT_VERSION });
      } finally {
        toolSensing?.stop();
      }
    }
    if (job.configSearch && searched) {
      const first = searched[0];
      const search = toSuiteConfigSearch(job.configSearch, searched, suite.scenario);
      // The job's own model and settings are the first variant's under the baseline: the suite
      // process's Summary describes that variant's baseline rounds of the confirmation.
      return this.runSuite(
        job,
        {
          modelPath: first?.modelPath ?? modelPath,
          inputs: job.inputs,
          executionProvider: search.baseline.executionProvider,
          intraOpThreads: search.baseline.intraOpThreads,
          interOpThreads: search.baseline.interOpThreads,
          graphOptimizationLevel: search.baseline.graphOptimizationLevel as NonNullable<SuiteJob['graphOptimizationLevel']>,
          suite,
          manifest: { variantSha256: first?.sha256 ?? variant.sha256, agentVersion: AGENT_VERSION, batch: job.batch || 1 },
          configSearch: search,
        },
        upload,
        signal,
      );
    }
    const suiteJob: SuiteJob = {
      modelPath,
      inputs: job.inputs,
      executionProvider: job.executionProvider || 'cpu',
      intraOpThreads: job.intraOpThreads,
      interOpThreads: job.interOpThreads,
      suite,
      manifest: { variantSha256: variant.sha256, agentVersion: AGENT_VERSION, batch: job.batch || 1 },
      ...(comparison && { comparison }),
      // The accuracy phase runs in a comparison job; a job that carries an evaluation but no
      // comparison compares its own variant alone (labels metrics only).
      ...(evaluation && { evaluation, comparison: comparison ?? [{ variant: variant.variant || variant.sha256.slice(0, 12), sha256: variant.sha256, modelPath }] }),
    };
    return this.runSuite(job, suiteJob, upload, signal);
  }

  /** Runs a suite job in a child process, streaming its events. Returns true when aborted by shutdown. */
  private async runSuite(job: BenchJob, suiteJob: SuiteJob, upload: JobUpload, signal: AbortSignal): Promise<boolean> {
    const pending: Promise<void>[] = [];
    // Idle baseline now; power and thermal are then sampled between the suite's BEGIN and END marks.
    const sensing = await this.deviceReach.startJob(suiteJob.executionProvider ?? 'cpu');
    try {
      const exit = await runSuiteInChild(suiteJob, {
        signal,
        stallTimeoutMs: this.config.suiteStallTimeoutMs,
        onEvent: (event: SuiteChildEvent) => {
          // A suite process that crashed, was killed or could not start may be the device's
          // fault, not the model's: check the device before the next job.
          if (event.type === 'error' && event.code === ErrorCode.ERROR_CODE_CHILD_CRASHED) this.health.require(`job ${job.jobId}: ${event.message.split('\n')[0]}`);
          sensing?.onSuiteEvent(event);
          const body = toResultEvent(event);
          if (body?.$case === 'summary' && sensing) pending.push(sensing.complete(body.value, job.batch || 1).then(() => upload.send(body)));
          else if (body) pending.push(upload.send(body));
        },
      });
      await Promise.all(pending);
      return signal.aborted && !exit.sawSummary;
    } finally {
      sensing?.stop();
    }
  }

  /** Acks, gives back or drops a job message, as {@link settlementOf} decides from how it ended. */
  private async settle(msg: JsMsg, outcome: JobOutcome, receivedAtMs: number, jobId?: string): Promise<Settlement> {
    const settlement = settlementOf(outcome);
    switch (settlement.action) {
      case 'ack':
        await this.ack(msg);
        break;
      case 'nak':
        msg.nak(settlement.delayMs);
        break;
      case 'term':
        await this.drop(msg, receivedAtMs, settlement.reason, jobId);
        break;
    }
    return settlement;
  }

  /**
   * Drops a job message for good and says why in this agent's log. The term is a bare `+TERM`,
   * confirmed by the server (`termConfirmed`): nats-server 2.9 ignores a term carrying a reason,
   * and the consumer hands this agent one message at a time (`max_ack_pending: 1`), so an ignored
   * term kept the agent idle until AckWait (30 s), MaxDeliver times over. `heldMs` is how long the
   * message held the agent, from its delivery here to the confirmed term.
   */
  private async drop(msg: JsMsg, receivedAtMs: number, reason: string, jobId?: string): Promise<void> {
    const fields = { subject: msg.subject, streamSeq: msg.seq, deliveryCount: msg.info.deliveryCount, ...(jobId === undefined ? {} : { jobId: loggable(jobId) }), reason: loggable(reason, 500) };
    try {
      await termConfirmed(this.nc, msg, { timeoutMs: this.config.ackWaitMs });
      this.log('warn', 'job message dropped', { ...fields, heldMs: Date.now() - receivedAtMs });
    } catch (err) {
      this.log('error', 'job message dropped here, but its term was not confirmed; it comes back after AckWait and is judged again', { ...fields, error: String(err) });
    }
  }

  /**
   * Acks a finished job, confirmed by the server and asked again while nobody answers: on a NATS
   * cluster the consumer's leader may be electing a successor (seconds), and a lost ack would hold
   * the job until AckWait. Past AckWait the job comes back anyway; its lease answers FINISHED.
   */
  private async ack(msg: JsMsg): Promise<void> {
    try {
      await ackConfirmed(this.nc, msg, { timeoutMs: this.config.ackWaitMs });
    } catch (err) {
      this.log('warn', 'the ack of a finished job was not confirmed; it will come back after AckWait and be dropped', { subject: msg.subject, error: String(err) });
    }
  }
}

/**
 * A search job as the suite process takes it: the models on disk, and the defaults for what
 * the coordinator left unset (proto3 sends unset as 0 or empty). A strategy or objective the
 * suite does not know is passed on as given, so that parseSuiteJob refuses it naming the field.
 */
export function toSuiteConfigSearch(search: ConfigSearchJob, models: ComparedModel[], scenario: Scenario): SuiteConfigSearch {
  const orDefault = (value: number, fallback: number): number => (value > 0 ? value : fallback);
  return {
    strategy: (search.strategy || CONFIG_SEARCH_DEFAULTS.strategy) as SearchStrategy,
    axes: search.axes.map((a) => ({ name: a.name, values: [...a.values] })),
    skipped: search.skipped.map((s) => ({ ...s })),
    baseline: search.baseline ?? baselineConfig(),
    budgetMs: orDefault(search.budgetMs, CONFIG_SEARCH_DEFAULTS.budgetMs),
    pointWarmupMs: search.pointWarmupMs,
    pointDurationMs: orDefault(search.pointDurationMs, CONFIG_SEARCH_DEFAULTS.pointDurationMs),
    pointMinQueries: orDefault(search.pointMinQueries, CONFIG_SEARCH_DEFAULTS.pointMinQueries),
    confirmRounds: orDefault(search.confirmRounds, CONFIG_SEARCH_DEFAULTS.confirmRounds),
    objective: (search.objective || (scenario === Scenario.SCENARIO_OFFLINE ? 'throughput' : 'p50_latency')) as SearchObjective,
    latencyBoundMs: search.latencyBoundMs,
    variants: models,
  };
}

/** A value from a job message, cut for the log: the message may come from anyone who can publish to the subject. */
function loggable(value: string, max = 200): string {
  return value.length > max ? `${value.slice(0, max)}... (${value.length} characters)` : value;
}

/** Maps an event of the suite process onto the wire contract. */
export function toResultEvent(event: SuiteChildEvent): NonNullable<ResultEvent['event']> | undefined {
  switch (event.type) {
    case 'started':
      return { $case: 'started', value: { startedAtUnixMs: Date.now(), onnxruntimeVersion: event.onnxruntimeVersion, childPid: event.pid } };
    case 'progress':
      return {
        $case: 'progress',
        value: {
          phase: event.phase,
          queriesDone: event.queriesDone,
          elapsedMs: Math.round(event.elapsedMs),
          // A configuration search's point and how far it is (the coordinator's estimate of the time left).
          ...(event.point !== undefined && { point: event.point }),
          ...(event.pointsDone !== undefined && { pointsDone: event.pointsDone }),
          ...(event.pointsTotal !== undefined && { pointsTotal: event.pointsTotal }),
          ...(event.queriesPerSecond !== undefined && { queriesPerSecond: event.queriesPerSecond }),
        },
      };
    case 'samples':
      return { $case: 'samples', value: { offset: event.offset, latencyMs: event.latencyMs } };
    case 'summary':
      return { $case: 'summary', value: event.summary };
    case 'error':
      return { $case: 'error', value: { code: event.code, message: event.message, retryable: event.retryable } };
    default:
      return undefined;
  }
}
