// The space of run configurations a sweep searches: the axes a request names, their
// narrowing to one device (values it cannot run are skipped with the reason, never silently),
// the points they expand to, a configuration's stable id and label, and the time a search is
// expected to take. Pure: the coordinator plans with it and the agent's suite expands the same
// axes with it, so both name every point alike. Loads nothing native.
import { createHash } from 'node:crypto';
import type { ConfigAxis, ConfigSkip, RunConfig } from '@benchfarm/protocol';

/** The settings a search can vary, in the order a quick search walks them. */
export const CONFIG_AXES = ['provider', 'intra_op_threads', 'graph_optimization_level', 'inter_op_threads', 'execution_mode', 'batch_size', 'concurrency'] as const;
/** One of {@link CONFIG_AXES}. */
export type ConfigAxisName = (typeof CONFIG_AXES)[number];

/** Short names a request may use for an axis (CLI `--dim threads=1,2`, sweep files). */
export const AXIS_ALIASES: Readonly<Record<string, ConfigAxisName>> = {
  provider: 'provider',
  providers: 'provider',
  ep: 'provider',
  execution_provider: 'provider',
  executionProvider: 'provider',
  threads: 'intra_op_threads',
  intra: 'intra_op_threads',
  intra_op_threads: 'intra_op_threads',
  intraOpThreads: 'intra_op_threads',
  inter: 'inter_op_threads',
  inter_op_threads: 'inter_op_threads',
  interOpThreads: 'inter_op_threads',
  mode: 'execution_mode',
  execution_mode: 'execution_mode',
  executionMode: 'execution_mode',
  level: 'graph_optimization_level',
  graph_optimization_level: 'graph_optimization_level',
  graphOptimizationLevel: 'graph_optimization_level',
  batch: 'batch_size',
  batch_size: 'batch_size',
  batchSize: 'batch_size',
  concurrency: 'concurrency',
};

export const EXECUTION_MODES = ['sequential', 'parallel'] as const;
export const GRAPH_LEVELS = ['disabled', 'basic', 'extended', 'all'] as const;

/** Most values one axis may list, and most points one device's space may hold. */
export const MAX_AXIS_VALUES = 16;
export const MAX_SPACE_POINTS = 512;
/** Highest thread count or concurrency a request may name (a device with more cores uses `auto`). */
export const MAX_THREADS = 256;
export const MAX_CONCURRENCY = 64;
export const MAX_BATCH = 1024;

/**
 * Provider options each known provider takes, with how a value is checked. Flags (`fp16`) are
 * written bare in the text form and stored as "1". Unknown providers take no options.
 */
const PROVIDER_OPTIONS: Readonly<Record<string, Readonly<Record<string, 'flag' | 'uint' | 'device'>>>> = {
  cpu: {},
  cuda: { device_id: 'uint' },
  tensorrt: { device_id: 'uint', fp16: 'flag', int8: 'flag', workspace_mb: 'uint' },
  openvino: { device_type: 'device' },
  dml: { device_id: 'uint' },
  coreml: {},
  xnnpack: {},
  qnn: {},
  webgpu: {},
};

/** An execution provider with its options, as a search point carries it. */
export interface ProviderSpec {
  name: string;
  options: Record<string, string>;
}

const PROVIDER_NAME = /^[a-z][a-z0-9_]{0,31}$/;
const DEVICE_TYPE = /^[A-Za-z0-9_.:-]{1,32}$/;

/**
 * Parses `name[:option[,option...]]` where an option is `key=value` or a bare flag:
 * `cpu`, `cuda:device_id=1`, `tensorrt:fp16,workspace_mb=2048`, `openvino:device_type=GPU`.
 * Returns the message instead when the text is malformed (the caller names the field). Pure.
 */
export function parseProviderSpec(text: string): ProviderSpec | string {
  const trimmed = text.trim();
  const colon = trimmed.indexOf(':');
  const name = (colon < 0 ? trimmed : trimmed.slice(0, colon)).toLowerCase();
  if (!PROVIDER_NAME.test(name)) return `provider ${JSON.stringify(text)}: the name must be like cpu, cuda, tensorrt, openvino`;
  const known = PROVIDER_OPTIONS[name];
  const options: Record<string, string> = {};
  const rest = colon < 0 ? '' : trimmed.slice(colon + 1).trim();
  if (rest !== '') {
    for (const part of rest.split(',')) {
      const [rawKey = '', ...valueParts] = part.split('=');
      const key = rawKey.trim();
      const value = valueParts.length === 0 ? undefined : valueParts.join('=').trim();
      const kind = known?.[key];
      if (!kind) {
        const allowed = Object.keys(known ?? {});
        return `provider ${JSON.stringify(text)}: unknown option ${JSON.stringify(key)} for ${name} (${allowed.length > 0 ? `known: ${allowed.join(', ')}` : 'it takes no options'})`;
      }
      if (key in options) return `provider ${JSON.stringify(text)}: option ${key} given twice`;
      if (kind === 'flag') {
        if (value !== undefined && value !== '1' && value !== 'true') return `provider ${JSON.stringify(text)}: ${key} is a flag (write it bare, e.g. ${name}:${key})`;
        options[key] = '1';
      } else if (kind === 'uint') {
        if (value === undefined || !/^\d{1,7}$/.test(value)) return `provider ${JSON.stringify(text)}: ${key} must be a whole number`;
        options[key] = String(Number(value));
      } else {
        if (value === undefined || !DEVICE_TYPE.test(value)) return `provider ${JSON.stringify(text)}: ${key} must be a device name like CPU, GPU or NPU`;
        options[key] = value;
      }
    }
  }
  return { name, options };
}

/** The canonical text of a provider spec: options sorted, flags bare. Pure. */
export function providerSpecText(spec: ProviderSpec): string {
  const keys = Object.keys(spec.options).sort();
  if (keys.length === 0) return spec.name;
  const kinds = PROVIDER_OPTIONS[spec.name] ?? {};
  return `${spec.name}:${keys.map((k) => (kinds[k] === 'flag' ? k : `${k}=${spec.options[k]}`)).join(',')}`;
}

/** onnxruntime's defaults: what a session gets when nothing is set (the search's baseline). */
export const BASELINE_SETTINGS: Omit<RunConfig, 'id'> = {
  executionProvider: 'cpu',
  providerOptions: {},
  intraOpThreads: 0,
  interOpThreads: 0,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
  batchSize: 0,
  concurrency: 0,
};

/**
 * A configuration's id: "c" and the first 10 hex digits of the SHA-256 of its canonical
 * settings (keys in a fixed order, provider options sorted). The same settings get the same
 * id on every device and in every sweep. Pure.
 */
export function configId(settings: Omit<RunConfig, 'id'>): string {
  const options = Object.keys(settings.providerOptions).sort().map((k) => [k, settings.providerOptions[k]]);
  const canonical = JSON.stringify([
    settings.executionProvider,
    options,
    settings.intraOpThreads,
    settings.interOpThreads,
    settings.executionMode,
    settings.graphOptimizationLevel,
    settings.batchSize,
    settings.concurrency,
  ]);
  return `c${createHash('sha256').update(canonical).digest('hex').slice(0, 10)}`;
}

/** Settings with their id. Pure. */
export function withId(settings: Omit<RunConfig, 'id'>): RunConfig {
  const copy: Omit<RunConfig, 'id'> = { ...settings, providerOptions: { ...settings.providerOptions } };
  return { id: configId(copy), ...copy };
}

/** The baseline configuration (onnxruntime's defaults) with its id. */
export function baselineConfig(): RunConfig {
  return withId(BASELINE_SETTINGS);
}

/**
 * A configuration in a few words: `cpu t2 basic`, `tensorrt:fp16 t=default all`,
 * `cpu t4 parallel i2 all b8 c4`. Default thread counts read `t=default`. Pure.
 */
export function configLabel(config: Omit<RunConfig, 'id'>): string {
  const parts = [providerSpecText({ name: config.executionProvider, options: config.providerOptions })];
  parts.push(config.intraOpThreads > 0 ? `t${config.intraOpThreads}` : 't=default');
  if (config.executionMode === 'parallel') parts.push('parallel');
  if (config.interOpThreads > 0) parts.push(`i${config.interOpThreads}`);
  parts.push(config.graphOptimizationLevel);
  if (config.batchSize > 0) parts.push(`b${config.batchSize}`);
  if (config.concurrency > 1) parts.push(`c${config.concurrency}`);
  return parts.join(' ');
}

/** Thrown when a request's dimensions are malformed; `field` names the axis (or the text). */
export class ConfigSpaceError extends Error {
  override readonly name = 'ConfigSpaceError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** The dimensions a request names, before any device narrows them: axis -> value texts. */
export type DimensionsRequest = Partial<Record<ConfigAxisName, readonly (string | number)[]>>;

/**
 * Parses the compact text form `threads=1,2;level=basic,all;provider=cpu,cuda` (axes split by
 * `;`, values by `,`, except inside a provider's options, which are split by `+`:
 * `provider=cpu,tensorrt:fp16+workspace_mb=2048`). Thrown errors: ConfigSpaceError. Pure.
 */
export function parseDimensionsText(text: string): DimensionsRequest {
  const out: Record<string, string[]> = {};
  for (const part of text.split(';')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    if (eq < 0) throw new ConfigSpaceError('dimensions', `${JSON.stringify(part.trim())} is not "axis=value,value" (axes: ${CONFIG_AXES.join(', ')})`);
    const raw = part.slice(0, eq).trim();
    const axis = AXIS_ALIASES[raw];
    if (!axis) throw new ConfigSpaceError('dimensions', `unknown axis ${JSON.stringify(raw)} (axes: ${CONFIG_AXES.join(', ')}; short names threads, inter, mode, level, batch, ep)`);
    if (axis in out) throw new ConfigSpaceError(`dimensions.${axis}`, `axis ${axis} given twice`);
    out[axis] = part
      .slice(eq + 1)
      .split(',')
      .map((v) => (axis === 'provider' ? v.trim().replace(/\+/g, ',') : v.trim()))
      .filter((v) => v !== '');
  }
  return out as DimensionsRequest;
}

/**
 * Checks a request's dimensions and returns them as canonical axes in {@link CONFIG_AXES}
 * order (values canonical and de-duplicated, in the order given). Axes not named are absent
 * (a point takes the baseline's value for them). `intra_op_threads` takes whole numbers,
 * `default` (onnxruntime's choice, 0) and `auto` (1..physical cores of each device).
 *
 * Thrown errors: ConfigSpaceError naming `dimensions.<axis>` and the bad value. Pure.
 */
export function checkDimensions(request: DimensionsRequest, scenario: string): ConfigAxis[] {
  const axes: ConfigAxis[] = [];
  for (const key of Object.keys(request)) {
    if (!CONFIG_AXES.some((a) => a === key)) throw new ConfigSpaceError(`dimensions.${key}`, `unknown axis (axes: ${CONFIG_AXES.join(', ')})`);
  }
  for (const axis of CONFIG_AXES) {
    const given = request[axis];
    if (given === undefined) continue;
    const field = `dimensions.${axis}`;
    if (!Array.isArray(given) || given.length === 0) throw new ConfigSpaceError(field, 'must list at least one value');
    if (given.length > MAX_AXIS_VALUES) throw new ConfigSpaceError(field, `lists ${given.length} values; at most ${MAX_AXIS_VALUES}`);
    if ((axis === 'batch_size' || axis === 'concurrency') && scenario !== 'offline') {
      throw new ConfigSpaceError(field, `only the offline scenario runs batches and concurrent queries (this sweep's scenario is ${scenario})`);
    }
    const values: string[] = [];
    for (const raw of given) {
      const value = canonicalValue(axis, raw);
      if (value.startsWith('!')) throw new ConfigSpaceError(field, value.slice(1));
      if (!values.includes(value)) values.push(value);
    }
    axes.push({ name: axis, values });
  }
  return axes;
}

function canonicalValue(axis: ConfigAxisName, raw: string | number): string {
  const text = String(raw).trim();
  const whole = (max: number, min: number): string => {
    if (!/^\d{1,6}$/.test(text) || Number(text) < min || Number(text) > max) return `!${JSON.stringify(raw)} is not a whole number from ${min} to ${max}`;
    return String(Number(text));
  };
  switch (axis) {
    case 'provider': {
      const spec = parseProviderSpec(text);
      return typeof spec === 'string' ? `!${spec}` : providerSpecText(spec);
    }
    case 'intra_op_threads':
      if (text === 'auto' || text === 'default') return text;
      return whole(MAX_THREADS, 1);
    case 'inter_op_threads':
      if (text === 'default') return 'default';
      return whole(MAX_THREADS, 1);
    case 'execution_mode':
      return EXECUTION_MODES.some((m) => m === text) ? text : `!${JSON.stringify(raw)} is not one of ${EXECUTION_MODES.join(', ')}`;
    case 'graph_optimization_level':
      return GRAPH_LEVELS.some((m) => m === text) ? text : `!${JSON.stringify(raw)} is not one of ${GRAPH_LEVELS.join(', ')}`;
    case 'batch_size':
      return whole(MAX_BATCH, 1);
    case 'concurrency':
      return whole(MAX_CONCURRENCY, 1);
  }
}

/** What the coordinator knows of a device when it narrows the axes. */
export interface DeviceFacts {
  /** Providers the agent reported it can create a session with. */
  executionProviders: readonly string[];
  logicalCores: number;
  /** 0 or absent = unknown: `auto` then runs to the logical cores, and says so. */
  physicalCores?: number;
}

/** Axes narrowed to one device, with every value it cannot run listed. */
export interface NarrowedSpace {
  axes: ConfigAxis[];
  skipped: ConfigSkip[];
  /** Notes that change no value but a reader should know (e.g. `auto` without a physical core count). */
  notes: string[];
}

/**
 * Narrows canonical axes to a device: a provider it did not report and thread counts above its
 * logical cores are skipped with the reason; `auto` becomes 1..physical cores (logical when the
 * physical count is unknown). An axis can end up empty: then no point runs there. Pure.
 */
export function narrowForDevice(axes: readonly ConfigAxis[], device: DeviceFacts): NarrowedSpace {
  const skipped: ConfigSkip[] = [];
  const notes: string[] = [];
  const logical = Math.max(1, device.logicalCores);
  const physical = device.physicalCores !== undefined && device.physicalCores > 0 ? device.physicalCores : undefined;
  const out: ConfigAxis[] = [];
  for (const axis of axes) {
    const values: string[] = [];
    const add = (v: string): void => {
      if (!values.includes(v)) values.push(v);
    };
    for (const value of axis.values) {
      if (axis.name === 'provider') {
        const name = value.split(':')[0] ?? value;
        if (!device.executionProviders.includes(name)) {
          skipped.push({ axis: axis.name, value, reason: `this device cannot create a ${name} session (it reports ${device.executionProviders.join(', ') || 'none'})`, label: '' });
          continue;
        }
        add(value);
      } else if ((axis.name === 'intra_op_threads' || axis.name === 'inter_op_threads') && value === 'auto') {
        const upTo = physical ?? logical;
        if (physical === undefined) notes.push(`intra_op_threads=auto ran 1..${logical} (logical cores): the device did not report its physical cores`);
        for (let t = 1; t <= upTo; t++) add(String(t));
      } else if ((axis.name === 'intra_op_threads' || axis.name === 'inter_op_threads') && value !== 'default' && Number(value) > logical) {
        skipped.push({ axis: axis.name, value, reason: `${value} threads exceed this device's ${logical} logical cores`, label: '' });
      } else {
        add(value);
      }
    }
    out.push({ name: axis.name, values });
  }
  return { axes: out, skipped, notes };
}

/** The settings of one point: each axis's value applied over the baseline. Pure. */
export function settingsOf(values: Partial<Record<ConfigAxisName, string>>): Omit<RunConfig, 'id'> {
  const s: Omit<RunConfig, 'id'> = { ...BASELINE_SETTINGS, providerOptions: {} };
  for (const axis of CONFIG_AXES) {
    const value = values[axis];
    if (value === undefined) continue;
    switch (axis) {
      case 'provider': {
        const spec = parseProviderSpec(value);
        if (typeof spec === 'string') throw new ConfigSpaceError('dimensions.provider', spec);
        s.executionProvider = spec.name;
        s.providerOptions = spec.options;
        break;
      }
      case 'intra_op_threads':
        s.intraOpThreads = value === 'default' || value === 'auto' ? 0 : Number(value);
        break;
      case 'inter_op_threads':
        s.interOpThreads = value === 'default' ? 0 : Number(value);
        break;
      case 'execution_mode':
        s.executionMode = value;
        break;
      case 'graph_optimization_level':
        s.graphOptimizationLevel = value;
        break;
      case 'batch_size':
        s.batchSize = Number(value);
        break;
      case 'concurrency':
        s.concurrency = Number(value);
        break;
    }
  }
  return s;
}

/** Why a combination of values is not a point of its own, or undefined when it is. Pure. */
export function pointSkipReason(config: Omit<RunConfig, 'id'>): string | undefined {
  if (config.executionMode !== 'parallel' && config.interOpThreads > 0) return 'inter_op_threads only applies in parallel execution mode';
  return undefined;
}

/** The points of a space. */
export interface ExpandedSpace {
  /** Every runnable point, in axis-major order (the last axis varies fastest). */
  points: RunConfig[];
  /** Combinations that are not points, with the reason. */
  skipped: ConfigSkip[];
  /** Per point id, the axis values that made it (for a quick search's neighbours). */
  valuesOf: Map<string, Partial<Record<ConfigAxisName, string>>>;
}

/**
 * Crosses the axes into points (an empty axis gives none). Combinations that are not points
 * ({@link pointSkipReason}) are listed as skipped; duplicates (two values meaning the same
 * setting) are kept once. Thrown errors: ConfigSpaceError when the space exceeds
 * {@link MAX_SPACE_POINTS}. Pure.
 */
export function expandSpace(axes: readonly ConfigAxis[]): ExpandedSpace {
  const total = axes.reduce((n, a) => n * a.values.length, 1);
  if (total > MAX_SPACE_POINTS) throw new ConfigSpaceError('dimensions', `the axes cross into ${total} points; at most ${MAX_SPACE_POINTS}`);
  const points: RunConfig[] = [];
  const skipped: ConfigSkip[] = [];
  const valuesOf = new Map<string, Partial<Record<ConfigAxisName, string>>>();
  const walk = (i: number, chosen: Partial<Record<ConfigAxisName, string>>): void => {
    const axis = axes[i];
    if (!axis) {
      const settings = settingsOf(chosen);
      const config = withId(settings);
      const reason = pointSkipReason(settings);
      if (reason !== undefined) {
        if (!skipped.some((s) => s.value === config.id)) skipped.push({ axis: '', value: config.id, reason, label: configLabel(settings) });
        return;
      }
      if (valuesOf.has(config.id)) return;
      valuesOf.set(config.id, { ...chosen });
      points.push(config);
      return;
    }
    for (const value of axis.values) walk(i + 1, { ...chosen, [axis.name as ConfigAxisName]: value });
  };
  if (axes.every((a) => a.values.length > 0)) walk(0, {});
  return { points, skipped, valuesOf };
}

/** Time allowed per point for opening its session (and a provider's build) in estimates. */
export const SESSION_ALLOWANCE_MS = 1500;
/** A quick search walks the axes at most this many times. */
export const MAX_QUICK_PASSES = 3;

/** How a search's time is estimated before anything runs. */
export interface SearchEstimateInput {
  strategy: 'grid' | 'quick';
  axes: readonly ConfigAxis[];
  variants: number;
  pointWarmupMs: number;
  pointDurationMs: number;
  confirmRounds: number;
}

/** The measurements a search makes at most on one device and the time they take. */
export interface SearchEstimate {
  points: number;
  /** Points measured over all variants (quick: its worst case). */
  measurements: number;
  estimatedMs: number;
}

/**
 * Estimates a search on one device: every measurement costs {@link SESSION_ALLOWANCE_MS} +
 * warm-up + window, and each variant's confirmation `confirmRounds` rounds of best and baseline
 * of a quarter window each plus two sessions. A quick search counts its worst case: the
 * baseline, then each axis's other values, {@link MAX_QUICK_PASSES} times, never more than the
 * grid. Pure.
 */
export function estimateSearch(input: SearchEstimateInput): SearchEstimate {
  const { points } = expandSpace(input.axes);
  const perVariantGrid = points.length;
  const perPass = input.axes.reduce((n, a) => n + Math.max(0, a.values.length - 1), 0);
  const perVariant = input.strategy === 'grid' ? perVariantGrid : Math.min(perVariantGrid, 1 + MAX_QUICK_PASSES * perPass);
  const measurements = perVariant * input.variants;
  const pointMs = SESSION_ALLOWANCE_MS + input.pointWarmupMs + input.pointDurationMs;
  const confirmMs = 2 * SESSION_ALLOWANCE_MS + input.confirmRounds * 2 * (input.pointDurationMs / 4);
  return { points: perVariantGrid, measurements, estimatedMs: Math.round(measurements * pointMs + input.variants * confirmMs) };
}
