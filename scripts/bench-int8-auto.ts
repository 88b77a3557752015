// int8-auto against fp32 and the default int8-static on the shared YOLOX-nano detector,
// for docs/BENCHMARKS.md:
//   - derivation time of each variant (deriveVariant, isolated child, as the coordinator does);
//   - accuracy against fp32 on the 4 held-out photos (every 3rd of the 13 from the 2nd; the other
//     9 calibrate, and int8-auto searches on them): output cosine and mAP@0.5 agreement with
//     bootstrap CIs over images (EvaluationAccumulator, the agents' implementation);
//   - latency: all variants' sessions open in this process, interleaved rounds (libs/suite
//     runInterleaved), p50 ratio to fp32 = median of per-round ratios with its bootstrap CI
//     (pairedRatio, what the farm reports).
//
//   npx tsx scripts/bench-int8-auto.ts [--variants int8-static,int8-auto,int8-auto:gain=measured]
//       [--threads 1] [--rounds 40] [--queries 10] [--work DIR]
import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { deriveVariant, EvaluationAccumulator, holdOutEveryThird, listImages, loadImageFeeds, parsePreprocessConfig, type Feeds } from '@benchfarm/onnx';
import { median as medianOf, pairedRatio } from '@benchfarm/numerics';
import { runInterleaved, type ComparedVariant } from '@benchfarm/suite';

const { values } = parseArgs({
  options: {
    variants: { type: 'string', default: 'int8-static,int8-auto,int8-auto:gain=measured' },
    threads: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '40' },
    queries: { type: 'string', default: '10' },
    work: { type: 'string' },
    model: { type: 'string', default: '../shared/models/yolox_nano_3class.onnx' },
    images: { type: 'string', default: '../shared/models/images' },
  },
});
const threads = Number(values.threads);
const model = resolve(values.model);
const work = values.work ?? (await mkdtemp(join(os.tmpdir(), 'bench-int8-auto-')));
const files = await listImages(resolve(values.images));
const { kept, heldOut } = holdOutEveryThird(files);
const say = (line: string) => process.stdout.write(`${line}\n`);
say(`machine: ${os.cpus()[0]?.model ?? '?'} x${os.cpus().length}, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}; onnxruntime ${ort.env.versions.node ?? ''}; ${threads} intra-op thread(s)`);
say(`images: ${files.length}; calibration/search ${kept.length}, held out ${heldOut.length}`);

const derived: { name: string; path: string; sha256: string; seconds: number; recipe: Record<string, string> }[] = [{ name: 'fp32', path: model, sha256: '', seconds: 0, recipe: {} }];
for (const name of (values.variants ?? '').split(',').filter((v) => v)) {
  const t = performance.now();
  // int8-auto holds out every 3rd of what it gets itself: give it all 13 so it splits them as this script does.
  const calibration = { kind: 'images' as const, files: name.startsWith('int8-auto') ? files : kept, preprocess: 'yolox' };
  const d = await deriveVariant(name, model, join(work, 'variants'), { calibration });
  const seconds = (performance.now() - t) / 1000;
  derived.push({ name, path: d.path, sha256: d.sha256, seconds, recipe: d.recipe });
  say(`derived ${name} in ${seconds.toFixed(1)} s${d.recipe.quantizedLayers ? `: ${d.recipe.quantizedLayers}; float: ${d.recipe.floatLayers}; ${d.recipe['accuracy.holdout']}; ${d.recipe['latency.here']}` : ''}`);
}

const config = parsePreprocessConfig('yolox');
const evalFeeds: Feeds[] = await loadImageFeeds(heldOut, 'images', [1, 3, 416, 416], config);
const sessionOptions = { executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: threads, interOpNumThreads: 1 } as const;
const sessions = await Promise.all(derived.map((d) => ort.InferenceSession.create(d.path, sessionOptions)));
const acc = new EvaluationAccumulator({ task: 'detection', detectionLayout: 'yolox', inputHw: [416, 416], variants: derived.map((d) => ({ name: d.name, sha256: d.sha256 })), labelled: false, resamples: 1000, seed: 1, inputs: `real images: ${heldOut.length} held-out photos` });
const toOrt = (feeds: Feeds) => Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, new ort.Tensor('float32', v.data, [...v.dims])]));
for (const feed of evalFeeds) {
  acc.beginImage();
  for (const [v, s] of sessions.entries()) {
    const out = await s.run(toOrt(feed));
    acc.observe(v, Object.fromEntries(Object.entries(out).map(([k, t]) => [k, { data: t.data, type: t.type, dims: [...t.dims] }])));
  }
}
const evaluation = acc.result({ datasetId: '', datasetName: '', split: '', durationMs: 0, loadMs: 0 });

const input = toOrt(evalFeeds[0] ?? {});
const compared: ComparedVariant<Record<string, ort.Tensor>>[] = derived.map((d, i) => ({ name: d.name, sha256: d.sha256, session: { run: async (f) => void (await sessions[i]?.run(f)) }, feeds: input }));
say(`load before timing: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
const run = await runInterleaved(compared, { rounds: Number(values.rounds), roundMinQueries: Number(values.queries), warmupQueries: 5, order: 'interleaved' });
say(`load after timing: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
const perRound = run.roundLatenciesMs.map((rounds) => rounds.map((r) => medianOf(r)));
const fmt = (v: number | undefined, d = 3) => (v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(d));
say('');
say('| variant | derive s | p50 ms | p50 vs fp32 (95% CI) | cosine vs fp32 (95% CI) | mAP@0.5 agreement (95% CI) | layers quantized |');
say('|---|---|---|---|---|---|---|');
for (const [i, d] of derived.entries()) {
  const p50 = medianOf(run.roundLatenciesMs[i]?.flat() ?? []);
  const ratio = i === 0 ? undefined : pairedRatio(perRound[0] ?? [], perRound[i] ?? [], { resamples: 2000, seed: 7 });
  const ev = evaluation.variants[i];
  const cos = ev?.fidelity[0];
  const agreement = ev?.metrics.find((m) => m.metric === 'map50_agreement');
  say(
    `| ${d.name} | ${i === 0 ? '-' : d.seconds.toFixed(1)} | ${fmt(p50, 2)} | ${ratio ? `${fmt(ratio.ratio)} [${fmt(ratio.interval?.low)}, ${fmt(ratio.interval?.high)}]` : '1'} | ${i === 0 ? '1' : `${fmt(cos?.cosine, 5)} [${fmt(cos?.cosineCi?.low, 5)}, ${fmt(cos?.cosineCi?.high, 5)}]`} | ${i === 0 ? '1' : `${fmt(agreement?.value)} [${fmt(agreement?.ci?.low)}, ${fmt(agreement?.ci?.high)}]`} | ${d.recipe.quantizedLayers ?? d.recipe.quantizedNodes ?? '-'} |`,
  );
}
for (const s of sessions) await s.release();
if (!values.work) await rm(work, { recursive: true, force: true });
