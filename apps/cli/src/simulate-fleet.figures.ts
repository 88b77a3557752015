// The figures of a simulated fleet run, and the pure arithmetic behind them: distributions,
// ingest rates, the store and agent-side counts, and the text report.
import { percentileOfSorted } from '@benchfarm/numerics';
import type { SimulatedJobRecord } from '@benchfarm/fleet';

/** A figure that was not measured, with why. */
export interface Absent {
  absent: string;
}

/** A figure, or why it is absent. */
export type Measured<T> = T | Absent;

/** Whether a figure is absent. */
export function isAbsent<T>(value: Measured<T>): value is Absent {
  return typeof value === 'object' && value !== null && 'absent' in value;
}

/** Percentiles of a set of durations (ms). */
export interface Distribution {
  n: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** p50 / p99 (the farm's one percentile, LoadGen's, as results report it) / max of `values`; undefined for none. */
export function distribution(values: readonly number[]): Distribution | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return { n: sorted.length, p50Ms: percentileOfSorted(sorted, 0.5), p99Ms: percentileOfSorted(sorted, 0.99), maxMs: sorted[sorted.length - 1] ?? Number.NaN };
}

/** How fast the store took results, from their commit times. */
export interface IngestFigures {
  results: number;
  /** From the first commit to the last. */
  windowMs: number;
  /** Results after the first per second of the window; absent with fewer than 2 results or a 0 ms window. */
  perSecond?: number;
  /** Most results committed within one second (a sliding window over the commit times). */
  peakPerSecond: number;
}

/** Ingest figures of these commit times (ms since the epoch); undefined for none. */
export function ingestRate(committedAtMs: readonly number[]): IngestFigures | undefined {
  if (committedAtMs.length === 0) return undefined;
  const sorted = [...committedAtMs].sort((a, b) => a - b);
  const first = sorted[0] ?? 0;
  const last = sorted[sorted.length - 1] ?? 0;
  const windowMs = last - first;
  let peak = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end += 1) {
    while ((sorted[end] ?? 0) - (sorted[start] ?? 0) >= 1_000) start += 1;
    peak = Math.max(peak, end - start + 1);
  }
  return { results: sorted.length, windowMs, ...(sorted.length >= 2 && windowMs > 0 ? { perSecond: ((sorted.length - 1) / windowMs) * 1_000 } : {}), peakPerSecond: peak };
}

/** A job as GET /sweeps/:id shows it, reduced to what the counts need. */
export interface StoredJob {
  id: string;
  state: string;
  attempts: number;
  result?: { id: string; committedAt: string; count: number };
}

/** The coordinator's store, counted through its REST API. */
export interface StoreCheck {
  jobs: number;
  done: number;
  failed: number;
  /** Queued or running. */
  open: number;
  /** Jobs with a stored result. */
  results: number;
  /** Distinct result ids among them. */
  distinctResults: number;
  /** Done jobs without a result (lost), and results on jobs that are not done. */
  lost: number;
  /** Jobs that took more than one attempt. */
  retried: number;
}

/** Counts the sweep's jobs and results as the store has them. Pure. */
export function checkStore(jobs: readonly StoredJob[]): StoreCheck {
  const resultIds = jobs.flatMap((j) => (j.result ? [j.result.id] : []));
  return {
    jobs: jobs.length,
    done: jobs.filter((j) => j.state === 'done').length,
    failed: jobs.filter((j) => j.state === 'failed').length,
    open: jobs.filter((j) => j.state === 'queued' || j.state === 'running').length,
    results: resultIds.length,
    distinctResults: new Set(resultIds).size,
    lost: jobs.filter((j) => (j.state === 'done') !== (j.result !== undefined)).length,
    retried: jobs.filter((j) => j.attempts > 1).length,
  };
}

/** What the simulated agents report about one sweep's job messages. */
export interface AgentSideCheck {
  /** Jobs whose result an agent had committed exactly once. */
  committedOnce: number;
  /** Jobs committed more than once (must be 0: the coordinator commits a job's result once). */
  committedMoreThanOnce: number;
  /** Uploads the coordinator answered DUPLICATE. */
  duplicateUploads: number;
  /** Jobs of the sweep no agent committed. */
  notCommitted: number;
  /** Every job message's outcome, counted. */
  outcomes: Record<string, number>;
}

/** Counts the agents' records of a sweep's jobs against the sweep's job ids. Pure. */
export function checkAgentSide(records: readonly SimulatedJobRecord[], sweepId: string, jobIds: readonly string[]): AgentSideCheck {
  const mine = records.filter((r) => r.sweepId === sweepId);
  const commits = new Map<string, number>();
  const outcomes: Record<string, number> = {};
  for (const r of mine) {
    outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
    if (r.outcome === 'committed') commits.set(r.jobId, (commits.get(r.jobId) ?? 0) + 1);
  }
  return {
    committedOnce: jobIds.filter((id) => commits.get(id) === 1).length,
    committedMoreThanOnce: jobIds.filter((id) => (commits.get(id) ?? 0) > 1).length,
    duplicateUploads: outcomes.duplicate ?? 0,
    notCommitted: jobIds.filter((id) => !commits.has(id)).length,
    outcomes,
  };
}

/** Dispatch latencies of a sweep's jobs (lease acquired minus when the job could first be taken). */
export interface DispatchFigures {
  /**
   * Each agent's first job of the sweep: JetStream's timestamp of the message (the coordinator's
   * publish) to the lease granted.
   */
  firstJobPerAgent?: Distribution;
  /**
   * Every job: from when it could be taken (published, or its agent finished the previous
   * message, whichever is later: an agent takes one job at a time) to the lease granted.
   */
  everyJob?: Distribution;
}

/** Dispatch latencies of the leased job messages of `sweepId`. Pure. */
export function dispatchLatencies(records: readonly SimulatedJobRecord[], sweepId: string): DispatchFigures {
  const leased = records.filter((r): r is SimulatedJobRecord & { leaseAtMs: number } => r.sweepId === sweepId && r.leaseAtMs !== undefined);
  const firstByAgent = new Map<string, SimulatedJobRecord & { leaseAtMs: number }>();
  for (const r of leased) {
    const seen = firstByAgent.get(r.agentId);
    if (!seen || r.leaseAtMs < seen.leaseAtMs) firstByAgent.set(r.agentId, r);
  }
  const first = distribution([...firstByAgent.values()].map((r) => r.leaseAtMs - r.publishedAtMs));
  const every = distribution(leased.map((r) => r.leaseAtMs - Math.max(r.publishedAtMs, r.freeAtMs)));
  return { ...(first ? { firstJobPerAgent: first } : {}), ...(every ? { everyJob: every } : {}) };
}

/** CPU and memory of a process over a window. */
export interface UsageFigures {
  /** CPU time over wall time, percent of one core. */
  cpuPercentOfCore: number;
  rssBytes: number;
  peakRssBytes: number;
  windowMs: number;
}

/** One /metrics scrape series. */
export interface ScrapeFigures {
  /** Each scrape's time, ms. */
  scrapeMs: number[];
  /** Sample lines (not comments). */
  series: number;
  bytes: number;
}

/** Counts the sample lines and bytes of a Prometheus exposition. Pure. */
export function countSeries(text: string): { series: number; bytes: number } {
  let series = 0;
  for (const line of text.split('\n')) if (line !== '' && !line.startsWith('#')) series += 1;
  return { series, bytes: Buffer.byteLength(text) };
}

/** Sums `benchfarm_results_total{outcome="..."}` by outcome from an exposition. Pure. */
export function uploadCounters(text: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const match of text.matchAll(/^benchfarm_results_total\{outcome="([a-z_]+)"\} ([0-9.e+]+)$/gm)) {
    const [, outcome, value] = match;
    if (outcome) counts[outcome] = (counts[outcome] ?? 0) + Number(value);
  }
  return counts;
}

/** The sweep phase's figures. */
export interface SweepFigures {
  sweepId: string;
  variants: string[];
  jobs: number;
  /** POST /sweeps until its answer (derivation, planning, storing and publishing every job). */
  postMs: number;
  /** POST sent until JetStream stored the first job message (variant derivation and planning come first). */
  firstPublishMs?: number;
  /** First to last job message stored: how long publishing every job took. */
  publishWindowMs?: number;
  /** POST sent until every agent held a lease on its first job. */
  everyAgentStartedMs?: number;
  /** POST sent until the last job's lease was granted. */
  everyJobStartedMs?: number;
  /** POST sent until the last job's result was acknowledged by the coordinator. */
  everyJobDoneMs?: number;
  dispatch: DispatchFigures;
  ingest?: IngestFigures;
  store: StoreCheck;
  agents: AgentSideCheck;
  /** Deltas of benchfarm_results_total over the sweep, by outcome. */
  uploadCounters: Measured<Record<string, number>>;
  /** The coordinator from POST until every result was in. */
  coordinator: Measured<UsageFigures>;
  /** nats-server over the same window. */
  natsServer: Measured<UsageFigures>;
  /** The simulator's worker processes together over the same window (they share the machine). */
  workers: Measured<UsageFigures>;
}

/** The 50 MB-model phase's figures. */
export interface FetchFigures {
  agents: number;
  sizeBytes: number;
  /** Putting the blob into the object store. */
  putMs: number;
  /** From asking every agent at once until the last had the file. */
  totalMs: number;
  perAgent?: Distribution;
  /** Object-store reads made (one per worker process with the process cache). */
  storeReads: number;
  /** Bytes the object store served for them. */
  bytesServed: number;
  cacheHits: number;
  errors: string[];
}

/** Everything a fleet run measured. */
export interface FleetFigures {
  command: string;
  machine: { cpus: number; cpuModel: string; memoryBytes: number; node: string };
  settings: {
    agents: number;
    processes: number;
    variants: string[];
    jobMs: number;
    queriesPerJob: number;
    natsConnections: string;
    grpcChannels: string;
    modelCache: string;
    idleWindowMs: number;
  };
  farm: { startedHere: boolean; httpUrl: string; natsUrl: string; grpcAddress: string; store: string; coordinatorLog?: string; cpuProfiles?: string[] };
  registration: {
    agents: number;
    started: number;
    failed: number;
    /** Agent starts beyond the first try (a failed connect or register, tried again). */
    startRetries: number;
    /** From the start signal until the last agent wrote its idle entry (the agents' clocks). */
    agentSideAllIdleMs?: number;
    /** From the start signal until GET /agents showed every agent idle, verified and fresh. */
    coordinatorAllIdleMs: Measured<number>;
    /** Each GET /agents while waiting. */
    getAgents?: Distribution;
  };
  idle: { windowMs: number; coordinator: Measured<UsageFigures>; natsServer: Measured<UsageFigures>; workers: Measured<UsageFigures> };
  metricsIdle: Measured<ScrapeFigures>;
  sweep: Measured<SweepFigures>;
  metricsLoaded: Measured<ScrapeFigures>;
  modelFetch: Measured<FetchFigures>;
  workerWarnings: Record<string, number>;
  workerErrors: string[];
}

const ms = (value: number | undefined): string => (value === undefined ? 'n/a' : `${Math.round(value).toLocaleString('en-US')} ms`);
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
const dist = (d: Distribution | undefined): string => (d ? `p50 ${ms(d.p50Ms)}, p99 ${ms(d.p99Ms)}, max ${ms(d.maxMs)} (n=${d.n})` : 'n/a');

function usage(u: Measured<UsageFigures>): string {
  return isAbsent(u) ? `absent: ${u.absent}` : `CPU ${u.cpuPercentOfCore.toFixed(1)}% of one core over ${ms(u.windowMs)}, RSS ${mb(u.rssBytes)} (peak ${mb(u.peakRssBytes)})`;
}

function scrape(s: Measured<ScrapeFigures>): string {
  return isAbsent(s) ? `absent: ${s.absent}` : `${s.scrapeMs.map((v) => ms(v)).join(', ')}; ${s.series.toLocaleString('en-US')} series, ${mb(s.bytes)}`;
}

/** The figures as text, one line per figure. Pure. */
export function formatFigures(f: FleetFigures): string {
  const lines: string[] = [];
  const s = f.settings;
  lines.push(`simulated fleet: ${s.agents} agents in ${s.processes} processes; ${s.variants.length} variant(s) ${s.variants.join(', ') || '(no sweep)'}; job ${ms(s.jobMs)}, ${s.queriesPerJob} queries`);
  lines.push(`  connections: NATS per ${s.natsConnections}, gRPC per ${s.grpcChannels}, model cache per ${s.modelCache}`);
  lines.push(`  machine: ${f.machine.cpus} CPUs (${f.machine.cpuModel}), ${mb(f.machine.memoryBytes)}, node ${f.machine.node}`);
  lines.push(`  farm: ${f.farm.startedHere ? 'started by this command' : 'given'}; coordinator ${f.farm.httpUrl}, gRPC ${f.farm.grpcAddress}, NATS ${f.farm.natsUrl}, store ${f.farm.store}`);
  const r = f.registration;
  lines.push('registration');
  lines.push(`  started ${r.started}/${r.agents}, failed ${r.failed}, start retries ${r.startRetries}`);
  lines.push(`  all idle (agents' own writes):   ${ms(r.agentSideAllIdleMs)}`);
  lines.push(`  all idle (coordinator GET /agents): ${isAbsent(r.coordinatorAllIdleMs) ? `absent: ${r.coordinatorAllIdleMs.absent}` : ms(r.coordinatorAllIdleMs)}`);
  lines.push(`  GET /agents while waiting: ${dist(r.getAgents)}`);
  lines.push(`idle heartbeat load (${ms(f.idle.windowMs)})`);
  lines.push(`  coordinator: ${usage(f.idle.coordinator)}`);
  lines.push(`  nats-server: ${usage(f.idle.natsServer)}`);
  lines.push(`  simulator workers (together): ${usage(f.idle.workers)}`);
  lines.push(`  /metrics scrapes: ${scrape(f.metricsIdle)}`);
  lines.push('sweep');
  if (isAbsent(f.sweep)) lines.push(`  absent: ${f.sweep.absent}`);
  else {
    const w = f.sweep;
    lines.push(`  ${w.sweepId}: ${w.jobs} jobs (${w.variants.join(', ')})`);
    lines.push(`  POST /sweeps answered in ${ms(w.postMs)}; first job published ${ms(w.firstPublishMs)} after POST, all ${w.jobs} within ${ms(w.publishWindowMs)}`);
    lines.push(`  from POST: every agent started ${ms(w.everyAgentStartedMs)}, every job started ${ms(w.everyJobStartedMs)}, every job done ${ms(w.everyJobDoneMs)}`);
    lines.push(`  dispatch (published -> lease), first job per agent: ${dist(w.dispatch.firstJobPerAgent)}`);
    lines.push(`  dispatch (takeable -> lease), every job:           ${dist(w.dispatch.everyJob)}`);
    lines.push(
      `  ingest: ${w.ingest ? `${w.ingest.results} results in ${ms(w.ingest.windowMs)} = ${w.ingest.perSecond === undefined ? 'n/a' : `${w.ingest.perSecond.toFixed(0)}/s`} (peak ${w.ingest.peakPerSecond}/s in 1 s)` : 'n/a'}`,
    );
    lines.push(`  store (REST): ${w.store.jobs} jobs, ${w.store.done} done, ${w.store.failed} failed, ${w.store.open} open; ${w.store.results} results (${w.store.distinctResults} distinct); lost ${w.store.lost}; retried ${w.store.retried}`);
    lines.push(`  agents: ${w.agents.committedOnce} jobs committed once, ${w.agents.committedMoreThanOnce} more than once, ${w.agents.duplicateUploads} duplicate uploads, ${w.agents.notCommitted} not committed; outcomes ${JSON.stringify(w.agents.outcomes)}`);
    lines.push(`  benchfarm_results_total delta: ${isAbsent(w.uploadCounters) ? `absent: ${w.uploadCounters.absent}` : JSON.stringify(w.uploadCounters)}`);
    lines.push(`  during the sweep: coordinator ${usage(w.coordinator)}${isAbsent(w.coordinator) || w.store.jobs === 0 ? '' : ` = ${((w.coordinator.cpuPercentOfCore / 100) * w.coordinator.windowMs / w.store.jobs).toFixed(2)} ms of CPU per job (derivation, publishing, lease, upload, commit)`}`);
    lines.push(`                    nats-server ${usage(w.natsServer)}`);
    lines.push(`                    simulator workers ${usage(w.workers)}`);
  }
  lines.push(`  /metrics scrapes after the sweep: ${scrape(f.metricsLoaded)}`);
  lines.push('model fetch');
  if (isAbsent(f.modelFetch)) lines.push(`  absent: ${f.modelFetch.absent}`);
  else {
    const m = f.modelFetch;
    lines.push(`  ${mb(m.sizeBytes)} blob (put in ${ms(m.putMs)}) fetched by ${m.agents} agents at once: ${ms(m.totalMs)}; per agent ${dist(m.perAgent)}`);
    lines.push(`  object store: ${m.storeReads} reads, ${mb(m.bytesServed)} served; cache hits ${m.cacheHits}; errors ${m.errors.length}${m.errors.length ? `: ${m.errors.slice(0, 3).join('; ')}` : ''}`);
  }
  const warnings = Object.entries(f.workerWarnings);
  if (warnings.length > 0 || f.workerErrors.length > 0) {
    lines.push('simulator warnings');
    for (const [message, count] of warnings) lines.push(`  ${count} x ${message}`);
    for (const e of f.workerErrors.slice(0, 5)) lines.push(`  error: ${e}`);
  }
  if (f.farm.cpuProfiles?.length) lines.push(`coordinator CPU profile: ${f.farm.cpuProfiles.join(', ')}`);
  return `${lines.join('\n')}\n`;
}
