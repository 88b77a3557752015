// One model preparation for every caller: the coordinator's `POST /sweeps` and the CLI's
// `benchfarm variants` read, check and fix a model (and take bring-your-own variants) alike.
import { readFile, writeFile } from 'node:fs/promises';
import type { TensorSpec } from '@benchfarm/protocol';
import { inspectModel, type ModelInfo } from './model-io/analyse';
import { InvalidModelError } from './errors';
import { readModel, readModelFile, writeModel } from './model-io/model-io';
import { checkLoadsInOrtIsolated, type IsolationOptions } from './runtime/ort';
import type { ModelProto } from './model-io/proto';
import { defaultShapes, fixInputShapes } from './model-io/shapes';

/** An output as the fixed model declares it: a dim is undefined when symbolic (or not positive). */
export interface PreparedOutput {
  readonly name: string;
  readonly dims: readonly (number | undefined)[] | null;
}

/** A model with every input dimension fixed, written to `path`. */
export interface PreparedModelFile {
  /** The fixed model file. */
  readonly path: string;
  /** The fixed model, as written. */
  readonly model: ModelProto;
  readonly inputs: TensorSpec[];
  readonly outputs: readonly PreparedOutput[];
}

/** Options of {@link prepareModel} and {@link prepareOwnVariant}. */
export interface PrepareOptions {
  /**
   * Prove onnxruntime loads the written file, in a child process (the coordinator: models are
   * untrusted). Off where the caller runs the model right after anyway (the CLI).
   */
  readonly checkLoads?: boolean;
  /** Time limit of that child process. */
  readonly ortTimeoutMs?: number;
}

async function checkLoads(path: string, options: PrepareOptions): Promise<void> {
  if (!options.checkLoads) return;
  const isolation: IsolationOptions = options.ortTimeoutMs === undefined ? {} : { timeoutMs: options.ortTimeoutMs };
  await checkLoadsInOrtIsolated(path, isolation);
}

function describeInputs(info: ModelInfo): string {
  return info.inputs.map((i) => `${i.name} [${(i.dims ?? []).map((d) => d ?? '?').join(', ')}]`).join(', ');
}

/**
 * Reads a model, checks it is ONNX with safe external data, fixes its dynamic input dimensions
 * (the given shapes, else batch 1 where that settles them), writes it to `outPath` and, with
 * `checkLoads`, proves onnxruntime loads it. Thrown: {@link InvalidModelError} (`invalid_shape`
 * with field `shapes` for a shape naming no input; the codes of readModel, fixInputShapes and
 * the onnxruntime check otherwise).
 */
export async function prepareModel(sourcePath: string, shapes: Readonly<Record<string, readonly number[]>> | undefined, outPath: string, options: PrepareOptions = {}): Promise<PreparedModelFile> {
  const { model, bytes } = await readModelFile(sourcePath);
  const info = inspectModel(model, bytes.length);
  const given = Object.fromEntries(Object.entries(shapes ?? {}).map(([name, dims]) => [name, [...dims]]));
  const unknown = Object.keys(given).filter((name) => !info.inputs.some((i) => i.name === name));
  if (unknown.length > 0) {
    throw new InvalidModelError('invalid_shape', 'shapes', `the model has no input ${unknown.map((n) => JSON.stringify(n)).join(', ')}; its inputs are ${describeInputs(info)}`);
  }
  const guessed = defaultShapes({ inputs: info.inputs.filter((i) => !Object.hasOwn(given, i.name)) }, { batch: 1 });
  const fixed = fixInputShapes(model, { ...guessed, ...given });
  await writeFile(outPath, writeModel(fixed.model));
  await checkLoads(outPath, options);
  // Declared output dims tell a detector or classifier from anything else (the evaluation's task).
  const outputs = inspectModel(fixed.model).outputs.map((o) => ({ name: o.name, dims: o.dims === null ? null : o.dims.map((d) => (typeof d === 'number' && d > 0 ? d : undefined)) }));
  return { path: outPath, model: fixed.model, inputs: fixed.inputs, outputs };
}

/** Why a bring-your-own variant was refused. */
export type OwnVariantProblem = 'unreadable' | 'invalid_model' | 'inputs_differ' | 'outputs_differ';

/**
 * Thrown when a bring-your-own variant cannot stand beside the prepared model: the file cannot
 * be read, is not a model onnxruntime loads, or its inputs or outputs are not the base model's.
 * The message names the variant and its file.
 */
export class OwnVariantError extends Error {
  override name = 'OwnVariantError';
  constructor(
    readonly variant: string,
    readonly path: string,
    readonly problem: OwnVariantProblem,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`own variant ${variant} (${path}): ${detail}`, options);
  }
}

/** A bring-your-own variant taken as a variant of a prepared model. */
export interface OwnVariantFile {
  readonly name: string;
  /** Its copy with the prepared model's input shapes, written to `outPath`. */
  readonly path: string;
  readonly model: ModelProto;
  readonly recipe: Record<string, string>;
}

const sortedNames = (items: readonly { name: string }[]): string => items.map((i) => i.name).sort().join(',');

/**
 * Takes a variant made elsewhere (QAT, distillation, a lighter architecture) as a variant of a
 * prepared model: same input and output names, input shapes fixed to the prepared ones,
 * written to `outPath` and, with `checkLoads`, loaded by onnxruntime. Thrown:
 * {@link OwnVariantError}.
 */
export async function prepareOwnVariant(name: string, path: string, prepared: Pick<PreparedModelFile, 'path' | 'inputs'>, outPath: string, options: PrepareOptions = {}): Promise<OwnVariantFile> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new OwnVariantError(name, path, 'unreadable', `not a readable file on this machine (${(err as Error).message})`, { cause: err });
  }
  try {
    const model = readModel(bytes);
    const info = inspectModel(model, bytes.length);
    const base = sortedNames(prepared.inputs);
    const own = sortedNames(info.inputs);
    if (base !== own) throw new OwnVariantError(name, path, 'inputs_differ', `its inputs (${own}) are not the base model's (${base})`);
    const baseOut = sortedNames(inspectModel(readModel(await readFile(prepared.path))).outputs);
    const ownOut = sortedNames(info.outputs);
    if (baseOut !== ownOut) throw new OwnVariantError(name, path, 'outputs_differ', `its outputs (${ownOut}) are not the base model's (${baseOut}); a variant must compute the same outputs so that it can be compared`);
    let fixed: ReturnType<typeof fixInputShapes>;
    try {
      fixed = fixInputShapes(model, Object.fromEntries(prepared.inputs.map((i) => [i.name, [...i.shape]])));
    } catch (err) {
      if (!(err instanceof InvalidModelError) || err.code !== 'invalid_shape') throw err;
      throw new OwnVariantError(name, path, 'inputs_differ', `its input shapes do not fit the base model's: ${err.message}`, { cause: err });
    }
    await writeFile(outPath, writeModel(fixed.model));
    await checkLoads(outPath, options);
    return { name, path: outPath, model: fixed.model, recipe: { pass: 'bring-your-own', source: path, producer: info.producer || 'unknown', nodeCount: String(info.nodeCount) } };
  } catch (err) {
    if (err instanceof OwnVariantError) throw err;
    throw new OwnVariantError(name, path, 'invalid_model', (err as Error).message, { cause: err });
  }
}
