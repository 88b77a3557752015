// How a configuration search walks its space (grid: every point; quick: coordinate descent after
// Triton Model Analyzer's quick search) and how two measured points are compared under the
// search's objective. Pure: the measuring is a callback, so the same code runs on recorded
// figures in tests and on onnxruntime sessions in the suite process. Loads nothing native.
import type { ConfigAxis, RunConfig } from '@benchfarm/protocol';
import { CONFIG_AXES, MAX_QUICK_PASSES, expandSpace, providerSpecText, settingsOf, withId, type ConfigAxisName } from './config-space';

/** Every point, or coordinate descent. */
export type SearchStrategy = 'grid' | 'quick';
/** Lowest p50 latency, or highest samples per second among points within the latency bound. */
export type SearchObjective = 'p50_latency' | 'throughput';

/** The strategies a job may name. */
export const SEARCH_STRATEGIES: readonly SearchStrategy[] = ['grid', 'quick'];
/** The objectives a job may name. */
export const SEARCH_OBJECTIVES: readonly SearchObjective[] = ['p50_latency', 'throughput'];

/** Why a point the walk wanted was not measured because the time was up. */
export const BUDGET_SPENT = 'budget spent';

/** The figures the objective compares; a measuring callback may return more (kept as given). */
export interface PointFigures {
  p50Ms: number;
  /** Absent with too few samples for a p99 (the bound is then judged on the maximum). */
  p99Ms?: number;
  /** Slowest query of the window: an upper bound of p99 when p99 itself is not known. */
  maxMs: number;
  samplesPerSecond: number;
}

/** What measuring one point gave: its figures, or why it could not be measured. */
export type PointOutcome<F extends PointFigures = PointFigures> = { measured: true; figures: F } | { measured: false; reason: string };

/** A point the search reached, in the order it reached them. */
export interface PointVisit<F extends PointFigures = PointFigures> {
  config: RunConfig;
  /** 1-based position in the visiting order. */
  order: number;
  outcome: PointOutcome<F>;
}

/** A measured visit. */
export type MeasuredVisit<F extends PointFigures = PointFigures> = PointVisit<F> & { outcome: { measured: true; figures: F } };

/** The objective and its latency bound. */
export interface ObjectiveSpec {
  objective: SearchObjective;
  /** p99 a throughput point must stay within to qualify; 0 = no bound. */
  latencyBoundMs: number;
}

/**
 * Whether a point's tail stays within the bound: its p99 when known, else its slowest query
 * (which is at least its p99, so a point passing on it passes for sure). True without a bound.
 * Pure.
 */
export function meetsBound(figures: PointFigures, latencyBoundMs: number): boolean {
  if (!(latencyBoundMs > 0)) return true;
  return (figures.p99Ms ?? figures.maxMs) <= latencyBoundMs;
}

/**
 * Whether `a` is strictly better than `b` under the objective. Latency: lower p50. Throughput:
 * a point within the bound beats one outside it; two within it, more samples per second; two
 * outside it, the lower tail (closer to qualifying, so a quick search keeps moving toward the
 * bound). Ties are not better: the point found first stays. Pure.
 */
export function isBetter(a: PointFigures, b: PointFigures, spec: ObjectiveSpec): boolean {
  if (spec.objective === 'p50_latency') return a.p50Ms < b.p50Ms;
  const aIn = meetsBound(a, spec.latencyBoundMs);
  const bIn = meetsBound(b, spec.latencyBoundMs);
  if (aIn !== bIn) return aIn;
  if (aIn) return a.samplesPerSecond > b.samplesPerSecond;
  return (a.p99Ms ?? a.maxMs) < (b.p99Ms ?? b.maxMs);
}

/**
 * The best measured visit under the objective, or undefined when none was measured or (for
 * throughput with a bound) none stays within the bound. The earliest of equal points wins. Pure.
 */
export function bestOf<F extends PointFigures>(visits: readonly PointVisit<F>[], spec: ObjectiveSpec): MeasuredVisit<F> | undefined {
  let best: MeasuredVisit<F> | undefined;
  for (const visit of visits) {
    if (!isMeasured(visit)) continue;
    if (spec.objective === 'throughput' && !meetsBound(visit.outcome.figures, spec.latencyBoundMs)) continue;
    if (!best || isBetter(visit.outcome.figures, best.outcome.figures, spec)) best = visit;
  }
  return best;
}

/** Narrows a visit to a measured one. */
export function isMeasured<F extends PointFigures>(visit: PointVisit<F>): visit is MeasuredVisit<F> {
  return visit.outcome.measured;
}

/** What a search walks. */
export interface SearchPlan {
  strategy: SearchStrategy;
  /** The space on this device, already narrowed (config-space narrowForDevice). */
  axes: readonly ConfigAxis[];
  /** onnxruntime's defaults: where a quick search starts when its values are on the axes. */
  baseline: RunConfig;
  objective: ObjectiveSpec;
  /** Points not to measure (config id -> why), e.g. the coordinator's point skips. */
  skip?: ReadonlyMap<string, string>;
}

/** The two things a search asks of whoever runs it. */
export interface SearchHooks<F extends PointFigures> {
  /** Measures one point; never called twice for the same configuration. */
  measure(config: RunConfig): Promise<PointOutcome<F>>;
  /** True once no new point may start; asked before every measurement. */
  budgetSpent(): boolean;
  /** Told after every visit (measured or skipped), e.g. for progress. */
  onVisit?(visit: PointVisit<F>): void;
}

/** Where a search ended. */
export interface SearchOutcome<F extends PointFigures> {
  /** Every point reached, in order, each configuration once. */
  visits: PointVisit<F>[];
  best?: MeasuredVisit<F>;
  /** Some point the walk wanted was skipped because the budget was spent. */
  budgetExhausted: boolean;
  /** Points in the space. */
  spacePoints: number;
}

/**
 * The most points a search measures on this space: every point for grid; for quick, the start
 * and each axis's other values per walk, {@link MAX_QUICK_PASSES} walks, never more than the
 * grid (the worst case config-space's estimateSearch also counts). Pure.
 */
export function plannedPoints(strategy: SearchStrategy, axes: readonly ConfigAxis[]): number {
  const grid = expandSpace(axes).points.length;
  if (strategy === 'grid') return grid;
  const perPass = axes.reduce((n, a) => n + Math.max(0, a.values.length - 1), 0);
  return Math.min(grid, 1 + MAX_QUICK_PASSES * perPass);
}

/**
 * Runs a search: grid measures every point in the space's order; quick walks coordinates from
 * the baseline's values (see {@link quickStart}). Points in `plan.skip` are visited as skipped
 * without measuring; once `budgetSpent()` says so, the points the walk still wanted are visited
 * as skipped {@link BUDGET_SPENT}. A configuration is never measured twice.
 *
 * Thrown errors: whatever `measure` throws; ConfigSpaceError for a space over the size limit.
 */
export async function runSearch<F extends PointFigures>(plan: SearchPlan, hooks: SearchHooks<F>): Promise<SearchOutcome<F>> {
  const space = expandSpace(plan.axes);
  const visits: PointVisit<F>[] = [];
  const seen = new Map<string, PointVisit<F>>();
  let budgetExhausted = false;
  const record = (config: RunConfig, outcome: PointOutcome<F>): PointVisit<F> => {
    const visit: PointVisit<F> = { config, order: visits.length + 1, outcome };
    visits.push(visit);
    seen.set(config.id, visit);
    hooks.onVisit?.(visit);
    return visit;
  };
  /** Visits a point once; undefined when the budget is spent (the point is then recorded as skipped). */
  const visit = async (config: RunConfig): Promise<PointVisit<F> | undefined> => {
    const earlier = seen.get(config.id);
    if (earlier) return earlier;
    const skipReason = plan.skip?.get(config.id);
    if (skipReason !== undefined) return record(config, { measured: false, reason: skipReason });
    if (budgetExhausted || hooks.budgetSpent()) {
      budgetExhausted = true;
      record(config, { measured: false, reason: BUDGET_SPENT });
      return undefined;
    }
    return record(config, await hooks.measure(config));
  };

  if (plan.strategy === 'grid') {
    for (const config of space.points) await visit(config);
  } else {
    await quickWalk(plan, space, visit, () => budgetExhausted);
  }
  const best = bestOf(visits, plan.objective);
  return { visits, ...(best && { best }), budgetExhausted, spacePoints: space.points.length };
}

type AxisValues = Partial<Record<ConfigAxisName, string>>;

/**
 * The value of each axis a quick search starts from: the baseline's own value where the axis
 * lists it, else the axis's first value. Pure.
 */
export function quickStart(axes: readonly ConfigAxis[], baseline: Omit<RunConfig, 'id'>): AxisValues {
  const start: AxisValues = {};
  for (const axis of axes) {
    const own = baselineValue(axis.name as ConfigAxisName, baseline);
    const value = own !== undefined && axis.values.includes(own) ? own : axis.values[0];
    if (value !== undefined) start[axis.name as ConfigAxisName] = value;
  }
  return start;
}

function baselineValue(axis: ConfigAxisName, b: Omit<RunConfig, 'id'>): string | undefined {
  switch (axis) {
    case 'provider':
      return providerSpecText({ name: b.executionProvider, options: b.providerOptions });
    case 'intra_op_threads':
      return b.intraOpThreads > 0 ? String(b.intraOpThreads) : 'default';
    case 'inter_op_threads':
      return b.interOpThreads > 0 ? String(b.interOpThreads) : 'default';
    case 'execution_mode':
      return b.executionMode;
    case 'graph_optimization_level':
      return b.graphOptimizationLevel;
    case 'batch_size':
      return b.batchSize > 0 ? String(b.batchSize) : undefined;
    case 'concurrency':
      return String(Math.max(1, b.concurrency));
  }
}

/**
 * Coordinate descent: from the start point, walk the axes in CONFIG_AXES order; on each, visit
 * every value with the other axes at the current point, then move to the best of them when it
 * beats the current point. Walk again while a walk moved, at most MAX_QUICK_PASSES walks. A
 * start that is not a point of its own (inter-op threads in sequential mode) gives way to the
 * point agreeing with it on most axes.
 */
async function quickWalk<F extends PointFigures>(
  plan: SearchPlan,
  space: ReturnType<typeof expandSpace>,
  visit: (config: RunConfig) => Promise<PointVisit<F> | undefined>,
  stopped: () => boolean,
): Promise<void> {
  if (space.points.length === 0) return;
  const axes = [...plan.axes].sort((a, b) => CONFIG_AXES.indexOf(a.name as ConfigAxisName) - CONFIG_AXES.indexOf(b.name as ConfigAxisName));
  const pointOf = (values: AxisValues): RunConfig | undefined => {
    const config = withId(settingsOf(values));
    return space.valuesOf.has(config.id) ? config : undefined;
  };
  const start = quickStart(axes, plan.baseline);
  let currentValues: AxisValues = start;
  let current = pointOf(start);
  if (!current) {
    let bestAgreement = -1;
    for (const point of space.points) {
      const values = space.valuesOf.get(point.id) ?? {};
      const agreement = axes.filter((a) => values[a.name as ConfigAxisName] === start[a.name as ConfigAxisName]).length;
      if (agreement > bestAgreement) {
        bestAgreement = agreement;
        current = point;
        currentValues = values;
      }
    }
  }
  if (!current) return;
  let currentVisit = await visit(current);
  if (!currentVisit) return;

  const better = (a: PointVisit<F> | undefined, b: PointVisit<F> | undefined): boolean => {
    if (!a || !isMeasured(a)) return false;
    if (!b || !isMeasured(b)) return true;
    return isBetter(a.outcome.figures, b.outcome.figures, plan.objective);
  };
  for (let pass = 0; pass < MAX_QUICK_PASSES; pass++) {
    let moved = false;
    for (const axis of axes) {
      if (axis.values.length < 2) continue;
      let axisBest: PointVisit<F> = currentVisit;
      let axisBestValues: AxisValues = currentValues;
      for (const value of axis.values) {
        const values = { ...currentValues, [axis.name]: value };
        const candidate = pointOf(values);
        if (!candidate) continue;
        const reached = await visit(candidate);
        if (reached && better(reached, axisBest)) {
          axisBest = reached;
          axisBestValues = values;
        }
      }
      if (stopped()) return;
      if (axisBest && axisBest !== currentVisit) {
        currentVisit = axisBest;
        currentValues = axisBestValues;
        moved = true;
      }
    }
    if (!moved) return;
  }
}
