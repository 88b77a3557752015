import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { cpus, platform, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSupervised } from '@benchfarm/isolate';
import { ErrorCode, type BenchJob, type ExternalRuntimeRequest, type Manifest, type ResultEvent, type Summary } from '@benchfarm/protocol';
import { externalCommand, externalResultToSummary, parseExternalOutput, parseTrtexecExportTimes, processCommandRunner, type ExternalRuntime } from '@benchfarm/sensors';
import { SAMPLES_CHUNK_MAX } from '@benchfarm/suite';
import type { JobSensing } from './device-reach';

type EventBody = NonNullable<ResultEvent['event']>;

/** Thrown when a job asks for an external tool that is not on this agent's PATH. */
export class ExternalRuntimeMissingError extends Error {
  override name = 'ExternalRuntimeMissingError';
  constructor(readonly tool: string, searchedPath: string) {
    super(`${tool} is not installed on this agent: not found on PATH (${searchedPath || 'empty'}); install it or target agents that list it`);
  }
}

/** Thrown when an external tool exits non-zero, is killed by its timeout, or cannot be started. */
export class ExternalRuntimeFailedError extends Error {
  override name = 'ExternalRuntimeFailedError';
  constructor(readonly tool: string, message: string, options?: { cause?: unknown }) {
    super(`${tool} ${message}`, options);
  }
}

/** The external-runtime names of the result schema, by executable. */
const RUNTIME_OF_TOOL: Readonly<Record<string, ExternalRuntime>> = { trtexec: 'trtexec', benchmark_app: 'openvino-benchmark_app', benchmark_model: 'tflite-benchmark_model' };

/** The tool's log line where its timed phase starts: power is sampled from there to the tool's exit. */
const MEASURE_BEGIN: Readonly<Record<string, RegExp>> = { trtexec: /Starting inference/, benchmark_app: /Measuring performance/ };

/** Bytes of stderr kept for the error message. */
const STDERR_TAIL_BYTES = 2_000;
/** Most stdout (and stderr) kept for the parser: the reports are a few KB; verbose logs are cut from the front. */
const STDOUT_MAX_BYTES = 4 * 1024 * 1024;

/** What running an external job needs from the agent. */
export interface ExternalJobContext {
  job: BenchJob;
  request: ExternalRuntimeRequest;
  /** The verified variant file. */
  modelPath: string;
  send: (event: EventBody) => Promise<void>;
  /** Power and thermal sampling of this job (absent when the agent has no device reach). */
  sensing?: JobSensing;
  signal: AbortSignal;
  agentVersion: string;
  env?: NodeJS.ProcessEnv;
}

function failure(message: string): EventBody {
  // A missing tool, a model the tool refuses or a broken report fails again on every try.
  return { $case: 'error', value: { code: ErrorCode.ERROR_CODE_EXTERNAL_RUNTIME, message, retryable: false } };
}

/**
 * Runs a job with its external tool instead of the suite: finds the tool on PATH, runs it on
 * the variant in a child process (killed after `request.timeoutMs`), samples power from the
 * tool's "measuring" log line to its exit, parses its report into the result schema with the
 * runtime recorded, and streams samples (trtexec `--exportTimes`), then the summary. A
 * missing tool, a non-zero exit or an unreadable report is sent as a non-retryable error
 * naming the tool. Returns true when aborted (shutdown or lost lease) before the summary.
 */
export async function runExternalJob(ctx: ExternalJobContext): Promise<boolean> {
  const { request, job } = ctx;
  const env = ctx.env ?? process.env;
  const runtime = RUNTIME_OF_TOOL[request.tool];
  if (!runtime) {
    await ctx.send(failure(`external runtime ${JSON.stringify(request.tool)} is not one this agent can drive (${Object.keys(RUNTIME_OF_TOOL).join(', ')})`));
    return false;
  }
  const toolPath = processCommandRunner(env).which(request.tool);
  if (!toolPath) {
    await ctx.send(failure(new ExternalRuntimeMissingError(request.tool, env.PATH ?? '').message));
    return false;
  }
  const precision = request.precision === 'fp16' || request.precision === 'int8' ? request.precision : 'fp32';
  let command: { command: string; args: string[] };
  try {
    command = externalCommand({ runtime, toolPath, modelPath: ctx.modelPath, precision, ...(request.device ? { device: request.device } : {}), durationSeconds: request.durationSeconds || 1, ...(job.intraOpThreads ? { threads: job.intraOpThreads } : {}) });
  } catch (err) {
    await ctx.send(failure(`${request.tool}: ${(err as Error).message}`));
    return false;
  }
  const scratch = await mkdtemp(join(tmpdir(), 'bf-external-'));
  try {
    const timesPath = join(scratch, 'times.json');
    if (runtime === 'trtexec') command.args.push(`--exportTimes=${timesPath}`);
    const commandLine = [command.command, ...command.args].join(' ');
    let output: { stdout: string; aborted: boolean; pid: number };
    try {
      output = await runTool(request.tool, command, { env, timeoutMs: request.timeoutMs || 15 * 60_000, signal: ctx.signal, sensing: ctx.sensing, onStart: (pid) => ctx.send({ $case: 'started', value: { startedAtUnixMs: Date.now(), onnxruntimeVersion: '', childPid: pid } }) });
    } catch (err) {
      if (ctx.signal.aborted) return true;
      await ctx.send(failure((err as Error).message));
      return false;
    }
    if (output.aborted) return true;
    let summary: Summary;
    let samples: number[] | undefined;
    let samplesReason = `${request.tool} reports aggregates only`;
    try {
      const result = parseExternalOutput(runtime, output.stdout);
      if (runtime === 'trtexec') {
        try {
          samples = parseTrtexecExportTimes(await readFile(timesPath, 'utf8'));
          if (samples.length === 0) samplesReason = 'trtexec --exportTimes wrote no iterations';
        } catch (err) {
          samples = undefined;
          samplesReason = `trtexec --exportTimes could not be read: ${(err as Error).message}`;
        }
      }
      const modelFileSizeBytes = (await stat(ctx.modelPath)).size;
      summary = externalResultToSummary(result, { precision, commandLine, modelFileSizeBytes, manifest: manifestOf(job, ctx.agentVersion) });
      if (!summary.externalRuntime?.version) summary.unmeasured.push({ field: 'external_runtime.version', reason: `${request.tool} did not print its version` });
    } catch (err) {
      await ctx.send(failure(`${request.tool} report could not be read: ${(err as Error).message}`));
      return false;
    }
    if (samples && samples.length > 0) {
      // The per-iteration times are the raw samples: the count is theirs (the coordinator checks count == samples).
      summary.unmeasured = summary.unmeasured.filter((u) => u.field !== 'count');
      summary.count = samples.length;
      for (let offset = 0; offset < samples.length; offset += SAMPLES_CHUNK_MAX) await ctx.send({ $case: 'samples', value: { offset, latencyMs: samples.slice(offset, offset + SAMPLES_CHUNK_MAX) } });
    } else {
      summary.unmeasured.push({ field: 'latency_samples', reason: samplesReason });
    }
    if (ctx.sensing) await ctx.sensing.complete(summary, job.batch || 1);
    await ctx.send({ $case: 'summary', value: summary });
    return false;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

function manifestOf(job: BenchJob, agentVersion: string): Manifest {
  return {
    variantSha256: job.variant?.sha256 ?? '',
    onnxruntimeVersion: '',
    executionProvider: '',
    intraOpThreads: job.intraOpThreads,
    interOpThreads: job.interOpThreads,
    batch: job.batch || 1,
    inputShapes: job.inputs.map((i) => `${i.name}:${i.shape.join('x')}`).join(','),
    seed: job.suite?.seed ?? 0,
    agentVersion,
    os: platform(),
    osRelease: release(),
    cpuModel: cpus()[0]?.model.trim() ?? '',
    nodeVersion: process.version,
    graphOptimizationLevel: '',
    host: undefined,
  };
}

/**
 * Runs the tool to its exit (spawnSupervised: its timeout and an abort send SIGTERM, then
 * SIGKILL), keeping stdout (for the parser) and the stderr tail (for the error). Power sampling
 * starts at the tool's "measuring" line (or at spawn for a tool without one) and ends at exit.
 * Thrown: ExternalRuntimeFailedError.
 */
async function runTool(
  tool: string,
  command: { command: string; args: string[] },
  options: { env: NodeJS.ProcessEnv; timeoutMs: number; signal: AbortSignal; sensing: JobSensing | undefined; onStart: (pid: number) => Promise<void> },
): Promise<{ stdout: string; aborted: boolean; pid: number }> {
  let stdout = '';
  let started: Promise<void> = Promise.resolve();
  let pid = 0;
  const begin = MEASURE_BEGIN[tool];
  const markBegin = (): void => options.sensing?.onSuiteEvent({ type: 'mark', mark: 'measure-begin' });
  const proc = spawnSupervised(command.command, command.args, {
    env: options.env,
    timeoutMs: options.timeoutMs,
    signal: options.signal,
    // The tool's whole stderr is read by the parser too (benchmark_app reports there).
    stderrTailBytes: STDOUT_MAX_BYTES,
    onStdout: (chunk) => {
      stdout = (stdout + chunk).slice(-STDOUT_MAX_BYTES);
      if (begin?.test(chunk)) markBegin();
    },
    onStderr: (chunk) => {
      if (begin?.test(chunk)) markBegin();
    },
    onSpawn: (spawned) => {
      pid = spawned;
      if (!begin) markBegin();
      started = options.onStart(spawned);
    },
  });
  const exit = await proc.exited;
  if (exit.stopped?.code === 'start_failed') throw new ExternalRuntimeFailedError(tool, `could not be started: ${exit.stopped.detail.replace(/^could not start: /, '')}`, { cause: exit.stopped.error });
  options.sensing?.onSuiteEvent({ type: 'mark', mark: 'measure-end' });
  const stderr = exit.stderrTail;
  const tail = (stderr.trim() || stdout.trim().split('\n').slice(-5).join('\n')).slice(-STDERR_TAIL_BYTES);
  try {
    await started;
  } catch (err) {
    throw new ExternalRuntimeFailedError(tool, `ran, but its start could not be reported: ${String(err)}`, { cause: err });
  }
  if (exit.stopped?.code === 'aborted' || options.signal.aborted) return { stdout, aborted: true, pid };
  if (exit.stopped?.code === 'timed_out') throw new ExternalRuntimeFailedError(tool, `was killed after its timeout of ${options.timeoutMs} ms; output tail: ${tail}`);
  if (exit.code !== 0) throw new ExternalRuntimeFailedError(tool, `exited with ${exit.code === null ? `signal ${exit.signal}` : `code ${exit.code}`}; stderr tail: ${tail}`);
  return { stdout: `${stdout}\n${stderr}`, aborted: false, pid };
}
