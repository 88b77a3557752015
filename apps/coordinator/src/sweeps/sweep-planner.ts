import type { AgentRecord, BenchJob, EvaluationRequest, TensorSpec } from '@benchfarm/protocol';
import { externalRuntimeOf } from './runtime-request';
import { scenarioEnum, scenarioOptionsOf } from './scenario-request';
import type { NewSweep, SweepDatasetsSummary, SweepSettings, VariantRecord } from '../storage/records';
import type { SweepRequest } from './sweep-request';

/** The execution provider every job uses in this version. */
export const DEFAULT_EXECUTION_PROVIDER = 'cpu';

/** Everything a sweep plan is made from. */
export interface SweepPlanInput {
  sweepId: string;
  name: string;
  nowMs: number;
  model: { name: string; sha256: string; sizeBytes: number };
  inputs: TensorSpec[];
  request: SweepRequest;
  agents: readonly AgentRecord[];
  variants: readonly VariantRecord[];
  newJobId: () => string;
  /** The evaluation every device's all-variants job runs (issue 12); absent without an evaluation dataset. */
  evaluation?: EvaluationRequest;
  /** The datasets as the sweep's settings record them. */
  datasets?: SweepDatasetsSummary;
}

/** A sweep to store and the jobs to publish for it. */
export interface SweepPlan {
  sweep: NewSweep;
  jobs: BenchJob[];
}

/** The measurement settings of a request. */
export function settingsOf(request: SweepRequest, inputs: readonly TensorSpec[]): SweepSettings {
  return {
    scenario: request.scenario,
    scenarioOptions: scenarioOptionsOf(request),
    compare: request.compare,
    executionProvider: DEFAULT_EXECUTION_PROVIDER,
    intraOpThreads: request.threads,
    interOpThreads: 0,
    batch: inputs[0]?.shape[0] ?? 1,
    warmupMinQueries: request.warmupMinQueries,
    warmupMinDurationMs: request.warmupMinDurationMs,
    minQueries: request.minQueries,
    minDurationMs: request.minDurationMs,
    maxDurationMs: request.maxDurationMs,
    seed: request.seed,
    ...(request.runtime ? { externalRuntime: { ...request.runtime } } : {}),
  };
}

/**
 * Crosses variants x agents into jobs (variant-major, so each agent gets the variants in the
 * order asked for) and builds the `BenchJob` of each.
 */
export function planSweep(input: SweepPlanInput): SweepPlan {
  const settings = settingsOf(input.request, input.inputs);
  if (input.datasets) settings.datasets = input.datasets;
  const jobs: BenchJob[] = [];
  const newJobs: NewSweep['jobs'] = [];
  for (const variant of input.variants) {
    for (const agent of input.agents) {
      const jobId = input.newJobId();
      newJobs.push({ id: jobId, variant: variant.name, agentId: agent.agentId, agentName: agent.name || agent.agentId });
      jobs.push({
        jobId,
        sweepId: input.sweepId,
        agentId: agent.agentId,
        variant: { modelName: input.model.name, variant: variant.name, sha256: variant.sha256, sizeBytes: variant.sizeBytes, recipe: { ...variant.recipe } },
        inputs: input.inputs.map((i) => ({ name: i.name, dataType: i.dataType, shape: [...i.shape] })),
        executionProvider: settings.executionProvider,
        intraOpThreads: settings.intraOpThreads,
        interOpThreads: settings.interOpThreads,
        batch: settings.batch,
        suite: {
          scenario: scenarioEnum(input.request.scenario),
          scenarioOptions: scenarioOptionsOf(input.request),
          warmupMinQueries: settings.warmupMinQueries,
          warmupMinDurationMs: settings.warmupMinDurationMs,
          minQueries: settings.minQueries,
          minDurationMs: settings.minDurationMs,
          maxDurationMs: settings.maxDurationMs,
          seed: settings.seed,
        },
        createdAtUnixMs: input.nowMs,
        ...(input.request.runtime ? { externalRuntime: externalRuntimeOf(input.request.runtime, settings.minDurationMs, settings.maxDurationMs) } : {}),
      });
    }
  }
  const comparisons = planComparisons(input, settings, jobs, newJobs);
  if (comparisons.length > 0) settings.comparisonJobs = comparisons;
  return {
    sweep: {
      id: input.sweepId,
      name: input.name,
      createdAtMs: input.nowMs,
      model: input.model,
      inputs: input.inputs,
      settings,
      targets: [...input.request.targets],
      agentIds: input.agents.map((a) => a.agentId),
      variants: [...input.variants],
      jobs: newJobs,
    },
    jobs,
  };
}

/**
 * Whether a sweep gets interleaved comparison jobs (one per agent): `compare` left at
 * interleaved, two or more variants or an evaluation, and no external runtime (with one every
 * job runs the tool; an interleaved onnxruntime-node job would measure something else). Pure.
 */
export function plansComparisons(request: Pick<SweepRequest, 'compare' | 'runtime'>, variants: number, evaluation: boolean): boolean {
  return request.compare === 'interleaved' && (variants >= 2 || evaluation) && variants >= 1 && request.runtime === undefined;
}

/**
 * The number of jobs {@link planSweep} makes: one per variant x agent, plus one comparison job
 * per agent when {@link plansComparisons}; known before any variant is derived. Pure.
 */
export function plannedJobCount(request: Pick<SweepRequest, 'compare' | 'runtime'>, variants: number, agents: number, evaluation: boolean): number {
  return variants * agents + (plansComparisons(request, variants, evaluation) ? agents : 0);
}

/**
 * Interleaved comparison jobs (issue 4): with two or more variants and `compare` left at
 * "interleaved", each agent also gets ONE job that carries every variant, the first as the
 * reference, and runs them in rounds (A B C A B C ...) single-stream in one suite process, so
 * drift on the device hits every variant alike and the result gives each variant's ratio to
 * the reference with a CI. The per-variant jobs stay: they measure the requested scenario,
 * cold start and peak memory in a fresh process per variant, which a shared process cannot.
 * With an evaluation dataset (issue 12) every device gets this job even for one variant: it
 * carries the EvaluationRequest, run after the interleaved rounds with the same sessions.
 * Appends to `jobs` / `newJobs` and returns what the sweep's settings record.
 */
function planComparisons(input: SweepPlanInput, settings: SweepSettings, jobs: BenchJob[], newJobs: NewSweep['jobs']): NonNullable<SweepSettings['comparisonJobs']> {
  const reference = input.variants[0];
  if (!plansComparisons(input.request, input.variants.length, input.evaluation !== undefined) || !reference) return [];
  const evaluation = input.evaluation;
  const refs = input.variants.map((v) => ({ modelName: input.model.name, variant: v.name, sha256: v.sha256, sizeBytes: v.sizeBytes, recipe: { ...v.recipe } }));
  return input.agents.map((agent) => {
    const jobId = input.newJobId();
    newJobs.push({ id: jobId, variant: reference.name, agentId: agent.agentId, agentName: agent.name || agent.agentId });
    jobs.push({
      jobId,
      sweepId: input.sweepId,
      agentId: agent.agentId,
      variant: refs[0] ?? { modelName: input.model.name, variant: reference.name, sha256: reference.sha256, sizeBytes: reference.sizeBytes, recipe: {} },
      inputs: input.inputs.map((i) => ({ name: i.name, dataType: i.dataType, shape: [...i.shape] })),
      executionProvider: settings.executionProvider,
      intraOpThreads: settings.intraOpThreads,
      interOpThreads: settings.interOpThreads,
      batch: settings.batch,
      suite: {
        scenario: scenarioEnum('single_stream'),
        scenarioOptions: { ...scenarioOptionsOf(input.request), batchSizes: [], concurrency: [], targetQps: 0, latencyBoundMs: 0, searchPeakQps: false },
        warmupMinQueries: settings.warmupMinQueries,
        warmupMinDurationMs: settings.warmupMinDurationMs,
        minQueries: settings.minQueries,
        minDurationMs: settings.minDurationMs,
        maxDurationMs: settings.maxDurationMs,
        seed: settings.seed,
      },
      createdAtUnixMs: input.nowMs,
      comparison: { variants: refs.map((r) => ({ ...r, recipe: { ...r.recipe } })) },
      ...(evaluation ? { evaluation: { ...evaluation, images: evaluation.images.map((im) => ({ ...im })) } } : {}),
    });
    return { jobId, agentId: agent.agentId, variants: input.variants.map((v) => v.name) };
  });
}

/**
 * A model name fit for a label and a recipe: the file's base name without `.onnx`, with
 * anything but letters, digits, `.`, `_` and `-` replaced by `_`. It never names a file.
 */
export function modelNameOf(fileName: string): string {
  const base = fileName.split(/[\\/]/).pop() ?? '';
  const name = base.replace(/\.onnx$/i, '').replace(/[^A-Za-z0-9._-]/g, '_').replace(/^[._]+/, '').slice(0, 100);
  return name === '' ? 'model' : name;
}
