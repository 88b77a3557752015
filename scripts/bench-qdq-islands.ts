// QDQ islands: which int8-static recipes let onnxruntime's CPU EP run long
// stretches on 8-bit data. For each recipe (the default int8-static and variants with more op
// types in QDQ via `act=`), derived from the YOLOX detector in examples/yolox-nano (calibration
// on its 3 calibration photos): Q/DQ nodes and Q->DQ round trips in the file and in the graph
// onnxruntime runs (levels extended and all), integer/float op counts, fidelity against fp32 on
// the 10 held-out photos (cosine and mAP@0.5 agreement, bootstrap 95% CIs over images), the
// kernel time of Q/DQ and float ops from an onnxruntime profile, and p50 latency ratio vs fp32
// from one interleaved run (1 intra-op thread, default optimizations).
//
// A recipe ending in `@quickgelu` is a PROTOTYPE of a quantizer change, done here on the derived
// file: every SiLU left in float (Sigmoid + Mul reading the same tensor) becomes one
// com.microsoft QuickGelu(alpha=1) node, so that onnxruntime runs DQ -> QuickGelu -> Q instead
// of Sigmoid and Mul each behind its own DequantizeLinear (its QDQ pass gives every consumer
// its own DQ, which breaks its QuickGelu fusion).
//
// Recipes are int8-static variant names (quantized with parseStaticOptions + quantizeStatic, as
// the variant pass does); `exclude=dw` stands for every depthwise Conv of the model.
//
//   npx tsx scripts/bench-qdq-islands.ts [--rounds 200] [--threads 1] [--recipes int8-static,int8-static:act=Sigmoid/Mul/Add,int8-static:exclude=dw,int8-static:act=none@quickgelu]
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  countQdq,
  EvaluationAccumulator,
  interleavedLatencyMs,
  listImages,
  loadImageFeeds,
  onnx,
  parseStaticOptions,
  PREPROCESS_PRESETS,
  profileNodeTimes,
  quantizeStatic,
  qdqIslands,
  readModel,
  runModel,
  writeModel,
  type NodeProto,
  type QdqCounts,
} from '@benchfarm/onnx';
import { median as medianOf, pairedRatio } from '@benchfarm/numerics';

const DEFAULT_RECIPES = [
  'int8-static:act=none',
  'int8-static',
  'int8-static:act=Sigmoid/Mul/Add',
  'int8-static:act=Sigmoid/Mul/Concat',
  'int8-static:act=Sigmoid/Mul/MaxPool',
  'int8-static:act=Sigmoid/Mul/Resize',
  'int8-static:act=Sigmoid/Mul/Slice',
  'int8-static:act=Sigmoid/Mul/Add/Concat/MaxPool/Resize/Slice',
  'int8-static:nodw',
  'int8-static:exclude=dw',
  'int8-static:act=Sigmoid/Mul/Add/Concat/MaxPool/Resize/Slice+exclude=dw',
  'int8-static:act=none@quickgelu',
  'int8-static:act=Add/Concat/MaxPool/Resize/Slice@quickgelu',
  'int8-static:act=Add/Concat/MaxPool/Resize/Slice+exclude=dw@quickgelu',
];

/** The `@quickgelu` prototype: float SiLU (Sigmoid + Mul of one tensor) as one QuickGelu node. Returns how many were rewritten. */
function siluToQuickGelu(path: string, out: string): number {
  const model = readModel(readFileSync(path));
  const graph = model.graph ?? {};
  const consumers = new Map<string, NodeProto[]>();
  for (const n of graph.node ?? []) for (const i of n.input ?? []) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  const drop = new Set<NodeProto>();
  for (const sigmoid of graph.node ?? []) {
    if (sigmoid.opType !== 'Sigmoid' || sigmoid.domain) continue;
    const x = sigmoid.input?.[0] ?? '';
    const s = sigmoid.output?.[0] ?? '';
    const only = consumers.get(s) ?? [];
    const mul = only.length === 1 ? only[0] : undefined;
    if (!mul || mul.opType !== 'Mul' || mul.domain || !(mul.input?.includes(x) && mul.input.includes(s))) continue;
    drop.add(sigmoid);
    Object.assign(mul, { opType: 'QuickGelu', domain: 'com.microsoft', input: [x], attribute: [onnx.AttributeProto.create({ name: 'alpha', type: onnx.AttributeProto.AttributeType.FLOAT, f: 1 })] });
  }
  graph.node = (graph.node ?? []).filter((n) => !drop.has(n));
  if (!model.opsetImport.some((o) => o.domain === 'com.microsoft')) model.opsetImport.push(onnx.OperatorSetIdProto.create({ domain: 'com.microsoft', version: 1 }));
  writeFileSync(out, writeModel(model));
  return drop.size;
}
const { values } = parseArgs({ options: { rounds: { type: 'string', default: '200' }, threads: { type: 'string', default: '1' }, recipes: { type: 'string', default: DEFAULT_RECIPES.join(',') }, 'profile-runs': { type: 'string', default: '10' } } });
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
  const source = readModel(readFileSync(MODEL));
  // `exclude=dw` stands for every depthwise Conv (a 30-name list: too long for a variant file name).
  const depthwise = (source.graph?.node ?? []).filter((n) => n.opType === 'Conv' && (n.attribute ?? []).some((a) => a.name === 'group' && Number(a.i) > 1)).map((n) => n.name ?? '');
  const calibration = await loadImageFeeds(calibrationFiles, 'images', dims, PREPROCESS_PRESETS.yolox);
  for (const [i, name] of recipes.entries()) {
    const started = performance.now();
    const [variant = '', post] = name.split('@');
    const [pass, param] = variant.split(/:(.*)/s);
    if (pass !== 'int8-static') throw new Error(`only int8-static recipes are compared here, got ${JSON.stringify(name)}`);
    const options = parseStaticOptions(pass, param?.replace('exclude=dw', `exclude=${depthwise.join('/')}`));
    const q = await quantizeStatic(source, calibration, options);
    let path = join(dir, `recipe-${i}.onnx`);
    writeFileSync(path, writeModel(q.model));
    if (post === 'quickgelu') {
      const rewritten = join(dir, `recipe-${i}-quickgelu.onnx`);
      console.log(`${name}: ${siluToQuickGelu(path, rewritten)} float SiLUs rewritten as QuickGelu`);
      path = rewritten;
    } else if (post !== undefined) throw new Error(`unknown post-processing @${post}`);
    derived.push({ name, path, deriveS: (performance.now() - started) / 1000 });
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
