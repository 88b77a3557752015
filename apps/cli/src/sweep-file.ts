import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

/** Thrown when a sweep file cannot be read or holds a key or value the sweep API does not take. */
export class SweepFileError extends Error {
  override name = 'SweepFileError';
}

const scalarList = z.union([z.string(), z.array(z.union([z.string(), z.number()]))]);

/**
 * The keys a sweep file may hold: exactly the REST fields of POST /sweeps (JSON body), so a
 * file, the CLI flags and a REST call describe a sweep the same way. The types are checked
 * here so a typo fails before any upload; the coordinator then applies every rule (ranges,
 * min <= max, p99 needs 662 queries, batch sizes the model allows) before queuing a job.
 */
const sweepFileSchema = z.strictObject({
  name: z.string().optional(),
  variants: scalarList.optional(),
  targets: scalarList.optional(),
  shapes: z.union([z.string(), z.record(z.string(), z.array(z.number()))]).optional(),
  threads: z.number().optional(),
  warmupMinQueries: z.number().optional(),
  warmupMinDurationMs: z.number().optional(),
  minQueries: z.number().optional(),
  minDurationMs: z.number().optional(),
  maxDurationMs: z.number().optional(),
  seed: z.number().optional(),
  scenario: z.string().optional(),
  batchSizes: scalarList.optional(),
  concurrency: scalarList.optional(),
  targetQps: z.number().optional(),
  latencyBoundMs: z.number().optional(),
  searchPeakQps: z.boolean().optional(),
  searchSteps: z.number().optional(),
  compare: z.string().optional(),
  rounds: z.number().optional(),
  roundMinQueries: z.number().optional(),
  profile: z.boolean().optional(),
  profileTop: z.number().optional(),
  stabilityTolerancePct: z.number().optional(),
  runtime: z.string().optional(),
});

/** A sweep's settings as the REST API names them; lists and shapes flattened to the text the multipart form carries. */
export type SweepSettingsText = Record<string, string | number | boolean | undefined>;

/**
 * Reads a checked-in sweep file (`.yaml`/`.yml` or `.json`) and checks its keys and types,
 * reporting every problem at once with the key it concerns.
 *
 * Thrown: SweepFileError.
 */
export async function loadSweepFile(path: string): Promise<SweepSettingsText> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new SweepFileError(`cannot read the sweep file ${path}: ${(err as Error).message}`, { cause: err });
  }
  let data: unknown;
  try {
    data = extname(path).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new SweepFileError(`the sweep file ${path} is not valid ${extname(path).toLowerCase() === '.json' ? 'JSON' : 'YAML'}: ${(err as Error).message}`, { cause: err });
  }
  const parsed = sweepFileSchema.safeParse(data ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      if (issue.code === 'unrecognized_keys') return `unknown key(s) ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
      return `${issue.path.join('.') || '(file)'}: ${issue.message}`;
    });
    throw new SweepFileError(`the sweep file ${path} is invalid: ${problems.join('; ')}`);
  }
  const settings: SweepSettingsText = {};
  for (const [key, value] of Object.entries(parsed.data)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) settings[key] = value.join(',');
    else if (typeof value === 'object') settings[key] = JSON.stringify(value);
    else settings[key] = value;
  }
  return settings;
}

/** Adds the measurement-suite flags (issue 4) to a sweep command. */
export function scenarioFlags(cmd: Command): Command {
  return cmd
    .option('--file <sweep.yaml>', 'sweep settings from a YAML or JSON file (REST field names); flags given on the command line override it')
    .option('--scenario <name>', 'single_stream (default), offline, server or cold_start')
    .option('--batch-sizes <list>', 'offline: batch sizes, e.g. 1,2,4')
    .option('--concurrency <list>', 'offline: queries in flight, e.g. 1,2')
    .option('--target-qps <qps>', 'server: Poisson arrival rate (> 0)')
    .option('--latency-bound-ms <ms>', 'server: p99 latency bound')
    .option('--search-peak-qps', 'server: search the highest rate whose p99 meets the bound')
    .option('--search-steps <n>', 'server: rates measured at most in the search')
    .option('--compare <mode>', 'interleaved (default: one job per device runs every variant in rounds) or none')
    .option('--rounds <n>', 'interleaved comparison: rounds')
    .option('--round-queries <n>', 'interleaved comparison: queries per variant per round')
    .option('--profile', 'per-operator onnxruntime profile of each variant')
    .option('--profile-top <n>', 'operators listed per variant')
    .option('--stability-pct <pct>', 'stability: the last 3 windows agree within this percentage');
}

/** The flags scenarioFlags adds, as commander parses them. */
export interface ScenarioFlagValues {
  file?: string;
  scenario?: string;
  batchSizes?: string;
  concurrency?: string;
  targetQps?: string;
  latencyBoundMs?: string;
  searchPeakQps?: boolean;
  searchSteps?: string;
  compare?: string;
  rounds?: string;
  roundQueries?: string;
  profile?: boolean;
  profileTop?: string;
  stabilityPct?: string;
}

/** The scenario flags as REST fields; the coordinator validates them. */
export function scenarioFlagSettings(flags: ScenarioFlagValues): SweepSettingsText {
  return {
    scenario: flags.scenario,
    batchSizes: flags.batchSizes,
    concurrency: flags.concurrency,
    targetQps: flags.targetQps,
    latencyBoundMs: flags.latencyBoundMs,
    searchPeakQps: flags.searchPeakQps,
    searchSteps: flags.searchSteps,
    compare: flags.compare,
    rounds: flags.rounds,
    roundMinQueries: flags.roundQueries,
    profile: flags.profile,
    profileTop: flags.profileTop,
    stabilityTolerancePct: flags.stabilityPct,
  };
}

/**
 * Merges a sweep file under the command line: a flag typed on the command line wins; a
 * flag left at its default yields to the file. `explicit` says which REST fields were typed.
 */
export function mergeSweepSettings(fromFile: SweepSettingsText, fromFlags: SweepSettingsText, explicit: ReadonlySet<string>): SweepSettingsText {
  const merged: SweepSettingsText = { ...fromFile };
  for (const [key, value] of Object.entries(fromFlags)) {
    if (value === undefined) continue;
    if (explicit.has(key) || !(key in fromFile)) merged[key] = value;
  }
  return merged;
}

/** Commander's attribute name of each sweep flag -> the REST field it sets. */
const FLAG_FIELDS: Readonly<Record<string, string>> = {
  name: 'name',
  variants: 'variants',
  targets: 'targets',
  shapes: 'shapes',
  threads: 'threads',
  warmupQueries: 'warmupMinQueries',
  warmupMs: 'warmupMinDurationMs',
  minQueries: 'minQueries',
  minMs: 'minDurationMs',
  maxMs: 'maxDurationMs',
  scenario: 'scenario',
  batchSizes: 'batchSizes',
  concurrency: 'concurrency',
  targetQps: 'targetQps',
  latencyBoundMs: 'latencyBoundMs',
  searchPeakQps: 'searchPeakQps',
  searchSteps: 'searchSteps',
  compare: 'compare',
  rounds: 'rounds',
  roundQueries: 'roundMinQueries',
  profile: 'profile',
  profileTop: 'profileTop',
  stabilityPct: 'stabilityTolerancePct',
  runtime: 'runtime',
};

/**
 * A sweep command's settings: the base flags (already as REST fields), the scenario flags,
 * and the sweep file when `--file` is given, merged by {@link mergeSweepSettings}.
 *
 * Thrown: SweepFileError.
 */
export async function resolveSweepSettings(base: SweepSettingsText, flags: ScenarioFlagValues, cmd: Pick<Command, 'getOptionValueSource'>): Promise<SweepSettingsText> {
  const fromFlags = { ...base, ...scenarioFlagSettings(flags) };
  if (!flags.file) return fromFlags;
  const explicit = new Set(Object.entries(FLAG_FIELDS).filter(([attr]) => cmd.getOptionValueSource(attr) === 'cli').map(([, field]) => field));
  return mergeSweepSettings(await loadSweepFile(flags.file), fromFlags, explicit);
}
