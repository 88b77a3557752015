import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Command, InvalidArgumentError } from 'commander';
import { prepareDefaultModel } from '@benchfarm/onnx';
import { CoordinatorClient, CoordinatorRequestError, CoordinatorUnreachableError, type SweepOptions, type SweepView } from './client';
import { agentsTable, progressLineKeys, progressLines, sweepEvents, sweepOpen, sweepReport, trackProgress, type ProgressSeen } from './format';
import { DEFAULT_REGRESSION_POLICY, InvalidSamplesError } from '@benchfarm/numerics';
import { REPORT_FORMATS, accuracyFloorOption, num, renderComparison, renderReport, reportOf, tradeOffText, type ReportFlags } from './report-command';
import { ReportOptionError, compareSweeps } from './report';
import { FarmStartError, repoRoot, startEmbeddedFarm, tsxExecArgv, upStateFile } from './processes';
import { spawn } from 'node:child_process';
import { registerVariantsCommand } from './variants.command';
import { registerSecurityCommands } from './security.command';
import { enrolledAgentEnv } from './enrollment';
import { registerPkiCommand } from './pki.command';
import { registerDatasetCommand } from './dataset.command';
import { datasetFlagSettings, resolveSweepSettings, scenarioFlags, SweepFileError, SweepFlagError, type DatasetFlagValues, type ScenarioFlagValues } from './sweep-file';
import { DatasetUploadError, uploadDatasetDir } from './dataset-upload';
import { suiteReportText } from './suite-report';
import { DEMO, demoDatasetFlags } from './demo';
import { registerSimulateFleetCommand } from './simulate-fleet.command';

const DEFAULT_DIR = '.benchfarm';

/** Exit codes: 0 ok, 1 the sweep failed, 2 bad input, 3 coordinator unreachable, 4 start-up failed. */
const EXIT = { ok: 0, sweepFailed: 1, badInput: 2, unreachable: 3, startFailed: 4 } as const;

function int(name: string, min = 0) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
    return n;
  };
}

/** Where the coordinator is: --coordinator, then BENCHFARM_URL, then a running `benchfarm up`, then the default port. */
function coordinatorUrl(flag: string | undefined, dir: string): string {
  if (flag) return flag;
  if (process.env.BENCHFARM_URL) return process.env.BENCHFARM_URL;
  const state = upStateFile(resolve(dir));
  if (existsSync(state)) return String((JSON.parse(readFileSync(state, 'utf8')) as { httpUrl: string }).httpUrl);
  return 'http://127.0.0.1:8080';
}

async function resolveModel(model: string, dir: string): Promise<{ path: string; fileName?: string; note?: string }> {
  if (model !== 'default') return { path: model };
  const prepared = await prepareDefaultModel(join(resolve(dir), 'models'));
  const inputs = prepared.inputs.map((i) => `${i.name}:${i.shape.join('x')}`).join(', ');
  return { path: prepared.path, fileName: `${prepared.name}.onnx`, note: `default model: ${prepared.name} from ${prepared.sourcePackage}, input ${inputs} (dynamic dimensions fixed in the model). ${prepared.note}` };
}

/** Polls a sweep until every job is done or failed, redrawing the header and one line per job. */
async function followSweep(client: CoordinatorClient, sweep: SweepView, intervalMs = 500): Promise<SweepView> {
  const tty = process.stdout.isTTY === true;
  let drawn = 0;
  let lastKeys: string[] = [];
  let seen: ProgressSeen = new Map();
  let current = sweep;
  for (;;) {
    const nowMs = Date.now();
    seen = trackProgress(seen, current, nowMs);
    const lines = progressLines(current, { seen, nowMs });
    if (tty) {
      if (drawn > 0) process.stdout.write(`\x1b[${drawn}F\x1b[J`);
      process.stdout.write(`${lines.join('\n')}\n`);
      drawn = lines.length;
    } else {
      // Without a terminal (a log), a line is printed when its state, phase or point changes, not at every count.
      const keys = progressLineKeys(current);
      for (const [i, line] of lines.entries()) if (keys[i] !== lastKeys[i]) process.stdout.write(`${line}\n`);
      lastKeys = keys;
    }
    if (!sweepOpen(current.state)) return current;
    await sleep(intervalMs);
    current = await client.getSweep(current.id);
  }
}

/**
 * Polls a sweep until it ends, writing one JSON object per line for each change (the sweep's
 * state, a job's state, a job's progress) and a last `done` line carrying the final view: what
 * `sweep --wait --json` gives scripts.
 */
async function streamSweep(client: CoordinatorClient, sweep: SweepView, write: (line: string) => void, intervalMs = 500): Promise<SweepView> {
  let previous: SweepView | undefined;
  let current = sweep;
  for (;;) {
    for (const event of sweepEvents(previous, current, new Date().toISOString())) write(`${JSON.stringify(event)}\n`);
    if (!sweepOpen(current.state)) return current;
    previous = current;
    await sleep(intervalMs);
    current = await client.getSweep(current.id);
  }
}

async function runSweep(client: CoordinatorClient, modelArg: string, options: SweepOptions & { wait: boolean; json: boolean }, dir: string, datasets: DatasetFlagValues = {}): Promise<number> {
  const model = await resolveModel(modelArg, dir);
  if (model.note && !options.json) process.stdout.write(`${model.note}\n`);
  const { wait, json, ...sweepOptions } = options;
  // Folders on this machine (--dataset <dir>, --calibration, --eval) become datasets first; --json keeps stdout for the JSON.
  const say = (line: string): void => void (json ? process.stderr : process.stdout).write(`${line}\n`);
  const datasetSettings = await datasetFlagSettings(datasets, (folder, upload) => uploadDatasetDir(client, folder, upload, say), say);
  const sweep = await client.createSweep(model.path, { ...sweepOptions, ...datasetSettings }, model.fileName);
  if (!json && sweep.state === 'deriving') {
    process.stdout.write(`sweep ${sweep.id}: deriving ${sweep.derivation?.length ?? 0} variants for ${sweep.agents.length} agents (the jobs are made once they are derived)\n`);
  } else if (!json) {
    process.stdout.write(`sweep ${sweep.id}: ${sweep.variants.length} variants x ${sweep.agents.length} agents = ${sweep.jobs.length} jobs\n`);
    for (const v of sweep.variants) process.stdout.write(`  variant ${v.name.padEnd(12)} sha256 ${v.sha256.slice(0, 12)}  ${(v.sizeBytes / 1024 / 1024).toFixed(2)} MB\n`);
  }
  if (!wait) {
    if (json) process.stdout.write(`${JSON.stringify(sweep, null, 2)}\n`);
    return EXIT.ok;
  }
  // With --json the last streamed line (`done`) carries the final view.
  const final = json ? await streamSweep(client, sweep, (line) => void process.stdout.write(line)) : await followSweep(client, sweep);
  if (!json) process.stdout.write(`\n${sweepReport(final)}\n`);
  // Latency, size and accuracy side by side with the recommendation under the default policy.
  if (!json) process.stdout.write(`\n${tradeOffText(reportOf(final, { sloPercentile: 90 }))}`);
  if (!json) process.stdout.write(suiteReportText(await client.suiteReports(final.id)));
  return final.state === 'completed' ? EXIT.ok : EXIT.sweepFailed;
}

function sweepOptionsCommand(cmd: Command): Command {
  return cmd
    .option('--variants <list>', 'comma-separated variants to derive and measure', 'fp32,ort-basic')
    .option('--targets <list>', 'agents: all, agent ids, label:key=value (any of these), narrowed by capabilities arch=, os=, provider=, sensor=, runtime= (all of these), e.g. arch=arm64,provider=cuda', 'all')
    .option('--shapes <spec>', 'fix dynamic input dimensions, e.g. x:1x3x320x320')
    .option('--threads <n>', 'onnxruntime intra-op threads (0 = its default)', int('--threads'))
    .option('--warmup-queries <n>', 'minimum warm-up queries', int('--warmup-queries'))
    .option('--warmup-ms <n>', 'minimum warm-up duration in ms', int('--warmup-ms'))
    .option('--min-queries <n>', 'minimum measured queries (p99 needs 662)', int('--min-queries', 1))
    .option('--min-ms <n>', 'minimum measured duration in ms (default 2000, or --max-ms when smaller)', int('--min-ms'))
    .option('--max-ms <n>', 'maximum measured duration in ms', int('--max-ms', 1))
    .option('--name <name>', 'a name for the sweep')
    .option('--dataset <id|name|dir>', 'a stored dataset (benchfarm dataset add) or a folder of JPEGs on this machine (uploaded), split by name into calibration (int8-static) and evaluation images (accuracy of every variant on every device)')
    .option('--calibration <dir>', 'int8-static: folder of JPEG images on this machine, uploaded as a dataset')
    .option('--eval <dir>', 'evaluate every variant on every device on this folder of JPEGs on this machine (uploaded); never overlapping --calibration')
    .option('--labels <coco.json>', 'COCO labels of the --eval (or --dataset <dir>) images: mAP against ground truth too')
    .option('--task <task>', 'what the evaluation measures: detection, classification or fidelity (default: from the model outputs)')
    .option('--eval-images <n>', 'evaluation images at most (default 500; a bigger set is cut evenly by name, recorded)', int('--eval-images', 1))
    .option('--calibration-on-coordinator <path>', "int8-static: folder of JPEG images on the coordinator's machine (lab set-ups)")
    .option('--preprocess <preset|json|file.json>', 'how images become the model input: yolox, yolo, imagenet, a JSON config or a .json file (default: the dataset\'s own)')
    .option('--random-calibration <n>', 'int8-static: calibrate on n seeded random inputs instead (labelled RANDOM)', int('--random-calibration', 1))
    .option('--runtime <tool[:precision[:device]]>', 'run the variants with an external tool instead of onnxruntime-node, e.g. trtexec:fp16 or benchmark_app:fp32:GPU (only agents that have it)');
}

type SweepFlags = { variants: string; targets: string; shapes?: string; threads?: number; warmupQueries?: number; warmupMs?: number; minQueries?: number; minMs?: number; maxMs?: number; name?: string; calibration?: string; preprocess?: string; randomCalibration?: number; runtime?: string } & DatasetFlagValues;

function toSweepOptions(flags: SweepFlags): SweepOptions {
  return {
    name: flags.name,
    variants: flags.variants,
    targets: flags.targets,
    shapes: flags.shapes,
    threads: flags.threads,
    warmupMinQueries: flags.warmupQueries,
    warmupMinDurationMs: flags.warmupMs,
    minQueries: flags.minQueries,
    minDurationMs: flags.minMs,
    maxDurationMs: flags.maxMs,
    calibrationRandom: flags.randomCalibration,
    runtime: flags.runtime,
  };
}

function waitForSignal(): Promise<string> {
  return new Promise((r) => {
    process.once('SIGINT', () => r('SIGINT'));
    process.once('SIGTERM', () => r('SIGTERM'));
  });
}

/** Runs an app's entry file (relative to the repository) under tsx on this terminal, passes SIGINT and SIGTERM on to it, and exits with its code. */
async function runInForeground(entry: string, env: NodeJS.ProcessEnv): Promise<void> {
  const child = spawn(process.execPath, [...tsxExecArgv(), join(repoRoot, entry)], { env, stdio: 'inherit' });
  const forward = (signal: NodeJS.Signals): void => void child.kill(signal);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  process.exitCode = await new Promise<number>((r) => child.once('exit', (c) => r(c ?? 1)));
}

const program = new Command()
  .name('benchfarm')
  .description('A distributed benchmark farm for optimized ML models')
  .option('--dir <path>', 'state folder of the embedded farm', DEFAULT_DIR)
  .option('--coordinator <url>', 'coordinator REST URL (default: the running `benchfarm up`, else http://127.0.0.1:8080)')
  .showHelpAfterError();

/** The coordinator the global flags name (--coordinator, else the running `benchfarm up` in --dir, else the default). */
function selectedCoordinatorUrl(): string {
  const { dir, coordinator } = program.opts<{ dir: string; coordinator?: string }>();
  return coordinatorUrl(coordinator, dir);
}

/** A REST client of {@link selectedCoordinatorUrl}. */
function selectedCoordinator(): CoordinatorClient {
  return new CoordinatorClient(selectedCoordinatorUrl());
}

program
  .command('up')
  .description('start the embedded farm on this machine: nats-server (JetStream), the coordinator and one local agent; Ctrl-C stops all three')
  .option('--http-port <n>', 'coordinator REST port', int('--http-port'), 8080)
  .option('--grpc-port <n>', 'coordinator gRPC port', int('--grpc-port'), 50051)
  .option('--nats-port <n>', 'nats-server port', int('--nats-port'), 4222)
  .option('--no-agent', 'do not start a local agent')
  .action(async (flags: { httpPort: number; grpcPort: number; natsPort: number; agent: boolean }) => {
    const { dir } = program.opts<{ dir: string }>();
    const farm = await startEmbeddedFarm({ dir, httpPort: flags.httpPort, grpcPort: flags.grpcPort, natsPort: flags.natsPort, agent: flags.agent });
    process.stdout.write(
      [
        'benchfarm is up (loopback only, no authentication: the embedded default is for one machine)',
        `  REST + /metrics  ${farm.httpUrl}   (OpenAPI: ${farm.httpUrl}/openapi.json)`,
        `  gRPC results     ${farm.grpcAddress}`,
        `  NATS             ${farm.natsUrl}`,
        farm.agentId ? `  local agent      ${farm.agentId}` : '  no local agent',
        `  logs             ${farm.logDir}`,
        'Ctrl-C stops everything.',
        '',
      ].join('\n'),
    );
    const signal = await waitForSignal();
    process.stdout.write(`\n${signal}: stopping agent, coordinator and nats-server...\n`);
    await farm.stop();
    process.stdout.write('stopped.\n');
  });

program
  .command('agent')
  .description('run an agent on this device that joins a coordinator elsewhere')
  .option('--nats <url>', 'NATS URL, e.g. nats://farm.lab:4222 (required without --enrolled)')
  .option('--grpc <host:port>', "the coordinator's gRPC address (required without --enrolled)")
  .option('--enrolled <dir>', 'join with what `benchfarm agent enroll` wrote there: agent id, addresses, NATS creds, TLS files')
  .option('--id <id>', 'agent id (default: from the host name)')
  .option('--name <name>', 'display name')
  .option('--labels <k=v,...>', 'labels used for targeting')
  .option('--cache <dir>', 'model cache folder')
  .option('--tls-ca <file>', "CA certificate the coordinator's gRPC certificate must chain to (gRPC over TLS)")
  .option('--tls-cert <file>', "this agent's client certificate for mTLS (with --tls-key; see `benchfarm pki issue-agent`)")
  .option('--tls-key <file>', 'the key of --tls-cert')
  .action(async (flags: { nats?: string; grpc?: string; enrolled?: string; id?: string; name?: string; labels?: string; cache?: string; tlsCa?: string; tlsCert?: string; tlsKey?: string }) => {
    if (!flags.enrolled && (!flags.nats || !flags.grpc)) {
      process.stderr.write('error: give --nats and --grpc, or --enrolled DIR (from `benchfarm agent enroll`)\n');
      process.exitCode = EXIT.badInput;
      return;
    }
    let enrolled: Record<string, string> = {};
    try {
      if (flags.enrolled) enrolled = enrolledAgentEnv(flags.enrolled);
    } catch (err) {
      process.stderr.write(`error: ${(err as Error).message}\n`);
      process.exitCode = EXIT.badInput;
      return;
    }
    const env: NodeJS.ProcessEnv = { ...process.env, ...enrolled };
    if (flags.nats) env.BENCHFARM_NATS_URL = flags.nats;
    if (flags.grpc) env.BENCHFARM_GRPC_ADDRESS = flags.grpc;
    if (flags.id) env.BENCHFARM_AGENT_ID = flags.id;
    if (flags.name) env.BENCHFARM_AGENT_NAME = flags.name;
    if (flags.labels) env.BENCHFARM_AGENT_LABELS = flags.labels;
    if (flags.cache) env.BENCHFARM_AGENT_CACHE = flags.cache;
    if (flags.tlsCa) env.BENCHFARM_GRPC_TLS_CA = resolve(flags.tlsCa);
    if (flags.tlsCert) env.BENCHFARM_GRPC_TLS_CERT = resolve(flags.tlsCert);
    if (flags.tlsKey) env.BENCHFARM_GRPC_TLS_KEY = resolve(flags.tlsKey);
    await runInForeground('apps/agent/src/main.ts', env);
  });

program
  .command('coordinator')
  .description('run the coordinator alone, configured by BENCHFARM_* variables (docs/OPERATIONS.md): for a lab farm whose nats-server and agents run elsewhere')
  .action(async () => {
    await runInForeground('apps/coordinator/src/main.ts', process.env);
  });

program
  .command('copy-store')
  .description('copy the coordinator\'s SQLite file (BENCHFARM_DB, default .benchfarm/coordinator.db) into the empty PostgreSQL database of BENCHFARM_DATABASE_URL, all or nothing; stop the coordinator first (docs/OPERATIONS.md)')
  .action(async () => {
    const child = spawn(process.execPath, [...tsxExecArgv(), join(repoRoot, 'apps/coordinator/src/copy-store.main.ts')], { env: process.env, stdio: 'inherit' });
    process.exitCode = await new Promise<number>((r) => child.once('exit', (c) => r(c ?? 1)));
  });

registerVariantsCommand(program);
registerSecurityCommands(program, (flag) => coordinatorUrl(flag, DEFAULT_DIR));
registerPkiCommand(program);
registerDatasetCommand(program, selectedCoordinatorUrl);
registerSimulateFleetCommand(program, () => program.opts<{ coordinator?: string }>().coordinator);

scenarioFlags(sweepOptionsCommand(
  program
    .command('sweep')
    .description("derive the model's variants and measure them on every matching agent; `default` uses the bundled PaddleOCR detector")
    .argument('<model>', 'an ONNX file, or `default`'),
))
  .option('--no-wait', 'return once the sweep is queued')
  .option('--json', 'print the sweep as JSON; while waiting, one JSON object per line per change (event sweep, job, progress) and a last `done` line with the final sweep')
  .action(async (model: string, flags: SweepFlags & ScenarioFlagValues & { wait: boolean; json?: boolean }, cmd: Command) => {
    const { dir } = program.opts<{ dir: string }>();
    const client = selectedCoordinator();
    let settings: SweepOptions;
    try {
      settings = await resolveSweepSettings({ ...toSweepOptions(flags) }, flags, cmd);
    } catch (err) {
      if (!(err instanceof SweepFileError)) throw err;
      process.stderr.write(`benchfarm: ${err.message}\n`);
      process.exitCode = EXIT.badInput;
      return;
    }
    process.exitCode = await runSweep(client, model, { ...settings, wait: flags.wait, json: flags.json === true }, dir, flags);
  });

program
  .command('report')
  .description('report a sweep: the variant x device table, or Markdown, self-contained HTML with charts, CSV or JSON')
  .argument('<sweepId>')
  .option('--json', 'print the sweep as JSON')
  .option('--format <format>', `table, ${REPORT_FORMATS.join(', ')}`, 'table')
  .option('--output <file>', 'write the report to this file instead of stdout')
  .option('--fidelity-floor <cosine>', 'recommend only variants whose fidelity (cosine to fp32) is at least this', num('--fidelity-floor'))
  .option(
    '--accuracy-floor <floor>',
    "recommend only variants whose accuracy on real images is at least this: 0.95 (the task's metric), metric=value (map50_agreement, map50, map50_95, top1_agreement, top1, top5, cosine), or none; default with real data: map50_agreement 0.95 (detection), top1_agreement 0.99 (classification), cosine 0.99 (other)",
    accuracyFloorOption,
  )
  .option('--latency-slo-ms <ms>', 'recommend only variants whose latency at --slo-percentile is at most this', num('--latency-slo-ms'))
  .option('--slo-percentile <p>', 'percentile the latency SLO is stated on: 50, 90 or 99', num('--slo-percentile'), 90)
  .action(async (sweepId: string, flags: { json?: boolean } & ReportFlags) => {
    const sweep = await selectedCoordinator().getSweep(sweepId);
    const text = flags.json ? `${JSON.stringify(sweep, null, 2)}\n` : flags.format === 'table' ? `${sweepReport(sweep)}\n\n${tradeOffText(reportOf(sweep, flags))}` : renderReport(sweep, flags);
    if (flags.output) {
      writeFileSync(flags.output, text);
      process.stdout.write(`wrote ${flags.output}\n`);
    } else process.stdout.write(text);
  });

program
  .command('compare')
  .description('compare sweep B against sweep A per variant x device on the raw samples (Mann-Whitney U); exit 1 when a regression is flagged')
  .argument('<sweepA>', 'the baseline')
  .argument('<sweepB>', 'the candidate')
  .option('--alpha <p>', 'significance level', num('--alpha'), DEFAULT_REGRESSION_POLICY.alpha)
  .option('--min-change <ratio>', 'smallest relative change of the median that counts (0.05 = 5%)', num('--min-change'), DEFAULT_REGRESSION_POLICY.minRelativeChange)
  .option('--format <format>', 'table, markdown or json', 'table')
  .action(async (sweepA: string, sweepB: string, flags: { alpha: number; minChange: number; format: string }) => {
    if (!['table', 'markdown', 'json'].includes(flags.format)) throw new ReportOptionError('--format', `must be table, markdown or json, got ${flags.format}`);
    const client = selectedCoordinator();
    const [a, b] = await Promise.all([client.getSweep(sweepA), client.getSweep(sweepB)]);
    const result = await compareSweeps(a, b, (sweepId, jobId) => client.samples(sweepId, jobId), { alpha: flags.alpha, minRelativeChange: flags.minChange });
    process.stdout.write(`${renderComparison(result, flags.format)}\n`);
    process.exitCode = result.regressions > 0 ? EXIT.sweepFailed : EXIT.ok;
  });

program
  .command('cancel')
  .description('cancel a sweep: its derivation stops, queued jobs are removed, running jobs stop at their next lease renewal')
  .argument('<sweepId>')
  .option('--reason <text>', 'why, recorded with each cancelled job (at most 500 characters)')
  .option('--json', 'print the answer as JSON')
  .action(async (sweepId: string, flags: { reason?: string; json?: boolean }) => {
    const answer = await selectedCoordinator().cancelSweep(sweepId, flags.reason === undefined ? {} : { reason: flags.reason });
    process.stdout.write(flags.json ? `${JSON.stringify(answer, null, 2)}\n` : `sweep ${sweepId} cancelled: ${answer.cancelledJobs} jobs cancelled, ${answer.deletedMessages} queued job messages removed\n`);
  });

program
  .command('agents')
  .description('list the registered agents')
  .option('--json', 'print JSON')
  .action(async (flags: { json?: boolean }) => {
    const agents = await selectedCoordinator().listAgents();
    process.stdout.write(flags.json ? `${JSON.stringify(agents, null, 2)}\n` : `${agentsTable(agents)}\n`);
  });

sweepOptionsCommand(
  program
    .command('demo')
    .description('start the embedded farm, sweep the shipped YOLOX-nano detector (examples/yolox-nano) in fp32, fp16, int8-static and int8-dynamic on the local agent with its labelled photos, print the report, stop'),
).action(async (flags: SweepFlags, cmd: Command) => {
  const { dir } = program.opts<{ dir: string }>();
  // DEMO (demo.ts) says why these settings: short enough for 3 minutes on 2 cores.
  if (cmd.getOptionValueSource('variants') === 'default') flags.variants = DEMO.variants;
  flags.minQueries ??= DEMO.minQueries;
  flags.warmupQueries ??= DEMO.warmupQueries;
  flags.warmupMs ??= DEMO.warmupMs;
  process.stdout.write('starting nats-server, the coordinator and a local agent...\n');
  const farm = await startEmbeddedFarm({ dir, agent: true });
  const stopOnSignal = (): void => {
    process.stdout.write('\ninterrupted: stopping...\n');
    farm.stop().then(() => process.exit(130), () => process.exit(130));
  };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  try {
    process.stdout.write(`farm up: REST ${farm.httpUrl}, gRPC ${farm.grpcAddress}, NATS ${farm.natsUrl}\n`);
    const client = new CoordinatorClient(farm.httpUrl);
    await waitForAgent(client, farm.agentId ?? 'local');
    process.stdout.write(`${DEMO.note}\n`);
    process.exitCode = await runSweep(client, DEMO.model, { ...toSweepOptions(flags), wait: true, json: false }, dir, demoDatasetFlags(flags));
    const metrics = await client.metricsText();
    const series = metrics.split('\n').filter((l) => l.startsWith('benchfarm_inference_latency_seconds{') || l.startsWith('benchfarm_accuracy{'));
    process.stdout.write(`\n/metrics (${farm.httpUrl}/metrics) now has:\n${series.map((l) => `  ${l}`).join('\n')}\n`);
  } finally {
    process.stdout.write('stopping the farm...\n');
    await farm.stop();
  }
});

async function waitForAgent(client: CoordinatorClient, agentId: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const agents = await client.listAgents();
    if (agents.some((a) => a.agentId === agentId && !a.stale)) return;
    await sleep(250);
  }
  throw new FarmStartError(`agent ${agentId} did not register within ${timeoutMs} ms`);
}

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof CoordinatorUnreachableError) {
    process.stderr.write(`error: ${err.message}\n`);
    process.exit(EXIT.unreachable);
  }
  if (err instanceof CoordinatorRequestError) {
    process.stderr.write(`error: ${err.message} [${err.code}, HTTP ${err.status}]\n`);
    process.exit(EXIT.badInput);
  }
  if (err instanceof ReportOptionError || err instanceof InvalidSamplesError || err instanceof SweepFlagError || err instanceof DatasetUploadError) {
    process.stderr.write(`error: ${err.message}\n`);
    process.exit(EXIT.badInput);
  }
  if (err instanceof FarmStartError) {
    process.stderr.write(`error: ${err.message}\n`);
    process.exit(EXIT.startFailed);
  }
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'EISDIR' || code === 'EACCES') {
    process.stderr.write(`error: ${(err as Error).message}\n`);
    process.exit(EXIT.badInput);
  }
  process.stderr.write(`error: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(EXIT.badInput);
});
