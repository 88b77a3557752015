import { z } from 'zod';
import { configSearchFields, configSearchProblems } from './config-search-request';
import { runtimeField } from './runtime-request';
import { scenarioFields, scenarioProblems } from './scenario-request';

/** Defaults of a sweep's options, as the OpenAPI document states them. */
export const SWEEP_DEFAULTS = {
  variants: ['fp32', 'ort-basic'],
  targets: ['all'],
  threads: 0,
  warmupMinQueries: 10,
  warmupMinDurationMs: 500,
  minQueries: 100,
  /** Applied as min(2000, maxDurationMs): a short max alone is not refused for the default min. */
  minDurationMs: 2000,
  maxDurationMs: 60_000,
  seed: 0,
  /** Evaluation images at most per sweep: a bigger evaluation split is cut deterministically (evenly spaced by name). */
  evaluationImages: 500,
} as const;

/** Upper bounds of a sweep's numeric options. */
export const SWEEP_LIMITS = {
  threads: 1024,
  warmupMinQueries: 1_000_000,
  warmupMinDurationMs: 3_600_000,
  minQueries: 10_000_000,
  minDurationMs: 86_400_000,
  maxDurationMs: 86_400_000,
  seed: 0xffff_ffff,
  evaluationImages: 100_000,
} as const;

/** What an evaluation measures: detection (YOLO-family outputs), classification ([1, C] output) or output fidelity only. */
export const EVALUATION_TASKS = ['detection', 'classification', 'fidelity'] as const;
/** One of {@link EVALUATION_TASKS}. */
export type EvaluationTask = (typeof EVALUATION_TASKS)[number];

const trimmed = (value: unknown): unknown => (typeof value === 'string' ? value.trim() : value);

const list = (fallback: readonly string[]) =>
  z
    .union([z.string(), z.array(z.string())], { error: 'must be a comma-separated string or an array of strings' })
    .optional()
    .transform((value) => {
      if (value === undefined) return [...fallback];
      const items = (Array.isArray(value) ? value : [value]).flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
      return items.length === 0 ? [...fallback] : items;
    });

/** Multipart sends numbers as text: an integer's text becomes the number, blank becomes absent. */
const integerText = (value: unknown): unknown => {
  const v = trimmed(value);
  if (v === '' || v === undefined || v === null) return undefined;
  return typeof v === 'string' && /^[+-]?\d+$/.test(v) ? Number(v) : v;
};

const integer = (min: number, max: number) => z.number({ error: 'must be an integer' }).int('must be an integer').min(min, `must be >= ${min}`).max(max, `must be <= ${max}`);

const count = (fallback: number, min: number, max: number) => z.preprocess(integerText, integer(min, max).default(fallback));

/** The min duration a request that gives none gets: the default, or its max duration when that is shorter. */
export function defaultMinDurationMs(maxDurationMs: number): number {
  return Math.min(SWEEP_DEFAULTS.minDurationMs, maxDurationMs);
}

/** Base names of the variants whose derivation reads calibration data (`int8-static:entropy` is int8-static). */
export const CALIBRATED_VARIANTS = ['int8-static', 'int8-auto'] as const;

/** Whether a variant (`name` or `name:options`) reads calibration data. */
export function usesCalibration(variant: string): boolean {
  const base = variant.split(':')[0]?.trim() ?? '';
  return CALIBRATED_VARIANTS.some((name) => name === base);
}

/** Fields that only feed calibrated variants: without one they would be ignored, so they are refused. */
const CALIBRATION_FIELDS = ['calibrationDir', 'calibrationRandom', 'calibrationPreprocess'] as const;

const DIMS = /^\d+(x\d+)*$/;

/**
 * Parses `x:1x3x320x320` (several separated by `,` or `;`) or a JSON object text into
 * shapes by input name. Returns a message instead when the text is malformed.
 */
export function parseShapesText(text: string): Record<string, number[]> | string {
  const source = text.trim();
  if (source.startsWith('{')) {
    try {
      return JSON.parse(source) as Record<string, number[]>;
    } catch {
      return 'is not valid JSON';
    }
  }
  const shapes: Record<string, number[]> = {};
  for (const part of source.split(/[,;]/).map((p) => p.trim()).filter((p) => p !== '')) {
    const colon = part.lastIndexOf(':');
    const name = part.slice(0, colon).trim();
    const dims = part.slice(colon + 1).trim();
    if (colon <= 0 || !DIMS.test(dims)) return `${JSON.stringify(part)} is not "input:1x3x224x224"`;
    if (name in shapes) return `input ${JSON.stringify(name)} is given twice`;
    shapes[name] = dims.split('x').map(Number);
  }
  return shapes;
}

const shapeRecord = z.record(
  z.string().min(1, 'input names must not be empty'),
  z.array(z.number().int('dims must be integers').min(1, 'dims must be >= 1').max(1 << 24, 'dims must be <= 16777216'), { error: 'must be an array of dims' }).min(1, 'must have at least one dim'),
  { error: 'must be an object of input name to dims, or "input:1x3x224x224"' },
);

const shapes = z.preprocess((value, ctx) => {
  const v = trimmed(value);
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') return v;
  const parsed = parseShapesText(v);
  if (typeof parsed === 'string') {
    ctx.addIssue({ code: 'custom', message: parsed });
    return z.NEVER;
  }
  return parsed;
}, shapeRecord.optional());

const preprocessField = z.preprocess(
  (value) => {
    const v = trimmed(value);
    if (typeof v === 'string' && v.startsWith('{')) {
      try {
        return JSON.parse(v) as unknown;
      } catch {
        return v;
      }
    }
    return v === '' ? undefined : v;
  },
  z.union([z.string(), z.record(z.string(), z.unknown())], { error: 'must be a preset name or a preprocessing config object' }).optional(),
);

const datasetField = z.preprocess(trimmed, z.string({ error: 'must be a dataset id or name' }).min(1, 'must not be empty').max(200, 'must be at most 200 characters').optional());

/**
 * The schema every sweep request is parsed with (JSON body or multipart text fields). The
 * OpenAPI document's CreateSweep schemas are generated from it (the coordinator's
 * openapi/request-schemas.ts) and the CLI's sweep file takes exactly its keys, so a field
 * added here is documented and accepted from a sweep file, or the contract test fails.
 */
export const sweepRequestSchema = z
  .strictObject({
    name: z.preprocess(trimmed, z.string({ error: 'must be a string' }).min(1, 'must not be empty').max(200, 'must be at most 200 characters').optional()),
    modelPath: z.preprocess(trimmed, z.string({ error: 'must be a string' }).min(1, 'must not be empty').optional()),
    variants: list(SWEEP_DEFAULTS.variants),
    targets: list(SWEEP_DEFAULTS.targets),
    shapes,
    calibrationDir: z.preprocess(trimmed, z.string({ error: 'must be a string' }).min(1, 'must not be empty').optional()),
    calibrationPreprocess: preprocessField,
    preprocess: preprocessField,
    dataset: datasetField,
    calibrationDataset: datasetField,
    evaluationDataset: datasetField,
    task: z.preprocess((value) => (trimmed(value) === '' ? undefined : trimmed(value)), z.enum(EVALUATION_TASKS, { error: `must be one of ${EVALUATION_TASKS.join(', ')}` }).optional()),
    evaluationImages: count(SWEEP_DEFAULTS.evaluationImages, 1, SWEEP_LIMITS.evaluationImages),
    ownVariants: z.preprocess(
      (value) => {
        const v = trimmed(value);
        if (v === undefined || v === null || v === '') return undefined;
        if (typeof v !== 'string') return v;
        if (v.startsWith('{')) {
          try {
            return JSON.parse(v) as unknown;
          } catch {
            return v;
          }
        }
        // "name=/path/a.onnx,other=/path/b.onnx" from a multipart form
        return Object.fromEntries(v.split(',').map((pair) => pair.trim()).filter(Boolean).map((pair) => [pair.slice(0, Math.max(pair.indexOf('='), 0)).trim(), pair.slice(pair.indexOf('=') + 1).trim()]));
      },
      z
        .record(z.string().regex(/^[A-Za-z0-9._+-]{1,64}$/, 'variant names are 1-64 of A-Z a-z 0-9 . _ + -'), z.string().min(1, 'must be a path'), { error: 'must be an object of name to path, or "name=/path.onnx,..."' })
        .optional(),
    ),
    calibrationRandom: z.preprocess((value) => {
      const v = trimmed(value);
      if (v === '' || v === undefined || v === null) return undefined;
      return typeof v === 'string' && /^[+-]?\d+$/.test(v) ? Number(v) : v;
    }, z.number({ error: 'must be an integer' }).int('must be an integer').min(1, 'must be >= 1').max(1000, 'must be <= 1000').optional()),
    threads: count(SWEEP_DEFAULTS.threads, 0, SWEEP_LIMITS.threads),
    warmupMinQueries: count(SWEEP_DEFAULTS.warmupMinQueries, 0, SWEEP_LIMITS.warmupMinQueries),
    warmupMinDurationMs: count(SWEEP_DEFAULTS.warmupMinDurationMs, 0, SWEEP_LIMITS.warmupMinDurationMs),
    minQueries: count(SWEEP_DEFAULTS.minQueries, 1, SWEEP_LIMITS.minQueries),
    // No zod default: it depends on maxDurationMs (defaultMinDurationMs).
    minDurationMs: z.preprocess(integerText, integer(0, SWEEP_LIMITS.minDurationMs).optional()),
    maxDurationMs: count(SWEEP_DEFAULTS.maxDurationMs, 1, SWEEP_LIMITS.maxDurationMs),
    seed: count(SWEEP_DEFAULTS.seed, 0, SWEEP_LIMITS.seed),
    runtime: runtimeField,
    ...scenarioFields,
    ...configSearchFields,
  }, { error: (issue) => (issue.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}` : undefined) })
  .superRefine((value, ctx) => {
    if (value.minDurationMs !== undefined && value.minDurationMs > value.maxDurationMs) {
      ctx.addIssue({ code: 'custom', path: ['minDurationMs'], message: `minDurationMs (${value.minDurationMs}) must not exceed maxDurationMs (${value.maxDurationMs})` });
    }
    if (!value.variants.some(usesCalibration)) {
      for (const field of CALIBRATION_FIELDS) {
        if (value[field] === undefined) continue;
        ctx.addIssue({ code: 'custom', path: [field], message: `${field}: no variant of this sweep uses calibration (variants ${value.variants.join(',')}); only ${CALIBRATED_VARIANTS.join(' and ')} calibrate (e.g. int8-static, int8-auto:floor=0.97): add one or leave ${field} out` });
      }
    }
    if (value.calibrationDir !== undefined && value.calibrationRandom !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['calibrationRandom'], message: 'give either calibrationDir or calibrationRandom, not both' });
    }
    if (value.calibrationDir !== undefined && value.calibrationPreprocess === undefined && value.preprocess === undefined) {
      ctx.addIssue({ code: 'custom', path: ['calibrationPreprocess'], message: 'calibration images need a preprocessing config: a preset (yolox, yolo, imagenet) or a config object' });
    }
    for (const problem of datasetProblems(value)) ctx.addIssue({ code: 'custom', path: [problem.path], message: problem.message });
    // An external tool runs its own single-stream loop: the suite's other scenarios are not reachable through it.
    if (value.runtime !== undefined && value.scenario !== 'single_stream') {
      ctx.addIssue({ code: 'custom', path: ['runtime'], message: `runtime ${value.runtime.tool} measures single-stream latency only; scenario ${value.scenario} needs onnxruntime-node (leave runtime out)` });
    }
    for (const problem of scenarioProblems(value)) ctx.addIssue({ code: 'custom', path: [problem.path], message: problem.message });
    for (const problem of configSearchProblems(value)) ctx.addIssue({ code: 'custom', path: problem.path, message: problem.message });
  });

/**
 * The dataset fields' rules: one way to name the data, one calibration source, and an
 * evaluation only where the all-variants job runs it (after its interleaved rounds).
 */
function datasetProblems(value: {
  dataset?: string | undefined;
  calibrationDataset?: string | undefined;
  evaluationDataset?: string | undefined;
  calibrationDir?: string | undefined;
  calibrationRandom?: number | undefined;
  task?: EvaluationTask | undefined;
  compare: string;
  runtime?: unknown;
}): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  if (value.dataset !== undefined && (value.calibrationDataset !== undefined || value.evaluationDataset !== undefined)) {
    problems.push({ path: 'dataset', message: 'give either dataset (split into calibration and evaluation images) or calibrationDataset / evaluationDataset, not both' });
  }
  const calibrates = value.dataset !== undefined || value.calibrationDataset !== undefined;
  if (calibrates && value.calibrationDir !== undefined) problems.push({ path: 'calibrationDir', message: `give either calibrationDir or ${value.dataset !== undefined ? 'dataset' : 'calibrationDataset'} as the calibration images, not both` });
  if (calibrates && value.calibrationRandom !== undefined) problems.push({ path: 'calibrationRandom', message: `give either calibrationRandom or ${value.dataset !== undefined ? 'dataset' : 'calibrationDataset'}, not both` });
  const evaluates = value.dataset !== undefined || value.evaluationDataset !== undefined;
  const evalField = value.dataset !== undefined ? 'dataset' : 'evaluationDataset';
  if (evaluates && value.compare === 'none') {
    problems.push({ path: 'compare', message: `compare none leaves no job to evaluate ${evalField} on: the evaluation runs on each device's all-variants job after its interleaved rounds (leave compare at interleaved)` });
  }
  if (evaluates && value.runtime !== undefined) problems.push({ path: 'runtime', message: `an external runtime cannot evaluate ${evalField}: the evaluation runs in onnxruntime-node on each device's all-variants job (leave runtime out)` });
  if (value.task !== undefined && !evaluates) problems.push({ path: 'task', message: 'task applies to an evaluation: give dataset or evaluationDataset' });
  return problems;
}

