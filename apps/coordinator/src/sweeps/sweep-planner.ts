import type { AgentRecord, BenchJob, ConfigSkip, EvaluationRequest, SuiteSettings, TensorSpec, VariantRef } from '@benchfarm/protocol';
import { ConfigSpaceError, baselineConfig, estimateSearch, expandSpace, narrowForDevice } from '@benchfarm/suite';
import { DomainError, DomainErrorCode } from '../common/domain-error';
import type { ConfigSearchRequest } from './config-search-request';
import { externalRuntimeOf } from './runtime-request';
import { scenarioEnum, scenarioOptionsOf } from './scenario-request';
import type { ConfigSearchDevicePlan, ConfigSearchSettings, NewSweep, SweepDatasetsSummary, SweepSettings, VariantRecord } from '../storage/records';
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
  /** The evaluation every device's all-variants job runs; absent without an evaluation dataset. */
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

/** The suite settings every job of a sweep carries; the comparison job runs its own scenario. */
function suiteOf(input: SweepPlanInput, settings: SweepSettings, scenario = scenarioEnum(input.request.scenario), scenarioOptions = scenarioOptionsOf(input.request)): SuiteSettings {
  return {
    scenario,
    scenarioOptions,
    warmupMinQueries: settings.warmupMinQueries,
    warmupMinDurationMs: settings.warmupMinDurationMs,
    minQueries: settings.minQueries,
    minDurationMs: settings.minDurationMs,
    maxDurationMs: settings.maxDurationMs,
    seed: settings.seed,
  };
}

/** A fresh copy of the sweep's input specs for one job. */
function inputsOf(input: SweepPlanInput): TensorSpec[] {
  return input.inputs.map((i) => ({ name: i.name, dataType: i.dataType, shape: [...i.shape] }));
}

/** A fresh reference to one of the sweep's variants, as a job carries it. */
function variantRefOf(input: SweepPlanInput, variant: VariantRecord): VariantRef {
  return { modelName: input.model.name, variant: variant.name, sha256: variant.sha256, sizeBytes: variant.sizeBytes, recipe: { ...variant.recipe } };
}

/** One job of a sweep as the planner builds it: who runs it, what, with which session and suite settings, and what its kind adds. */
interface PlannedJob {
  agent: { agentId: string; agentName: string };
  variant: VariantRecord;
  session: Pick<BenchJob, 'executionProvider' | 'intraOpThreads' | 'interOpThreads' | 'batch'>;
  suite: SuiteSettings;
  extra?: Partial<Pick<BenchJob, 'comparison' | 'externalRuntime' | 'evaluation' | 'configSearch'>>;
}

/** Appends one job to the rows to store (`newJobs`) and the messages to publish (`jobs`); returns its id. */
function addJob(input: SweepPlanInput, jobs: BenchJob[], newJobs: NewSweep['jobs'], job: PlannedJob): string {
  const jobId = input.newJobId();
  const { agentId, agentName } = job.agent;
  newJobs.push({ id: jobId, variant: job.variant.name, agentId, agentName });
  jobs.push({
    jobId,
    sweepId: input.sweepId,
    agentId,
    variant: variantRefOf(input, job.variant),
    inputs: inputsOf(input),
    executionProvider: job.session.executionProvider,
    intraOpThreads: job.session.intraOpThreads,
    interOpThreads: job.session.interOpThreads,
    batch: job.session.batch,
    suite: job.suite,
    createdAtUnixMs: input.nowMs,
    ...job.extra,
  });
  return jobId;
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
      addJob(input, jobs, newJobs, {
        agent: { agentId: agent.agentId, agentName: agent.name || agent.agentId },
        variant,
        session: settings,
        suite: suiteOf(input, settings),
        ...(input.request.runtime ? { extra: { externalRuntime: externalRuntimeOf(input.request.runtime, settings.minDurationMs, settings.maxDurationMs) } } : {}),
      });
    }
  }
  const comparisons = planComparisons(input, settings, jobs, newJobs);
  if (comparisons.length > 0) settings.comparisonJobs = comparisons;
  const search = planSearchJobs(input, settings, jobs, newJobs);
  if (search) settings.configSearch = search;
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
 * per agent when {@link plansComparisons}, plus one configuration-search job per device that
 * has a point to measure (`searchJobs`: the devices of {@link planConfigSearch} with a job);
 * known before any variant is derived. Pure.
 */
export function plannedJobCount(request: Pick<SweepRequest, 'compare' | 'runtime'>, variants: number, agents: number, evaluation: boolean, searchJobs = 0): number {
  return variants * agents + (plansComparisons(request, variants, evaluation) ? agents : 0) + searchJobs;
}

/** The objective of a search: samples per second in the offline scenario, else p50 latency. */
export function searchObjective(scenario: SweepRequest['scenario']): ConfigSearchSettings['objective'] {
  return scenario === 'offline' ? 'throughput' : 'p50_latency';
}

/** One device's share of a search before any job id exists: {@link ConfigSearchDevicePlan} with `hasJob`. */
export type DeviceSearchPlan = Omit<ConfigSearchDevicePlan, 'jobId'> & { hasJob: boolean };

/**
 * Plans a configuration search on each device: the requested axes narrowed to what the agent
 * reported (providers it can create, logical and physical cores), expanded to points, and the
 * time the search is estimated to take there with `variants` variants (a quick search: its
 * worst case). A device where no point remains gets no job and says why. Pure.
 *
 * Thrown errors: {@link DomainError} `invalid_argument` naming `dimensions` when a device's
 * space exceeds the most points one search may hold.
 */
export function planConfigSearch(search: ConfigSearchRequest, agents: readonly AgentRecord[], variants: number): DeviceSearchPlan[] {
  return agents.map((agent): DeviceSearchPlan => {
    const agentName = agent.name || agent.agentId;
    const caps = agent.capabilities;
    if (!caps) {
      const skipped = search.axes.map((a): ConfigSkip => ({ axis: a.name, value: a.values.join(','), reason: 'the agent reported no capabilities (cores, execution providers) to check the values against', label: '' }));
      return { agentId: agent.agentId, agentName, axes: [], skipped, notes: ['no search on this device: it reported no capabilities'], points: 0, measurements: 0, estimatedMs: 0, hasJob: false };
    }
    const narrowed = narrowForDevice(search.axes, {
      executionProviders: caps.executionProviders,
      logicalCores: caps.cpuCores,
      ...(caps.cpuPhysicalCores ? { physicalCores: caps.cpuPhysicalCores } : {}),
    });
    let points: number;
    let estimate: ReturnType<typeof estimateSearch>;
    let combos: ConfigSkip[];
    try {
      const space = expandSpace(narrowed.axes);
      points = space.points.length;
      combos = space.skipped;
      estimate = estimateSearch({ strategy: search.strategy, axes: narrowed.axes, variants, pointWarmupMs: search.pointWarmupMs, pointDurationMs: search.pointDurationMs, confirmRounds: search.confirmRounds });
    } catch (err) {
      if (!(err instanceof ConfigSpaceError)) throw err;
      throw new DomainError(DomainErrorCode.InvalidArgument, `${err.field}: on ${agentName}: ${err.message}`, { field: err.field, cause: err });
    }
    const skipped = [...narrowed.skipped, ...combos];
    const notes = [...narrowed.notes];
    if (points === 0) {
      const empty = narrowed.axes.filter((a) => a.values.length === 0).map((a) => a.name);
      notes.push(
        empty.length > 0
          ? `no search on this device: no value of ${empty.join(', ')} can run here (see skipped)`
          : 'no search on this device: every combination of the values is skipped (see skipped)',
      );
      return { agentId: agent.agentId, agentName, axes: narrowed.axes, skipped, notes, points: 0, measurements: 0, estimatedMs: 0, hasJob: false };
    }
    const budgetMs = search.budgetMinutes * 60_000;
    if (search.strategy === 'quick' && estimate.estimatedMs > budgetMs) {
      notes.push(`quick search: its worst case (${estimate.measurements} measurements, ${minutes(estimate.estimatedMs)}) exceeds the budget of ${minutes(budgetMs)}; no point starts once the budget is spent`);
    }
    return { agentId: agent.agentId, agentName, axes: narrowed.axes, skipped, notes, points, measurements: estimate.measurements, estimatedMs: estimate.estimatedMs, hasJob: true };
  });
}

/** Minutes in words for messages: `1.3 min`. */
export function minutes(ms: number): string {
  const m = ms / 60_000;
  return `${m >= 10 ? m.toFixed(0) : m >= 1 ? m.toFixed(1) : m.toFixed(2)} min`;
}

/**
 * The configuration-search jobs (one per device with a point to measure): each carries every
 * variant, the axes narrowed to its device, onnxruntime's defaults as the baseline and the
 * budget; the agent measures the points and confirms each variant's best against the baseline
 * in interleaved rounds. Appends to `jobs` / `newJobs` and returns what the sweep's settings
 * record, or undefined without dimensions.
 */
function planSearchJobs(input: SweepPlanInput, settings: SweepSettings, jobs: BenchJob[], newJobs: NewSweep['jobs']): ConfigSearchSettings | undefined {
  const search = input.request.configSearch;
  const reference = input.variants[0];
  if (!search || !reference) return undefined;
  const objective = searchObjective(input.request.scenario);
  const budgetMs = Math.round(search.budgetMinutes * 60_000);
  const baseline = baselineConfig();
  const devices = planConfigSearch(search, input.agents, input.variants.length).map(({ hasJob, ...device }): ConfigSearchDevicePlan => {
    if (!hasJob) return device;
    const jobId = addJob(input, jobs, newJobs, {
      agent: { agentId: device.agentId, agentName: device.agentName },
      variant: reference,
      // The session settings of each point come from its configuration; these are the baseline's.
      session: { executionProvider: baseline.executionProvider, intraOpThreads: baseline.intraOpThreads, interOpThreads: baseline.interOpThreads, batch: settings.batch },
      suite: suiteOf(input, settings),
      extra: {
        configSearch: {
          strategy: search.strategy,
          axes: device.axes.map((a) => ({ name: a.name, values: [...a.values] })),
          skipped: device.skipped.map((k) => ({ ...k })),
          baseline: { ...baseline, providerOptions: { ...baseline.providerOptions } },
          budgetMs,
          pointWarmupMs: search.pointWarmupMs,
          pointDurationMs: search.pointDurationMs,
          pointMinQueries: search.pointMinQueries,
          confirmRounds: search.confirmRounds,
          objective,
          latencyBoundMs: input.request.latencyBoundMs ?? 0,
          variants: input.variants.map((v) => variantRefOf(input, v)),
        },
      },
    });
    return { ...device, jobId };
  });
  return {
    axes: search.axes.map((a) => ({ name: a.name, values: [...a.values] })),
    strategy: search.strategy,
    objective,
    budgetMinutes: search.budgetMinutes,
    budgetMs,
    pointWarmupMs: search.pointWarmupMs,
    pointDurationMs: search.pointDurationMs,
    pointMinQueries: search.pointMinQueries,
    confirmRounds: search.confirmRounds,
    ...(input.request.latencyBoundMs === undefined ? {} : { latencyBoundMs: input.request.latencyBoundMs }),
    devices,
  };
}

/**
 * Interleaved comparison jobs: with two or more variants and `compare` left at
 * "interleaved", each agent also gets ONE job that carries every variant, the first as the
 * reference, and runs them in rounds (A B C A B C ...) single-stream in one suite process, so
 * drift on the device hits every variant alike and the result gives each variant's ratio to
 * the reference with a CI. The per-variant jobs stay: they measure the requested scenario,
 * cold start and peak memory in a fresh process per variant, which a shared process cannot.
 * With an evaluation dataset every device gets this job even for one variant: it
 * carries the EvaluationRequest, run after the interleaved rounds with the same sessions.
 * Appends to `jobs` / `newJobs` and returns what the sweep's settings record.
 */
function planComparisons(input: SweepPlanInput, settings: SweepSettings, jobs: BenchJob[], newJobs: NewSweep['jobs']): NonNullable<SweepSettings['comparisonJobs']> {
  const reference = input.variants[0];
  if (!plansComparisons(input.request, input.variants.length, input.evaluation !== undefined) || !reference) return [];
  const evaluation = input.evaluation;
  return input.agents.map((agent) => {
    const jobId = addJob(input, jobs, newJobs, {
      agent: { agentId: agent.agentId, agentName: agent.name || agent.agentId },
      variant: reference,
      session: settings,
      suite: suiteOf(input, settings, scenarioEnum('single_stream'), { ...scenarioOptionsOf(input.request), batchSizes: [], concurrency: [], targetQps: 0, latencyBoundMs: 0, searchPeakQps: false }),
      extra: {
        comparison: { variants: input.variants.map((v) => variantRefOf(input, v)) },
        ...(evaluation ? { evaluation: { ...evaluation, images: evaluation.images.map((im) => ({ ...im })) } } : {}),
      },
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
