import type { ConfigAxis, ConfigSkip, EvaluationRequest, RunConfig, ScenarioOptions, SuiteSettings, TensorSpec } from '@benchfarm/protocol';
import { Scenario } from '@benchfarm/protocol';
import { z } from 'zod';
import { CONFIG_AXES, ConfigSpaceError, checkDimensions, configId, expandSpace, type DimensionsRequest } from './config-space';
import type { SearchObjective, SearchStrategy } from './config-search.strategy';
import { InvalidSuiteJobError } from './errors';

/** onnxruntime's graph optimisation levels, as `SessionOptions.graphOptimizationLevel` names them. */
export type GraphOptimizationLevel = 'disabled' | 'basic' | 'extended' | 'all';

/** What one suite process runs: a model file already on disk, how to open it, and how long to measure. */
export interface SuiteJob {
  /** Absolute path of the model file (the agent's cache). */
  modelPath: string;
  /** Every model input with fixed dimensions; data is generated from `suite.seed`. */
  inputs: TensorSpec[];
  /** onnxruntime execution provider name, e.g. "cpu". */
  executionProvider: string;
  /** 0 leaves onnxruntime's default. */
  intraOpThreads: number;
  /** 0 leaves onnxruntime's default. */
  interOpThreads: number;
  /** Default "all", onnxruntime's own default. */
  graphOptimizationLevel?: GraphOptimizationLevel;
  suite: SuiteSettings;
  /** Facts the suite process cannot know but the result's manifest must carry. */
  manifest: { variantSha256: string; agentVersion: string; batch: number; modelSha256?: string };
  /**
   * An interleaved comparison: every variant to run in rounds, the reference (this job's own
   * model, `modelPath`) first. The scenario is then single-stream in rounds.
   */
  comparison?: ComparedModel[];
  /**
   * The accuracy phase, on a comparison job only: after the latency rounds, every
   * variant runs on these images. A comparison with an evaluation may hold a single variant.
   */
  evaluation?: SuiteEvaluation;
  /**
   * A search of run configurations: per variant, the points of the space are measured, the
   * best is confirmed against the baseline in interleaved rounds. The job's own model and
   * settings are the first variant's under the baseline.
   */
  configSearch?: SuiteConfigSearch;
}

/** A configuration search as the suite process runs it: ConfigSearchJob with the models on disk. */
export interface SuiteConfigSearch {
  strategy: SearchStrategy;
  /** The space on this device, narrowed by the coordinator ('auto' already expanded). */
  axes: ConfigAxis[];
  /** Values and points the coordinator left out; a point's entry (empty axis) is never measured. */
  skipped: ConfigSkip[];
  /** onnxruntime's defaults, as config-space baselineConfig() gives them. */
  baseline: RunConfig;
  /** No new point starts after this much time (confirmation still runs). */
  budgetMs: number;
  pointWarmupMs: number;
  pointDurationMs: number;
  pointMinQueries: number;
  confirmRounds: number;
  objective: SearchObjective;
  /** 0 = no bound. */
  latencyBoundMs: number;
  /** Every variant, searched in this order; the first is the job's own model. */
  variants: ComparedModel[];
}

/** What the coordinator leaves unset (proto3 sends unset as 0 or empty) gets these. */
export const CONFIG_SEARCH_DEFAULTS = {
  strategy: 'grid',
  budgetMs: 30 * 60_000,
  pointWarmupMs: 500,
  pointDurationMs: 2000,
  pointMinQueries: 10,
  confirmRounds: 10,
} as const;

/** The evaluation request and where the agent cached its files. */
export interface SuiteEvaluation {
  request: EvaluationRequest;
  /** Local image files, in `request.images` order. */
  imagePaths: string[];
  /** Local COCO JSON, when the request has labels. */
  labelsPath?: string;
}

/** One variant of a comparison job, already in the agent's cache. */
export interface ComparedModel {
  variant: string;
  sha256: string;
  modelPath: string;
}

/** Every scenario option with its default applied. */
export type ResolvedScenarioOptions = Required<Omit<ScenarioOptions, 'targetQps' | 'latencyBoundMs'>> & Partial<Pick<ScenarioOptions, 'targetQps' | 'latencyBoundMs'>>;

/** Defaults of the scenario options the coordinator leaves unset (proto3 sends unset as 0/empty). */
export const SCENARIO_DEFAULTS = {
  concurrency: [1],
  searchSteps: 6,
  interleaveRounds: 10,
  roundMinQueries: 20,
  profileQueries: 20,
  profileTop: 10,
  stabilityTolerancePct: 10,
  stabilityWindows: 10,
  bootstrapResamples: 1000,
} as const;

/** A job's scenario options with the defaults for every unset (0 or empty) one. */
export function resolveScenarioOptions(job: SuiteJob): ResolvedScenarioOptions {
  const given: Partial<ScenarioOptions> = job.suite.scenarioOptions ?? {};
  const orDefault = (value: number | undefined, fallback: number): number => (value !== undefined && value > 0 ? value : fallback);
  return {
    batchSizes: given.batchSizes && given.batchSizes.length > 0 ? [...given.batchSizes] : [job.manifest.batch || 1],
    concurrency: given.concurrency && given.concurrency.length > 0 ? [...given.concurrency] : [...SCENARIO_DEFAULTS.concurrency],
    ...(given.targetQps !== undefined && given.targetQps > 0 && { targetQps: given.targetQps }),
    ...(given.latencyBoundMs !== undefined && given.latencyBoundMs > 0 && { latencyBoundMs: given.latencyBoundMs }),
    searchPeakQps: given.searchPeakQps ?? false,
    searchSteps: orDefault(given.searchSteps, SCENARIO_DEFAULTS.searchSteps),
    interleaveRounds: orDefault(given.interleaveRounds, SCENARIO_DEFAULTS.interleaveRounds),
    roundMinQueries: orDefault(given.roundMinQueries, SCENARIO_DEFAULTS.roundMinQueries),
    profile: given.profile ?? false,
    profileQueries: orDefault(given.profileQueries, SCENARIO_DEFAULTS.profileQueries),
    profileTop: orDefault(given.profileTop, SCENARIO_DEFAULTS.profileTop),
    stabilityTolerancePct: orDefault(given.stabilityTolerancePct, SCENARIO_DEFAULTS.stabilityTolerancePct),
    stabilityWindows: orDefault(given.stabilityWindows, SCENARIO_DEFAULTS.stabilityWindows),
    bootstrapResamples: orDefault(given.bootstrapResamples, SCENARIO_DEFAULTS.bootstrapResamples),
  };
}

const count = z.number().int().nonnegative();

const runConfigSchema = z.object({
  id: z.string().regex(/^c[0-9a-f]{10}$/, 'must be "c" and 10 hex digits (config-space configId)'),
  executionProvider: z.string().min(1),
  providerOptions: z.record(z.string(), z.string()),
  intraOpThreads: count,
  interOpThreads: count,
  executionMode: z.enum(['sequential', 'parallel']),
  graphOptimizationLevel: z.enum(['disabled', 'basic', 'extended', 'all']),
  batchSize: count,
  concurrency: count,
});

const configSearchSchema = z.object({
  strategy: z.enum(['grid', 'quick']),
  axes: z.array(z.object({ name: z.enum(CONFIG_AXES), values: z.array(z.string().min(1)).min(1) })),
  skipped: z.array(z.object({ axis: z.string(), value: z.string(), reason: z.string(), label: z.string() })),
  baseline: runConfigSchema,
  budgetMs: z.number().int().min(1),
  pointWarmupMs: count,
  pointDurationMs: z.number().int().min(1),
  pointMinQueries: z.number().int().min(1),
  confirmRounds: z.number().int().min(1),
  objective: z.enum(['p50_latency', 'throughput']),
  latencyBoundMs: z.number().nonnegative(),
  variants: z.array(z.object({ variant: z.string().min(1), sha256: z.string(), modelPath: z.string().min(1) })).min(1),
});

const suiteJobSchema = z.object({
  modelPath: z.string().min(1),
  inputs: z.array(
    z.object({
      name: z.string().min(1),
      dataType: z.number().int(),
      shape: z.array(z.number()),
    }),
  ),
  executionProvider: z.string().min(1),
  intraOpThreads: count,
  interOpThreads: count,
  graphOptimizationLevel: z.enum(['disabled', 'basic', 'extended', 'all']).optional(),
  suite: z.object({
    scenario: z.number().int(),
    warmupMinQueries: count,
    warmupMinDurationMs: count,
    minQueries: count,
    minDurationMs: count,
    maxDurationMs: count,
    seed: count,
    scenarioOptions: z
      .object({
        batchSizes: z.array(z.number().int().positive()),
        concurrency: z.array(z.number().int().positive()),
        targetQps: z.number().nonnegative(),
        latencyBoundMs: z.number().nonnegative(),
        searchPeakQps: z.boolean(),
        searchSteps: count,
        interleaveRounds: count,
        roundMinQueries: count,
        profile: z.boolean(),
        profileQueries: count,
        profileTop: count,
        stabilityTolerancePct: z.number().nonnegative(),
        stabilityWindows: count,
        bootstrapResamples: count,
      })
      .partial()
      .optional(),
  }),
  manifest: z.object({
    variantSha256: z.string(),
    agentVersion: z.string(),
    batch: count,
    modelSha256: z.string().optional(),
  }),
  comparison: z.array(z.object({ variant: z.string().min(1), sha256: z.string(), modelPath: z.string().min(1) })).optional(),
  evaluation: z
    .object({
      request: z
        .object({
          datasetId: z.string(),
          datasetName: z.string(),
          images: z.array(z.object({ name: z.string().min(1), sha256: z.string(), sizeBytes: z.number() }).passthrough()).min(1),
          datasetImages: count,
          split: z.string(),
          preprocessJson: z.string().min(1),
          task: z.enum(['detection', 'classification', 'fidelity']),
          detectionLayout: z.string(),
          labelsSha256: z.string(),
          labelsSizeBytes: count,
          bootstrapResamples: count,
          seed: count,
        })
        .passthrough(),
      imagePaths: z.array(z.string().min(1)).min(1),
      labelsPath: z.string().min(1).optional(),
    })
    .optional(),
  configSearch: configSearchSchema.optional(),
});

/**
 * Checks a job at a process boundary (the agent before forking, the suite process on
 * receipt) and reports every problem at once. Beyond the shapes, it rejects settings that
 * cannot describe a run: a zero max duration, a max below the min, an unknown scenario, a
 * server run without a rate or a bound. SCENARIO_UNSPECIFIED is accepted as single-stream
 * because proto3 sends an unset enum as 0.
 *
 * Thrown errors: InvalidSuiteJobError listing every problem.
 */
export function parseSuiteJob(value: unknown): SuiteJob {
  const parsed = suiteJobSchema.safeParse(value);
  if (!parsed.success) {
    throw new InvalidSuiteJobError(parsed.error.issues.map((issue) => `${issue.path.join('.') || '(job)'}: ${issue.message}`));
  }
  const job = parsed.data;
  const problems: string[] = [];
  const { scenario, minDurationMs, maxDurationMs } = job.suite;
  const known = [Scenario.SCENARIO_UNSPECIFIED, Scenario.SCENARIO_SINGLE_STREAM, Scenario.SCENARIO_OFFLINE, Scenario.SCENARIO_SERVER, Scenario.SCENARIO_COLD_START];
  if (!known.includes(scenario)) problems.push(`suite.scenario: ${scenario} is not a scenario this suite runs`);
  const options = job.suite.scenarioOptions ?? {};
  if (scenario === Scenario.SCENARIO_SERVER) {
    if (!(options.targetQps !== undefined && options.targetQps > 0)) problems.push('suite.scenarioOptions.targetQps: a server run needs a rate > 0');
    if (!(options.latencyBoundMs !== undefined && options.latencyBoundMs > 0)) problems.push('suite.scenarioOptions.latencyBoundMs: a server run needs a bound > 0');
  }
  if (job.comparison !== undefined) {
    // One variant is enough when the job is there for its accuracy on real images (labels metrics only).
    const least = job.evaluation ? 1 : 2;
    if (job.comparison.length < least) problems.push(`comparison: ${job.comparison.length} variant(s); a comparison needs at least ${least}${job.evaluation ? '' : ' (1 with an evaluation)'}`);
    else if (job.comparison[0]?.modelPath !== job.modelPath) problems.push('comparison[0].modelPath: the reference must be the job\'s own model');
  }
  const evaluation = job.evaluation;
  if (evaluation) {
    if (job.comparison === undefined) problems.push('evaluation: only a comparison job runs an evaluation');
    if (evaluation.imagePaths.length !== evaluation.request.images.length) problems.push(`evaluation.imagePaths: ${evaluation.imagePaths.length} paths for ${evaluation.request.images.length} images`);
    const task = evaluation.request.task;
    if (task === 'detection' && !['yolox', 'yolov5', 'yolov8'].includes(evaluation.request.detectionLayout)) problems.push(`evaluation.request.detectionLayout: ${JSON.stringify(evaluation.request.detectionLayout)} is not yolox, yolov5 or yolov8`);
    if (evaluation.request.labelsSha256 && !evaluation.labelsPath) problems.push('evaluation.labelsPath: the request has labels but no local labels file was given');
  }
  if (job.configSearch) problems.push(...configSearchProblems(job as SuiteJob & { configSearch: SuiteConfigSearch }));
  if (maxDurationMs < 1) problems.push('suite.maxDurationMs: must be >= 1 (a run needs a deadline)');
  if (maxDurationMs < minDurationMs) problems.push(`suite.maxDurationMs: ${maxDurationMs} is below suite.minDurationMs ${minDurationMs}`);
  if (problems.length > 0) throw new InvalidSuiteJobError(problems);
  return job as SuiteJob;
}

/** What a configuration search job cannot run, each naming its field. */
function configSearchProblems(job: SuiteJob & { configSearch: SuiteConfigSearch }): string[] {
  const search = job.configSearch;
  const problems: string[] = [];
  const scenario = job.suite.scenario;
  const offline = scenario === Scenario.SCENARIO_OFFLINE;
  if (job.comparison !== undefined || job.evaluation !== undefined) problems.push('configSearch: a configuration search job carries its variants itself; it takes no comparison or evaluation');
  if (!offline && scenario !== Scenario.SCENARIO_SINGLE_STREAM && scenario !== Scenario.SCENARIO_UNSPECIFIED) {
    problems.push(`configSearch: a search measures single-stream or offline windows; scenario ${scenario} is not searched`);
  }
  if (search.variants[0] && search.variants[0].modelPath !== job.modelPath) problems.push("configSearch.variants[0].modelPath: the first variant must be the job's own model");
  const request: DimensionsRequest = {};
  for (const [i, axis] of search.axes.entries()) {
    const name = axis.name as keyof DimensionsRequest;
    if (name in request) problems.push(`configSearch.axes[${i}]: axis ${axis.name} given twice`);
    if (axis.values.includes('auto')) problems.push(`configSearch.axes[${i}] (${axis.name}): 'auto' must be narrowed to this device's cores before the job is sent`);
    request[name] = axis.values;
  }
  try {
    checkDimensions(request, offline ? 'offline' : 'single_stream');
    expandSpace(search.axes);
  } catch (err) {
    if (!(err instanceof ConfigSpaceError)) throw err;
    problems.push(`configSearch.axes (${err.field.replace(/^dimensions\.?/, '') || 'space'}): ${err.message}`);
  }
  const { id, ...settings } = search.baseline;
  if (configId(settings) !== id) problems.push(`configSearch.baseline.id: ${id} is not the id of its settings (${configId(settings)})`);
  return problems;
}
