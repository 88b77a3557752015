import { z } from 'zod';
import { AXIS_ALIASES, ConfigSpaceError, checkDimensions, parseDimensionsText, type DimensionsRequest } from '@benchfarm/suite';
import { absent, numberText, trimmed } from './scenario-request';

/** How a sweep searches its runtime settings: every point, or coordinate descent (after Model Analyzer's quick search). */
export const SEARCH_STRATEGIES = ['grid', 'quick'] as const;
/** One of {@link SEARCH_STRATEGIES}. */
export type SearchStrategy = (typeof SEARCH_STRATEGIES)[number];

/** Defaults of the configuration-search fields, as the OpenAPI document states them. */
export const CONFIG_SEARCH_DEFAULTS = {
  search: 'grid' as SearchStrategy,
  budgetMinutes: 30,
  pointWarmupMs: 500,
  pointDurationMs: 2000,
  pointMinQueries: 10,
  confirmRounds: 10,
} as const;

/** Bounds of the configuration-search fields. */
export const CONFIG_SEARCH_LIMITS = {
  /** A day: a search that needs more is better split into sweeps. */
  budgetMinutes: 1440,
  pointWarmupMs: 600_000,
  /** A window shorter than this measures scheduler noise more than the configuration. */
  pointDurationMinMs: 100,
  pointDurationMs: 600_000,
  pointMinQueries: 1_000_000,
  /** The confirmation's ratio has a bootstrap CI over rounds: two at least. */
  confirmRoundsMin: 2,
  confirmRounds: 1000,
} as const;

/** The fields that tune a search; each is refused without `dimensions`, where it would be ignored. */
export const SEARCH_SETTING_FIELDS = ['search', 'budgetMinutes', 'pointWarmupMs', 'pointDurationMs', 'pointMinQueries', 'confirmRounds'] as const;

// No zod defaults: a search setting given without dimensions is refused, so "given" must stay
// visible; the default is metadata for the OpenAPI document and applied in configSearchOf.
const optionalInt = (min: number, max: number, fallback: number) =>
  z.preprocess(numberText, z.number({ error: 'must be an integer' }).int('must be an integer').min(min, `must be >= ${min}`).max(max, `must be <= ${max}`).optional().meta({ default: fallback }));

/**
 * The dimensions as a request gives them, with axis aliases (`threads`, `level`, `ep`, ...)
 * resolved: an object of axis -> values (a list, or one comma-separated text), its JSON text
 * (multipart from a sweep file), or the compact text `threads=1,2;level=basic,all`. Returns
 * the message instead when it is malformed (the caller names the field). Pure.
 */
export function dimensionsOf(value: unknown): DimensionsRequest | string {
  let source = trimmed(value);
  if (typeof source === 'string') {
    if (!source.startsWith('{')) {
      try {
        return parseDimensionsText(source);
      } catch (err) {
        return err instanceof ConfigSpaceError ? err.message : String(err);
      }
    }
    try {
      source = JSON.parse(source) as unknown;
    } catch {
      return 'is not valid JSON';
    }
  }
  if (typeof source !== 'object' || source === null || Array.isArray(source)) return 'must be an object of axis to values, or the text "threads=1,2;level=basic,all"';
  const out: Record<string, (string | number)[]> = {};
  for (const [raw, given] of Object.entries(source as Record<string, unknown>)) {
    // An unknown axis keeps its name: checkDimensions refuses it, listing the axes.
    const axis = AXIS_ALIASES[raw] ?? raw;
    if (axis in out) return `axis ${axis} given twice (as ${raw} too)`;
    const values = typeof given === 'string' || typeof given === 'number' ? String(given).split(',') : given;
    if (!Array.isArray(values) || !values.every((v) => typeof v === 'string' || typeof v === 'number')) return `${raw}: must be a list of values or a comma-separated text`;
    out[axis] = values.map((v) => (typeof v === 'string' ? v.trim() : v)).filter((v) => v !== '');
  }
  return out as DimensionsRequest;
}

/** The `dimensions` field of POST /sweeps. */
const dimensionsField = z.preprocess(
  (value, ctx) => {
    if (absent(trimmed(value))) return undefined;
    const parsed = dimensionsOf(value);
    if (typeof parsed === 'string') {
      ctx.addIssue({ code: 'custom', message: parsed });
      return z.NEVER;
    }
    return parsed;
  },
  z.record(z.string(), z.array(z.union([z.string(), z.number()])), { error: 'must be an object of axis to values' }).optional(),
);

/** The zod shape of the configuration-search fields, merged into the sweep request's schema. */
export const configSearchFields = {
  dimensions: dimensionsField,
  search: z.preprocess(
    (v) => (absent(trimmed(v)) ? undefined : trimmed(v)),
    z.enum(SEARCH_STRATEGIES, { error: `must be one of ${SEARCH_STRATEGIES.join(', ')}` }).optional().meta({ default: CONFIG_SEARCH_DEFAULTS.search }),
  ),
  budgetMinutes: z.preprocess(
    numberText,
    z
      .number({ error: 'must be a number of minutes' })
      .positive('must be > 0')
      .max(CONFIG_SEARCH_LIMITS.budgetMinutes, `must be <= ${CONFIG_SEARCH_LIMITS.budgetMinutes}`)
      .optional()
      .meta({ default: CONFIG_SEARCH_DEFAULTS.budgetMinutes }),
  ),
  pointWarmupMs: optionalInt(0, CONFIG_SEARCH_LIMITS.pointWarmupMs, CONFIG_SEARCH_DEFAULTS.pointWarmupMs),
  pointDurationMs: optionalInt(CONFIG_SEARCH_LIMITS.pointDurationMinMs, CONFIG_SEARCH_LIMITS.pointDurationMs, CONFIG_SEARCH_DEFAULTS.pointDurationMs),
  pointMinQueries: optionalInt(1, CONFIG_SEARCH_LIMITS.pointMinQueries, CONFIG_SEARCH_DEFAULTS.pointMinQueries),
  confirmRounds: optionalInt(CONFIG_SEARCH_LIMITS.confirmRoundsMin, CONFIG_SEARCH_LIMITS.confirmRounds, CONFIG_SEARCH_DEFAULTS.confirmRounds),
};

/** The search fields of a parsed request (before defaults). */
export interface ConfigSearchFieldValues {
  dimensions?: Record<string, (string | number)[]> | undefined;
  search?: SearchStrategy | undefined;
  budgetMinutes?: number | undefined;
  pointWarmupMs?: number | undefined;
  pointDurationMs?: number | undefined;
  pointMinQueries?: number | undefined;
  confirmRounds?: number | undefined;
}

/** One refused setting: the field (a dotted path for an axis) and why. */
export interface SearchProblem {
  path: string[];
  message: string;
}

/**
 * The cross-field rules of a search, run before any job is queued: the axes hold for the
 * scenario (checkDimensions: known axes and values, batch and concurrency only offline), every
 * search setting comes with dimensions, and no external runtime (it runs its own loop with
 * its own settings, so onnxruntime session options would not reach it). Pure; every problem.
 */
export function configSearchProblems(value: ConfigSearchFieldValues & { scenario: string; runtime?: { tool: string } | undefined }): SearchProblem[] {
  const problems: SearchProblem[] = [];
  if (value.dimensions === undefined) {
    for (const field of SEARCH_SETTING_FIELDS) {
      if (value[field] === undefined) continue;
      problems.push({ path: [field], message: `${field}: applies to a configuration search, and this sweep has no dimensions (e.g. dimensions "threads=1,2;level=basic,all"): add dimensions or leave ${field} out` });
    }
    return problems;
  }
  try {
    checkDimensions(value.dimensions as DimensionsRequest, value.scenario);
  } catch (err) {
    if (!(err instanceof ConfigSpaceError)) throw err;
    problems.push({ path: err.field.split('.'), message: `${err.field}: ${err.message}` });
  }
  if (value.runtime !== undefined) {
    problems.push({ path: ['runtime'], message: `runtime ${value.runtime.tool} runs its own loop with its own settings: a configuration search (dimensions) sets onnxruntime-node session options; leave runtime out or drop dimensions` });
  }
  return problems;
}

