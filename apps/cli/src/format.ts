import type { AgentView, JobView, PercentileView, ProgressView, SweepView } from './client';

/** One variant's progress in a sweep's derivation step. */
type DerivationView = NonNullable<SweepView['derivation']>[number];
import { aggregateJobIds, comparisonJobIds, configSearchJobIds, durationText } from './report';

/** Renders rows as a plain-text table with aligned columns (numbers right-aligned). */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((r) => /^[-+]?[\d.,]+( ?[a-zA-Z%]+)?$|^n\/a|^-$/.test(r[i] ?? '')));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (numeric[i] ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

const MB = 1024 * 1024;

function percentile(p: PercentileView[], quantile: number): string {
  const found = p.find((x) => Math.abs(x.quantile - quantile) < 1e-9);
  if (!found) return '-';
  if (found.status !== 'ok' || found.valueMs === undefined) return `n/a (<${found.minSamples})`;
  return found.valueMs.toFixed(3);
}

/** The variant x device table of a sweep: what `benchfarm report` prints. */
export function sweepReport(sweep: SweepView): string {
  const sizes = new Map(sweep.variants.map((v) => [v.name, v.sizeBytes]));
  const order = new Map(sweep.variants.map((v, i) => [v.name, i]));
  // Interleaved comparison jobs carry every variant at once; their ratios are printed in the
  // suite report's own section, not as a row that would read as a second run of the reference.
  const comparisons = aggregateJobIds(sweep);
  const jobs = sweep.jobs.filter((j) => !comparisons.has(j.id)).sort((a, b) => (order.get(a.variant) ?? 0) - (order.get(b.variant) ?? 0) || a.agentId.localeCompare(b.agentId));
  const rows = jobs.map((job) => reportRow(job, sizes.get(job.variant)));
  const header = [
    `sweep ${sweep.id}  ${sweep.name}  [${sweep.state}]`,
    `model ${sweep.model.name}  sha256 ${sweep.model.sha256.slice(0, 12)}  input ${sweep.inputs.map((i) => `${i.name}:${i.shape.join('x')}`).join(', ')}`,
  ];
  const notes = new Set<string>();
  for (const job of jobs) for (const u of job.result?.unmeasured ?? []) notes.add(`${u.field}: ${u.reason}`);
  const failures = jobs.filter((j) => j.state === 'failed').map((j) => `${j.variant} on ${j.agentId}: ${j.error ?? 'failed'}`);
  // Power columns only when some result has a power reading; a result without one shows '-', never 0.
  const anyPower = jobs.some((j) => j.result?.power !== undefined);
  const anyExternal = jobs.some((j) => j.result?.externalRuntime !== undefined);
  const headers = ['variant', 'device', 'state', 'queries', 'p50 ms', 'p99 ms', 'mean ms', 'throughput/s', 'peak MB', 'size MB'];
  if (anyPower) {
    headers.push('avg W', 'J/inference');
    jobs.forEach((job, i) => rows[i]?.push(...powerCells(job)));
  }
  if (anyExternal) {
    headers.push('runtime');
    jobs.forEach((job, i) => rows[i]?.push(runtimeCell(job)));
  }
  const out = [...header, '', jobs.length === 0 && sweep.configSearch ? 'no variant measured under the sweep\'s own settings: a runtime-settings search (below)' : table(headers, rows)];
  if (notes.size > 0) out.push('', 'not measured:', ...[...notes].map((n) => `  ${n}`));
  if (failures.length > 0) out.push('', 'failed:', ...failures.map((f) => `  ${f}`));
  return out.join('\n');
}

function reportRow(job: JobView, sizeBytes: number | undefined): string[] {
  const r = job.result;
  return [
    job.variant,
    r?.device ?? job.agentId,
    job.state,
    r ? String(r.count) : '-',
    r ? percentile(r.percentiles, 0.5) : '-',
    r ? percentile(r.percentiles, 0.99) : '-',
    r ? r.meanMs.toFixed(3) : '-',
    r ? r.throughputQps.toFixed(1) : '-',
    r?.peakRssBytes !== undefined ? (r.peakRssBytes / MB).toFixed(1) : '-',
    sizeBytes !== undefined ? (sizeBytes / MB).toFixed(2) : '-',
  ];
}

function powerCells(job: JobView): string[] {
  const p = job.result?.power;
  return [p?.averagePowerWatts !== undefined ? p.averagePowerWatts.toFixed(2) : '-', p?.energyPerInferenceJoules !== undefined ? p.energyPerInferenceJoules.toPrecision(3) : '-'];
}

function runtimeCell(job: JobView): string {
  const e = job.result?.externalRuntime;
  if (!job.result) return '-';
  if (!e) return 'onnxruntime-node';
  return [e.runtime, e.version, e.precision, e.device].filter((s) => s !== undefined && s !== '').join(' ');
}

/** What a job of a sweep is, for the progress display and the event stream. */
export type JobKind = 'variant' | 'interleaved' | 'config search';

function jobKinds(sweep: SweepView): (job: JobView) => JobKind {
  const comparisons = comparisonJobIds(sweep);
  const searches = configSearchJobIds(sweep);
  return (job) => (searches.has(job.id) ? 'config search' : comparisons.has(job.id) ? 'interleaved' : 'variant');
}

/** When the display last saw each job's progress change: lets it say how old a report is. */
export type ProgressSeen = ReadonlyMap<string, { key: string; sinceMs: number }>;

/** What of a job's state the display keeps as "unchanged": state, phase, point and counts. */
function progressKey(job: JobView): string {
  const p = job.progress;
  return JSON.stringify([job.state, p?.phase, p?.point, p?.queriesDone, p?.elapsedMs, p?.pointsDone]);
}

/** Records, per job, since when its state and progress have been what they are now. Pure. */
export function trackProgress(seen: ProgressSeen, sweep: SweepView, nowMs: number): Map<string, { key: string; sinceMs: number }> {
  return new Map(
    sweep.jobs.map((job) => {
      const key = progressKey(job);
      const before = seen.get(job.id);
      return [job.id, before && before.key === key ? before : { key, sinceMs: nowMs }];
    }),
  );
}

/** A report older than this is said to be old in the progress line. */
const STALE_MS = 5000;

function progressDetail(p: ProgressView | undefined, ageMs: number | undefined): string {
  const age = ageMs !== undefined && ageMs >= STALE_MS ? `, last report ${durationText(ageMs)} ago` : '';
  if (!p) return `starting: no progress reported yet${ageMs !== undefined && ageMs >= STALE_MS ? ` (${durationText(ageMs)})` : ''}`;
  const rate = p.queriesPerSecond !== undefined && p.queriesPerSecond > 0 ? `, ${p.queriesPerSecond.toFixed(1)} queries/s` : '';
  // A phase reports 0 queries at 0 ms as it begins: that marks the start, it is not a measurement.
  const counts = p.queriesDone === 0 && p.elapsedMs === 0 ? `${p.phase} started` : `${p.phase} ${p.queriesDone} queries in ${(p.elapsedMs / 1000).toFixed(1)} s${rate}`;
  const points = p.pointsTotal !== undefined && p.pointsTotal > 0 ? `; ${p.pointsDone ?? 0}/${p.pointsTotal} points done` : '';
  return `${p.point ? `${p.point}: ` : ''}${counts}${points}${age}`;
}

/** The sweep's line above its jobs: jobs done, and the coordinator's estimate of the time left. */
/** Whether a sweep is still going: deriving its variants, or running its jobs. */
export function sweepOpen(state: SweepView['state']): boolean {
  return state === 'deriving' || state === 'running';
}

/** One line per variant of the derivation step: its state, how long it took, or why it failed. */
export function derivationLines(sweep: SweepView): string[] {
  return (sweep.derivation ?? []).map((d) => {
    const detail = d.state === 'failed' ? (d.error ?? '') : d.durationMs !== undefined ? durationText(d.durationMs) : '';
    return `  derive ${d.variant.padEnd(14)} ${d.state.padEnd(8)} ${detail}`.trimEnd();
  });
}

export function progressHeader(sweep: SweepView): string {
  if (sweep.state === 'deriving') {
    const derived = (sweep.derivation ?? []).filter((d) => d.state === 'done').length;
    return `sweep ${sweep.id} deriving: ${derived}/${sweep.derivation?.length ?? 0} variants derived`;
  }
  const done = sweep.jobs.filter((j) => j.state === 'done').length;
  const failed = sweep.jobs.filter((j) => j.state === 'failed').length;
  const eta = sweep.state !== 'running' ? '' : sweep.etaMs !== undefined ? `, about ${durationText(sweep.etaMs)} left (estimate)` : ', time left not estimated yet';
  return `sweep ${sweep.id} ${sweep.state}: ${done}/${sweep.jobs.length} jobs done${failed > 0 ? `, ${failed} failed` : ''}${eta}`;
}

/**
 * The live progress display of a sweep: a header (jobs done, estimated time left), then one line
 * per job: what it is, its device, its state and, while it runs, the configuration being
 * measured, the phase, queries done, the current queries/s and the points done. `seen` and
 * `nowMs` (from {@link trackProgress}) let a line say how long ago its progress last changed.
 */
export function progressLines(sweep: SweepView, watch?: { seen: ProgressSeen; nowMs: number }): string[] {
  const kindOf = jobKinds(sweep);
  const names = new Map((sweep.configSearch?.devices ?? []).map((d) => [d.agentId, d.agentName]));
  const lines = sweep.jobs.map((job) => {
    const kind = kindOf(job);
    const label = kind === 'variant' ? job.variant : kind;
    const since = watch?.seen.get(job.id);
    const ageMs = since && watch ? watch.nowMs - since.sinceMs : undefined;
    const detail = job.state === 'running' ? progressDetail(job.progress, ageMs) : job.state === 'failed' ? (job.error ?? '') : '';
    return `  ${label.padEnd(14)} ${(names.get(job.agentId) || job.agentId).padEnd(20)} ${job.state.padEnd(8)} ${detail}`.trimEnd();
  });
  return [progressHeader(sweep), ...(sweep.state === 'deriving' ? derivationLines(sweep) : []), ...lines];
}

/**
 * What changing in a line is worth a new line when output is not a terminal (a log): the job's
 * state, phase and point, not its counts. Aligned with {@link progressLines}.
 */
export function progressLineKeys(sweep: SweepView): string[] {
  const done = sweep.jobs.filter((j) => j.state === 'done' || j.state === 'failed').length;
  const derivation = sweep.state === 'deriving' ? (sweep.derivation ?? []).map((d) => JSON.stringify(['derive', d.variant, d.state, d.error])) : [];
  return [`${sweep.state}|${done}`, ...derivation, ...sweep.jobs.map((j) => JSON.stringify([j.state, j.progress?.phase, j.progress?.point, j.error]))];
}

/** One line of `sweep --wait --json`: a change of the sweep, of a job's state or of a job's progress, or the end. */
export type SweepEvent =
  | { event: 'sweep'; at: string; sweepId: string; state: SweepView['state']; from?: SweepView['state']; jobs: number; etaMs?: number }
  | { event: 'derive'; at: string; sweepId: string; variant: string; state: DerivationView['state']; from?: DerivationView['state']; error?: string; durationMs?: number }
  | { event: 'job'; at: string; sweepId: string; jobId: string; kind: JobKind; variant: string; agentId: string; state: JobView['state']; from?: JobView['state']; attempts: number; error?: string }
  | ({ event: 'progress'; at: string; sweepId: string; jobId: string; kind: JobKind; variant: string; agentId: string; etaMs?: number } & ProgressView)
  | { event: 'done'; at: string; sweepId: string; state: SweepView['state']; error?: string; sweep: SweepView };

const sameProgress = (a: ProgressView | undefined, b: ProgressView | undefined): boolean =>
  a === b || (a !== undefined && b !== undefined && a.phase === b.phase && a.queriesDone === b.queriesDone && a.elapsedMs === b.elapsedMs && a.point === b.point && a.pointsDone === b.pointsDone && a.pointsTotal === b.pointsTotal && a.queriesPerSecond === b.queriesPerSecond);

/**
 * The events between two successive views of a sweep (`previous` undefined: the first view),
 * in order: the sweep's state, each variant's derivation state, each job's state, each job's
 * progress, and `done` (with the final view) once the sweep is no longer deriving or running. Nothing unchanged is repeated. Pure.
 */
export function sweepEvents(previous: SweepView | undefined, current: SweepView, at: string): SweepEvent[] {
  const kindOf = jobKinds(current);
  const sweepId = current.id;
  const eta = current.etaMs !== undefined ? { etaMs: current.etaMs } : {};
  const events: SweepEvent[] = [];
  if (!previous || previous.state !== current.state) {
    events.push({ event: 'sweep', at, sweepId, state: current.state, ...(previous ? { from: previous.state } : {}), jobs: current.jobs.length, ...eta });
  }
  const derivedBefore = new Map((previous?.derivation ?? []).map((d) => [d.variant, d]));
  for (const d of current.derivation ?? []) {
    const old = derivedBefore.get(d.variant);
    if (old?.state === d.state || (!previous && d.state === 'pending')) continue;
    events.push({ event: 'derive', at, sweepId, variant: d.variant, state: d.state, ...(old ? { from: old.state } : {}), ...(d.error ? { error: d.error } : {}), ...(d.durationMs !== undefined ? { durationMs: d.durationMs } : {}) });
  }
  const before = new Map((previous?.jobs ?? []).map((j) => [j.id, j]));
  for (const job of current.jobs) {
    const old = before.get(job.id);
    if (!old || old.state !== job.state || old.error !== job.error) {
      events.push({ event: 'job', at, sweepId, jobId: job.id, kind: kindOf(job), variant: job.variant, agentId: job.agentId, state: job.state, ...(old ? { from: old.state } : {}), attempts: job.attempts, ...(job.error ? { error: job.error } : {}) });
    }
  }
  for (const job of current.jobs) {
    const old = before.get(job.id);
    if (job.progress && !sameProgress(old?.progress, job.progress)) {
      events.push({ event: 'progress', at, sweepId, jobId: job.id, kind: kindOf(job), variant: job.variant, agentId: job.agentId, ...eta, ...job.progress });
    }
  }
  if (!sweepOpen(current.state) && (!previous || sweepOpen(previous.state))) {
    events.push({ event: 'done', at, sweepId, state: current.state, ...(current.error ? { error: current.error } : {}), sweep: current });
  }
  return events;
}

/** One agent's health check in the agents table: verdict, when, how long, and why not verified. */
function healthCell(health: AgentView['health']): string {
  if (!health) return '-';
  const when = health.ranAt ? ` ${health.ranAt.slice(11, 19)}Z` : '';
  const took = health.durationMs !== undefined ? ` ${Math.round(health.durationMs)} ms` : '';
  const why = health.status === 'verified' ? '' : health.reason ? ` (${health.reason.slice(0, 120)})` : '';
  return `${health.status === 'verified' ? 'passed' : health.status}${when}${took}${why}`;
}

/** The `benchfarm agents` table. */
export function agentsTable(agents: AgentView[]): string {
  if (agents.length === 0) return 'no agents registered';
  return table(
    ['id', 'name', 'state', 'health check', 'current job', 'arch', 'cores', 'memory GB', 'providers', 'labels', 'last heartbeat'],
    agents.map((a) => [
      a.agentId,
      a.name,
      a.stale ? `${a.state} (stale)` : a.state,
      healthCell(a.health),
      a.currentJobId ?? '-',
      a.capabilities?.arch ?? '-',
      String(a.capabilities?.cpuCores ?? '-'),
      a.capabilities?.memoryBytes ? (a.capabilities.memoryBytes / 1024 ** 3).toFixed(1) : '-',
      (a.capabilities?.executionProviders ?? []).join(','),
      Object.entries(a.labels).map(([k, v]) => `${k}=${v}`).join(','),
      a.heartbeatAt,
    ]),
  );
}
