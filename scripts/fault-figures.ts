/**
 * Reliability figures (RELIABILITY.md): runs the fault-injection suite with every scenario
 * repeated BENCHFARM_FAULT_TRIALS times (default 5) and promise 6 with
 * BENCHFARM_FAULT_QUEUED queued jobs (default 10 000), promise 15 (series-bound.int-spec.ts)
 * with as many results ingested, reads the suite's `[figures]` lines
 * and prints, per promise, p50 / p95 / max of each time (fields ending in `Ms`) and the
 * totals of the counts (lost, duplicated, redelivered, ...), with the machine's load.
 *
 *   npm run faults:figures                      # 5 trials, 10k queued jobs
 *   npm run faults:figures -- --trials 3 --queued 2000
 */
import { spawn } from 'node:child_process';
import { loadavg, cpus } from 'node:os';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { percentileOfSorted } from '@benchfarm/numerics';

const argsSchema = z.object({
  trials: z.coerce.number().int().min(1).max(100).default(5),
  queued: z.coerce.number().int().min(1).max(1_000_000).default(10_000),
  filter: z.string().optional(),
});

function parseArgs(argv: readonly string[]): z.infer<typeof argsSchema> {
  const raw: Record<string, string> = {};
  for (let i = 0; i < argv.length; i += 1) {
    const key = argv[i]!;
    if (!key.startsWith('--') || argv[i + 1] === undefined) throw new Error(`usage: fault-figures [--trials N] [--queued N] [--filter REGEX]; got ${JSON.stringify(key)}`);
    raw[key.slice(2)] = argv[i + 1]!;
    i += 1;
  }
  const parsed = argsSchema.safeParse(raw);
  if (!parsed.success) throw new Error(parsed.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('\n'));
  return parsed.data;
}

const load = (): string => loadavg().map((l) => l.toFixed(2)).join(', ');

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const loadBefore = load();
  const startedAt = Date.now();
  // One spec file at a time: run side by side they share the 2 cores and each one's timings
  // would measure the other's load.
  const specs = ['apps/cli/src/faults/faults.int-spec.ts', 'apps/coordinator/src/metrics/series-bound.int-spec.ts'];
  const trials = new Map<string, Array<Record<string, number>>>();
  let code = 0;
  for (const spec of specs) {
    const child = spawn('npx', ['vitest', 'run', spec, ...(args.filter ? ['-t', args.filter] : [])], {
      env: { BENCHFARM_KEEP_FAULT_LOGS: '1', ...process.env, BENCHFARM_FAULT_TRIALS: String(args.trials), BENCHFARM_FAULT_QUEUED: String(args.queued), BENCHFARM_SERIES_RESULTS: String(args.queued) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      process.stderr.write(`${line}\n`);
      const at = line.indexOf('[figures] {');
      if (at < 0) return;
      const { promise, ...fields } = JSON.parse(line.slice(at + '[figures] '.length)) as Record<string, number> & { promise: string };
      trials.set(promise, [...(trials.get(promise) ?? []), fields]);
    });
    const exit = await new Promise<number>((resolve) => child.once('exit', (c) => resolve(c ?? 1)));
    code ||= exit;
  }
  const minutes = ((Date.now() - startedAt) / 60_000).toFixed(1);

  const out: string[] = [];
  out.push(`Command: \`npm run faults:figures -- --trials ${args.trials} --queued ${args.queued}\` (${minutes} min; suite exit code ${code})`);
  out.push(`Machine: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}); load average (1, 5, 15 min) before ${loadBefore}, after ${load()}`);
  out.push('');
  out.push('| promise | trials | times p50 / p95 / max (ms) | counts (total over the trials) |');
  out.push('|---|---|---|---|');
  for (const [promise, rows] of [...trials].sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }))) {
    const keys = [...new Set(rows.flatMap((r) => Object.keys(r)))];
    const times = keys
      .filter((k) => k.endsWith('Ms'))
      .map((k) => {
        const v = rows.map((r) => r[k]!).filter((x) => typeof x === 'number').sort((a, b) => a - b);
        return `${k}: ${percentileOfSorted(v, 0.5)} / ${percentileOfSorted(v, 0.95)} / ${v[v.length - 1]}`;
      });
    const counts = keys.filter((k) => !k.endsWith('Ms')).map((k) => `${k}: ${rows.reduce((n, r) => n + (r[k] ?? 0), 0)}`);
    out.push(`| ${promise} | ${rows.length} | ${times.join('; ') || '-'} | ${counts.join('; ') || '-'} |`);
  }
  console.log(out.join('\n'));
  process.exitCode = code;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 2;
});
