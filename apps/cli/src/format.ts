import type { AgentView, JobView, PercentileView, SweepView } from './client';
import { comparisonJobIds } from './report';

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
  const comparisons = comparisonJobIds(sweep);
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
  const out = [...header, '', table(headers, rows)];
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

/** One line per job of a running sweep, for the live progress display. */
export function progressLines(sweep: SweepView): string[] {
  const comparisons = comparisonJobIds(sweep);
  return sweep.jobs.map((job) => {
    const label = comparisons.has(job.id) ? 'interleaved' : job.variant;
    const p = job.progress;
    const detail =
      job.state === 'running' && p ? `${p.phase} ${p.queriesDone} queries ${(p.elapsedMs / 1000).toFixed(1)} s` : job.state === 'failed' ? (job.error ?? '') : '';
    return `  ${label.padEnd(14)} ${job.agentId.padEnd(20)} ${job.state.padEnd(8)} ${detail}`.trimEnd();
  });
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
