import { z } from 'zod';

/** The scenarios a sweep can ask for, as REST and the sweep file name them. */
export const SCENARIO_NAMES = ['single_stream', 'offline', 'server', 'cold_start'] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

/** How variants are compared on a device. */
export const COMPARE_MODES = ['interleaved', 'none'] as const;
export type CompareMode = (typeof COMPARE_MODES)[number];

/** MLPerf early stopping: the fewest queries for which a p99 is reported (binomial test, 0.99 confidence). */
export const P99_MIN_QUERIES = 662;

/** Defaults of the scenario options, as the OpenAPI document states them. */
export const SCENARIO_REQUEST_DEFAULTS = {
  scenario: 'single_stream' as ScenarioName,
  compare: 'interleaved' as CompareMode,
  searchPeakQps: false,
  searchSteps: 6,
  rounds: 10,
  roundMinQueries: 20,
  profile: false,
  profileTop: 10,
  stabilityTolerancePct: 10,
} as const;

/** A sweep's scenario options after validation. */
export interface ScenarioRequest {
  scenario: ScenarioName;
  batchSizes?: number[];
  concurrency?: number[];
  targetQps?: number;
  latencyBoundMs?: number;
  searchPeakQps: boolean;
  searchSteps: number;
  /** "interleaved" (default): with two or more variants, each device also runs one comparison job carrying them all. */
  compare: CompareMode;
  rounds: number;
  roundMinQueries: number;
  profile: boolean;
  profileTop: number;
  stabilityTolerancePct: number;
}

/** A form field's text trimmed; anything else as given. */
export const trimmed = (value: unknown): unknown => (typeof value === 'string' ? value.trim() : value);
/** Whether a form or JSON field was left out (undefined, null or empty text). */
export const absent = (v: unknown): boolean => v === undefined || v === null || v === '';

/** A numeric form field's text as a number (left as given when it is not one, for zod to name). */
export const numberText = (value: unknown): unknown => {
  const v = trimmed(value);
  if (absent(v)) return undefined;
  return typeof v === 'string' && /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(v) ? Number(v) : v;
};

const int = (fallback: number, min: number, max: number) =>
  z.preprocess(numberText, z.number({ error: 'must be an integer' }).int('must be an integer').min(min, `must be >= ${min}`).max(max, `must be <= ${max}`).default(fallback));

const positive = z.preprocess(numberText, z.number({ error: 'must be a number' }).positive('must be > 0').finite('must be finite').optional());

const flag = (fallback: boolean) =>
  z.preprocess((value) => {
    const v = trimmed(value);
    if (absent(v)) return undefined;
    if (v === 'true') return true;
    if (v === 'false') return false;
    return v;
  }, z.boolean({ error: 'must be true or false' }).default(fallback));

const intList = (max: number) =>
  z.preprocess(
    (value) => {
      const v = trimmed(value);
      if (absent(v)) return undefined;
      const items = typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter((s) => s !== '') : v;
      return Array.isArray(items) ? items.map(numberText) : items;
    },
    z
      .array(z.number({ error: 'must hold integers' }).int('must hold integers').min(1, 'must hold values >= 1').max(max, `must hold values <= ${max}`), { error: 'must be a comma-separated list or an array of integers' })
      .min(1, 'must not be empty')
      .max(16, 'must hold at most 16 values')
      .optional(),
  );

/** The zod shape of the scenario fields, merged into the sweep request's schema. */
export const scenarioFields = {
  scenario: z.preprocess(trimmed, z.enum(SCENARIO_NAMES, { error: `must be one of ${SCENARIO_NAMES.join(', ')}` }).default(SCENARIO_REQUEST_DEFAULTS.scenario)),
  batchSizes: intList(4096),
  concurrency: intList(256),
  targetQps: positive,
  latencyBoundMs: positive,
  searchPeakQps: flag(SCENARIO_REQUEST_DEFAULTS.searchPeakQps),
  searchSteps: int(SCENARIO_REQUEST_DEFAULTS.searchSteps, 1, 30),
  compare: z.preprocess(trimmed, z.enum(COMPARE_MODES, { error: `must be one of ${COMPARE_MODES.join(', ')}` }).default(SCENARIO_REQUEST_DEFAULTS.compare)),
  rounds: int(SCENARIO_REQUEST_DEFAULTS.rounds, 2, 1000),
  roundMinQueries: int(SCENARIO_REQUEST_DEFAULTS.roundMinQueries, 1, 100_000),
  profile: flag(SCENARIO_REQUEST_DEFAULTS.profile),
  profileTop: int(SCENARIO_REQUEST_DEFAULTS.profileTop, 1, 100),
  stabilityTolerancePct: z.preprocess(numberText, z.number({ error: 'must be a number' }).positive('must be > 0').max(100, 'must be <= 100').default(SCENARIO_REQUEST_DEFAULTS.stabilityTolerancePct)),
};

/** One refused setting: the field and why. */
export interface SettingProblem {
  path: string;
  message: string;
}

/**
 * The cross-field rules no single field can check, run before any job is queued: a server
 * run needs a rate and a bound, and enough queries for the p99 it is judged on (662 by
 * MLPerf early stopping) both as a minimum and within the max duration at that rate;
 * batch sizes and concurrency belong to offline. Pure; returns every problem.
 */
export function scenarioProblems(value: ScenarioRequest & { minQueries: number; maxDurationMs: number }): SettingProblem[] {
  const problems: SettingProblem[] = [];
  if (value.scenario === 'server') {
    if (value.targetQps === undefined) problems.push({ path: 'targetQps', message: 'targetQps: the server scenario needs a target rate (queries per second, > 0)' });
    if (value.latencyBoundMs === undefined) problems.push({ path: 'latencyBoundMs', message: 'latencyBoundMs: the server scenario needs the p99 latency bound in ms (> 0)' });
    if (value.minQueries < P99_MIN_QUERIES) {
      problems.push({ path: 'minQueries', message: `minQueries: ${value.minQueries} is below ${P99_MIN_QUERIES}, the fewest queries for which p99 can be reported (MLPerf early stopping); the server scenario judges p99 against the bound` });
    }
    if (value.targetQps !== undefined) {
      const maxQueries = Math.floor((value.maxDurationMs / 1000) * value.targetQps);
      if (maxQueries < P99_MIN_QUERIES) {
        problems.push({ path: 'maxDurationMs', message: `maxDurationMs: ${value.maxDurationMs} ms at ${value.targetQps} qps allows at most ${maxQueries} queries, below the ${P99_MIN_QUERIES} p99 needs` });
      }
    }
  } else if (value.searchPeakQps) {
    problems.push({ path: 'searchPeakQps', message: 'searchPeakQps: only the server scenario searches a peak rate' });
  }
  if (value.scenario !== 'offline') {
    if (value.batchSizes) problems.push({ path: 'batchSizes', message: `batchSizes: only the offline scenario takes batch sizes (scenario is ${value.scenario})` });
    if (value.concurrency) problems.push({ path: 'concurrency', message: `concurrency: only the offline scenario takes concurrency levels (scenario is ${value.scenario})` });
  }
  return problems;
}

