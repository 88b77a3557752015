import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Scenario, type EvaluationResult, type LatencyStatistics, type OfflineLevel, type OperatorProfile, type QuantileValue, type ServerRun, type SuiteReport, type Unmeasured } from '@benchfarm/protocol';
import type * as ort from 'onnxruntime-node';
import { rebatchModel } from './batch-model';
import { bootstrapLatencyIntervals, coefficientOfVariation, earlyStoppingMinSamples, percentileOfSorted, stabilityOf } from '@benchfarm/numerics';
import { messageOf } from './errors';
import { failedEvaluation, runEvaluationPhase } from './evaluation';
import { attachFidelity } from './output-fidelity';
import { createInputs, type Feeds } from './inputs';
import { runConfigSearch } from './config-search.runner';
import { buildComparison, runInterleaved, type ComparedVariant } from './interleaved';
import { resolveScenarioOptions, type ResolvedScenarioOptions, type SuiteJob } from './job';
import { runOfflineLevel } from './offline';
import { profileOperators } from './profile';
import { runServer, searchPeakQps, type ServerRunOutcome } from './server';
import { openSession, sessionOptions } from './session';
import { runSingleStream, type SingleStreamResult } from './single-stream';
import { roundLatenciesInPlace } from './summary';
import type { SearchProgressFields } from './messages';

/**
 * Reports a phase's progress to the parent; must return fast and never throw. A configuration
 * search adds the point it measures and how far it is (and reports its sessions' opening).
 */
export type ProgressSink = (phase: 'session' | 'warmup' | 'measure' | 'evaluation', queriesDone: number, elapsedMs: number, search?: SearchProgressFields) => void;

/** What a scenario hands to the summary: the latencies the Summary describes, and the rest. */
export interface ScenarioOutcome {
  /** The headline run: single-stream, the first offline level, the server run at the target rate, the reference in a comparison. */
  run: SingleStreamResult;
  report: SuiteReport;
}

/** The scenario's name as results report it. */
export function scenarioName(job: SuiteJob): string {
  if (job.configSearch) return 'config_search';
  if (job.comparison) return 'comparison';
  switch (job.suite.scenario) {
    case Scenario.SCENARIO_OFFLINE:
      return 'offline';
    case Scenario.SCENARIO_SERVER:
      return 'server';
    case Scenario.SCENARIO_COLD_START:
      return 'cold_start';
    default:
      return 'single_stream';
  }
}

const now = process.hrtime.bigint;
const round3 = (value: number): number => Math.round(value * 1000) / 1000;

/**
 * Runs the job's scenario on an open session (the job's own model) and, on request, the
 * per-operator profile. Every latency is `session.run` alone (server: from the scheduled
 * arrival), with feeds created before the timed region.
 *
 * Thrown errors: InferenceRunError, ModelLoadError (a comparison's other variants).
 */
export async function runScenario(job: SuiteJob, session: ort.InferenceSession, feeds: Feeds, onProgress: ProgressSink): Promise<ScenarioOutcome> {
  const options = resolveScenarioOptions(job);
  const name = scenarioName(job);
  const unmeasured: Unmeasured[] = [];
  let outcome: { run: SingleStreamResult; extra: Partial<SuiteReport> };
  const profileTargets: { variant: string; modelPath: string }[] = [{ variant: job.comparison?.[0]?.variant ?? job.manifest.variantSha256.slice(0, 12), modelPath: job.modelPath }];

  if (job.configSearch) {
    const searched = await runConfigSearch(job, session, onProgress);
    outcome = { run: searched.run, extra: searched.extra };
    unmeasured.push(...searched.unmeasured);
    // The job's own session is released; a requested profile opens the first variant anew.
  } else if (job.comparison) {
    outcome = await comparison(job, session, feeds, options, onProgress);
    profileTargets.push(...job.comparison.slice(1).map((c) => ({ variant: c.variant, modelPath: c.modelPath })));
    unmeasured.push({ field: 'peak_rss_bytes', reason: 'per variant: a comparison holds every variant in one process, so peak_rss_bytes covers them all' });
  } else if (name === 'cold_start') {
    outcome = await coldStart(session, feeds);
  } else if (name === 'offline') {
    outcome = await offline(job, session, feeds, options, onProgress);
  } else if (name === 'server') {
    outcome = await server(job, session, feeds, options, onProgress);
  } else {
    outcome = { run: await runSingleStream(session, feeds, { ...job.suite, onProgress }), extra: {} };
  }

  // Statistics from the microsecond-rounded samples the result keeps, so anyone can recompute them.
  roundLatenciesInPlace(outcome.run.latenciesMs);
  const profiles: OperatorProfile[] = [];
  if (options.profile) {
    for (const target of profileTargets) {
      try {
        profiles.push(await profileOperators(target.variant, target.modelPath, sessionOptions(job), feeds, options.profileQueries, options.profileTop));
      } catch (err) {
        unmeasured.push({ field: `profiles.${target.variant}`, reason: `onnxruntime profiling failed: ${messageOf(err)}` });
      }
    }
  }

  return {
    run: outcome.run,
    report: {
      scenario: name,
      ...(outcome.run.count > 0 ? { statistics: latencyStatistics(outcome.run.latenciesMs, options, job.suite.seed) } : {}),
      ...outcome.extra,
      profiles,
      unmeasured,
    },
  };
}

/** CV, seeded bootstrap CIs of p50 and mean, and the stability verdict of a run's latencies. */
export function latencyStatistics(latenciesMs: Float64Array, options: Pick<ResolvedScenarioOptions, 'bootstrapResamples' | 'stabilityWindows' | 'stabilityTolerancePct'>, seed: number): LatencyStatistics {
  const cv = coefficientOfVariation(latenciesMs);
  const bootstrapSeed = (seed ^ 0x9e3779b9) >>> 0;
  const ci = bootstrapLatencyIntervals(latenciesMs, { resamples: options.bootstrapResamples, seed: bootstrapSeed });
  const stability = stabilityOf(latenciesMs, options.stabilityWindows, options.stabilityTolerancePct);
  const interval = (i: { low: number; high: number; level: number }) => ({ low: round3(i.low), high: round3(i.high), level: i.level });
  return {
    ...(Number.isFinite(cv) && { coefficientOfVariation: Math.round(cv * 10_000) / 10_000 }),
    p50CiMs: interval(ci.p50),
    meanCiMs: interval(ci.mean),
    bootstrapResamples: ci.resamples,
    bootstrapSeed: ci.seed,
    stability: {
      windowCount: stability.windowCount,
      windowQueries: stability.windowQueries,
      windowMeanMs: stability.windowMeanMs.map(round3),
      tolerancePct: stability.tolerancePct,
      ...(stability.lastWindowsSpreadPct !== undefined && { lastWindowsSpreadPct: Math.round(stability.lastWindowsSpreadPct * 100) / 100 }),
      stable: stability.stable,
    },
  };
}

/** LoadGen quantiles, each only where the sample count supports it. */
function quantiles(latenciesMs: Float64Array, wanted: readonly number[]): QuantileValue[] {
  const sorted = Float64Array.from(latenciesMs).sort();
  return wanted.map((quantile) => {
    const minSamples = earlyStoppingMinSamples(quantile);
    const sufficient = sorted.length >= minSamples;
    return { quantile, ...(sufficient && { valueMs: round3(percentileOfSorted(sorted, quantile)) }), sufficient, minSamples };
  });
}

async function timedFirstRun(session: ort.InferenceSession, feeds: Feeds): Promise<number> {
  const t0 = now();
  await session.run(feeds);
  return Number(now() - t0) / 1e6;
}

function asRun(latenciesMs: Float64Array, measuredDurationMs: number, firstInferenceMs: number, warmupQueries: number, warmupDurationMs: number, stopReason: SingleStreamResult['stopReason']): SingleStreamResult {
  return { latenciesMs, count: latenciesMs.length, measuredDurationMs, warmupQueries, warmupDurationMs, firstInferenceMs, stopReason };
}

async function coldStart(session: ort.InferenceSession, feeds: Feeds): Promise<{ run: SingleStreamResult; extra: Partial<SuiteReport> }> {
  const firstInferenceMs = await timedFirstRun(session, feeds);
  const secondInferenceMs = await timedFirstRun(session, feeds);
  // The one measured sample is the cold inference itself: a fresh process, a fresh session.
  return {
    run: asRun(Float64Array.of(firstInferenceMs), firstInferenceMs, firstInferenceMs, 0, 0, 'min_reached'),
    extra: { coldStart: { sessionCreationMs: 0, firstInferenceMs: round3(firstInferenceMs), secondInferenceMs: round3(secondInferenceMs) } },
  };
}

async function offline(job: SuiteJob, session: ort.InferenceSession, feeds: Feeds, options: ResolvedScenarioOptions, onProgress: ProgressSink): Promise<{ run: SingleStreamResult; extra: Partial<SuiteReport> }> {
  const firstInferenceMs = await timedFirstRun(session, feeds);
  const levels: OfflineLevel[] = [];
  let headline: SingleStreamResult | undefined;
  let firstError: unknown;
  const jobBatch = job.manifest.batch || 1;
  for (const batchSize of options.batchSizes) {
    let levelSession = session;
    let levelFeeds = feeds;
    let scratch: string | undefined;
    try {
      if (batchSize !== jobBatch) {
        const rebatched = await rebatchModel(job.modelPath, job.inputs, batchSize);
        scratch = dirname(rebatched.modelPath);
        levelSession = (await openSession({ ...job, modelPath: rebatched.modelPath, inputs: rebatched.inputs })).session;
        levelFeeds = createInputs(rebatched.inputs, job.suite.seed);
      }
    } catch (err) {
      firstError ??= err;
      for (const concurrency of options.concurrency) levels.push(failedLevel(batchSize, concurrency, err));
      if (scratch) await rm(scratch, { recursive: true, force: true });
      continue;
    }
    for (const concurrency of options.concurrency) {
      try {
        onProgress('measure', 0, 0);
        const level = await runOfflineLevel(levelSession, levelFeeds, {
          concurrency,
          warmupQueries: job.suite.warmupMinQueries,
          minQueries: job.suite.minQueries,
          minDurationMs: job.suite.minDurationMs,
          maxDurationMs: job.suite.maxDurationMs,
        });
        onProgress('measure', level.count, level.durationMs);
        const sorted = Float64Array.from(level.latenciesMs).sort();
        levels.push({
          batchSize,
          concurrency,
          queries: level.count,
          durationMs: round3(level.durationMs),
          queriesPerSecond: round3(level.queriesPerSecond),
          samplesPerSecond: round3(level.queriesPerSecond * batchSize),
          meanMs: round3(sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length)),
          percentiles: quantiles(level.latenciesMs, [0.5, 0.9, 0.99]),
          error: '',
        });
        headline ??= asRun(level.latenciesMs, level.durationMs, firstInferenceMs, job.suite.warmupMinQueries, 0, 'min_reached');
      } catch (err) {
        firstError ??= err;
        levels.push(failedLevel(batchSize, concurrency, err));
      }
    }
    if (levelSession !== session) await levelSession.release();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }
  if (!headline) throw firstError instanceof Error ? firstError : new Error(`every offline level failed: ${messageOf(firstError)}`);
  return { run: headline, extra: { offline: { levels } } };
}

function failedLevel(batchSize: number, concurrency: number, err: unknown): OfflineLevel {
  return { batchSize, concurrency, queries: 0, durationMs: 0, queriesPerSecond: 0, samplesPerSecond: 0, meanMs: 0, percentiles: [], error: messageOf(err) };
}

async function server(job: SuiteJob, session: ort.InferenceSession, feeds: Feeds, options: ResolvedScenarioOptions, onProgress: ProgressSink): Promise<{ run: SingleStreamResult; extra: Partial<SuiteReport> }> {
  // parseSuiteJob guarantees both for a server job.
  const targetQps = options.targetQps ?? Number.NaN;
  const latencyBoundMs = options.latencyBoundMs ?? Number.NaN;
  const warmupStart = now();
  const firstInferenceMs = await timedFirstRun(session, feeds);
  for (let i = 1; i < job.suite.warmupMinQueries; i++) await session.run(feeds);
  const warmupDurationMs = Number(now() - warmupStart) / 1e6;
  let step = 0;
  const measure = async (qps: number): Promise<ServerRunOutcome> => {
    onProgress('measure', step++, 0);
    return runServer(session, feeds, { targetQps: qps, latencyBoundMs, minQueries: job.suite.minQueries, minDurationMs: job.suite.minDurationMs, maxDurationMs: job.suite.maxDurationMs, seed: job.suite.seed });
  };
  let runs: ServerRunOutcome[];
  let peakQps: number | undefined;
  let note = 'one rate measured (no search requested)';
  if (options.searchPeakQps) {
    const search = await searchPeakQps(measure, { startQps: targetQps, maxSteps: options.searchSteps });
    runs = search.runs;
    peakQps = search.peakQps;
    note = search.note;
  } else {
    runs = [await measure(targetQps)];
  }
  const first = runs[0];
  if (!first) throw new RangeError('the server scenario measured no rate');
  const toWire = (r: ServerRunOutcome): ServerRun => ({
    targetQps: round3(r.targetQps),
    achievedQps: round3(r.achievedQps),
    queries: r.queries,
    p99: quantiles(r.latenciesMs, [0.99])[0] ?? { quantile: 0.99, sufficient: false, minSamples: earlyStoppingMinSamples(0.99) },
    meanMs: round3(r.meanMs),
    meetsBound: r.meetsBound,
  });
  const wallMs = first.achievedQps > 0 ? (first.queries / first.achievedQps) * 1000 : 0;
  return {
    run: asRun(first.latenciesMs, wallMs, firstInferenceMs, Math.max(1, job.suite.warmupMinQueries), warmupDurationMs, 'min_reached'),
    extra: { server: { latencyBoundMs, runs: runs.map(toWire), ...(peakQps !== undefined && { peakQps: round3(peakQps) }), searchNote: note } },
  };
}

async function comparison(job: SuiteJob, session: ort.InferenceSession, feeds: Feeds, options: ResolvedScenarioOptions, onProgress: ProgressSink): Promise<{ run: SingleStreamResult; extra: Partial<SuiteReport> }> {
  const models = job.comparison ?? [];
  const firstInferenceMs = await timedFirstRun(session, feeds);
  const variants: ComparedVariant<Feeds>[] = [{ name: models[0]?.variant ?? 'reference', sha256: models[0]?.sha256 ?? job.manifest.variantSha256, session, feeds }];
  for (const model of models.slice(1)) {
    const opened = await openSession({ ...job, modelPath: model.modelPath });
    variants.push({ name: model.variant, sha256: model.sha256, session: opened.session, feeds });
  }
  const order = 'interleaved' as const;
  const run = await runInterleaved(variants, { rounds: options.interleaveRounds, roundMinQueries: options.roundMinQueries, warmupQueries: Math.max(1, job.suite.warmupMinQueries), order });
  const comparisonResult = buildComparison(variants, run, { order, roundMinQueries: options.roundMinQueries, resamples: options.bootstrapResamples, seed: (job.suite.seed ^ 0x85ebca6b) >>> 0 });
  let evaluation: EvaluationResult | undefined;
  if (job.evaluation) {
    // Accuracy on real images, after the timed rounds (they are done: it costs them
    // nothing), with the same sessions. Its fidelity replaces the random-input one.
    const started = process.hrtime.bigint();
    try {
      evaluation = await runEvaluationPhase(job.evaluation, job.inputs, feeds, variants, (done, elapsedMs) => onProgress('evaluation', done, elapsedMs));
    } catch (err) {
      evaluation = failedEvaluation(job.evaluation, variants, messageOf(err), Number(process.hrtime.bigint() - started) / 1e6);
    }
    for (const entry of comparisonResult.variants) entry.fidelity = evaluation.variants.find((v) => v.variant === entry.variant)?.fidelity ?? [];
  } else {
    // Fidelity on this device's execution provider: after the timed rounds, so it costs them nothing.
    await attachFidelity(variants, comparisonResult, `the suite's seeded inputs (seed ${job.suite.seed}, 1 run)`);
  }
  for (const variant of variants.slice(1)) await (variant.session as ort.InferenceSession).release();
  const referenceLatencies = Float64Array.from((run.roundLatenciesMs[0] ?? []).flat());
  // Single-stream in rounds: the reference's busy time is its measured duration.
  const busyMs = referenceLatencies.reduce((a, b) => a + b, 0);
  return {
    run: asRun(referenceLatencies, busyMs, firstInferenceMs, Math.max(1, job.suite.warmupMinQueries), 0, 'min_reached'),
    extra: { comparison: comparisonResult, ...(evaluation && { evaluation }) },
  };
}
