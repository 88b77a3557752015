import { checkDimensions, type DimensionsRequest } from '@benchfarm/suite';
import type { ConfigAxis } from '@benchfarm/protocol';
import { CONFIG_SEARCH_DEFAULTS, type ConfigSearchFieldValues, type SearchStrategy } from '@benchfarm/contract';

// The configuration-search fields of the REST contract live in @benchfarm/contract (the CLI parses sweep files with them).
export { CONFIG_SEARCH_DEFAULTS, CONFIG_SEARCH_LIMITS, SEARCH_SETTING_FIELDS, SEARCH_STRATEGIES, dimensionsOf, type SearchStrategy } from '@benchfarm/contract';

/** A sweep's configuration search after validation, defaults applied. */
export interface ConfigSearchRequest {
  /** The axes as requested, canonical, in the walk order (not yet narrowed to any device). */
  axes: ConfigAxis[];
  strategy: SearchStrategy;
  budgetMinutes: number;
  pointWarmupMs: number;
  pointDurationMs: number;
  pointMinQueries: number;
  confirmRounds: number;
}

/**
 * The search of a parsed request with defaults applied, or undefined without dimensions.
 * Thrown errors: ConfigSpaceError (only for dimensions that {@link configSearchProblems} let
 * through, which does not happen for a request parsed by the sweep schema).
 */
export function configSearchOf(value: ConfigSearchFieldValues & { scenario: string }): ConfigSearchRequest | undefined {
  if (value.dimensions === undefined) return undefined;
  return {
    axes: checkDimensions(value.dimensions as DimensionsRequest, value.scenario),
    strategy: value.search ?? CONFIG_SEARCH_DEFAULTS.search,
    budgetMinutes: value.budgetMinutes ?? CONFIG_SEARCH_DEFAULTS.budgetMinutes,
    pointWarmupMs: value.pointWarmupMs ?? CONFIG_SEARCH_DEFAULTS.pointWarmupMs,
    pointDurationMs: value.pointDurationMs ?? CONFIG_SEARCH_DEFAULTS.pointDurationMs,
    pointMinQueries: value.pointMinQueries ?? CONFIG_SEARCH_DEFAULTS.pointMinQueries,
    confirmRounds: value.confirmRounds ?? CONFIG_SEARCH_DEFAULTS.confirmRounds,
  };
}
