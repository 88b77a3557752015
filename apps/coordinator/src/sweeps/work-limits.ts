import { DomainError, DomainErrorCode } from '../common/domain-error';
import { CONFIG_ENV_VARS, type CoordinatorConfig } from '../config';

/** How much work one sweep may ask for (the coordinator's `BENCHFARM_MAX_*` settings). */
export type WorkLimits = Pick<CoordinatorConfig, 'maxInputElements' | 'maxVariantsPerSweep' | 'maxJobsPerSweep'>;

/** An input tensor's shape, by input name. */
export interface NamedShape {
  readonly name: string;
  readonly shape: readonly number[];
}

/** Elements of a tensor of this shape (a float past 2^53 stays above any limit). */
function elementsOf(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

function tooMuch(field: string, message: string): DomainError {
  return new DomainError(DomainErrorCode.InvalidArgument, message, { field });
}

/**
 * Refuses more variants than a sweep may have: `derived` named in `variants` plus `own` in
 * `ownVariants`. Pure. Thrown: {@link DomainError} `invalid_argument`, field `variants` (or
 * `ownVariants` when the derived ones alone fit).
 */
export function assertVariantCount(derived: number, own: number, limits: WorkLimits): void {
  const max = limits.maxVariantsPerSweep;
  if (derived + own <= max) return;
  const field = derived > max ? 'variants' : 'ownVariants';
  throw tooMuch(field, `${field}: the sweep asks for ${derived + own} variants (${derived} derived + ${own} own); this coordinator takes at most ${max} per sweep (${CONFIG_ENV_VARS.maxVariantsPerSweep})`);
}

/**
 * Refuses input tensors with more elements than an agent is asked to generate: each shape, and
 * each shape at the largest offline batch size (the first dimension) when `batchSizes` is given.
 * `fieldOf` names the request field a shape came from (`shapes`, or `model` for the model's own
 * fixed dimensions). Pure. Thrown: {@link DomainError} `invalid_argument` naming that field, or
 * `batchSizes`.
 */
export function assertInputElements(inputs: readonly NamedShape[], limits: WorkLimits, fieldOf: (name: string) => string, batchSizes?: readonly number[]): void {
  const max = limits.maxInputElements;
  const largestBatch = batchSizes && batchSizes.length > 0 ? Math.max(...batchSizes) : undefined;
  for (const { name, shape } of inputs) {
    const elements = elementsOf(shape);
    if (elements > max) {
      const field = fieldOf(name);
      throw tooMuch(field, `${field}: input ${JSON.stringify(name)} [${shape.join(', ')}] has ${elements} elements; this coordinator takes at most ${max} per input (${CONFIG_ENV_VARS.maxInputElements})`);
    }
    const [first, ...rest] = shape;
    if (largestBatch !== undefined && first !== undefined && largestBatch > first) {
      const batched = largestBatch * elementsOf(rest);
      if (batched > max) {
        throw tooMuch('batchSizes', `batchSizes: input ${JSON.stringify(name)} at batch ${largestBatch} [${[largestBatch, ...rest].join(', ')}] has ${batched} elements; this coordinator takes at most ${max} per input (${CONFIG_ENV_VARS.maxInputElements})`);
      }
    }
  }
}

/**
 * Refuses a sweep that would queue more jobs than allowed; `jobs` comes from the planner's own
 * count (`plannedJobCount` of sweep-planner.ts). Pure. Thrown: {@link DomainError}
 * `invalid_argument`, field `targets` (the variants were checked on their own before).
 */
export function assertJobCount(jobs: number, how: string, limits: WorkLimits): void {
  if (jobs <= limits.maxJobsPerSweep) return;
  throw tooMuch('targets', `targets: the sweep would queue ${jobs} jobs (${how}); this coordinator takes at most ${limits.maxJobsPerSweep} per sweep (${CONFIG_ENV_VARS.maxJobsPerSweep}): target fewer agents or ask for fewer variants`);
}

/** What the budget check needs of each device's search plan (sweep-planner's DeviceSearchPlan). */
export interface SearchEstimateOfDevice {
  readonly agentName: string;
  readonly points: number;
  readonly measurements: number;
  readonly estimatedMs: number;
  readonly hasJob: boolean;
}

/**
 * Refuses a grid search whose estimate on the slowest device (the longest estimate: the most
 * points after narrowing) exceeds the budget, before any variant is derived or job queued. A
 * quick search is never refused here: it stops starting points on the agent once the budget
 * is spent, and its worst case is recorded. Pure. Thrown: {@link DomainError}
 * `invalid_argument`, field `budgetMinutes`, naming the device, points x variants =
 * measurements, the estimate and the budget.
 */
export function assertSearchBudget(strategy: 'grid' | 'quick', budgetMinutes: number, variants: number, devices: readonly SearchEstimateOfDevice[]): void {
  if (strategy !== 'grid') return;
  const slowest = devices.filter((d) => d.hasJob).reduce<SearchEstimateOfDevice | undefined>((worst, d) => (worst === undefined || d.estimatedMs > worst.estimatedMs ? d : worst), undefined);
  const budgetMs = budgetMinutes * 60_000;
  if (!slowest || slowest.estimatedMs <= budgetMs) return;
  const estimate = (slowest.estimatedMs / 60_000).toFixed(1);
  throw tooMuch(
    'budgetMinutes',
    `budgetMinutes: a grid search on ${slowest.agentName} measures ${slowest.points} points x ${variants} variant(s) = ${slowest.measurements} measurements, estimated ${estimate} min with the confirmation rounds, over the budget of ${budgetMinutes} min: use search quick (coordinate descent, far fewer points; it stops at the budget), fewer values per axis or a shorter pointDurationMs, or raise budgetMinutes`,
  );
}
