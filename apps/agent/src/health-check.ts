import { setTimeout as sleep } from 'node:timers/promises';
import { IsolatedWorkError, childEntry, runIsolated } from '@benchfarm/isolate';
import type { HealthCheckReport } from '@benchfarm/protocol';
import { REFERENCE_MODEL_ID, compareToReference, referenceModel } from '@benchfarm/suite';
import { AgentConfigError } from './config';

/** Entry of the health check's process (it loads onnxruntime; the agent never does). */
const HEALTH_CHILD = childEntry(new URL('./health-check.child.ts', import.meta.url));

/** The one execution provider every onnxruntime build has; the check runs there. */
const CHECK_PROVIDER = 'cpu';

/** How the agent runs its health checks, validated once at start-up. */
export interface HealthCheckSettings {
  /** A check that has not answered by then is killed and counts as failed (`BENCHFARM_HEALTH_TIMEOUT_MS`, default 60 s). */
  readonly timeoutMs: number;
  /** Wait before the first retry of a failed check; doubles per failure (`BENCHFARM_HEALTH_RETRY_MS`, default 5 s). */
  readonly retryMinMs: number;
  /** Longest wait between retries (`BENCHFARM_HEALTH_RETRY_MAX_MS`, default 5 min). */
  readonly retryMaxMs: number;
}

/**
 * Reads the health check settings from BENCHFARM_HEALTH_* variables. Thrown
 * ({@link AgentConfigError}, every bad key at once) for a value that is not a whole number
 * of milliseconds in range.
 */
export function healthCheckSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): HealthCheckSettings {
  const issues: string[] = [];
  const read = (key: string, fallback: number, min: number, max: number): number => {
    const text = env[key];
    if (text === undefined || text === '') return fallback;
    const value = Number(text);
    if (!Number.isInteger(value) || value < min || value > max) issues.push(`${key}: ${JSON.stringify(text)} must be a whole number of milliseconds from ${min} to ${max}`);
    return value;
  };
  const settings = {
    timeoutMs: read('BENCHFARM_HEALTH_TIMEOUT_MS', 60_000, 1_000, 600_000),
    retryMinMs: read('BENCHFARM_HEALTH_RETRY_MS', 5_000, 100, 3_600_000),
    retryMaxMs: read('BENCHFARM_HEALTH_RETRY_MAX_MS', 300_000, 100, 3_600_000),
  };
  if (issues.length === 0 && settings.retryMaxMs < settings.retryMinMs) issues.push(`BENCHFARM_HEALTH_RETRY_MAX_MS: ${settings.retryMaxMs} is below BENCHFARM_HEALTH_RETRY_MS (${settings.retryMinMs})`);
  if (issues.length > 0) throw new AgentConfigError(issues);
  return settings;
}

/** Wait before retry number `failures` (1 = after the first failure): min, doubling, capped at max. */
export function retryDelayMs(failures: number, settings: Pick<HealthCheckSettings, 'retryMinMs' | 'retryMaxMs'>): number {
  return Math.min(settings.retryMaxMs, settings.retryMinMs * 2 ** Math.max(0, failures - 1));
}

/** What the health check's process answers (its failures come back as thrown errors). */
export interface HealthChildOutputs {
  type: 'outputs';
  sha256: string;
  values: number[];
  dims: number[];
  sessionCreationMs: number;
  inferenceMs: number;
  onnxruntimeVersion: string;
}

/** The check process's answer, or why the reference model did not run in it. */
type HealthChildReply = HealthChildOutputs | { type: 'error'; message: string };

/** How a check process ended, before its outputs are judged. */
type ChildOutcome = { kind: 'reply'; reply: HealthChildReply } | { kind: 'died'; why: string } | { kind: 'aborted' };

/**
 * Runs the reference model once in a fresh process and judges its outputs against the
 * expected ones. Never throws: a process that cannot start, dies, times out or answers
 * wrongly yields a failed report naming why. Resolves `undefined` when `signal` aborted it
 * (shutdown), which is nobody's verdict.
 */
export async function runHealthCheck(options: { attempt: number; trigger: string; timeoutMs: number; signal?: AbortSignal; env?: NodeJS.ProcessEnv }): Promise<HealthCheckReport | undefined> {
  const ref = referenceModel();
  const started = performance.now();
  const outcome = await runChild(options.timeoutMs, options.signal, options.env);
  if (outcome.kind === 'aborted') return undefined;
  const report: HealthCheckReport = {
    referenceModelId: REFERENCE_MODEL_ID,
    referenceModelSha256: ref.sha256,
    passed: false,
    error: '',
    outputs: [],
    durationMs: round3(performance.now() - started),
    inferenceMs: 0,
    ranAtUnixMs: Date.now(),
    attempt: options.attempt,
    trigger: options.trigger,
    nextAttemptAtUnixMs: 0,
    executionProvider: CHECK_PROVIDER,
  };
  if (outcome.kind === 'died') return { ...report, error: outcome.why };
  const { reply } = outcome;
  if (reply.type === 'error') return { ...report, error: `the reference model did not run: ${reply.message}` };
  const ran = { ...report, referenceModelSha256: reply.sha256, outputs: reply.values, inferenceMs: round3(reply.inferenceMs) };
  if (reply.sha256 !== ref.sha256) return { ...ran, error: `the check process built reference model ${reply.sha256}, expected ${ref.sha256}` };
  const verdict = compareToReference(reply.values);
  return verdict.ok ? { ...ran, passed: true } : { ...ran, error: verdict.reason };
}

async function runChild(timeoutMs: number, signal: AbortSignal | undefined, env: NodeJS.ProcessEnv | undefined): Promise<ChildOutcome> {
  if (signal?.aborted) return { kind: 'aborted' };
  try {
    const reply = await runIsolated<HealthChildOutputs>(HEALTH_CHILD, {}, { timeoutMs, ...(signal && { signal }), ...(env && { env }) });
    return { kind: 'reply', reply };
  } catch (err) {
    if (!(err instanceof IsolatedWorkError)) return { kind: 'reply', reply: { type: 'error', message: err instanceof Error ? `${err.name}: ${err.message}` : String(err) } };
    if (err.code === 'aborted') return { kind: 'aborted' };
    const tail = err.stderrTail.trim().split('\n').slice(-3).join(' | ');
    const cause =
      err.code === 'timed_out'
        ? `timed out after ${timeoutMs} ms`
        : err.code !== 'crashed'
          ? err.how
          : err.signal
            ? `died: signal ${err.signal}`
            : `exited with code ${err.exitCode} without an answer`;
    return { kind: 'died', why: `health check process ${cause}${tail ? `; its stderr ended with: ${tail}` : ''}` };
  }
}

function round3(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** What the agent does when the health state changes: report it (registry state and a heartbeat). */
export type HealthStateSink = (state: 'checking' | 'healthy' | 'unhealthy') => Promise<void>;

/** Log callback, as the agent's. */
type Log = (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;

/**
 * The agent's health gate: a check is due after joining and after a device-level failure; while
 * one is due the agent pulls nothing. A failed check is retried with backoff until one passes.
 */
export class HealthGate {
  private due: string | undefined = 'joined';
  private failures = 0;
  private attempts = 0;
  private last: HealthCheckReport | undefined;

  constructor(
    private readonly settings: HealthCheckSettings,
    private readonly report: HealthStateSink,
    private readonly log: Log,
    private readonly env?: NodeJS.ProcessEnv,
  ) {}

  /** The last finished check, for the heartbeat; undefined before the first one finished. */
  get lastReport(): HealthCheckReport | undefined {
    return this.last;
  }

  /** Whether a check must pass before the next job. */
  get needed(): boolean {
    return this.due !== undefined;
  }

  /** Asks for a check before the next job: a device-level failure (the suite process crashed, was killed, timed out or could not start). */
  require(why: string): void {
    if (this.due === undefined) {
      this.due = `after-failure: ${why}`;
      this.attempts = 0;
      this.failures = 0;
    }
  }

  /** One check. Returns whether it passed; undefined when aborted by shutdown. */
  async attempt(signal?: AbortSignal): Promise<boolean | undefined> {
    const trigger = this.due ?? 'requested';
    this.attempts += 1;
    await this.report('checking');
    this.log('info', 'health check started', { attempt: this.attempts, trigger, referenceModel: REFERENCE_MODEL_ID });
    const report = await runHealthCheck({ attempt: this.attempts, trigger, timeoutMs: this.settings.timeoutMs, ...(signal && { signal }), ...(this.env && { env: this.env }) });
    if (!report) return undefined;
    if (report.passed) {
      this.last = report;
      this.due = undefined;
      this.failures = 0;
      this.log('info', 'health check passed', { attempt: report.attempt, trigger, durationMs: report.durationMs, inferenceMs: report.inferenceMs });
      await this.report('healthy');
      return true;
    }
    this.failures += 1;
    const retryInMs = retryDelayMs(this.failures, this.settings);
    this.last = { ...report, nextAttemptAtUnixMs: Date.now() + retryInMs };
    this.log('error', 'health check failed', { pulling: false, attempt: report.attempt, trigger, error: report.error, durationMs: report.durationMs, retryInMs });
    await this.report('unhealthy');
    return false;
  }

  /** Checks, with backoff between failures, until a check passes or `stopped()` says to give up. */
  async untilPassed(signal: AbortSignal, stopped: () => boolean): Promise<void> {
    while (this.needed && !stopped()) {
      if (this.failures > 0) {
        const wakeAt = this.last?.nextAttemptAtUnixMs ?? Date.now();
        // Short steps, so that a drain or a stop is seen without waiting out a 5-minute backoff.
        while (Date.now() < wakeAt && !stopped()) await sleep(Math.min(250, wakeAt - Date.now()));
        if (stopped()) return;
      }
      if ((await this.attempt(signal)) === undefined) return;
    }
  }
}
