// The idle agent's footprint: starts a real nats-server and a real agent process (the same
// command line as the systemd unit: node --import tsx apps/agent/src/main.ts), waits until
// it is ready and settled, then samples /proc/<pid>/status (VmRSS, VmHWM) and
// /proc/<pid>/stat (utime + stime) over a window. No coordinator is needed while idle: the
// agent only heartbeats to the NATS KV and long-polls its job consumer.
//
//   npx tsx scripts/bench-agent-footprint.ts [--settle 10] [--window 60] [--sensors on|off] [--run bundle|tsx]
//
// --run bundle (default) runs dist/agent/main.mjs with plain node, as the systemd unit does
// (build it first: node scripts/build-agent.mjs); --run tsx runs the TypeScript entry under tsx.
// AGENT_NODE_FLAGS adds node flags to the bundle run (e.g. "--max-semi-space-size=1").
//
// Targets: RSS <= 60 MB, CPU <= 0.5% of one core.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as os from 'node:os';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { tsxLoaderUrl } from '@benchfarm/isolate';
import { startNatsServer } from '@benchfarm/messaging';

const { values } = parseArgs({ options: { settle: { type: 'string', default: '10' }, window: { type: 'string', default: '60' }, sensors: { type: 'string', default: 'on' }, run: { type: 'string', default: 'bundle' } } });
const settleS = Number(values.settle);
const windowS = Number(values.window);
const CLK_TCK = 100; // Linux USER_HZ on every architecture benchfarm targets

function procStatusKb(pid: number, key: string): number {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`${key} missing from /proc/${pid}/status`);
  return Number(m[1]);
}
function cpuTicks(pid: number): number {
  // Fields after the command name (which may contain spaces): utime is 14th, stime 15th overall.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(rest[11]) + Number(rest[12]);
}

const nats = await startNatsServer();
const args =
  values.run === 'tsx'
    ? ['--import', tsxLoaderUrl(), fileURLToPath(new URL('../apps/agent/src/main.ts', import.meta.url))]
    : [...(process.env.AGENT_NODE_FLAGS ?? '').split(' ').filter(Boolean), fileURLToPath(new URL('../dist/agent/main.mjs', import.meta.url))];
const agent = spawn(process.execPath, args, {
  env: { ...process.env, BENCHFARM_NATS_URL: nats.url, BENCHFARM_GRPC_ADDRESS: '127.0.0.1:1', BENCHFARM_AGENT_ID: 'footprint', BENCHFARM_SENSORS: values.sensors },
  stdio: ['ignore', 'pipe', 'inherit'],
});
try {
  const lines = createInterface({ input: agent.stdout! });
  await new Promise<void>((resolve, reject) => {
    agent.once('exit', (code) => reject(new Error(`agent exited (${code}) before it was ready`)));
    lines.on('line', (line) => {
      if (line.includes('"event":"ready"')) resolve();
    });
  });
  const pid = agent.pid!;
  await sleep(settleS * 1000);
  const rssKb: number[] = [];
  const t0 = cpuTicks(pid);
  const wall0 = performance.now();
  for (let s = 0; s < windowS; s++) {
    rssKb.push(procStatusKb(pid, 'VmRSS'));
    await sleep(1000);
  }
  const cpuPct = ((cpuTicks(pid) - t0) / CLK_TCK / ((performance.now() - wall0) / 1000)) * 100;
  const hwmKb = procStatusKb(pid, 'VmHWM');
  const threads = Number(/^Threads:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  const mb = (kb: number): string => (kb / 1024).toFixed(1);
  console.log(`agent idle footprint (${values.run === 'tsx' ? 'node --import tsx main.ts' : 'node dist/agent/main.mjs'}, sensors ${values.sensors}), node ${process.version}, ${os.availableParallelism()} cores, load average before/after below`);
  console.log(`settle ${settleS} s, window ${windowS} s, ${threads} threads`);
  console.log(`RSS MB: min ${mb(Math.min(...rssKb))}  median ${mb([...rssKb].sort((a, b) => a - b)[Math.floor(rssKb.length / 2)]!)}  max ${mb(Math.max(...rssKb))}  (VmHWM ${mb(hwmKb)}: the start-up peak)`);
  console.log(`CPU: ${cpuPct.toFixed(3)}% of one core over the window`);
  console.log(`load average: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
} finally {
  agent.kill('SIGTERM');
  await new Promise((r) => agent.once('exit', r));
  await nats.stop();
}
