/**
 * Coordinator failover figures (RELIABILITY.md promise 16): runs
 * apps/cli/src/faults/coordinator-failover.int-spec.ts with BENCHFARM_FAILOVER_KILLS kills (two
 * coordinators on one PostgreSQL and one nats-server, two real agents; each kill -9 hits the
 * leader mid-sweep, the killed one comes back as the next standby), reads its `[figures]` lines
 * and prints the recovery time per kill and p50 / p95 / max, with the totals of lost /
 * duplicated / failed / redelivered jobs and the machine's load:
 *   - leadingMs: kill -> the standby holds the leader lease
 *   - readyMs: kill -> the new leader serves REST and gRPC (its `ready` line)
 *   - firstResultMs: kill -> the new leader accepted its first result upload (its log line)
 * and the spec's frozen-leader case (SIGSTOP past the lease, SIGCONT after the takeover) once.
 *
 *   npx tsx scripts/bench-failover.ts                      # 10 kills, lease TTL 6 s
 *   npx tsx scripts/bench-failover.ts --kills 20 --ttl-ms 3000
 */
import { spawn } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { percentileOfSorted } from '@benchfarm/numerics';

const argsSchema = z.object({
  kills: z.coerce.number().int().min(1).max(200).default(10),
  'ttl-ms': z.coerce.number().int().min(1_500).max(600_000).default(6_000),
});

function parseArgs(argv: readonly string[]): z.infer<typeof argsSchema> {
  const raw: Record<string, string> = {};
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i]!;
    if (!key.startsWith('--') || argv[i + 1] === undefined || !(key.slice(2) in argsSchema.shape)) throw new Error(`usage: bench-failover [--kills N] [--ttl-ms MS]; got ${JSON.stringify(key)}`);
    raw[key.slice(2)] = argv[i + 1]!;
  }
  const parsed = argsSchema.safeParse(raw);
  if (!parsed.success) throw new Error(parsed.error.issues.map((i) => `--${i.path.join('.') || '?'}: ${i.message}`).join('\n'));
  return parsed.data;
}

const load = (): string => loadavg().map((l) => l.toFixed(2)).join(', ');
const TIMES = ['leadingMs', 'readyMs', 'firstResultMs'] as const;
const COUNTS = ['lost', 'duplicated', 'failed', 'redelivered'] as const;

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const loadBefore = load();
  const startedAt = Date.now();
  const kills: Array<Record<string, number>> = [];
  const frozen: Array<Record<string, number>> = [];
  const child = spawn('npx', ['vitest', 'run', 'apps/cli/src/faults/coordinator-failover.int-spec.ts'], {
    env: { BENCHFARM_KEEP_FAULT_LOGS: '1', ...process.env, BENCHFARM_FAILOVER_KILLS: String(args.kills), BENCHFARM_FAILOVER_TTL_MS: String(args['ttl-ms']) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  createInterface({ input: child.stdout }).on('line', (line) => {
    process.stderr.write(`${line}\n`);
    const at = line.indexOf('[figures] {');
    if (at < 0) return;
    const fields = JSON.parse(line.slice(at + '[figures] '.length)) as Record<string, unknown>;
    const numbers = Object.fromEntries(Object.entries(fields).filter(([, v]) => typeof v === 'number')) as Record<string, number>;
    (String(fields.promise).includes('frozen') ? frozen : kills).push(numbers);
  });
  const code = await new Promise<number>((resolve) => child.once('exit', (c) => resolve(c ?? 1)));
  const minutes = ((Date.now() - startedAt) / 60_000).toFixed(1);

  const out: string[] = [];
  out.push(`Command: \`npx tsx scripts/bench-failover.ts --kills ${args.kills} --ttl-ms ${args['ttl-ms']}\` (${minutes} min; test exit code ${code}; ${kills.length} of ${args.kills} kills measured)`);
  out.push(`Machine: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}); load average (1, 5, 15 min) before ${loadBefore}, after ${load()}`);
  out.push('');
  out.push(`| kill | ${TIMES.join(' | ')} (ms) | jobs open at the kill | ${COUNTS.join(' / ')} |`);
  out.push(`|---|${TIMES.map(() => '---|').join('')}---|---|`);
  kills.forEach((k, i) => out.push(`| ${i + 1} | ${TIMES.map((t) => k[t]).join(' | ')} | ${k.jobsOpenAtKill} | ${COUNTS.map((c) => k[c]).join(' / ')} |`));
  if (kills.length > 0) {
    out.push('');
    out.push(`| over ${kills.length} kills | p50 | p95 | max |`);
    out.push('|---|---|---|---|');
    for (const t of TIMES) {
      const v = kills.map((k) => k[t]!).sort((a, b) => a - b);
      out.push(`| ${t} | ${percentileOfSorted(v, 0.5)} | ${percentileOfSorted(v, 0.95)} | ${v.at(-1)} |`);
    }
    out.push(`| ${COUNTS.join(' / ')} (total) | ${COUNTS.map((c) => kills.reduce((n, k) => n + (k[c] ?? 0), 0)).join(' / ')} | | |`);
  }
  for (const f of frozen) {
    out.push('');
    out.push(`Leader frozen (SIGSTOP) past its lease, resumed ${f.frozenMs} ms later: standby ready ${f.readyMs} ms after the freeze; the resumed one exited 75 without acting; ${COUNTS.map((c) => `${c} ${f[c]}`).join(', ')}`);
  }
  console.log(out.join('\n'));
  process.exitCode = code;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
