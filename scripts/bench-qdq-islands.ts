// QDQ islands (issue 14 item 4): which int8-static recipes let onnxruntime's CPU EP run long
// stretches on 8-bit data. For each recipe (the default int8-static and variants with more op
// types in QDQ via `act=`), derived from the YOLOX detector in examples/yolox-nano (calibration
// on its 3 calibration photos): Q/DQ nodes and Q->DQ round trips in the file and in the graph
// onnxruntime runs (levels extended and all), integer/float op counts, fidelity against fp32 on
// the 10 held-out photos (cosine and mAP@0.5 agreement, bootstrap 95% CIs over images), the
// kernel time of Q/DQ and float ops from an onnxruntime profile, and p50 latency ratio vs fp32
// from one interleaved run (1 intra-op thread, default optimizations).
//
//   npx tsx scripts/bench-qdq-islands.ts [--rounds 200] [--threads 1] [--recipes int8-static,int8-static:act=Sigmoid/Mul/Add]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  countQdq,
  deriveVariant,
  EvaluationAccumulator,
  interleavedLatencyMs,
  listImages,
  loadImageFeeds,
  PREPROCESS_PRESETS,
  profileNodeTimes,
  qdqIslands,
  readModel,
  runModel,
  type QdqCounts,
} from '@benchfarm/onnx';
import { medianOf, pairedRatio } from '@benchfarm/suite';

const DEFAULT_RECIPES = [
  'int8-static:act=none',
  'int8-static',
  'int8-static:act=Sigmoid/Mul/Add',
  'int8-static:act=Sigmoid/Mul/Concat',
  'int8-static:act=Sigmoid/Mul/MaxPool',
  'int8-static:act=Sigmoid/Mul/Resize',
  'int8-static:act=Sigmoid/Mul/Slice',
  'int8-static:act=Sigmoid/Mul/Add/Concat/MaxPool/Resize/Slice',
];
const { values } = parseArgs({ options: { rounds: { type: 'string', default: '200' }, threads: { type: 'string', default: '1' }, recipes: { type: 'string', default: DEFAULT_RECIPES.join(',') }, 'profile-runs': { type: 'string', default: '20' } } });
const rounds = Number(values.rounds);
const threads = Number(values.threads);
const recipes = (values.recipes ?? '').split(',').filter((r) => r);

const MODEL = 'examples/yolox-nano/yolox_nano_3class.onnx';
const dims = [1, 3, 416, 416];
const calibrationFiles = await listImages('examples/yolox-nano/calibration');
const evaluationFiles = await listImages('examples/yolox-nano/images');
const evaluation = await loadImageFeeds(evaluationFiles, 'images', dims, PREPROCESS_PRESETS.yolox, 'evaluation');
const uptime = () => `load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`;
console.log(`${uptime()}; ${os.cpus()[0]?.model ?? '?'} x${os.availableParallelism()}; calibration ${calibrationFiles.length} photos, held-out ${evaluationFiles.length}; ${rounds} interleaved rounds, ${threads} intra-op thread(s)`);

const dir = mkdtempSync(join(os.tmpdir(), 'bench-qdq-'));
try {
  const derived: { name: string; path: string; deriveS: number }[] = [];
  for (const name of recipes) {
    const started = performance.now();
    const v = await deriveVariant(name, MODEL, dir, { isolated: false, calibration: { kind: 'images', files: calibrationFiles, preprocess: 'yolox' } });
    derived.push({ name, path: v.path, deriveS: (performance.now() - started) / 1000 });
  }

  // Fidelity on the held-out photos, one image at a time through the farm's accumulator.
  const models = [MODEL, ...derived.map((d) => d.path)];
  const acc = new EvaluationAccumulator({ task: 'detection', detectionLayout: 'yolox', inputHw: [416, 416], variants: [{ name: 'fp32', sha256: '' }, ...derived.map((d) => ({ name: d.name, sha256: '' }))], labelled: false, resamples: 1000, seed: 14, inputs: `real photos: examples/yolox-nano/images (${evaluation.length})` });
  const outputs = await Promise.all(models.map((m) => runModel(m, evaluation, { intraOpThreads: threads })));
  for (let i = 0; i < evaluation.length; i++) {
    acc.beginImage();
    for (const [v, perImage] of outputs.entries()) {
      const out = perImage[i]?.get('output');
      if (out) acc.observe(v, { output: { type: 'float32', data: out.data, dims: out.dims } });
    }
  }
  const result = acc.result({ datasetId: '', datasetName: 'examples/yolox-nano/images', split: 'held-out', durationMs: 0, loadMs: 0 });

  const sum = (c: Readonly<Record<string, number>>) => Object.values(c).reduce((a, b) => a + b, 0);
  const ops = (c: Readonly<Record<string, number>>) => Object.entries(c).map(([k, n]) => `${k.replace('com.microsoft:', '').replace('com.microsoft.nchwc:', 'nchwc.')} ${n}`).join(', ');
  const brief = (c: QdqCounts) => `Q ${c.quantizeLinear}, DQ ${c.dequantizeLinear} (Q->DQ ${c.qdqPairs}), int ${sum(c.integerOps)}, float ${sum(c.floatOps)}`;
  const fp32Source = countQdq(readModel(readFileSync(MODEL)));
  console.log(`fp32 source: ${sum(fp32Source.floatOps)} ops`);
  const profiles: { name: string; qdqUs: number; floatUs: number; intUs: number; totalUs: number }[] = [];
  for (const [i, d] of derived.entries()) {
    const ext = await qdqIslands(d.path, 'extended');
    const all = await qdqIslands(d.path, 'all');
    const v = result.variants[i + 1];
    const cos = v?.fidelity.find((f) => f.output === 'output');
    const map = v?.metrics.find((m) => m.metric === 'map50_agreement');
    console.log(`\n## ${d.name} (derive ${d.deriveS.toFixed(1)} s)`);
    console.log(`  file:     ${brief(ext.before)}`);
    console.log(`  extended: ${brief(ext.after)}\n    int: ${ops(ext.after.integerOps)}\n    float: ${ops(ext.after.floatOps)}`);
    console.log(`  all:      ${brief(all.after)}\n    int: ${ops(all.after.integerOps)}\n    float: ${ops(all.after.floatOps)}`);
    console.log(`  cosine ${cos?.cosine.toFixed(5)} [${cos?.cosineCi?.low.toFixed(5)}, ${cos?.cosineCi?.high.toFixed(5)}]; mAP@0.5 agreement ${map?.value?.toFixed(3) ?? `absent (${map?.reason})`} [${map?.ci?.low.toFixed(3)}, ${map?.ci?.high.toFixed(3)}] (${map?.images} images)`);
    const p = await profileNodeTimes(d.path, evaluation.slice(0, 2), { runs: Number(values['profile-runs']), warmup: 2, intraOpThreads: threads });
    const byOp = new Map<string, number>();
    for (const n of p.nodes) byOp.set(n.opType, (byOp.get(n.opType) ?? 0) + n.us);
    const qdqUs = (byOp.get('QuantizeLinear') ?? 0) + (byOp.get('DequantizeLinear') ?? 0);
    const intUs = [...byOp].filter(([op]) => op.startsWith('QLinear') || op === 'NhwcMaxPool').reduce((a, [, us]) => a + us, 0);
    profiles.push({ name: d.name, qdqUs, intUs, floatUs: p.totalUs - qdqUs - intUs, totalUs: p.totalUs });
    console.log(`  profile (level all, ${values['profile-runs']} runs, kernel ms/run): total ${(p.totalUs / 1000).toFixed(2)}; Q+DQ ${(qdqUs / 1000).toFixed(2)}; QLinear*/NhwcMaxPool ${(intUs / 1000).toFixed(2)}; top ops ${[...byOp].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([op, us]) => `${op} ${(us / 1000).toFixed(2)}`).join(', ')}`);
  }

  console.log(`\nlatency: ${uptime()} before`);
  const times = await interleavedLatencyMs(models, evaluation[0] ?? {}, rounds, { intraOpThreads: threads, warmup: 10 });
  console.log(`latency: ${uptime()} after; fp32 p50 ${medianOf(times[0] ?? []).toFixed(2)} ms`);
  for (const [i, d] of derived.entries()) {
    const r = pairedRatio(times[0] ?? [], times[i + 1] ?? [], { seed: 14 });
    console.log(`  ${d.name.padEnd(62)} p50 ${medianOf(times[i + 1] ?? []).toFixed(2)} ms, ratio ${r.ratio.toFixed(3)} [${r.interval?.low.toFixed(3)}, ${r.interval?.high.toFixed(3)}]`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
