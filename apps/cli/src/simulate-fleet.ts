// `benchfarm simulate-fleet`: N simulated agents (apps/agent/src/simulated) in P worker processes
// against a farm (one started here, or a given one), and the figures of what the coordinator, NATS
// and the store did: registration, idle heartbeat load, a sweep to every agent, ingestion,
// /metrics, and one model fetched by many agents at once.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect } from '@nats-io/transport-node';
import { openFarmStore, putModel } from '@benchfarm/messaging';
import { prepareDefaultModel } from '@benchfarm/onnx';
import { protobufWriter } from '@benchfarm/suite';
import type { ConnectionScope, FleetWorkerSpec, ModelCacheScope, WorkerStats } from '@benchfarm/fleet';
import { CoordinatorClient, type AgentView } from './client';
import { startFleetFarm, readProcUsage, cpuPercentOfCore, type FleetFarm, type ProcUsage } from './simulate-fleet.farm';
import {
  checkAgentSide,
  checkStore,
  countSeries,
  dispatchLatencies,
  distribution,
  ingestRate,
  uploadCounters,
  type Absent,
  type FetchFigures,
  type FleetFigures,
  type Measured,
  type ScrapeFigures,
  type StoredJob,
  type SweepFigures,
  type UsageFigures,
} from './simulate-fleet.figures';
import { FleetWorkers } from './simulate-fleet.workers';

/**
 * Variants the coordinator derives quickly from the bundled default model (a copy, a
 * pure-JavaScript fp16 conversion, onnxruntime's graph optimisations, dynamic int8), in the order
 * `--variants N` takes them.
 */
export const CHEAP_VARIANTS = ['fp32', 'fp16', 'ort-basic', 'ort-extended', 'int8-dynamic'] as const;

/** The settings of a fleet run, validated. */
export interface SimulateFleetOptions {
  readonly agents: number;
  /** Variants swept to every agent; 0: no sweep. */
  readonly variants: number;
  /** Names of the variants (default: the first `variants` of {@link CHEAP_VARIANTS}). */
  readonly variantNames?: readonly string[];
  readonly processes: number;
  /** Wall time of one simulated job. */
  readonly jobMs: number;
  /** Measured queries (synthetic latencies) per job: the sweep's minQueries. */
  readonly queries: number;
  /** NATS URL of a farm to join; with grpcAddress and coordinatorUrl, or none of the three (a farm is started). */
  readonly natsUrl?: string;
  readonly grpcAddress?: string;
  readonly coordinatorUrl?: string;
  /** Pid of a given coordinator running on this machine, to read its CPU and memory. */
  readonly coordinatorPid?: number;
  /** How long the idle heartbeat load is measured. */
  readonly idleWindowMs: number;
  /** Agents that fetch one big model at once (0: skip that figure). */
  readonly fetchAgents: number;
  readonly fetchMb: number;
  /** An agent whose read of that model has not finished by then counts as an error of the figure. */
  readonly fetchTimeoutMs: number;
  readonly natsConnections: ConnectionScope;
  readonly grpcChannels: ConnectionScope;
  readonly modelCache: ModelCacheScope;
  readonly healthCheckMs: number;
  readonly registerTimeoutMs: number;
  readonly sweepTimeoutMs: number;
  /** The agents' heartbeat interval (default: the real agent's 5 s). */
  readonly heartbeatIntervalMs?: number;
  /** Extra environment of a coordinator started here (BENCHFARM_DATABASE_URL, ...). */
  readonly coordinatorEnv?: Readonly<Record<string, string>>;
  /** Profile a coordinator started here into this folder (node --cpu-prof). */
  readonly cpuProfileDir?: string;
  /** The command line, for the report. */
  readonly command?: string;
}

/** Defaults of the optional settings. */
export const SIMULATE_FLEET_DEFAULTS = {
  variants: 0,
  processes: 1,
  jobMs: 200,
  queries: 100,
  idleWindowMs: 15_000,
  fetchMb: 50,
  fetchTimeoutMs: 300_000,
  natsConnections: 'agent',
  grpcChannels: 'agent',
  modelCache: 'process',
  healthCheckMs: 0,
  registerTimeoutMs: 180_000,
  sweepTimeoutMs: 600_000,
} as const;

/** Thrown for bad settings; names every bad flag at once. */
export class SimulateFleetError extends Error {
  override name = 'SimulateFleetError';
}

/** The settings as flags give them (strings or numbers), before validation. */
export type SimulateFleetInput = Partial<Record<keyof SimulateFleetOptions, unknown>>;

/**
 * Validates and defaults the settings; every problem is reported at once, each naming its flag.
 * Thrown: {@link SimulateFleetError}.
 */
export function resolveFleetOptions(input: SimulateFleetInput): SimulateFleetOptions {
  const problems: string[] = [];
  const int = (flag: string, value: unknown, min: number, max: number, fallback?: number): number => {
    if (value === undefined) {
      if (fallback === undefined) problems.push(`${flag} is required`);
      return fallback ?? 0;
    }
    const n = typeof value === 'number' ? value : Number(value);
    if (!Number.isInteger(n) || n < min || n > max) problems.push(`${flag} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
    return n;
  };
  const scope = <T extends string>(flag: string, value: unknown, allowed: readonly T[], fallback: T): T => {
    if (value === undefined) return fallback;
    if (!allowed.includes(value as T)) problems.push(`${flag} must be ${allowed.join(' or ')}, got ${JSON.stringify(value)}`);
    return value as T;
  };
  const agents = int('--agents', input.agents, 1, 100_000);
  const variantNames = input.variantNames === undefined ? undefined : (input.variantNames as string[]).map((v) => v.trim()).filter(Boolean);
  const variants = int('--variants', input.variants ?? variantNames?.length, 0, variantNames?.length ?? CHEAP_VARIANTS.length, SIMULATE_FLEET_DEFAULTS.variants);
  if (variantNames && variantNames.length !== variants) problems.push(`--variants ${variants} and --variant-names (${variantNames.length} names) disagree`);
  const processes = int('--processes', input.processes, 1, 256, SIMULATE_FLEET_DEFAULTS.processes);
  if (processes > agents) problems.push(`--processes ${processes} is more than --agents ${agents}`);
  const given = [input.natsUrl, input.grpcAddress, input.coordinatorUrl].filter((v) => v !== undefined).length;
  if (given !== 0 && given !== 3) problems.push('give --nats, --grpc and --coordinator together (a farm to join), or none of them (a farm is started here)');
  if (input.natsUrl !== undefined && !/^(nats|tls):\/\/\S+$/.test(String(input.natsUrl))) problems.push(`--nats must be a URL like nats://host:4222, got ${JSON.stringify(input.natsUrl)}`);
  if (input.grpcAddress !== undefined && !/^[^\s/]+:\d{1,5}$/.test(String(input.grpcAddress))) problems.push(`--grpc must be host:port, got ${JSON.stringify(input.grpcAddress)}`);
  if (input.coordinatorUrl !== undefined && !URL.canParse(String(input.coordinatorUrl))) problems.push(`--coordinator must be a URL like http://host:8080, got ${JSON.stringify(input.coordinatorUrl)}`);
  const coordinatorPid = input.coordinatorPid === undefined ? undefined : int('--coordinator-pid', input.coordinatorPid, 1, 2 ** 22);
  if (coordinatorPid !== undefined && input.coordinatorUrl === undefined) problems.push('--coordinator-pid is for a given coordinator (--coordinator); the one started here is measured anyway');
  if (input.cpuProfileDir !== undefined && input.coordinatorUrl !== undefined) problems.push('--coordinator-cpu-prof profiles a coordinator started here, not a given one');
  const options: SimulateFleetOptions = {
    agents,
    variants,
    ...(variantNames ? { variantNames } : {}),
    processes,
    jobMs: int('--job-ms', input.jobMs, 0, 3_600_000, SIMULATE_FLEET_DEFAULTS.jobMs),
    queries: int('--queries', input.queries, 1, 100_000, SIMULATE_FLEET_DEFAULTS.queries),
    ...(input.natsUrl === undefined ? {} : { natsUrl: String(input.natsUrl) }),
    ...(input.grpcAddress === undefined ? {} : { grpcAddress: String(input.grpcAddress) }),
    ...(input.coordinatorUrl === undefined ? {} : { coordinatorUrl: String(input.coordinatorUrl) }),
    ...(coordinatorPid === undefined ? {} : { coordinatorPid }),
    idleWindowMs: int('--idle-ms', input.idleWindowMs, 0, 3_600_000, SIMULATE_FLEET_DEFAULTS.idleWindowMs),
    fetchAgents: int('--fetch-agents', input.fetchAgents, 0, agents, Math.min(100, agents)),
    fetchMb: int('--fetch-mb', input.fetchMb, 1, 4096, SIMULATE_FLEET_DEFAULTS.fetchMb),
    fetchTimeoutMs: int('--fetch-timeout-ms', input.fetchTimeoutMs, 1_000, 3_600_000, SIMULATE_FLEET_DEFAULTS.fetchTimeoutMs),
    natsConnections: scope('--nats-connections', input.natsConnections, ['agent', 'process'], SIMULATE_FLEET_DEFAULTS.natsConnections),
    grpcChannels: scope('--grpc-channels', input.grpcChannels, ['agent', 'process'], SIMULATE_FLEET_DEFAULTS.grpcChannels),
    modelCache: scope('--model-cache', input.modelCache, ['process', 'agent'], SIMULATE_FLEET_DEFAULTS.modelCache),
    healthCheckMs: int('--health-ms', input.healthCheckMs, 0, 600_000, SIMULATE_FLEET_DEFAULTS.healthCheckMs),
    registerTimeoutMs: int('--register-timeout-ms', input.registerTimeoutMs, 1_000, 3_600_000, SIMULATE_FLEET_DEFAULTS.registerTimeoutMs),
    sweepTimeoutMs: int('--sweep-timeout-ms', input.sweepTimeoutMs, 1_000, 24 * 3_600_000, SIMULATE_FLEET_DEFAULTS.sweepTimeoutMs),
    ...(input.heartbeatIntervalMs === undefined ? {} : { heartbeatIntervalMs: int('heartbeatIntervalMs', input.heartbeatIntervalMs, 100, 60_000) }),
    ...(input.coordinatorEnv === undefined ? {} : { coordinatorEnv: input.coordinatorEnv as Record<string, string> }),
    ...(input.cpuProfileDir === undefined ? {} : { cpuProfileDir: String(input.cpuProfileDir) }),
    ...(input.command === undefined ? {} : { command: String(input.command) }),
  };
  if (problems.length > 0) throw new SimulateFleetError(`simulate-fleet: ${problems.join('; ')}`);
  return options;
}

/** The farm a run talks to. */
interface Farm {
  readonly natsUrl: string;
  readonly grpcAddress: string;
  readonly httpUrl: string;
  readonly coordinatorPid?: number;
  readonly natsPid?: number;
  readonly started?: FleetFarm;
}

const absent = (why: string): Absent => ({ absent: why });

function usageBetween(before: ProcUsage | undefined, after: ProcUsage | undefined, why: string): Measured<UsageFigures> {
  if (!before || !after) return absent(why);
  if (after.atMs <= before.atMs) return absent('the two readings are less than 1 ms apart');
  return { cpuPercentOfCore: cpuPercentOfCore(before, after), rssBytes: after.rssBytes, peakRssBytes: after.peakRssBytes, windowMs: after.atMs - before.atMs };
}

/** Usage summed over several processes (the workers); undefined when any cannot be read. */
function sumUsage(pids: readonly number[]): ProcUsage | undefined {
  const all = pids.map(readProcUsage);
  if (all.some((u) => u === undefined) || all.length === 0) return undefined;
  const usages = all as ProcUsage[];
  return {
    cpuSeconds: usages.reduce((s, u) => s + u.cpuSeconds, 0),
    rssBytes: usages.reduce((s, u) => s + u.rssBytes, 0),
    peakRssBytes: usages.reduce((s, u) => s + u.peakRssBytes, 0),
    atMs: Math.max(...usages.map((u) => u.atMs)),
  };
}

/** `count` scrapes of /metrics, each timed. */
async function scrapeMetrics(client: CoordinatorClient, count: number): Promise<{ figures: ScrapeFigures; text: string }> {
  const scrapeMs: number[] = [];
  let text = '';
  for (let i = 0; i < count; i += 1) {
    const started = performance.now();
    text = await client.metricsText();
    scrapeMs.push(Math.round((performance.now() - started) * 10) / 10);
  }
  return { figures: { scrapeMs, ...countSeries(text) }, text };
}

/**
 * An "ONNX-ish" file of `sizeBytes` for the object store only: a ModelProto (ir_version 8, one
 * graph holding one float initializer of random bytes, opset 13) that nothing parses; random so
 * that its digest is new on every run.
 */
export function onnxishBlob(sizeBytes: number): Buffer {
  const { concat, field, utf8, varint } = protobufWriter;
  const raw = randomBytes(Math.max(4, sizeBytes - 200) & ~3);
  // TensorProto: dims (1), data_type (2) FLOAT = 1, name (8), raw_data (9).
  const tensor = concat(field(1, 0, varint(raw.length / 4)), field(2, 0, varint(1)), field(8, 2, utf8('blob')), field(9, 2, raw));
  // GraphProto: name (2), initializer (5).
  const graph = concat(field(2, 2, utf8('simulate_fleet_fetch')), field(5, 2, tensor));
  // ModelProto: ir_version (1), producer_name (2), graph (7), opset_import (8) { version (2) }.
  const model = concat(field(1, 0, varint(8)), field(2, 2, utf8('benchfarm simulate-fleet')), field(7, 2, graph), field(8, 2, field(2, 0, varint(13))));
  return Buffer.from(model.buffer, model.byteOffset, model.byteLength);
}

function agentIdsOf(runId: string, count: number): string[] {
  const width = String(count - 1).length;
  return Array.from({ length: count }, (_, i) => `sim-${runId}-${String(i).padStart(width, '0')}`);
}

/** Where a caller (a test) may look at the farm while it still runs. */
export interface SimulateFleetHooks {
  /** After every result of the sweep is in and measured, before the model fetch and the teardown. */
  afterSweep?(sweep: { sweepId: string; jobIds: string[]; httpUrl: string; runId: string; agentIds: string[] }): Promise<void>;
}

/**
 * Runs a fleet and measures it (see the module comment); progress lines go to `say`. The workers
 * and a farm started here are always stopped, even when a phase fails. Thrown: FarmStartError,
 * FleetWorkerError, CoordinatorRequestError / CoordinatorUnreachableError from the REST calls,
 * and whatever a hook throws.
 */
export async function runSimulateFleet(options: SimulateFleetOptions, say: (line: string) => void = () => undefined, hooks: SimulateFleetHooks = {}): Promise<FleetFigures> {
  const runId = randomBytes(3).toString('hex');
  const workDir = mkdtempSync(join(tmpdir(), `benchfarm-fleet-${runId}-`));
  let farm: Farm | undefined;
  let workers: FleetWorkers | undefined;
  let runFailed = true;
  try {
    const f = await openFarm(options, workDir, say);
    farm = f;
    const client = new CoordinatorClient(f.httpUrl);
    const coordinatorWhy = f.coordinatorPid === undefined ? 'the coordinator was not started by this command; give --coordinator-pid to read its /proc' : `cannot read /proc/${f.coordinatorPid}`;
    const natsWhy = f.natsPid === undefined ? 'nats-server was not started by this command' : `cannot read /proc/${f.natsPid}`;
    const coordinatorUsage = (): ProcUsage | undefined => (f.coordinatorPid === undefined ? undefined : readProcUsage(f.coordinatorPid));
    const natsUsage = (): ProcUsage | undefined => (f.natsPid === undefined ? undefined : readProcUsage(f.natsPid));

    say(`forking ${options.processes} worker process(es) for ${options.agents} simulated agents ...`);
    workers = await FleetWorkers.spawn(options.processes);
    const agentIds = agentIdsOf(runId, options.agents);
    const labels = { fleet: runId };
    const startSignalAt = Date.now();
    const specs: FleetWorkerSpec[] = Array.from({ length: options.processes }, (_, w) => ({
      workerIndex: w,
      agents: agentIds.filter((_, i) => i % options.processes === w).map((agentId) => ({ agentId, name: agentId, labels })),
      natsUrl: f.natsUrl,
      grpcAddress: f.grpcAddress,
      jobMs: options.jobMs,
      healthCheckMs: options.healthCheckMs,
      natsConnections: options.natsConnections,
      grpcChannels: options.grpcChannels,
      modelCache: options.modelCache,
      cacheDir: join(workDir, `cache-${w}`),
      ...(options.heartbeatIntervalMs === undefined ? {} : { heartbeatIntervalMs: options.heartbeatIntervalMs }),
      startDeadlineMs: startSignalAt + options.registerTimeoutMs,
    }));
    workers.start(specs);

    // Registration: until GET /agents shows every started agent idle, verified and fresh.
    const getAgentsMs: number[] = [];
    let coordinatorAllIdleMs: Measured<number> = absent('not every agent was seen idle before --register-timeout-ms');
    const fleetWorkers = workers;
    const settledStarts = (): number => [...fleetWorkers.starts.values()].filter((s) => s.idleAtMs !== undefined || s.error !== undefined).length;
    const deadline = startSignalAt + options.registerTimeoutMs;
    while (Date.now() < deadline) {
      const sent = performance.now();
      let agents: AgentView[];
      try {
        agents = await client.listAgents();
      } catch (err) {
        say(`GET /agents failed: ${(err as Error).message}`);
        await sleep(500);
        continue;
      }
      getAgentsMs.push(performance.now() - sent);
      const ready = agents.filter((a) => a.labels.fleet === runId && a.state === 'idle' && !a.stale && a.health?.status === 'verified').length;
      const startedCount = [...fleetWorkers.starts.values()].filter((s) => s.idleAtMs !== undefined).length;
      if (settledStarts() === options.agents && ready >= startedCount && startedCount > 0) {
        coordinatorAllIdleMs = Date.now() - startSignalAt;
        break;
      }
      if (settledStarts() === options.agents && startedCount === 0) break;
      await sleep(200);
    }
    const starts = [...workers.starts.values()];
    const started = starts.filter((s) => s.idleAtMs !== undefined);
    const failed = starts.filter((s) => s.error !== undefined);
    say(`registered: ${started.length} started, ${failed.length} failed; coordinator saw all idle after ${isMeasuredNumber(coordinatorAllIdleMs) ? `${coordinatorAllIdleMs} ms` : 'n/a'}`);
    if (started.length === 0) throw new SimulateFleetError(`no simulated agent started: ${failed[0]?.error ?? 'unknown'}`);

    // Idle heartbeat load: nothing but the agents' heartbeats and pulls (no polling from here).
    say(`measuring the idle heartbeat load for ${options.idleWindowMs} ms ...`);
    const idleBefore = { c: coordinatorUsage(), n: natsUsage(), w: sumUsage(workers.pids) };
    await sleep(options.idleWindowMs);
    const idleAfter = { c: coordinatorUsage(), n: natsUsage(), w: sumUsage(workers.pids) };
    const metricsIdle = await scrapeMetrics(client, 3);

    let sweepFigures: Measured<SweepFigures> = absent('--variants 0: no sweep');
    let metricsLoaded: Measured<ScrapeFigures> = absent('no sweep ran');
    if (options.variants > 0) {
      const names = [...(options.variantNames ?? CHEAP_VARIANTS.slice(0, options.variants))];
      const model = await prepareDefaultModel(join(workDir, 'models'));
      say(`POST /sweeps: ${model.name}, variants ${names.join(', ')} to ${started.length} agents ...`);
      const countersBefore = uploadCounters(metricsIdle.text);
      const sweepBefore = { c: coordinatorUsage(), n: natsUsage(), w: sumUsage(fleetWorkers.pids) };
      const postSentAt = Date.now();
      const created = await client.createSweep(
        model.path,
        { name: `simulate-fleet ${runId}`, variants: names.join(','), targets: `label:fleet=${runId}`, compare: 'none', warmupMinQueries: 1, warmupMinDurationMs: 0, minQueries: options.queries, minDurationMs: 0, maxDurationMs: 60_000 },
        `${model.name}.onnx`,
      );
      // POST /sweeps answers in deriving: the jobs are published once the variants are derived.
      const sweep = await client.waitDerived(created.id, options.sweepTimeoutMs);
      const postMs = Date.now() - postSentAt;
      const jobIds = sweep.jobs.map((j) => j.id);
      say(`sweep ${sweep.id}: ${jobIds.length} jobs published in ${postMs} ms; waiting for every result ...`);
      const committed = (): number => new Set(fleetWorkers.jobs.filter((r) => r.sweepId === sweep.id && r.outcome === 'committed').map((r) => r.jobId)).size;
      // The agents' records come after the store's commit (ack, heartbeat, IPC): the wait is on
      // them. GET /sweeps only cuts it short once the sweep ended and its stragglers had 30 s.
      let endedAtMs: number | undefined;
      let watching = true;
      const watcher = (async () => {
        while (watching && endedAtMs === undefined) {
          await sleep(2_000);
          if ((await sweepState(f.httpUrl, sweep.id).catch(() => 'running')) !== 'running') endedAtMs = Date.now();
        }
      })();
      try {
        await workers.until(() => committed() >= jobIds.length || (endedAtMs !== undefined && Date.now() - endedAtMs > 30_000), options.sweepTimeoutMs, `${jobIds.length} results of sweep ${sweep.id}`);
      } finally {
        watching = false;
        await watcher;
      }
      const sweepAfter = { c: coordinatorUsage(), n: natsUsage(), w: sumUsage(fleetWorkers.pids) };
      const records = workers.jobs.filter((r) => r.sweepId === sweep.id);
      const final = await client.getSweep(sweep.id);
      const storedJobs = final.jobs as unknown as StoredJob[];
      const loaded = await scrapeMetrics(client, 3);
      metricsLoaded = loaded.figures;
      const countersAfter = uploadCounters(loaded.text);
      const leaseTimes = records.flatMap((r) => (r.leaseAtMs === undefined ? [] : [r.leaseAtMs]));
      const firstLeaseByAgent = new Map<string, number>();
      for (const r of records) if (r.leaseAtMs !== undefined) firstLeaseByAgent.set(r.agentId, Math.min(firstLeaseByAgent.get(r.agentId) ?? Infinity, r.leaseAtMs));
      const acks = records.flatMap((r) => (r.outcome === 'committed' && r.uploadAckAtMs !== undefined ? [r.uploadAckAtMs] : []));
      const published = records.map((r) => r.publishedAtMs);
      const allIn = committed() >= jobIds.length;
      const ingest = ingestRate(storedJobs.flatMap((j) => (j.result ? [Date.parse(j.result.committedAt)] : [])));
      sweepFigures = {
        sweepId: sweep.id,
        variants: names,
        jobs: jobIds.length,
        postMs,
        ...(firstLeaseByAgent.size === started.length ? { everyAgentStartedMs: Math.max(...firstLeaseByAgent.values()) - postSentAt } : {}),
        ...(published.length > 0 ? { firstPublishMs: Math.min(...published) - postSentAt, publishWindowMs: Math.max(...published) - Math.min(...published) } : {}),
        ...(leaseTimes.length > 0 && allIn ? { everyJobStartedMs: Math.max(...leaseTimes) - postSentAt } : {}),
        ...(acks.length > 0 && allIn ? { everyJobDoneMs: Math.max(...acks) - postSentAt } : {}),
        dispatch: dispatchLatencies(records, sweep.id),
        ...(ingest ? { ingest } : {}),
        store: checkStore(storedJobs),
        agents: checkAgentSide(records, sweep.id, jobIds),
        uploadCounters: Object.fromEntries(Object.entries(countersAfter).map(([k, v]) => [k, v - (countersBefore[k] ?? 0)])),
        coordinator: usageBetween(sweepBefore.c, sweepAfter.c, coordinatorWhy),
        natsServer: usageBetween(sweepBefore.n, sweepAfter.n, natsWhy),
        workers: usageBetween(sweepBefore.w, sweepAfter.w, 'cannot read the workers in /proc'),
      };
      await hooks.afterSweep?.({ sweepId: sweep.id, jobIds, httpUrl: f.httpUrl, runId, agentIds: started.map((s) => s.agentId) });
    }

    const modelFetch = options.fetchAgents > 0 ? await fetchFigure(workers, f.natsUrl, started.map((s) => s.agentId).sort().slice(0, options.fetchAgents), options.fetchMb, options.fetchTimeoutMs, workDir, say) : absent('--fetch-agents 0');
    const stats = await workers.stats();
    const warnings: Record<string, number> = {};
    for (const s of stats) for (const [m, n] of Object.entries(s.warnings)) warnings[m] = (warnings[m] ?? 0) + n;
    const store = f.started ? ((options.coordinatorEnv?.BENCHFARM_DATABASE_URL ?? process.env.BENCHFARM_DATABASE_URL) ? 'postgresql (BENCHFARM_DATABASE_URL)' : 'sqlite (embedded)') : 'not known here (the coordinator was given)';
    const getAgents = distribution(getAgentsMs);
    const idleStarts = started.flatMap((s) => (s.idleAtMs === undefined ? [] : [s.idleAtMs]));
    const figures: FleetFigures = {
      command: options.command ?? 'benchfarm simulate-fleet',
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memoryBytes: totalmem(), node: process.version },
      settings: {
        agents: options.agents,
        processes: options.processes,
        variants: options.variants > 0 ? [...(options.variantNames ?? CHEAP_VARIANTS.slice(0, options.variants))] : [],
        jobMs: options.jobMs,
        queriesPerJob: options.queries,
        natsConnections: options.natsConnections,
        grpcChannels: options.grpcChannels,
        modelCache: options.modelCache,
        idleWindowMs: options.idleWindowMs,
      },
      farm: { startedHere: f.started !== undefined, httpUrl: f.httpUrl, natsUrl: f.natsUrl, grpcAddress: f.grpcAddress, store, ...(f.started ? { coordinatorLog: f.started.logFile } : {}) },
      registration: {
        agents: options.agents,
        started: started.length,
        failed: failed.length,
        startRetries: starts.reduce((n, s) => n + Math.max(0, s.startAttempts - 1), 0),
        ...(idleStarts.length > 0 ? { agentSideAllIdleMs: Math.max(...idleStarts) - startSignalAt } : {}),
        coordinatorAllIdleMs,
        ...(getAgents ? { getAgents } : {}),
      },
      idle: {
        windowMs: options.idleWindowMs,
        coordinator: usageBetween(idleBefore.c, idleAfter.c, coordinatorWhy),
        natsServer: usageBetween(idleBefore.n, idleAfter.n, natsWhy),
        workers: usageBetween(idleBefore.w, idleAfter.w, 'cannot read the workers in /proc'),
      },
      metricsIdle: metricsIdle.figures,
      sweep: sweepFigures,
      metricsLoaded,
      modelFetch,
      workerWarnings: warnings,
      workerErrors: stats.flatMap((s) => s.errors),
    };
    runFailed = false;
    return figures;
  } finally {
    say('stopping the simulated agents ...');
    await workers?.stop().catch((err: unknown) => say(`stopping workers failed: ${(err as Error).message}`));
    if (farm?.started) {
      await farm.started.stop().catch((err: unknown) => say(`stopping the farm failed: ${(err as Error).message}`));
      const profileDir = options.cpuProfileDir;
      if (profileDir) say(`coordinator CPU profile(s): ${readdirSync(profileDir).filter((name) => name.endsWith('.cpuprofile')).map((name) => join(profileDir, name)).join(', ')}`);
    }
    // A failed run keeps its folder: the coordinator's log says why.
    if (runFailed) say(`kept ${workDir} (logs/coordinator.log)`);
    else rmSync(workDir, { recursive: true, force: true });
  }
}

/** The farm of a run: the given one, or nats-server and a coordinator started in `workDir`. */
async function openFarm(options: SimulateFleetOptions, workDir: string, say: (line: string) => void): Promise<Farm> {
  if (options.coordinatorUrl && options.natsUrl && options.grpcAddress) {
    return { natsUrl: options.natsUrl, grpcAddress: options.grpcAddress, httpUrl: options.coordinatorUrl, ...(options.coordinatorPid ? { coordinatorPid: options.coordinatorPid } : {}) };
  }
  say(`starting nats-server and a coordinator in ${workDir} ...`);
  // The sweep of every variant to every agent is one sweep: the default cap (1000 jobs) is raised to fit it.
  const maxJobs = Math.max(1_000, options.agents * Math.max(options.variants, 1));
  if (options.cpuProfileDir) mkdirSync(options.cpuProfileDir, { recursive: true });
  const started = await startFleetFarm({
    dir: workDir,
    coordinatorEnv: { BENCHFARM_MAX_JOBS_PER_SWEEP: String(maxJobs), ...options.coordinatorEnv },
    ...(options.cpuProfileDir ? { cpuProfileDir: options.cpuProfileDir } : {}),
  });
  return { natsUrl: started.natsUrl, grpcAddress: started.grpcAddress, httpUrl: started.httpUrl, coordinatorPid: started.coordinatorPid, ...(started.natsPid ? { natsPid: started.natsPid } : {}), started };
}

/**
 * A sweep's state from GET /sweeps (the list: cheap, unlike GET /sweeps/:id with thousands of
 * jobs), with the REST token the CLI client sends (BENCHFARM_TOKEN).
 */
async function sweepState(httpUrl: string, sweepId: string): Promise<string> {
  const token = process.env.BENCHFARM_TOKEN;
  const response = await fetch(new URL('/sweeps', httpUrl), { headers: token ? { authorization: `Bearer ${token}` } : {} });
  if (!response.ok) throw new Error(`GET /sweeps: HTTP ${response.status}`);
  const sweeps = (await response.json()) as Array<{ id: string; state: string }>;
  return sweeps.find((s) => s.id === sweepId)?.state ?? 'running';
}

function isMeasuredNumber(value: Measured<number>): value is number {
  return typeof value === 'number';
}

/** The big-model figure: one blob put into the object store, then read by `agentIds` at once. */
async function fetchFigure(workers: FleetWorkers, natsUrl: string, agentIds: string[], sizeMb: number, timeoutMs: number, workDir: string, say: (line: string) => void): Promise<Measured<FetchFigures>> {
  const nc = await connect({ servers: natsUrl.split(',').map((u) => u.trim()), name: 'benchfarm-simulate-fleet' });
  try {
    const farm = await openFarmStore(nc);
    const path = join(workDir, 'fetch-blob.onnx');
    writeFileSync(path, onnxishBlob(sizeMb * 1024 * 1024));
    const putStarted = Date.now();
    const { sha256, sizeBytes } = await putModel(farm.models, path, 'benchfarm simulate-fleet model-fetch figure (deleted after)');
    const putMs = Date.now() - putStarted;
    say(`model fetch: ${sizeBytes} bytes (${sha256.slice(0, 12)}) by ${agentIds.length} agents at once ...`);
    try {
      const before = await workers.stats();
      const asked = Date.now();
      const answers = await workers.fetch(sha256, agentIds, timeoutMs);
      const totalMs = Date.now() - asked;
      const after = await workers.stats();
      const delta = (pick: (s: WorkerStats) => number): number => after.reduce((n, s, i) => n + pick(s) - pick(before[i] ?? s), 0);
      const ok = answers.filter((a) => a.error === undefined);
      const perAgent = distribution(ok.flatMap((a) => (a.ms === undefined ? [] : [a.ms])));
      return {
        agents: agentIds.length,
        sizeBytes,
        putMs,
        totalMs,
        ...(perAgent ? { perAgent } : {}),
        storeReads: delta((s) => s.cache.storeReads),
        bytesServed: delta((s) => s.cache.bytesFetched),
        cacheHits: ok.filter((a) => a.hit).length,
        errors: answers.flatMap((a) => (a.error ? [`${a.agentId}: ${a.error}`] : [])),
      };
    } finally {
      await workers.discard(sha256).catch(() => undefined);
      await farm.models.delete(sha256).catch(() => undefined);
      rmSync(path, { force: true });
    }
  } finally {
    await nc.close();
  }
}
