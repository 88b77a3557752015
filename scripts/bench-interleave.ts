// Does interleaving make variant comparisons trustworthy under drift? Two variants of one
// real model (PaddleOCR cls, onnxruntime graph optimisation "all" vs "disabled") are compared
// in one process, once interleaved (A B A B ... per round) and once one after the other (all
// rounds of A, then all of B), while an ARTIFICIAL background load switches on and off at
// random (busy-loop processes, seeded schedule): the drift a noisy edge device sees. Both
// orders give the ratio B/A as the median of per-round ratios with a seeded bootstrap 95% CI
// (pairedRatio, the statistic results report); the interleaved CI should be the narrower.
//
//   npx tsx scripts/bench-interleave.ts [--repeats 3] [--rounds 20] [--queries 15] [--load-procs 2]
import { fork, type ChildProcess } from 'node:child_process';
import * as os from 'node:os';
import { parseArgs } from 'node:util';
import { paddleOcrModelPath } from '@benchfarm/onnx';
import { median as medianOf, pairedRatio } from '@benchfarm/numerics';
import { runInterleaved, type ComparedVariant } from '@benchfarm/suite';
import * as ort from 'onnxruntime-node';

const { values } = parseArgs({
  options: { repeats: { type: 'string', default: '3' }, rounds: { type: 'string', default: '20' }, queries: { type: 'string', default: '15' }, 'load-procs': { type: 'string', default: '2' } },
});
const repeats = Number(values.repeats);
const rounds = Number(values.rounds);
const queries = Number(values.queries);
const loadProcs = Number(values['load-procs']);

// The load: each process alternates busy spells and idle spells of 50..600 ms, seeded, so the
// drift pattern is the same from run to run but uncorrelated with the measured rounds.
const LOAD_SOURCE = `
let s = Number(process.argv[2]) >>> 0;
const rnd = () => { s = (s + 0x6d2b79f5) | 0; let t = Math.imul(s ^ (s >>> 15), 1 | s); t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t; return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
const cycle = () => { const busyEnd = Date.now() + 50 + rnd() * 550; while (Date.now() < busyEnd) {} setTimeout(cycle, 50 + rnd() * 550); };
cycle();
process.on('disconnect', () => process.exit(0));
`;

function startLoad(): ChildProcess[] {
  return Array.from({ length: loadProcs }, (_, i) => fork('-e', [], { execArgv: ['-e', LOAD_SOURCE, '--', String(1234 + i)], stdio: 'ignore' }));
}

const model = paddleOcrModelPath('cls');
const feeds = { x: new ort.Tensor('float32', new Float32Array(3 * 48 * 192).map((_, i) => (i % 97) / 97), [1, 3, 48, 192]) };
const open = (level: 'all' | 'disabled') => ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: level });
const variants: ComparedVariant<typeof feeds>[] = [
  { name: 'opt-all', sha256: '', session: await open('all'), feeds },
  { name: 'opt-disabled', sha256: '', session: await open('disabled'), feeds },
];

async function measure(order: 'interleaved' | 'sequential', seed: number): Promise<{ ratio: number; low: number; high: number; width: number }> {
  const run = await runInterleaved(variants, { rounds, roundMinQueries: queries, warmupQueries: 20, order });
  const [a, b] = run.roundLatenciesMs.map((perRound) => perRound.map((latencies) => medianOf(latencies)));
  const estimate = pairedRatio(a ?? [], b ?? [], { seed });
  const low = estimate.interval?.low ?? Number.NaN;
  const high = estimate.interval?.high ?? Number.NaN;
  return { ratio: estimate.ratio, low, high, width: high - low };
}

console.log(`load before: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}; ${os.cpus()[0]?.model ?? '?'} x${os.availableParallelism()}; ${loadProcs} artificial load processes; ${rounds} rounds x ${queries} queries per variant`);
const load = startLoad();
const widths: Record<'interleaved' | 'sequential', number[]> = { interleaved: [], sequential: [] };
try {
  console.log('repeat  order        ratio B/A  95% CI              CI width');
  for (let r = 0; r < repeats; r++) {
    // Alternate which order goes first so neither always meets the same part of the load.
    const orders: ('interleaved' | 'sequential')[] = r % 2 === 0 ? ['interleaved', 'sequential'] : ['sequential', 'interleaved'];
    for (const order of orders) {
      const m = await measure(order, 100 + r);
      widths[order].push(m.width);
      console.log(`${String(r + 1).padStart(6)}  ${order.padEnd(11)}  ${m.ratio.toFixed(4).padStart(9)}  [${m.low.toFixed(4)}, ${m.high.toFixed(4)}]  ${m.width.toFixed(4).padStart(8)}`);
    }
  }
} finally {
  for (const child of load) child.kill('SIGKILL');
}
const mi = medianOf(widths.interleaved);
const ms = medianOf(widths.sequential);
console.log(`median CI width: interleaved ${mi.toFixed(4)}, sequential ${ms.toFixed(4)} (sequential/interleaved ${(ms / mi).toFixed(2)}x); ${mi < ms ? 'interleaved is narrower' : 'interleaved is NOT narrower'}`);
console.log(`load after: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
for (const v of variants) await (v.session as ort.InferenceSession).release();
