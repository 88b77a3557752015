// The agent's memory while a sweep evaluates 50 and 200 images (docs/BENCHMARKS.md
// "Accuracy on every device" (b)), on the real embedded farm: nats-server (JetStream), the
// coordinator and one local agent, started as `benchfarm up` starts them (startEmbeddedFarm).
//
//   npx tsx scripts/bench-agent-eval-rss.ts [--sets 50,200] [--variants fp32,int8-static] [--interval 100] [--agent tsx|bundle] [--keep]
//
// --agent tsx (default): the agent `benchfarm up` starts (node --import tsx apps/agent/src/main.ts).
// --agent bundle: the farm without its agent, and dist/agent/main.mjs started beside it with the
// systemd unit's flags (deploy/systemd/benchfarm-agent.service; build it first: node scripts/build-agent.mjs),
// or --agent-flags="..." instead of them.
//
// For each N: N distinct JPEGs with COCO labels (scripts/eval-image-set.ts) are uploaded as a
// dataset (uploadDatasetDir, as `benchfarm dataset add`), then a sweep of the YOLOX-nano detector
// in examples/yolox-nano runs the variants with calibrationDataset = the 3 shipped calibration
// photos and evaluationDataset = that set (short latency settings), twice: the first sweep fetches
// the images into the agent's cache, the second finds them there (nothing fetched).
// Every --interval ms the VmRSS of the agent process and of its suite child (found in /proc by
// parent pid) is read and tagged: "idle" (no job running), "fetch" (a job leased, no suite child
// yet: the agent fetches the models and the dataset), or the phase the suite child last reported
// through the coordinator's live progress (session, warmup, measure, ..., evaluation).
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort } from '@benchfarm/messaging';
import type { SuiteReport } from '@benchfarm/protocol';
import { readProcStatusBytes } from '@benchfarm/suite';
import { CoordinatorClient, type SweepView } from '../apps/cli/src/client';
import { uploadDatasetDir } from '../apps/cli/src/dataset-upload';
import { startEmbeddedFarm } from '../apps/cli/src/processes';
import { waitForAgent } from '../apps/cli/src/testing/farm.fixture';
import { makeImageSet } from './eval-image-set';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const EXAMPLE = join(root, 'examples/yolox-nano');
const MODEL = join(EXAMPLE, 'yolox_nano_3class.onnx');

/** Thrown when the command line cannot describe a bench run, or the farm does not do what the bench needs. */
class BenchError extends Error {
  override name = 'BenchError';
}

const { values } = parseArgs({
  options: {
    sets: { type: 'string', default: '50,200' },
    variants: { type: 'string', default: 'fp32,int8-static' },
    interval: { type: 'string', default: '100' },
    agent: { type: 'string', default: 'tsx' },
    'agent-flags': { type: 'string', default: '--max-semi-space-size=1 --lite-mode' },
    keep: { type: 'boolean', default: false },
  },
});
const sets = values.sets.split(',').map((s) => Number(s.trim()));
if (sets.some((n) => !Number.isInteger(n) || n < 1)) throw new BenchError(`--sets must list integers >= 1, got ${JSON.stringify(values.sets)}`);
if (values.agent !== 'tsx' && values.agent !== 'bundle') throw new BenchError(`--agent must be tsx or bundle, got ${JSON.stringify(values.agent)}`);
const intervalMs = Number(values.interval);
if (!Number.isInteger(intervalMs) || intervalMs < 10) throw new BenchError(`--interval must be an integer >= 10 (ms), got ${JSON.stringify(values.interval)}`);

// Short latency settings: the figures here are the agent's memory, not latency.
const LATENCY = { warmupMinQueries: 2, warmupMinDurationMs: 50, minQueries: 20, minDurationMs: 200, maxDurationMs: 20_000, rounds: 3, roundMinQueries: 5 };


/** Pids whose parent is `ppid` and whose command line contains `needle`. */
function childrenOf(ppid: number, needle: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces): state, then ppid.
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (parent !== ppid) continue;
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(needle)) found.push(Number(entry));
    } catch {
      // gone between readdir and read
    }
  }
  return found;
}

interface Sample {
  t: number;
  /** The job running then ('' when none). */
  job: string;
  tag: string;
  agentRss: number | undefined;
  suiteRss: number | undefined;
}

/** Files in the agent's dataset cache, by name, with their modification times. */
function cacheFiles(dir: string): Map<string, number> {
  const files = new Map<string, number>();
  try {
    for (const name of readdirSync(dir)) files.set(name, statSync(join(dir, name)).mtimeMs);
  } catch {
    // not created yet: nothing cached
  }
  return files;
}

const mb = (bytes: number | undefined): string => (bytes === undefined ? 'n/a' : (bytes / 1024 / 1024).toFixed(1));
const max = (values: readonly (number | undefined)[]): number | undefined => {
  const present = values.filter((v): v is number => v !== undefined);
  return present.length ? Math.max(...present) : undefined;
};
const load = (): string => os.loadavg().map((l) => l.toFixed(2)).join(' ');

interface SweepFigures {
  label: string;
  images: number;
  agentBefore: number | undefined;
  agentMaxFetch: number | undefined;
  agentMaxJob: number | undefined;
  agentMaxSweep: number | undefined;
  agentMaxEvaluation: number | undefined;
  suiteMaxEvaluation: number | undefined;
  suitePeakReported: number | undefined;
  fetchWindowMs: number | undefined;
  cacheSpanMs: number | undefined;
  newCacheFiles: number;
  evaluationMs: number | undefined;
  evaluationSampledMs: number | undefined;
  samples: number;
  agreement: string;
  wallMs: number;
  loadBefore: string;
  loadAfter: string;
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(os.tmpdir(), 'bench-agent-eval-rss-'));
  const farmDir = join(work, 'farm');
  const datasetCache = join(farmDir, 'agent-cache', 'datasets');
  const bundleArgs = [...values['agent-flags'].split(' ').filter(Boolean), join(root, 'dist/agent/main.mjs')];
  console.log(
    `agent RSS during evaluation: embedded farm (nats-server, coordinator, one local agent: ${values.agent === 'tsx' ? 'as `benchfarm up` runs it, node --import tsx apps/agent/src/main.ts' : `as the systemd unit runs it, node ${bundleArgs.join(' ')}`})`,
  );
  console.log(`machine: ${os.cpus()[0]?.model ?? 'unknown cpu'}, ${os.availableParallelism()} logical cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${process.platform} ${os.release()}, node ${process.version}`);
  console.log(`variants ${values.variants}; sets ${sets.join(', ')}; sampling every ${intervalMs} ms; work folder ${work}; load average at start ${load()}`);
  const farm = await startEmbeddedFarm({ dir: farmDir, natsPort: await freePort(), httpPort: 0, grpcPort: 0, agent: values.agent === 'tsx' });
  const figures: SweepFigures[] = [];
  let bundled: ChildProcess | undefined;
  try {
    const client = new CoordinatorClient(farm.httpUrl);
    let agentId = farm.agentId;
    if (values.agent === 'bundle') {
      bundled = spawn(process.execPath, bundleArgs, {
        env: { ...process.env, BENCHFARM_NATS_URL: farm.natsUrl, BENCHFARM_GRPC_ADDRESS: farm.grpcAddress, BENCHFARM_AGENT_ID: 'local', BENCHFARM_AGENT_NAME: 'local-bundle', BENCHFARM_AGENT_CACHE: join(farmDir, 'agent-cache') },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const child = bundled;
      agentId = await new Promise<string>((resolveReady, reject) => {
        child.once('exit', (code) => reject(new BenchError(`the bundled agent exited (${code}) before it was ready`)));
        createInterface({ input: child.stdout! }).on('line', (line) => {
          if (line.startsWith('{"event":"ready"')) resolveReady(String((JSON.parse(line) as { agentId?: string }).agentId));
        });
      });
    }
    await waitForAgent(client, agentId);
    const agents = bundled?.pid !== undefined ? [bundled.pid] : childrenOf(process.pid, 'apps/agent/src/main.ts');
    if (agents.length !== 1) throw new BenchError(`expected one agent child process, found ${agents.length}`);
    const agentPid = agents[0]!;
    console.log(`agent pid ${agentPid}, RSS after start ${mb(readProcStatusBytes(agentPid, 'VmRSS'))} MB`);

    // The sampler: tagged by the state the poller below last saw.
    let tag = 'idle';
    let job = '';
    let suitePid: number | undefined;
    let samples: Sample[] = [];
    const timer = setInterval(() => {
      if (suitePid === undefined || readProcStatusBytes(suitePid, 'VmRSS') === undefined) suitePid = childrenOf(agentPid, 'child.main')[0];
      samples.push({ t: performance.now(), job, tag, agentRss: readProcStatusBytes(agentPid, 'VmRSS'), suiteRss: suitePid === undefined ? undefined : readProcStatusBytes(suitePid, 'VmRSS') });
    }, intervalMs);

    const calibration = await uploadDatasetDir(client, join(EXAMPLE, 'calibration'), { name: 'rss-calibration', preprocess: 'yolox' });
    try {
      for (const n of sets) {
        const set = await makeImageSet(n, join(work, `images-${n}`));
        const dataset = await uploadDatasetDir(client, join(work, `images-${n}`), { name: `rss-${n}`, labelsPath: set.labelsPath, preprocess: 'yolox' });
        console.log(`\ndataset rss-${n}: ${dataset.images} images uploaded (${dataset.id.slice(0, 12)})`);
        for (const pass of ['first (fetch)', 'second (cache hit)']) {
          const loadBefore = load();
          // Idle before the sweep: 2 s of samples, tagged idle.
          tag = 'idle';
          job = '';
          samples = [];
          await sleep(2000);
          const idle = samples.map((s) => s.agentRss);
          const cachedBefore = cacheFiles(datasetCache);
          const started = performance.now();
          const created = await client.createSweep(MODEL, { name: `rss-${n}-${pass.split(' ')[0]}`, variants: values.variants, calibrationDataset: calibration.id, evaluationDataset: dataset.id, preprocess: 'yolox', ...LATENCY });
          let sweep: SweepView = created;
          const runningSince = new Map<string, number>();
          const suiteSince = new Map<string, number>();
          let staleSuite: number | undefined;
          for (;;) {
            sweep = await client.getSweep(created.id);
            if (sweep.state !== 'running') break;
            const running = sweep.jobs.filter((j) => j.state === 'running');
            for (const j of running) if (!runningSince.has(j.id)) runningSince.set(j.id, performance.now());
            // One agent runs one job at a time. The previous job's suite child may still be exiting
            // when the next job is leased: it is not this job's.
            const current = running[0]?.id ?? '';
            if (current !== job) staleSuite = suitePid;
            job = current;
            if (running.length === 0) tag = 'queued';
            else if (suitePid === undefined || suitePid === staleSuite) tag = 'fetch';
            else {
              if (!suiteSince.has(job)) suiteSince.set(job, performance.now());
              tag = running[0]!.progress?.phase ?? 'suite';
            }
            await sleep(intervalMs);
          }
          const wallMs = performance.now() - started;
          if (sweep.state !== 'completed') throw new BenchError(`sweep ${sweep.id} ${sweep.state}: ${JSON.stringify(sweep.jobs.map((j) => [j.variant, j.state, j.error]))}`);
          const reports = await client.suiteReports(sweep.id);
          const evaluated = reports.reports.map((r) => r.report).find((r: SuiteReport) => r.evaluation !== undefined)?.evaluation;
          const cachedAfter = cacheFiles(datasetCache);
          const fresh = [...cachedAfter].filter(([name]) => !cachedBefore.has(name)).map(([, mtime]) => mtime);
          // The evaluation runs in the device's comparison job; only that job fetches the dataset.
          const evalJob = reports.comparisonJobs[0]?.jobId ?? '';
          const during = samples.filter((s) => s.tag !== 'idle');
          const inEvalJob = during.filter((s) => s.job === evalJob);
          const evalSamples = inEvalJob.filter((s) => s.tag === 'evaluation');
          const since = runningSince.get(evalJob);
          const suiteAt = suiteSince.get(evalJob);
          const device = sweep.comparisons?.[0];
          const agreement = device?.variants.map((v) => `${v.variant} ${v.accuracy?.metrics.find((m) => m.metric === 'map50_agreement')?.value?.toFixed(3) ?? 'n/a'}`).join(', ') ?? 'n/a';
          figures.push({
            label: `${n} ${pass}`,
            images: evaluated?.images ?? 0,
            agentBefore: max(idle),
            agentMaxFetch: max(inEvalJob.filter((s) => s.tag === 'fetch').map((s) => s.agentRss)),
            agentMaxJob: max(inEvalJob.map((s) => s.agentRss)),
            agentMaxSweep: max(during.map((s) => s.agentRss)),
            agentMaxEvaluation: max(evalSamples.map((s) => s.agentRss)),
            suiteMaxEvaluation: max(evalSamples.map((s) => s.suiteRss)),
            suitePeakReported: evaluated?.peakRssBytes,
            fetchWindowMs: since !== undefined && suiteAt !== undefined ? suiteAt - since : undefined,
            cacheSpanMs: fresh.length ? Math.max(...fresh) - Math.min(...fresh) : undefined,
            newCacheFiles: fresh.length,
            evaluationMs: evaluated?.durationMs,
            evaluationSampledMs: evalSamples.length ? evalSamples[evalSamples.length - 1]!.t - evalSamples[0]!.t : undefined,
            samples: samples.length,
            agreement,
            wallMs,
            loadBefore,
            loadAfter: load(),
          });
          const f = figures[figures.length - 1]!;
          console.log(
            `  ${pass}: jobs ${sweep.jobs.map((j) => `${j.variant}${j.id === evalJob ? ' (comparison + evaluation)' : ''}`).join(', ')}; evaluation job's tags ${[...new Set(inEvalJob.map((s) => s.tag))].join(' > ')}; ${f.newCacheFiles} files newly cached; ` +
              `evaluation ${f.images} images; map50_agreement ${agreement}; wall ${(wallMs / 1000).toFixed(1)} s; load ${loadBefore} -> ${f.loadAfter}`,
          );
        }
      }
    } finally {
      clearInterval(timer);
      console.log(`\nagent VmHWM (whole life) ${mb(readProcStatusBytes(agentPid, 'VmHWM'))} MB, RSS now ${mb(readProcStatusBytes(agentPid, 'VmRSS'))} MB`);
    }
  } finally {
    if (bundled && bundled.exitCode === null) {
      const exited = new Promise((r) => bundled!.once('exit', r));
      bundled.kill('SIGTERM');
      await exited;
    }
    await farm.stop();
    if (!values.keep) await rm(work, { recursive: true, force: true });
  }
  const ms = (v: number | undefined): string => (v === undefined ? 'n/a' : v.toFixed(0));
  console.log('\n| images | sweep | agent RSS before MB | agent max in fetch MB | agent max in evaluation job MB | agent max in evaluation MB | agent max in sweep MB | suite max in evaluation MB (sampled / its own peak) | evaluation job: lease seen to suite start ms | new cache files (first..last write ms) | evaluation ms (report / sampled) | load before -> after |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const f of figures) {
    const [n, ...pass] = f.label.split(' ');
    console.log(
      `| ${n} (${f.images} evaluated) | ${pass.join(' ')} | ${mb(f.agentBefore)} | ${mb(f.agentMaxFetch)} | ${mb(f.agentMaxJob)} | ${mb(f.agentMaxEvaluation)} | ${mb(f.agentMaxSweep)} | ${mb(f.suiteMaxEvaluation)} / ${mb(f.suitePeakReported)} | ${ms(f.fetchWindowMs)} | ${f.newCacheFiles} (${ms(f.cacheSpanMs)}) | ${ms(f.evaluationMs)} / ${ms(f.evaluationSampledMs)} | ${f.loadBefore.split(' ')[0]} -> ${f.loadAfter.split(' ')[0]} |`,
    );
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? `${err.name}: ${err.message}` : err);
  process.exitCode = 1;
});
