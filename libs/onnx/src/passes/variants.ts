import { randomUUID } from 'node:crypto';
import { copyFile, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inspectModel, type ModelInfo, type TensorInfo } from '../model-io/analyse';
import { InvalidModelError, UnknownVariantError, VariantParamError, VariantPassError } from '../errors';
import { sha256Hex } from '../model-io/files';
import { readModel, readModelFile, writeModel } from '../model-io/model-io';
import { checkLoadsInOrt, checkLoadsInOrtIsolated, optimizeWithOrt, ORT_VERSION, runOrtTaskIsolated, type OrtOptimizationLevel } from '../runtime/ort';
import type { ModelProto } from '../model-io/proto';
import { COMPRESSION_PASSES, loadCalibration } from './compression-passes';
import { CalibrationDataError } from '../model-io/preprocess';
import { deriveVariantIsolated } from './derive-isolated';
import type { AutoQuantReport } from './quantize-auto.types';
import type { CalibrationData, CalibrationSource, DerivedVariant, FilePass, PassContext, VariantPass, VariantRecipe, VariantRegistry } from './variants.types';

/** How long an isolated derivation (calibration runs included) may take. */
const DEFAULT_DERIVE_TIMEOUT_MS = 600_000;

function ortOptimizePass(level: OrtOptimizationLevel, description: string, extra: VariantRecipe): FilePass {
  return {
    kind: 'file',
    description,
    changesModel: true,
    async derive(srcPath, outPath, context) {
      if (context.isolated) await runOrtTaskIsolated({ kind: 'optimize', srcPath, outPath, level }, { timeoutMs: context.timeoutMs });
      else await optimizeWithOrt(srcPath, outPath, level);
      return { pass: 'ort-optimize', level, provider: 'cpu', onnxruntime: ORT_VERSION, ...extra };
    },
  };
}

/**
 * The variants benchfarm can derive, by name. Passes added later (fp16, int8, pruning) go
 * here; {@link deriveVariant} and {@link parseVariantList} take another registry for tests.
 */
export const VARIANT_PASSES = {
  fp32: {
    kind: 'file',
    description: 'the model as given (inputs fixed), byte for byte',
    changesModel: false,
    async derive(srcPath, outPath) {
      await copyFile(srcPath, outPath);
      return { pass: 'identity' };
    },
  },
  'ort-basic': ortOptimizePass('basic', "onnxruntime's basic graph optimizations (constant folding, redundant node elimination, Conv/BN/Add fusions), portable ONNX", {
    portable: 'true',
  }),
  'ort-extended': ortOptimizePass('extended', "onnxruntime's extended graph optimizations: fusions into com.microsoft contrib ops of the CPU EP", {
    portable: 'false',
    note: 'contains onnxruntime contrib ops (com.microsoft domain) for the CPU execution provider; loads only in onnxruntime with that EP',
  }),
  ...COMPRESSION_PASSES,
} as const satisfies Record<string, VariantPass>;

/** A name in {@link VARIANT_PASSES}. */
export type VariantName = keyof typeof VARIANT_PASSES;

/**
 * Parses a comma-separated variant list (`'fp32,ort-basic'`): names trimmed, empties and
 * duplicates dropped, order kept. Thrown ({@link UnknownVariantError}) for a name not in the
 * registry, naming it and listing the known ones, or for a list with no names at all.
 */
export function parseVariantList(list: string, registry: VariantRegistry = VARIANT_PASSES): string[] {
  const known = Object.keys(registry);
  const names = [...new Set(list.split(',').map((n) => n.trim()).filter((n) => n !== ''))];
  if (names.length === 0) throw new UnknownVariantError('', known);
  for (const name of names) resolveVariantPass(name, registry);
  return names;
}

/**
 * The pass a variant name stands for: the registry entry of the whole name, or of the part
 * before the first `:` with the rest as its parameter (`prune-l1:0.5`, `int8-static:entropy`).
 * Thrown: {@link UnknownVariantError} for an unknown base name; VariantParamError for a
 * parameter the pass refuses (or a parameter given to a pass that takes none).
 */
export function resolveVariantPass(name: string, registry: VariantRegistry = VARIANT_PASSES): { pass: VariantPass; param: string | undefined } {
  if (Object.hasOwn(registry, name)) {
    const pass = registry[name] as VariantPass;
    if (pass.kind === 'computed') pass.parseParam?.(undefined);
    return { pass, param: undefined };
  }
  const colon = name.indexOf(':');
  const base = colon > 0 ? name.slice(0, colon) : name;
  const pass = Object.hasOwn(registry, base) ? registry[base] : undefined;
  if (!pass) throw new UnknownVariantError(name, Object.keys(registry));
  const param = name.slice(colon + 1);
  if (pass.kind !== 'computed' || !pass.parseParam) throw new VariantParamError(name, `variant ${base} takes no parameter`);
  pass.parseParam(param);
  return { pass, param };
}

/** Options for {@link deriveVariant}. */
export interface DeriveOptions {
  /** Run onnxruntime in child processes (default true: the source is a user's model). */
  readonly isolated?: boolean;
  readonly timeoutMs?: number;
  readonly registry?: VariantRegistry;
  /** Where int8-static gets its calibration inputs; without it such a variant is refused. */
  readonly calibration?: CalibrationSource;
  /**
   * Images int8-auto checks its chosen layer set on, never searched on (a sweep's evaluation
   * split); without them it holds out every 3rd calibration image.
   */
  readonly holdout?: CalibrationSource;
  /**
   * Stops the derivation: an isolated one's child is killed at once (the call rejects with a
   * {@link VariantPassError}); an in-process pass is refused before it starts.
   */
  readonly signal?: AbortSignal;
}

const formatInputs = (inputs: TensorInfo[]): string => inputs.map((i) => `${i.name}:${i.elemType}[${(i.dims ?? []).join(',')}]`).join(' ');

/** "Constant -342, Conv +0" style summary of how op counts changed; '' when none did. */
export function opHistogramDelta(before: Record<string, number>, after: Record<string, number>): string {
  const ops = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  return ops
    .map((op) => [op, (after[op] ?? 0) - (before[op] ?? 0)] as const)
    .filter(([, delta]) => delta !== 0)
    .map(([op, delta]) => `${op} ${delta > 0 ? '+' : ''}${delta}`)
    .join(', ');
}

/**
 * Derives one variant of a model whose inputs are already fixed ({@link fixInputShapes}) and
 * writes it to `outDir/<sha256>.onnx`. Every output is checked before it is kept: it decodes
 * as ONNX, onnxruntime loads it, its inputs are the source's, and (for every pass but the
 * identity) its digest differs from the source's. The recipe gets the node counts before and
 * after and the op-count changes.
 *
 * Thrown: {@link UnknownVariantError} for a name not in the registry; {@link InvalidModelError}
 * for a source that is not acceptable ONNX or has dynamic inputs; {@link VariantPassError}
 * when the pass's output fails a check.
 */
export async function deriveVariant(name: string, srcPath: string, outDir: string, options: DeriveOptions = {}): Promise<DerivedVariant> {
  const registry: VariantRegistry = options.registry ?? VARIANT_PASSES;
  const { pass, param } = resolveVariantPass(name, registry);
  const isolated = options.isolated ?? true;
  if (options.signal?.aborted) throw new VariantPassError(name, 'the derivation was stopped before it started', { cause: options.signal.reason });
  // Computed passes run onnxruntime on the model (calibration, type discovery): in a child
  // process too when isolated. Only the built-in registry can be named across processes.
  if (isolated && pass.kind === 'computed' && registry === VARIANT_PASSES) {
    return deriveVariantIsolated({ name, srcPath, outDir, ...(options.calibration ? { calibration: options.calibration } : {}), ...(options.holdout ? { holdout: options.holdout } : {}) }, options.timeoutMs ?? DEFAULT_DERIVE_TIMEOUT_MS, options.signal);
  }
  const src = await readModelFile(srcPath);
  const before = inspectModel(src.model, src.bytes.length);
  for (const input of before.inputs) {
    if (input.dims === null || input.dims.some((d) => typeof d !== 'number')) {
      throw new InvalidModelError('invalid_shape', `graph.input.${input.name}`, `input ${JSON.stringify(input.name)} has dynamic dims; fix the input shapes (fixInputShapes) before deriving variants`);
    }
  }
  await mkdir(outDir, { recursive: true });
  const temp = join(outDir, `.${randomUUID()}.${name.replace(/[^A-Za-z0-9._-]/g, "_")}.onnx.part`);
  try {
    let recipe: VariantRecipe;
    let report: AutoQuantReport | undefined;
    if (pass.kind === 'model') {
      const result = pass.apply(src.model, before);
      recipe = result.recipe;
      await writeFile(temp, writeModel(result.model));
    } else if (pass.kind === 'computed') {
      let calibration: Promise<CalibrationData> | undefined;
      let holdout: Promise<CalibrationData | undefined> | undefined;
      const context: PassContext = {
        param,
        calibration: () => (calibration ??= loadCalibration(options.calibration, src.model)),
        holdout: () => (holdout ??= options.holdout ? loadCalibration(options.holdout, src.model, 'holdout') : Promise.resolve(undefined)),
      };
      let result: { model: ModelProto; recipe: VariantRecipe; report?: AutoQuantReport };
      try {
        result = await pass.apply(src.model, before, context);
      } catch (err) {
        if (err instanceof VariantPassError || err instanceof InvalidModelError || err instanceof CalibrationDataError || err instanceof VariantParamError) throw err;
        throw new VariantPassError(name, (err as Error).message, { cause: err });
      }
      recipe = result.recipe;
      report = result.report;
      await writeFile(temp, writeModel(result.model));
    } else {
      recipe = await pass.derive(srcPath, temp, { isolated, timeoutMs: options.timeoutMs });
    }
    const bytes = await readFile(temp);
    let after: ModelInfo;
    try {
      after = inspectModel(readModel(bytes), bytes.length);
      await (isolated ? checkLoadsInOrtIsolated(temp, { timeoutMs: options.timeoutMs }) : checkLoadsInOrt(temp));
    } catch (err) {
      throw new VariantPassError(name, `its output is not a model onnxruntime loads: ${(err as Error).message}`, { cause: err });
    }
    if (formatInputs(after.inputs) !== formatInputs(before.inputs)) {
      throw new VariantPassError(name, `it changed the model's inputs from ${formatInputs(before.inputs)} to ${formatInputs(after.inputs)}`);
    }
    const sha256 = sha256Hex(bytes);
    const changesModel = pass.kind !== 'file' || pass.changesModel;
    if (changesModel && sha256 === sha256Hex(src.bytes)) {
      throw new VariantPassError(name, 'its output is byte-identical to the source model');
    }
    const path = join(outDir, `${sha256}.onnx`);
    await rename(temp, path);
    return {
      name,
      path,
      sha256,
      sizeBytes: bytes.length,
      recipe: {
        ...recipe,
        nodeCountBefore: String(before.nodeCount),
        nodeCountAfter: String(after.nodeCount),
        ...(changesModel ? { opCountChanges: opHistogramDelta(before.opHistogram, after.opHistogram) || 'none' } : {}),
      },
      ...(report ? { report } : {}),
    };
  } finally {
    await rm(temp, { force: true });
  }
}
