// Runtime-settings search on the shared YOLOX-nano detector, for docs/BENCHMARKS.md:
// for fp32 and int8-static (derived as the coordinator does, calibrated on 9 of the 13 photos),
// each strategy (grid, quick) runs as ONE suite process carrying both variants (what an agent
// runs for a search job, through runSuiteInChild), and this prints per strategy: the points
// measured, the wall time, each variant's best configuration and its interleaved ratio to
// onnxruntime's defaults with the 95% CI.
//
//   npx tsx scripts/bench-config-search.ts [--dims "threads=1,2;level=disabled,basic,extended,all;mode=sequential,parallel"]
//       [--strategies grid,quick] [--variants fp32,int8-static] [--warmup-ms 500] [--window-ms 2000]
//       [--min-queries 10] [--rounds 10] [--budget-min 30] [--points] [--no-narrow] [--work DIR]
//
// --points prints every point (p50 with its CI, qps); --no-narrow keeps thread counts above
// this machine's cores (for recording a space larger than the machine).
import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Scenario, type ConfigSearchResult, type RunConfig, type Summary, type TensorSpec } from '@benchfarm/protocol';
import { deriveVariant, holdOutEveryThird, inspectModel, listImages, readModelFile, sha256Hex } from '@benchfarm/onnx';
import {
  baselineConfig,
  checkDimensions,
  configLabel,
  estimateSearch,
  narrowForDevice,
  parseDimensionsText,
  runSuiteInChild,
  type SuiteJob,
} from '@benchfarm/suite';

const { values } = parseArgs({
  options: {
    dims: { type: 'string', default: 'threads=1,2;level=disabled,basic,extended,all;mode=sequential,parallel' },
    strategies: { type: 'string', default: 'grid,quick' },
    variants: { type: 'string', default: 'fp32,int8-static' },
    'warmup-ms': { type: 'string', default: '500' },
    'window-ms': { type: 'string', default: '2000' },
    'min-queries': { type: 'string', default: '10' },
    rounds: { type: 'string', default: '10' },
    'budget-min': { type: 'string', default: '30' },
    points: { type: 'boolean', default: false },
    'no-narrow': { type: 'boolean', default: false },
    work: { type: 'string' },
    model: { type: 'string', default: 'examples/yolox-nano/yolox_nano_3class.onnx' },
    images: { type: 'string', default: 'examples/yolox-nano/images' },
  },
});
const say = (line: string): void => void process.stdout.write(`${line}\n`);
const model = resolve(values.model);
const work = values.work ?? (await mkdtemp(join(os.tmpdir(), 'bench-config-search-')));
const num = (name: keyof typeof values): number => Number(values[name]);

say(`machine: ${os.cpus()[0]?.model ?? '?'} x${os.cpus().length}, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
const requested = checkDimensions(parseDimensionsText(values.dims ?? ''), 'single_stream');
const narrowed = values['no-narrow'] ? { axes: requested, skipped: [], notes: ['not narrowed (--no-narrow)'] } : narrowForDevice(requested, { executionProviders: ['cpu'], logicalCores: os.cpus().length });
for (const s of narrowed.skipped) say(`skipped on this machine: ${s.axis}=${s.value}: ${s.reason}`);
for (const n of narrowed.notes) say(`note: ${n}`);
say(`space: ${narrowed.axes.map((a) => `${a.name}=${a.values.join(',')}`).join('; ')}`);

// The variants, derived as the coordinator does (int8-static calibrated on the photos int8 runs keep).
const { model: proto, bytes } = await readModelFile(model);
const inputs: TensorSpec[] = inspectModel(proto, bytes.length).inputs.map((i) => ({ name: i.name, dataType: i.dataType, shape: (i.dims ?? []).map((d) => (typeof d === 'number' ? d : 1)) }));
const files = await listImages(resolve(values.images));
const { kept } = holdOutEveryThird(files);
const variants: { variant: string; sha256: string; modelPath: string }[] = [];
for (const name of (values.variants ?? '').split(',').filter((v) => v !== '')) {
  if (name === 'fp32') {
    variants.push({ variant: 'fp32', sha256: sha256Hex(bytes), modelPath: model });
    continue;
  }
  const t = performance.now();
  const d = await deriveVariant(name, model, join(work, 'variants'), { calibration: { kind: 'images', files: kept, preprocess: 'yolox' } });
  say(`derived ${name} in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  variants.push({ variant: name, sha256: d.sha256, modelPath: d.path });
}

const baseline = baselineConfig();
const fmt = (v: number | undefined, d = 3): string => (v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(d));
const labelOf = (r: ConfigSearchResult, id: string): string => {
  const c = r.configs.find((x: RunConfig) => x.id === id);
  return c ? configLabel(c) : id;
};

for (const strategy of (values.strategies ?? '').split(',').filter((s) => s !== '') as ('grid' | 'quick')[]) {
  const estimate = estimateSearch({ strategy, axes: narrowed.axes, variants: variants.length, pointWarmupMs: num('warmup-ms'), pointDurationMs: num('window-ms'), confirmRounds: num('rounds') });
  const first = variants[0];
  if (!first) throw new Error('--variants names none');
  const job: SuiteJob = {
    modelPath: first.modelPath,
    inputs,
    executionProvider: baseline.executionProvider,
    intraOpThreads: baseline.intraOpThreads,
    interOpThreads: baseline.interOpThreads,
    graphOptimizationLevel: 'all',
    suite: { scenario: Scenario.SCENARIO_SINGLE_STREAM, warmupMinQueries: 1, warmupMinDurationMs: 0, minQueries: 1, minDurationMs: 0, maxDurationMs: 60_000, seed: 1 },
    manifest: { variantSha256: first.sha256, agentVersion: 'bench', batch: 1 },
    configSearch: {
      strategy,
      axes: narrowed.axes,
      skipped: narrowed.skipped,
      baseline,
      budgetMs: num('budget-min') * 60_000,
      pointWarmupMs: num('warmup-ms'),
      pointDurationMs: num('window-ms'),
      pointMinQueries: num('min-queries'),
      confirmRounds: num('rounds'),
      objective: 'p50_latency',
      latencyBoundMs: 0,
      variants,
    },
  };
  say('');
  say(`## ${strategy}: estimated at most ${estimate.measurements} points, ${(estimate.estimatedMs / 1000).toFixed(0)} s; load before ${os.loadavg()[0]?.toFixed(2)}`);
  const t = performance.now();
  let summary: Summary | undefined;
  let failure: string | undefined;
  await runSuiteInChild(job, {
    onEvent: (e) => {
      if (e.type === 'summary') summary = e.summary;
      if (e.type === 'error') failure = e.message;
    },
  });
  const wallS = (performance.now() - t) / 1000;
  const result = summary?.report?.configSearch;
  if (!result) {
    say(`failed: ${failure ?? 'no result'}`);
    continue;
  }
  say(`wall ${wallS.toFixed(1)} s (search ${(result.spentMs / 1000).toFixed(1)} s); points measured ${result.pointsMeasured} over ${variants.length} variant(s), of ${result.spacePoints} per variant; budget exhausted: ${result.budgetExhausted}; load after ${os.loadavg()[0]?.toFixed(2)}`);
  say('');
  say('| variant | points measured | best configuration | best p50 ms | defaults p50 ms | best / defaults (95% CI) | verdict |');
  say('|---|---|---|---|---|---|---|');
  for (const v of variants) {
    const measured = result.points.filter((p) => p.variant === v.variant && p.measured).length;
    const b = result.best.find((x) => x.variant === v.variant);
    if (!b) {
      say(`| ${v.variant} | ${measured} | (none) | - | - | - | - |`);
      continue;
    }
    const ci = b.ratioCi ? ` (${fmt(b.ratioCi.low)}-${fmt(b.ratioCi.high)})` : '';
    say(`| ${v.variant} | ${measured} | ${labelOf(result, b.configId)} | ${fmt(b.bestMedianMs)} | ${fmt(b.baselineMedianMs)} | ${fmt(b.ratioToBaseline)}${ci} | ${b.verdict} |`);
  }
  if (values.points) {
    say('');
    say('| variant | order | configuration | queries | p50 ms (95% CI) | qps | session ms |');
    say('|---|---|---|---|---|---|---|');
    for (const p of result.points) {
      say(
        p.measured
          ? `| ${p.variant} | ${p.order} | ${labelOf(result, p.configId)} | ${p.queries} | ${fmt(p.p50Ms)} (${fmt(p.p50CiMs?.low)}-${fmt(p.p50CiMs?.high)}) | ${fmt(p.queriesPerSecond, 1)} | ${fmt(p.sessionCreationMs, 0)} |`
          : `| ${p.variant} | ${p.order} | ${labelOf(result, p.configId)} | skipped: ${p.skipReason} | | | |`,
      );
    }
  }
}
if (!values.work) await rm(work, { recursive: true, force: true });
