import { readFile, stat } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { sweepRequestSchema, type RuntimeRequest } from '@benchfarm/contract';
import { AXIS_ALIASES, CONFIG_AXES } from '@benchfarm/suite';

/** Thrown when a sweep file cannot be read or holds a key or value the sweep API does not take. */
export class SweepFileError extends Error {
  override name = 'SweepFileError';
}

const AXIS_NAMES = `${CONFIG_AXES.join(', ')} (short: threads, inter, mode, level, batch, ep)`;

/**
 * `dimensions:` of a sweep file: a map of axis -> values (a list, or one comma-separated text),
 * or the compact text `threads=1,2;level=basic,all`. Axis names are checked here, naming the
 * key; the values are the coordinator's to check (it names `dimensions.<axis>`).
 */
const dimensionsSchema = z.union([
  z.string(),
  z.record(
    z.string().refine((axis) => axis in AXIS_ALIASES, { error: (issue) => `unknown axis ${JSON.stringify(issue.input)} (axes: ${AXIS_NAMES})` }),
    z.union([z.array(z.union([z.string(), z.number()])).min(1, 'must list at least one value'), z.string(), z.number()]),
    { error: 'must be a map of axis -> list of values, or "threads=1,2;level=basic,all"' },
  ),
]);

/** Fields of POST /sweeps a sweep file does not set: the CLI uploads the model file itself. */
const NOT_IN_FILE = ['modelPath'] as const;

/** A field of POST /sweeps that a sweep file may set. */
export type SweepFileField = Exclude<keyof typeof sweepRequestSchema.shape, (typeof NOT_IN_FILE)[number]>;

/** The keys a sweep file may hold: every field of the coordinator's sweep request schema but the model's path. */
export const SWEEP_FILE_FIELDS: readonly SweepFileField[] = Object.keys(sweepRequestSchema.shape).filter((key): key is SweepFileField => !(NOT_IN_FILE as readonly string[]).includes(key));

const fieldSchemas = Object.fromEntries(SWEEP_FILE_FIELDS.map((field) => [field, sweepRequestSchema.shape[field]])) as { [K in SweepFileField]: (typeof sweepRequestSchema.shape)[K] };

/**
 * A sweep file: exactly the REST fields of POST /sweeps, each checked by the coordinator's own
 * field schema (@benchfarm/contract), so a file, the CLI flags and a REST call describe a sweep
 * the same way and a typo or a bad value fails before any upload, named as the coordinator
 * would name it. The rules between fields (min <= max, p99 needs 662 queries, calibration needs
 * a calibrated variant, batch sizes the model allows) are the coordinator's, applied before it
 * queues a job. `dimensions` keeps a check of its own that names an unknown axis here.
 */
const sweepFileSchema = z.strictObject({ ...fieldSchemas, dimensions: dimensionsSchema.optional() });

/** A sweep's settings as the REST API names them; lists and shapes flattened to the text the multipart form carries. */
export type SweepSettingsText = { [K in SweepFileField]?: string | number | boolean | undefined };

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
      // A map whose key or values fail names the map's own path, not each alternative of its union.
      if (issue.code === 'invalid_union' && issue.path[0] === 'dimensions') return `dimensions: ${dimensionsIssue(data)}`;
      return `${issue.path.join('.') || '(file)'}: ${issue.message}`;
    });
    throw new SweepFileError(`the sweep file ${path} is invalid: ${problems.join('; ')}`);
  }
  // The values as written (the parsed ones carry defaults the file did not set), in the text forms a multipart form carries.
  const settings: SweepSettingsText = {};
  // The schema refused every other key.
  for (const [key, value] of Object.entries(data as Record<string, unknown>) as [SweepFileField, unknown][]) {
    if (value === undefined || value === null) continue;
    if (key === 'runtime' && typeof value === 'object') settings[key] = runtimeText(parsed.data.runtime as RuntimeRequest);
    else if (Array.isArray(value)) settings[key] = value.join(',');
    else if (typeof value === 'object') settings[key] = JSON.stringify(value);
    else settings[key] = value as string | number | boolean;
  }
  return settings;
}

/** `runtime: { tool, precision, device }` as the text form the coordinator reads in a multipart form. */
function runtimeText(runtime: RuntimeRequest): string {
  return [runtime.tool, runtime.precision, ...(runtime.device === undefined ? [] : [runtime.device])].join(':');
}

/** The message of a `dimensions:` value the schema refused: the first bad axis or value, by name. */
function dimensionsIssue(data: unknown): string {
  const value = (data as { dimensions?: unknown } | null)?.dimensions;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'must be a map of axis -> list of values, or "threads=1,2;level=basic,all"';
  for (const [axis, values] of Object.entries(value)) {
    if (!(axis in AXIS_ALIASES)) return `unknown axis ${JSON.stringify(axis)} (axes: ${AXIS_NAMES})`;
    if (Array.isArray(values) ? values.length === 0 || values.some((v) => typeof v !== 'string' && typeof v !== 'number') : typeof values !== 'string' && typeof values !== 'number') {
      return `${axis}: must be a list of values or a comma-separated text`;
    }
  }
  return 'must be a map of axis -> list of values';
}

/**
 * Parses one `--dim axis=v1,v2` (repeatable) and appends it: the axis must be known; the values
 * are the coordinator's to check. Thrown: InvalidArgumentError (commander reports it, naming the flag).
 */
export function collectDimension(value: string, previous: string[] = []): string[] {
  const eq = value.indexOf('=');
  const axis = eq < 0 ? '' : value.slice(0, eq).trim();
  if (eq < 0 || value.slice(eq + 1).trim() === '') throw new InvalidArgumentError(`${JSON.stringify(value)} is not axis=v1,v2 (e.g. threads=1,2 or level=basic,all)`);
  if (!(axis in AXIS_ALIASES)) throw new InvalidArgumentError(`unknown axis ${JSON.stringify(axis)} (axes: ${AXIS_NAMES})`);
  return [...previous, value.trim()];
}

/** Adds the measurement-suite flags to a sweep command. */
export function scenarioFlags(cmd: Command): Command {
  return cmd
    .option('--file <sweep.yaml>', 'sweep settings from a YAML or JSON file (REST field names); flags given on the command line override it')
    .option('--scenario <name>', 'single_stream (default), offline, server or cold_start')
    .option('--batch-sizes <list>', 'offline: batch sizes, e.g. 1,2,4')
    .option('--concurrency <list>', 'offline: queries in flight, e.g. 1,2')
    .option('--target-qps <qps>', 'server: Poisson arrival rate (> 0)')
    .option('--latency-bound-ms <ms>', 'server: p99 latency bound; with --dim in offline: points whose p99 exceeds it do not qualify as best')
    .option('--search-peak-qps', 'server: search the highest rate whose p99 meets the bound')
    .option('--search-steps <n>', 'server: rates measured at most in the search')
    .option('--compare <mode>', 'interleaved (default: one job per device runs every variant in rounds) or none')
    .option('--rounds <n>', 'interleaved comparison: rounds')
    .option('--round-queries <n>', 'interleaved comparison: queries per variant per round')
    .option('--profile', 'per-operator onnxruntime profile of each variant')
    .option('--profile-top <n>', 'operators listed per variant')
    .option('--stability-pct <pct>', 'stability: the last 3 windows agree within this percentage')
    .option(
      '--dim <axis=values>',
      'search this run setting per device (repeatable): provider=cpu,cuda (options joined by +: tensorrt:fp16+workspace_mb=2048), threads=1,2 or auto (1..physical cores), level=basic,all, inter=1,2, mode=sequential,parallel, batch=1,8 and concurrency=1,2 (offline); values a device cannot run are skipped with the reason',
      collectDimension,
    )
    .option('--search <strategy>', 'with --dim: grid (every point; refused up front when over the budget) or quick (coordinate descent, far fewer points); default grid')
    .option('--budget-minutes <min>', 'with --dim: time budget of the search on each device (default 30)')
    .option('--point-ms <ms>', "with --dim: each point's measured window (default 2000)");
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
  /** `--dim axis=values`, one entry per flag. */
  dim?: string[];
  search?: string;
  budgetMinutes?: string;
  pointMs?: string;
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
    // The compact text form the coordinator takes: axes split by ";".
    dimensions: flags.dim && flags.dim.length > 0 ? flags.dim.join(';') : undefined,
    search: flags.search,
    budgetMinutes: flags.budgetMinutes,
    pointDurationMs: flags.pointMs,
  };
}

/**
 * Merges a sweep file under the command line: a flag typed on the command line wins; a
 * flag left at its default yields to the file. `explicit` says which REST fields were typed.
 */
export function mergeSweepSettings(fromFile: SweepSettingsText, fromFlags: SweepSettingsText, explicit: ReadonlySet<string>): SweepSettingsText {
  const merged: SweepSettingsText = { ...fromFile };
  for (const [key, value] of Object.entries(fromFlags) as [SweepFileField, SweepSettingsText[SweepFileField]][]) {
    if (value === undefined) continue;
    if (explicit.has(key) || !(key in fromFile)) merged[key] = value;
  }
  return merged;
}

/** Commander's attribute name of each sweep flag -> the REST field it sets. */
const FLAG_FIELDS: Readonly<Record<string, SweepFileField>> = {
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
  dim: 'dimensions',
  search: 'search',
  budgetMinutes: 'budgetMinutes',
  pointMs: 'pointDurationMs',
  runtime: 'runtime',
  dataset: 'dataset',
  calibration: 'calibrationDataset',
  eval: 'evaluationDataset',
  calibrationOnCoordinator: 'calibrationDir',
  task: 'task',
  evalImages: 'evaluationImages',
  preprocess: 'preprocess',
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

/** Thrown when the dataset flags of `benchfarm sweep` contradict each other or name an unreadable file. */
export class SweepFlagError extends Error {
  override name = 'SweepFlagError';
}

/** The dataset flags of `benchfarm sweep`, as commander parses them. */
export interface DatasetFlagValues {
  /** A stored dataset's id or name, or a folder on this machine (uploaded, then split by the coordinator). */
  dataset?: string;
  /** A folder of calibration images on this machine (uploaded). */
  calibration?: string;
  /** A folder of calibration images on the coordinator's machine (lab set-ups). */
  calibrationOnCoordinator?: string;
  /** A folder of evaluation images on this machine (uploaded). */
  eval?: string;
  /** COCO labels of the --eval (or --dataset <dir>) images. */
  labels?: string;
  /** A preset, JSON text or a .json file. */
  preprocess?: string;
  task?: string;
  evalImages?: number;
}

/** What a folder upload returns (apps/cli/src/dataset-upload.ts uploadDatasetDir). */
export interface UploadedDataset {
  id: string;
  name: string;
  images: number;
  reused: boolean;
}

/** Uploads a folder of images (with labels, preprocessing) as a dataset; bound to a client by the caller. */
export type DatasetUploader = (dir: string, options: { name?: string; labelsPath?: string; preprocess?: string | Record<string, unknown> }) => Promise<UploadedDataset>;

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/**
 * `--preprocess` as the REST field takes it: a preset name as is, JSON text parsed, a `.json`
 * file read and parsed. Thrown ({@link SweepFlagError}) for a file that cannot be read or parsed.
 */
export async function preprocessFlag(value: string | undefined): Promise<string | Record<string, unknown> | undefined> {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (text.startsWith('{')) {
    try {
      return JSON.parse(text) as Record<string, unknown>;
    } catch (err) {
      throw new SweepFlagError(`--preprocess: not valid JSON: ${(err as Error).message}`, { cause: err });
    }
  }
  if (!text.toLowerCase().endsWith('.json')) return text;
  let json: string;
  try {
    json = await readFile(text, 'utf8');
  } catch (err) {
    throw new SweepFlagError(`--preprocess: cannot read ${text}: ${(err as Error).message}`, { cause: err });
  }
  try {
    return JSON.parse(json) as Record<string, unknown>;
  } catch (err) {
    throw new SweepFlagError(`--preprocess: ${text} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * The dataset flags as REST fields, uploading the folders on this machine first:
 * `--dataset <dir>` (an existing folder; else the id or name of a stored dataset) and
 * `--eval <dir>` take `--labels`; `--calibration <dir>` is uploaded as calibration images;
 * `--calibration-on-coordinator <path>` stays a path on the coordinator (calibrationDir). The
 * coordinator then splits, checks overlap and fit, and refuses what does not hold.
 *
 * Thrown: {@link SweepFlagError} for contradicting flags; whatever `upload` throws.
 */
export async function datasetFlagSettings(flags: DatasetFlagValues, upload: DatasetUploader, log: (line: string) => void = () => undefined): Promise<SweepSettingsText> {
  const datasetDir = flags.dataset !== undefined && (await isDirectory(flags.dataset)) ? flags.dataset : undefined;
  if (flags.dataset !== undefined && (flags.calibration !== undefined || flags.eval !== undefined)) throw new SweepFlagError('give either --dataset (split by the coordinator) or --calibration / --eval folders, not both');
  if (flags.calibration !== undefined && flags.calibrationOnCoordinator !== undefined) throw new SweepFlagError('give either --calibration <dir> (on this machine) or --calibration-on-coordinator <path>, not both');
  if (flags.labels !== undefined && flags.eval === undefined && datasetDir === undefined) {
    throw new SweepFlagError('--labels labels the evaluation images: give --eval <dir> or --dataset <dir> with it (a stored dataset keeps the labels it was added with)');
  }
  const preprocess = await preprocessFlag(flags.preprocess);
  const send = async (dir: string, what: string, labelsPath?: string): Promise<string> => {
    if (!(await isDirectory(dir))) throw new SweepFlagError(`${what}: ${dir} is not a folder on this machine`);
    const uploaded = await upload(resolve(dir), { ...(labelsPath === undefined ? {} : { labelsPath: resolve(labelsPath) }), ...(preprocess === undefined ? {} : { preprocess }) });
    log(`${what} ${dir}: dataset ${uploaded.name} (${uploaded.id.slice(0, 12)}), ${uploaded.images} images${uploaded.reused ? ', already stored' : ', uploaded'}`);
    return uploaded.id;
  };
  const settings: SweepSettingsText = {};
  if (datasetDir !== undefined) settings.dataset = await send(datasetDir, '--dataset', flags.labels);
  else if (flags.dataset !== undefined) settings.dataset = flags.dataset;
  if (flags.calibration !== undefined) settings.calibrationDataset = await send(flags.calibration, '--calibration');
  if (flags.eval !== undefined) settings.evaluationDataset = await send(flags.eval, '--eval', flags.labels);
  if (flags.calibrationOnCoordinator !== undefined) settings.calibrationDir = resolve(flags.calibrationOnCoordinator);
  if (preprocess !== undefined) settings.preprocess = typeof preprocess === 'string' ? preprocess : JSON.stringify(preprocess);
  if (flags.task !== undefined) settings.task = flags.task;
  if (flags.evalImages !== undefined) settings.evaluationImages = flags.evalImages;
  return settings;
}
