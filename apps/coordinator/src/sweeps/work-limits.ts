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
