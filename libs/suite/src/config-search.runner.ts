// The configuration search in the suite process: per variant, the strategy measures points
// (each in its own onnxruntime session, warmed up, then a time-boxed window), picks the best by
// the objective and confirms it against onnxruntime's defaults in interleaved rounds (best and
// baseline alternately, in this process), so drift between the search and the confirmation
// hits both alike. Loads onnxruntime: the suite process only.
import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ConfigBest, ConfigPoint, ConfigSearchResult, ConfigSkip, RunConfig, SuiteReport, TensorSpec, Unmeasured } from '@benchfarm/protocol';
import type * as ort from 'onnxruntime-node';
import { rebatchModel } from './batch-model';
import { bootstrapLatencyIntervals, earlyStoppingMinSamples, mean, median, pairedRatio, percentileOfSorted, type Interval, type RatioEstimate } from '@benchfarm/numerics';
import { configLabel, expandSpace } from './config-space';
import { sessionOptionsForConfig } from './config-search.session-options';
import { BUDGET_SPENT, isMeasured, meetsBound, plannedPoints, runSearch, type MeasuredVisit, type PointFigures, type PointOutcome, type PointVisit } from './config-search.strategy';
import { InferenceRunError, ModelLoadError, messageOf } from './errors';
import { createInputs, type Feeds } from './inputs';
import { buildComparison, runInterleaved, type ComparedVariant } from './interleaved';
import { resolveScenarioOptions, type ComparedModel, type SuiteConfigSearch, type SuiteJob } from './job';
import type { SearchProgressFields } from './messages';
import { runOfflineLevel } from './offline';
import { openSessionWith } from './session';
import { runSingleStream, type InferenceRunner, type SingleStreamResult } from './single-stream';
import { roundLatenciesInPlace } from './summary';

/** Reports the search's progress to the parent; must return fast and never throw. */
export type SearchProgressSink = (phase: 'session' | 'warmup' | 'measure', queriesDone: number, elapsedMs: number, search: SearchProgressFields) => void;

/** What one measured point gives, beyond what the objective compares. */
export interface MeasuredPoint extends PointFigures {
  queries: number;
  meanMs: number;
  queriesPerSecond: number;
  sessionCreationMs: number;
  /** The measured window, ms. */
  durationMs: number;
  p50CiMs: Interval;
  meetsBound: boolean;
}

/** The search's outcome as the scenario runner hands it on. */
export interface ConfigSearchOutcome {
  /** The Summary's run: the first variant's baseline rounds of the confirmation. */
  run: SingleStreamResult;
  extra: Pick<SuiteReport, 'configSearch'>;
  unmeasured: Unmeasured[];
}

const now = process.hrtime.bigint;
const round3 = (value: number): number => Math.round(value * 1000) / 1000;
const round4 = (value: number): number => Math.round(value * 10_000) / 10_000;
/** Progress while a window or the confirmation runs, about this often. */
const PROGRESS_INTERVAL_MS = 1000;
/** Longest onnxruntime message a skipped point keeps. */
const MAX_REASON_CHARS = 600;

interface ModelTarget {
  modelPath: string;
  feeds: Feeds;
  /** Samples per query. */
  batch: number;
}

interface SearchContext {
  job: SuiteJob;
  search: SuiteConfigSearch;
  modelBatch: number;
  resamples: number;
  pointSeed: number;
  confirmSeed: number;
  maxWindowMs: number;
  progress: { done: number; total: number };
  emit: (phase: 'session' | 'warmup' | 'measure', queriesDone: number, elapsedMs: number, point: string, queriesPerSecond: number) => void;
  /** Rebatched copies of a variant's model, by path and batch (made once, removed at the end). */
  rebatched: Map<string, Promise<{ modelPath: string; inputs: TensorSpec[] } | { reason: string }>>;
  feedsOf: Map<string, Feeds>;
}

/**
 * Runs the job's configuration search. The job's own session (opened by the suite process with
 * the baseline's settings) is released first: every point opens its own. Per variant, the
 * budget left is shared among the variants still to search, so a first variant that overruns
 * cannot starve the others, and no new point starts once the whole budget is spent.
 *
 * Thrown errors: ModelLoadError when a confirmation's session cannot be opened (the baseline
 * of a variant that does not load), InferenceRunError when a confirmation round fails,
 * RangeError without a search in the job.
 */
export async function runConfigSearch(job: SuiteJob, jobSession: ort.InferenceSession, onProgress: SearchProgressSink): Promise<ConfigSearchOutcome> {
  const search = job.configSearch;
  if (!search) throw new RangeError('runConfigSearch needs a job with configSearch');
  await jobSession.release();
  const options = resolveScenarioOptions(job);
  const started = now();
  const elapsedMs = (): number => Number(now() - started) / 1e6;
  const planned = search.variants.map(() => plannedPoints(search.strategy, search.axes));
  const ctx: SearchContext = {
    job,
    search,
    modelBatch: job.manifest.batch || 1,
    resamples: options.bootstrapResamples,
    pointSeed: (job.suite.seed ^ 0x9e3779b9) >>> 0,
    confirmSeed: (job.suite.seed ^ 0x85ebca6b) >>> 0,
    maxWindowMs: Math.max(search.pointDurationMs, job.suite.maxDurationMs),
    progress: { done: 0, total: planned.reduce((a, b) => a + b, 0) },
    emit: (phase, queriesDone, phaseMs, point, queriesPerSecond) =>
      onProgress(phase, queriesDone, phaseMs, { point, pointsDone: ctx.progress.done, pointsTotal: ctx.progress.total, queriesPerSecond: round3(queriesPerSecond) }),
    rebatched: new Map(),
    feedsOf: new Map(),
  };
  const skip = new Map(search.skipped.filter((s) => s.axis === '').map((s) => [s.value, s.reason] as const));
  const objective = { objective: search.objective, latencyBoundMs: search.latencyBoundMs };
  const points: ConfigPoint[] = [];
  const best: ConfigBest[] = [];
  const configs = new Map<string, RunConfig>([[search.baseline.id, search.baseline]]);
  const runSkips = new Map<string, ConfigSkip>();
  let budgetExhausted = false;
  let headline: Headline | undefined;
  try {
    for (const [v, variant] of search.variants.entries()) {
      const deadlineMs = elapsedMs() + (search.budgetMs - elapsedMs()) / (search.variants.length - v);
      let visited = 0;
      const outcome = await runSearch<MeasuredPoint>(
        { strategy: search.strategy, axes: search.axes, baseline: search.baseline, objective, skip },
        {
          measure: (config) => measurePoint(ctx, variant, config),
          budgetSpent: () => elapsedMs() >= deadlineMs,
          onVisit: () => {
            visited++;
            ctx.progress.done++;
            if (visited > (planned[v] ?? 0)) {
              ctx.progress.total += visited - (planned[v] ?? 0);
              planned[v] = visited;
            }
          },
        },
      );
      // A quick search that ended early frees its worst-case share of the total.
      ctx.progress.total -= (planned[v] ?? 0) - outcome.visits.length;
      planned[v] = outcome.visits.length;
      budgetExhausted ||= outcome.budgetExhausted;
      for (const visit of outcome.visits) {
        configs.set(visit.config.id, visit.config);
        points.push(pointOf(variant.variant, visit));
        if (!visit.outcome.measured && visit.outcome.reason !== BUDGET_SPENT && !skip.has(visit.config.id)) {
          const key = `${visit.config.id}\u0000${visit.outcome.reason}`;
          if (!runSkips.has(key)) runSkips.set(key, { axis: '', value: visit.config.id, reason: visit.outcome.reason, label: configLabel(visit.config) });
        }
      }
      const confirmation = await confirm(ctx, variant, outcome.best, outcome.visits, v === 0);
      if (confirmation.best) best.push(confirmation.best);
      if (v === 0) headline = confirmation.headline;
    }
  } finally {
    await removeScratch(ctx);
  }
  if (!headline) throw new RangeError('the configuration search ran no baseline rounds for its first variant');

  const result: ConfigSearchResult = {
    strategy: search.strategy,
    objective: search.objective,
    spacePoints: expandSpace(search.axes).points.length,
    pointsMeasured: points.filter((p) => p.measured).length,
    budgetMs: search.budgetMs,
    spentMs: Math.round(elapsedMs()),
    budgetExhausted,
    configs: [...configs.values()],
    points,
    best,
    skipped: [...search.skipped, ...expandSpace(search.axes).skipped.filter((s) => !search.skipped.some((k) => k.value === s.value)), ...runSkips.values()],
    latencyBoundMs: search.latencyBoundMs,
  };
  const latencies = Float64Array.from(headline.latenciesMs);
  return {
    run: {
      latenciesMs: latencies,
      count: latencies.length,
      // Single-stream in rounds: the baseline's busy time is its measured duration.
      measuredDurationMs: latencies.reduce((a, b) => a + b, 0),
      warmupQueries: headline.warmupQueries,
      warmupDurationMs: 0,
      firstInferenceMs: headline.firstInferenceMs,
      stopReason: 'min_reached',
    },
    extra: { configSearch: result },
    unmeasured: [
      {
        field: 'latencies',
        reason: `a configuration search: the job's latencies and statistics are ${search.variants[0]?.variant ?? 'the first variant'}'s baseline (onnxruntime's defaults) rounds of its interleaved confirmation; every point's figures are in configSearch.points`,
      },
      { field: 'peak_rss_bytes', reason: 'per point: a configuration search runs every point in one process, so peak_rss_bytes covers them all' },
    ],
  };
}

/** The baseline rounds the job's Summary describes. */
interface Headline {
  latenciesMs: number[];
  firstInferenceMs: number;
  warmupQueries: number;
}

/** The wire point of a visit; an unmeasured point's figures are 0 with `measured` false. */
function pointOf(variant: string, visit: PointVisit<MeasuredPoint>): ConfigPoint {
  const base = { variant, configId: visit.config.id, order: visit.order };
  const outcome = visit.outcome;
  if (!outcome.measured) {
    return { ...base, measured: false, skipReason: outcome.reason, queries: 0, p50Ms: 0, meanMs: 0, queriesPerSecond: 0, samplesPerSecond: 0, sessionCreationMs: 0, durationMs: 0, meetsBound: false };
  }
  const f = outcome.figures;
  return {
    ...base,
    measured: true,
    skipReason: '',
    queries: f.queries,
    p50Ms: f.p50Ms,
    ...(f.p99Ms !== undefined && { p99Ms: f.p99Ms }),
    meanMs: f.meanMs,
    queriesPerSecond: f.queriesPerSecond,
    samplesPerSecond: f.samplesPerSecond,
    sessionCreationMs: f.sessionCreationMs,
    durationMs: f.durationMs,
    p50CiMs: f.p50CiMs,
    meetsBound: f.meetsBound,
  };
}

/** The model (rebatched when the point asks for another batch) and feeds a point runs on. */
async function targetOf(ctx: SearchContext, variant: ComparedModel, batchSize: number): Promise<ModelTarget | { reason: string }> {
  const batch = batchSize > 0 ? batchSize : ctx.modelBatch;
  let modelPath = variant.modelPath;
  let inputs = ctx.job.inputs;
  if (batch !== ctx.modelBatch) {
    const key = `${variant.modelPath}\u0000${batch}`;
    let made = ctx.rebatched.get(key);
    if (!made) {
      made = rebatchModel(variant.modelPath, ctx.job.inputs, batch).catch((err: unknown) => ({ reason: `the model could not be rebatched to ${batch}: ${messageOf(err)}` }));
      ctx.rebatched.set(key, made);
    }
    const copy = await made;
    if ('reason' in copy) return copy;
    modelPath = copy.modelPath;
    inputs = copy.inputs;
  }
  const feedsKey = `${batch}`;
  let feeds = ctx.feedsOf.get(feedsKey);
  if (!feeds) {
    feeds = createInputs(inputs, ctx.job.suite.seed);
    ctx.feedsOf.set(feedsKey, feeds);
  }
  return { modelPath, feeds, batch };
}

async function removeScratch(ctx: SearchContext): Promise<void> {
  for (const made of ctx.rebatched.values()) {
    const copy = await made;
    if (!('reason' in copy)) await rm(dirname(copy.modelPath), { recursive: true, force: true });
  }
}

/** onnxruntime's own words, without terminal colour codes, cut to a readable length. */
function ortMessage(err: unknown): string {
  const inner = err instanceof ModelLoadError || err instanceof InferenceRunError ? err.cause : err;
  // eslint-disable-next-line no-control-regex
  const text = messageOf(inner).replace(/\u001b\[[0-9;]*m/g, '').trim();
  return text.length > MAX_REASON_CHARS ? `${text.slice(0, MAX_REASON_CHARS)}...` : text;
}

/** Opens a session for a configuration, or says why it cannot be opened. */
async function openFor(ctx: SearchContext, variant: ComparedModel, config: RunConfig): Promise<{ session: ort.InferenceSession; sessionCreationMs: number; target: ModelTarget } | { reason: string }> {
  const options = sessionOptionsForConfig(config);
  if (!options.ok) return { reason: options.reason };
  const target = await targetOf(ctx, variant, config.batchSize);
  if ('reason' in target) return target;
  try {
    const opened = await openSessionWith(target.modelPath, options.options);
    return { session: opened.session, sessionCreationMs: opened.sessionCreationMs, target };
  } catch (err) {
    if (!(err instanceof ModelLoadError)) throw err;
    return { reason: `onnxruntime could not open a session with ${configLabel(config)}: ${ortMessage(err)}` };
  }
}

/** Counts completed runs of a session, for the rate a progress event reports. */
class Meter<F> implements InferenceRunner<F> {
  count = 0;
  private lastCount = 0;
  private lastAt = now();
  constructor(private readonly session: InferenceRunner<F>) {}
  async run(feeds: F): Promise<unknown> {
    const out = await this.session.run(feeds);
    this.count++;
    return out;
  }
  /** Queries per second since the last call. */
  rate(): number {
    const at = now();
    const seconds = Number(at - this.lastAt) / 1e9;
    const rate = seconds > 0 ? (this.count - this.lastCount) / seconds : 0;
    this.lastAt = at;
    this.lastCount = this.count;
    return rate;
  }
}

/** Calls `tick` every PROGRESS_INTERVAL_MS until the returned function is called. */
function ticking(tick: () => void): () => void {
  const timer = setInterval(tick, PROGRESS_INTERVAL_MS);
  return () => clearInterval(timer);
}

/**
 * Measures one point: opens its session, warms it up for `pointWarmupMs` (at least one
 * query), then measures a window of `pointDurationMs` and at least `pointMinQueries` queries
 * (single-stream, or a closed loop of `concurrency` queries in flight), releases the session.
 * A provider that fails to open or a run that fails makes a skipped point with onnxruntime's
 * message.
 */
async function measurePoint(ctx: SearchContext, variant: ComparedModel, config: RunConfig): Promise<PointOutcome<MeasuredPoint>> {
  const { search } = ctx;
  const label = `${variant.variant} ${configLabel(config)}`;
  ctx.emit('session', 0, 0, label, 0);
  const opened = await openFor(ctx, variant, config);
  if ('reason' in opened) return { measured: false, reason: opened.reason };
  const { session, sessionCreationMs, target } = opened;
  const concurrency = Math.max(1, config.concurrency);
  let latenciesMs: Float64Array;
  let durationMs: number;
  try {
    if (concurrency === 1) {
      const run = await runSingleStream(session, target.feeds, {
        warmupMinQueries: 1,
        warmupMinDurationMs: search.pointWarmupMs,
        minQueries: search.pointMinQueries,
        minDurationMs: search.pointDurationMs,
        maxDurationMs: ctx.maxWindowMs,
        progressIntervalMs: PROGRESS_INTERVAL_MS,
        onProgress: (phase, done, phaseMs) => ctx.emit(phase, done, phaseMs, label, phase === 'measure' && phaseMs > 0 ? (done / phaseMs) * 1000 : 0),
      });
      latenciesMs = run.latenciesMs;
      durationMs = run.measuredDurationMs;
    } else {
      ctx.emit('warmup', 0, 0, label, 0);
      const warmStart = now();
      do await session.run(target.feeds);
      while (Number(now() - warmStart) / 1e6 < search.pointWarmupMs);
      const meter = new Meter<Feeds>(session);
      const windowStart = now();
      ctx.emit('measure', 0, 0, label, 0);
      const stop = ticking(() => ctx.emit('measure', meter.count, Number(now() - windowStart) / 1e6, label, meter.rate()));
      try {
        const level = await runOfflineLevel(meter, target.feeds, { concurrency, warmupQueries: concurrency, minQueries: search.pointMinQueries, minDurationMs: search.pointDurationMs, maxDurationMs: ctx.maxWindowMs });
        latenciesMs = level.latenciesMs;
        durationMs = level.durationMs;
      } finally {
        stop();
      }
    }
  } catch (err) {
    if (!(err instanceof InferenceRunError)) throw err;
    return { measured: false, reason: `session.run failed with ${configLabel(config)}: ${ortMessage(err)}` };
  } finally {
    await session.release();
  }
  roundLatenciesInPlace(latenciesMs);
  const sorted = Float64Array.from(latenciesMs).sort();
  const count = sorted.length;
  const p99Known = count >= earlyStoppingMinSamples(0.99);
  const queriesPerSecond = durationMs > 0 ? (count / durationMs) * 1000 : 0;
  const ci = bootstrapLatencyIntervals(latenciesMs, { resamples: ctx.resamples, seed: ctx.pointSeed });
  const figures: MeasuredPoint = {
    p50Ms: round3(percentileOfSorted(sorted, 0.5)),
    ...(p99Known && { p99Ms: round3(percentileOfSorted(sorted, 0.99)) }),
    maxMs: round3(sorted[count - 1] ?? Number.NaN),
    samplesPerSecond: round3(queriesPerSecond * target.batch),
    queries: count,
    meanMs: round3(mean(sorted)),
    queriesPerSecond: round3(queriesPerSecond),
    sessionCreationMs: round3(sessionCreationMs),
    durationMs: round3(durationMs),
    p50CiMs: { low: round3(ci.p50.low), high: round3(ci.p50.high), level: ci.p50.level },
    meetsBound: false,
  };
  figures.meetsBound = meetsBound(figures, search.latencyBoundMs);
  return { measured: true, figures };
}

/** One side of a confirmation: an open session and what it runs on. */
interface Contender {
  config: RunConfig;
  session: ort.InferenceSession;
  target: ModelTarget;
  concurrency: number;
  /** The search's p50 for it, or a short estimate when the search did not measure it. */
  p50Ms: number;
  queriesPerSecond: number;
}

async function openContender(ctx: SearchContext, variant: ComparedModel, config: RunConfig, measured: MeasuredPoint | undefined): Promise<Contender> {
  const opened = await openFor(ctx, variant, config);
  if ('reason' in opened) throw new ModelLoadError(variant.modelPath, { cause: new Error(opened.reason) });
  let p50Ms = measured?.p50Ms;
  let queriesPerSecond = measured?.queriesPerSecond;
  if (p50Ms === undefined || queriesPerSecond === undefined) {
    // Not a point of the space: a few timed runs size its rounds.
    const times: number[] = [];
    for (let i = 0; i < 4; i++) {
      const t0 = now();
      await opened.session.run(opened.target.feeds);
      times.push(Number(now() - t0) / 1e6);
    }
    p50Ms = median(times.slice(1));
    queriesPerSecond = 1000 / Math.max(p50Ms, 1e-3);
  }
  return { config, session: opened.session, target: opened.target, concurrency: Math.max(1, config.concurrency), p50Ms, queriesPerSecond };
}

/**
 * Confirms a variant's best against the baseline: `confirmRounds` rounds of the best then the
 * baseline (a round of one configuration lasts about a quarter of a point's window), the
 * ratio best / baseline as the median of per-round ratios with its bootstrap CI (p50 for the
 * latency objective, time per sample for throughput). When the best is the baseline, or there
 * is none, nothing is compared; the first variant still runs its baseline rounds, which are the
 * job's headline latencies.
 */
async function confirm(
  ctx: SearchContext,
  variant: ComparedModel,
  bestVisit: MeasuredVisit<MeasuredPoint> | undefined,
  visits: readonly PointVisit<MeasuredPoint>[],
  needHeadline: boolean,
): Promise<{ best?: ConfigBest; headline?: Headline }> {
  const { search } = ctx;
  const baseline = search.baseline;
  const baselinePoint = visits.find((v): v is MeasuredVisit<MeasuredPoint> => v.config.id === baseline.id && isMeasured(v))?.outcome.figures;
  const bestIsBaseline = bestVisit !== undefined && bestVisit.config.id === baseline.id;
  if (!bestVisit || bestIsBaseline) {
    if (!needHeadline && bestVisit) return { best: baselineBest(variant.variant, baseline, bestVisit.outcome.figures) };
    if (!needHeadline) return {};
    const alone = await openContender(ctx, variant, baseline, baselinePoint);
    try {
      const rounds = await runRounds(ctx, variant, [alone]);
      const headline = { latenciesMs: rounds.latencies[0]?.flat() ?? [], firstInferenceMs: rounds.firstInferenceMs, warmupQueries: rounds.warmupQueries };
      return { ...(bestVisit && { best: baselineBest(variant.variant, baseline, bestVisit.outcome.figures) }), headline };
    } finally {
      await alone.session.release();
    }
  }

  const contenders: Contender[] = [];
  try {
    contenders.push(await openContender(ctx, variant, baseline, baselinePoint));
    contenders.push(await openContender(ctx, variant, bestVisit.config, bestVisit.outcome.figures));
    const rounds = await runRounds(ctx, variant, contenders);
    const [base, best] = contenders as [Contender, Contender];
    const estimate = ratioOf(ctx, rounds, base, best);
    const verdict = estimate.interval ? (estimate.interval.high < 1 ? 'faster' : estimate.interval.low > 1 ? 'slower' : 'tied') : 'tied';
    const statistic = search.objective === 'throughput' ? 'time per sample' : 'p50';
    const record: ConfigBest = {
      variant: variant.variant,
      configId: bestVisit.config.id,
      baselineConfigId: baseline.id,
      ratioToBaseline: round4(estimate.ratio),
      ...(estimate.interval && { ratioCi: { low: round4(estimate.interval.low), high: round4(estimate.interval.high), level: estimate.interval.level } }),
      rounds: estimate.rounds,
      roundQueries: rounds.roundQueries,
      bestMedianMs: round3(median(rounds.latencies[1]?.flat() ?? [])),
      baselineMedianMs: round3(median(rounds.latencies[0]?.flat() ?? [])),
      verdict,
      note: estimate.interval
        ? `${statistic} ratio best / baseline over ${estimate.rounds} interleaved rounds of ${rounds.roundQueries} queries each`
        : `${statistic} ratio from a single round: no confidence interval, so no verdict beyond tied`,
    };
    return { best: record, ...(needHeadline && { headline: { latenciesMs: rounds.latencies[0]?.flat() ?? [], firstInferenceMs: rounds.firstInferenceMs, warmupQueries: rounds.warmupQueries } }) };
  } finally {
    for (const c of contenders) await c.session.release();
  }
}

function baselineBest(variant: string, baseline: RunConfig, figures: MeasuredPoint): ConfigBest {
  return {
    variant,
    configId: baseline.id,
    baselineConfigId: baseline.id,
    ratioToBaseline: 1,
    rounds: 0,
    roundQueries: 0,
    bestMedianMs: figures.p50Ms,
    baselineMedianMs: figures.p50Ms,
    verdict: 'baseline',
    note: "the best point is onnxruntime's defaults: nothing to confirm (medians are the search's p50)",
  };
}

/** Per contender, per round, the latencies; and the rounds' shape. */
interface RoundsRun {
  latencies: number[][][];
  /** Per contender, per round, the measured window in ms (sum of latencies for single-stream rounds). */
  roundMs: number[][];
  roundQueries: number;
  firstInferenceMs: number;
  warmupQueries: number;
}

/**
 * Interleaved rounds of the contenders (the first is the baseline, run last in each round).
 * Single-stream contenders run
 * through runInterleaved; when one keeps several queries in flight, each round is a closed loop
 * of that many (runOfflineLevel) and the rounds alternate the same way.
 */
async function runRounds(ctx: SearchContext, variant: ComparedModel, contenders: readonly Contender[]): Promise<RoundsRun> {
  const { search } = ctx;
  const slowestP50 = Math.max(...contenders.map((c) => c.p50Ms), 1e-3);
  const concurrent = contenders.some((c) => c.concurrency > 1);
  const slowestQps = Math.max(Math.min(...contenders.map((c) => c.queriesPerSecond)), 1e-3);
  const roundMs = search.pointDurationMs / 4;
  const roundQueries = concurrent
    ? Math.max(2 * Math.max(...contenders.map((c) => c.concurrency)), Math.round((roundMs / 1000) * slowestQps))
    : Math.max(1, Math.round(roundMs / slowestP50));
  const warmupQueries = Math.min(10_000, Math.max(1, Math.ceil(search.pointWarmupMs / slowestP50)));
  const label = contenders.length > 1 ? `${variant.variant} confirming ${configLabel(contenders[1]?.config ?? search.baseline)} vs defaults` : `${variant.variant} defaults (baseline rounds)`;

  // The baseline's first run is the job's first inference; timed alone, before any warm-up.
  const first = contenders[0];
  if (!first) throw new RangeError('a confirmation needs at least one configuration');
  const t0 = now();
  await first.session.run(first.target.feeds);
  const firstInferenceMs = Number(now() - t0) / 1e6;

  const meters = contenders.map((c) => new Meter<Feeds>(c.session));
  const started = now();
  ctx.emit('measure', 0, 0, label, 0);
  const stop = ticking(() =>
    ctx.emit(
      'measure',
      meters.reduce((n, m) => n + m.count, 0),
      Number(now() - started) / 1e6,
      label,
      meters.reduce((q, m) => q + m.rate(), 0),
    ),
  );
  // Each round runs the best first, then the baseline (best, baseline, best, ...); results stay
  // indexed as the contenders are (baseline first), the reference of the ratio.
  const runOrder = contenders.map((_, i) => i).reverse();
  try {
    if (!concurrent) {
      const compared: ComparedVariant<Feeds>[] = runOrder.map((i) => ({ name: contenders[i]?.config.id ?? '', sha256: variant.sha256, session: meters[i] as Meter<Feeds>, feeds: contenders[i]?.target.feeds ?? {} }));
      const run = await runInterleaved(compared, { rounds: search.confirmRounds, roundMinQueries: roundQueries, warmupQueries, order: 'interleaved' });
      const latencies = contenders.map((_, i) => (run.roundLatenciesMs[runOrder.indexOf(i)] ?? []).map((r) => r.map(round3)));
      return { latencies, roundMs: latencies.map((rounds) => rounds.map((r) => r.reduce((a, b) => a + b, 0))), roundQueries, firstInferenceMs, warmupQueries };
    }
    for (const i of runOrder) {
      const meter = meters[i] as Meter<Feeds>;
      const c = contenders[i] as Contender;
      for (let q = 0; q < warmupQueries; q++) await meter.run(c.target.feeds);
    }
    const latencies: number[][][] = contenders.map(() => []);
    const windows: number[][] = contenders.map(() => []);
    for (let r = 0; r < search.confirmRounds; r++) {
      for (const i of runOrder) {
        const c = contenders[i] as Contender;
        const level = await runOfflineLevel(meters[i] as Meter<Feeds>, c.target.feeds, { concurrency: c.concurrency, warmupQueries: c.concurrency, minQueries: roundQueries, minDurationMs: 0, maxDurationMs: ctx.maxWindowMs });
        latencies[i]?.push(Array.from(level.latenciesMs, round3));
        windows[i]?.push(level.durationMs);
      }
    }
    return { latencies, roundMs: windows, roundQueries, firstInferenceMs, warmupQueries };
  } finally {
    stop();
  }
}

/**
 * Best / baseline over paired rounds. Latency objective: per-round medians (buildComparison's
 * ratio for single-stream rounds); throughput: per-round time per sample (round window /
 * (queries x batch)), so a larger batch or more queries in flight count as the time they save.
 */
function ratioOf(ctx: SearchContext, rounds: RoundsRun, base: Contender, best: Contender): RatioEstimate {
  const bootstrap = { resamples: ctx.resamples, seed: ctx.confirmSeed };
  if (ctx.search.objective === 'p50_latency') {
    if (base.concurrency === 1 && best.concurrency === 1) {
      const comparison = buildComparison(
        [
          { name: 'baseline', sha256: '' },
          { name: 'best', sha256: '' },
        ],
        { roundLatenciesMs: rounds.latencies },
        { order: 'interleaved', roundMinQueries: rounds.roundQueries, ...bootstrap },
      );
      const entry = comparison.variants[1];
      return { ratio: entry?.ratioToReference ?? Number.NaN, ...(entry?.ratioCi && { interval: entry.ratioCi }), rounds: comparison.rounds };
    }
    const medians = rounds.latencies.map((perRound) => perRound.map((r) => median(r)));
    return pairedRatio(medians[0] ?? [], medians[1] ?? [], bootstrap);
  }
  const perSample = (i: number, c: Contender): number[] => (rounds.roundMs[i] ?? []).map((ms, r) => ms / (Math.max(1, rounds.latencies[i]?.[r]?.length ?? 0) * c.target.batch));
  return pairedRatio(perSample(0, base), perSample(1, best), bootstrap);
}
