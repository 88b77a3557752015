/**
 * NATS cluster figures: runs apps/cli/src/faults/cluster.int-spec.ts with
 * BENCHFARM_CLUSTER_TRIALS trials (default 12; the victim rotates: job stream leader, follower,
 * the server an agent is connected to), reads its `[figures]` lines and prints p50 / p95 / max of
 * the leader-election time and the stall, per victim and over all trials, with the totals of
 * lost / duplicated / redelivered jobs and the machine's load.
 *
 *   npm run cluster:figures                 # 12 trials
 *   npm run cluster:figures -- --trials 30
 */
import { spawn } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { percentileOfSorted } from '@benchfarm/numerics';

const argsSchema = z.object({ trials: z.coerce.number().int().min(1).max(300).default(12) });

function parseArgs(argv: readonly string[]): z.infer<typeof argsSchema> {
  const raw: Record<string, string> = {};
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i]!;
    if (!key.startsWith('--') || argv[i + 1] === undefined) throw new Error(`usage: cluster-figures [--trials N]; got ${JSON.stringify(key)}`);
    raw[key.slice(2)] = argv[i + 1]!;
  }
  const parsed = argsSchema.safeParse(raw);
  if (!parsed.success) throw new Error(parsed.error.issues.map((i) => `--${i.path.join('.') || '?'}: ${i.message}`).join('\n'));
  return parsed.data;
}

const load = (): string => loadavg().map((l) => l.toFixed(2)).join(', ');
const TIMES = ['electionMs', 'stallAfterKillMs', 'stallMs', 'baselineGapMs'] as const;
const COUNTS = ['lost', 'duplicated', 'redelivered'] as const;

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const loadBefore = load();
  const startedAt = Date.now();
  const rows: Array<Record<string, number> & { promise: string }> = [];
  const child = spawn('npx', ['vitest', 'run', 'apps/cli/src/faults/cluster.int-spec.ts'], {
    env: { BENCHFARM_KEEP_FAULT_LOGS: '1', ...process.env, BENCHFARM_CLUSTER_TRIALS: String(args.trials) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  createInterface({ input: child.stdout }).on('line', (line) => {
    process.stderr.write(`${line}\n`);
    const at = line.indexOf('[figures] {');
    if (at >= 0) rows.push(JSON.parse(line.slice(at + '[figures] '.length)) as Record<string, number> & { promise: string });
  });
  const code = await new Promise<number>((resolve) => child.once('exit', (c) => resolve(c ?? 1)));
  const minutes = ((Date.now() - startedAt) / 60_000).toFixed(1);

  const groups = new Map<string, typeof rows>();
  for (const r of rows) groups.set(r.promise, [...(groups.get(r.promise) ?? []), r]);
  groups.set('all trials', rows);
  const out: string[] = [];
  out.push(`Command: \`npm run cluster:figures -- --trials ${args.trials}\` (${minutes} min; test exit code ${code})`);
  out.push(`Machine: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}); load average (1, 5, 15 min) before ${loadBefore}, after ${load()}`);
  out.push('');
  out.push(`| victim | trials | ${TIMES.join(' | ')} (p50 / p95 / max, ms) | ${COUNTS.join(' / ')} (total) |`);
  out.push(`|---|---|${TIMES.map(() => '---|').join('')}---|`);
  for (const [name, rs] of groups) {
    if (rs.length === 0) continue;
    const times = TIMES.map((k) => {
      const v = rs.map((r) => r[k]!).sort((a, b) => a - b);
      return `${percentileOfSorted(v, 0.5)} / ${percentileOfSorted(v, 0.95)} / ${v.at(-1)}`;
    });
    const counts = COUNTS.map((k) => rs.reduce((n, r) => n + (r[k] ?? 0), 0));
    out.push(`| ${name.replace(/^cluster: /, '')} | ${rs.length} | ${times.join(' | ')} | ${counts.join(' / ')} |`);
  }
  console.log(out.join('\n'));
  process.exitCode = code;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
