import { Scenario, type ScenarioOptions } from '@benchfarm/protocol';
import type { ScenarioName, ScenarioRequest } from '@benchfarm/contract';

// The scenario fields of the REST contract live in @benchfarm/contract (the CLI parses sweep files with them).
export { COMPARE_MODES, P99_MIN_QUERIES, SCENARIO_NAMES, SCENARIO_REQUEST_DEFAULTS, type CompareMode, type ScenarioName, type ScenarioRequest } from '@benchfarm/contract';

/**
 * Refuses batch sizes the model's fixed batch dimension forbids: when the first dim of an
 * input is fixed to N in the model as given, only N can run. Symbolic (or missing) first
 * dims allow any size. Returns the message naming `batchSizes`, or undefined.
 */
export function batchSizeProblem(batchSizes: readonly number[] | undefined, inputs: readonly { name: string; dims: (number | string | null)[] | null }[]): string | undefined {
  if (!batchSizes) return undefined;
  for (const input of inputs) {
    const first = input.dims?.[0];
    if (typeof first !== 'number') continue;
    const forbidden = batchSizes.filter((b) => b !== first);
    if (forbidden.length > 0) {
      return `batchSizes: ${forbidden.join(', ')} cannot run: input ${JSON.stringify(input.name)} has its batch dimension fixed to ${first} in the model`;
    }
  }
  return undefined;
}

/** The wire Scenario of a scenario name. */
export function scenarioEnum(name: ScenarioName): Scenario {
  switch (name) {
    case 'offline':
      return Scenario.SCENARIO_OFFLINE;
    case 'server':
      return Scenario.SCENARIO_SERVER;
    case 'cold_start':
      return Scenario.SCENARIO_COLD_START;
    case 'single_stream':
      return Scenario.SCENARIO_SINGLE_STREAM;
  }
}

/** The ScenarioOptions a job carries (unset values stay 0/empty; the suite applies its defaults). */
export function scenarioOptionsOf(request: ScenarioRequest): ScenarioOptions {
  return {
    batchSizes: [...(request.batchSizes ?? [])],
    concurrency: [...(request.concurrency ?? [])],
    targetQps: request.targetQps ?? 0,
    latencyBoundMs: request.latencyBoundMs ?? 0,
    searchPeakQps: request.searchPeakQps,
    searchSteps: request.searchSteps,
    interleaveRounds: request.rounds,
    roundMinQueries: request.roundMinQueries,
    profile: request.profile,
    profileQueries: 0,
    profileTop: request.profileTop,
    stabilityTolerancePct: request.stabilityTolerancePct,
    stabilityWindows: 0,
    bootstrapResamples: 0,
  };
}
