import { lstat, readFile, realpath } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve, sep, win32 } from 'node:path';
import { InvalidModelError } from '../errors';
import { allGraphs, onnx, toNumber, type GraphProto, type ModelProto, type NodeProto, type TensorProto } from './proto';

/**
 * IR versions above this are not ONNX (the spec is at 11-12 and moves about once a year);
 * protobufjs happily decodes random bytes into a "model" with an ir_version in the billions.
 */
const MAX_PLAUSIBLE_IR_VERSION = 100;
/** onnxruntime implements the ai.onnx domain from opset 7 on. */
const MIN_DEFAULT_DOMAIN_OPSET = 7;
/** Opset versions past this are garbage from a lenient decode, not a future ONNX. */
const MAX_PLAUSIBLE_OPSET = 1000;

/** True for the default (ai.onnx) operator domain, which ONNX spells two ways. */
export function isDefaultDomain(domain: string | null | undefined): boolean {
  return !domain || domain === 'ai.onnx';
}

/**
 * Decodes an ONNX model and checks that it is one. Thrown ({@link InvalidModelError}) when
 * the bytes are empty, do not decode, or decode into something without the structure every
 * ONNX model has: an ir_version, a graph with outputs, an opset_import that covers the
 * domains its nodes use, and an op_type on every node. protobufjs decodes many random byte
 * strings without complaint (unknown fields are skipped), so the structure is what proves
 * the file is ONNX, not the absence of a decode error.
 *
 * Fields newer than the ONNX 1.10 schema onnx-proto was generated from (e.g. a node's
 * `overload` or `metadata_props`, IR 10) are dropped by the decode; {@link writeModel} does
 * not write them back.
 */
export function readModel(bytes: Uint8Array): ModelProto {
  if (bytes.length === 0) throw new InvalidModelError('not_onnx', '', 'not an ONNX model: the file is empty');
  let model: ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw new InvalidModelError('not_onnx', '', `not an ONNX model: the bytes are not a protobuf ModelProto (${(err as Error).message})`, { cause: err });
  }
  assertModelStructure(model);
  return model;
}

/** Encodes a model (deterministically: the same model gives the same bytes). */
export function writeModel(model: ModelProto): Uint8Array {
  return onnx.ModelProto.encode(model).finish();
}

function assertModelStructure(model: ModelProto): void {
  const irVersion = toNumber(model.irVersion);
  if (!(irVersion >= 1 && irVersion <= MAX_PLAUSIBLE_IR_VERSION)) {
    throw new InvalidModelError('not_onnx', 'ir_version', `not an ONNX model: ir_version is ${Number.isNaN(irVersion) ? 'out of range' : irVersion} (a model has 1..${MAX_PLAUSIBLE_IR_VERSION})`);
  }
  const graph = model.graph;
  if (!graph) throw new InvalidModelError('no_graph', 'graph', 'the ONNX model has no graph');
  if (model.opsetImport.length === 0) throw new InvalidModelError('unsupported_opset', 'opset_import', 'the ONNX model has no opset_import, so its operators have no meaning');
  const opsets = new Map<string, number>();
  for (const [i, opset] of model.opsetImport.entries()) {
    const version = toNumber(opset.version);
    const domain = isDefaultDomain(opset.domain) ? '' : (opset.domain ?? '');
    if (!(Number.isInteger(version) && version >= 1 && version <= MAX_PLAUSIBLE_OPSET)) {
      throw new InvalidModelError('unsupported_opset', `opset_import[${i}].version`, `opset_import[${i}] (domain ${JSON.stringify(domain || 'ai.onnx')}) has version ${version}`);
    }
    if (domain === '' && version < MIN_DEFAULT_DOMAIN_OPSET) {
      throw new InvalidModelError('unsupported_opset', `opset_import[${i}].version`, `ai.onnx opset ${version} is older than onnxruntime supports (${MIN_DEFAULT_DOMAIN_OPSET} and later); convert the model to a newer opset`);
    }
    opsets.set(domain, version);
  }
  if ((graph.output ?? []).length === 0) throw new InvalidModelError('no_graph', 'graph.output', 'the ONNX graph has no outputs');
  for (const [i, output] of (graph.output ?? []).entries()) {
    if (!output.name) throw new InvalidModelError('no_graph', `graph.output[${i}].name`, `graph output ${i} has no name`);
  }
  for (const [i, input] of (graph.input ?? []).entries()) {
    if (!input.name) throw new InvalidModelError('no_graph', `graph.input[${i}].name`, `graph input ${i} has no name`);
  }
  const functions = new Set((model.functions ?? []).map((f) => `${f.domain ?? ''}::${f.name ?? ''}`));
  for (const [i, node] of (graph.node ?? []).entries()) {
    if (!node.opType) throw new InvalidModelError('not_onnx', `graph.node[${i}].op_type`, `not an ONNX model: node ${i} has no op_type`);
    const domain = isDefaultDomain(node.domain) ? '' : (node.domain ?? '');
    if (!opsets.has(domain) && !functions.has(`${node.domain ?? ''}::${node.opType}`)) {
      throw new InvalidModelError('unsupported_opset', `graph.node[${i}].domain`, `node ${i} (${node.opType}) uses domain ${JSON.stringify(domain || 'ai.onnx')}, which opset_import does not declare`);
    }
  }
}

function* nodeTensors(nodes: NodeProto[], path: string): Generator<{ tensor: TensorProto; field: string }> {
  for (const node of nodes) {
    for (const attr of node.attribute ?? []) {
      const at = `${path}.node[${JSON.stringify(node.name || node.opType)}].attribute[${JSON.stringify(attr.name)}]`;
      if (attr.t) yield { tensor: attr.t, field: `${at}.t` };
      for (const [i, t] of (attr.tensors ?? []).entries()) yield { tensor: t, field: `${at}.tensors[${i}]` };
      if (attr.sparseTensor?.values) yield { tensor: attr.sparseTensor.values, field: `${at}.sparse_tensor.values` };
      if (attr.sparseTensor?.indices) yield { tensor: attr.sparseTensor.indices, field: `${at}.sparse_tensor.indices` };
      for (const [i, s] of (attr.sparseTensors ?? []).entries()) {
        if (s.values) yield { tensor: s.values, field: `${at}.sparse_tensors[${i}].values` };
        if (s.indices) yield { tensor: s.indices, field: `${at}.sparse_tensors[${i}].indices` };
      }
    }
  }
}

function* graphTensors(root: GraphProto, rootPath: string): Generator<{ tensor: TensorProto; field: string }> {
  for (const { graph, path } of allGraphs(root, rootPath)) {
    for (const t of graph.initializer ?? []) yield { tensor: t, field: `${path}.initializer[${JSON.stringify(t.name ?? '')}]` };
    for (const [i, s] of (graph.sparseInitializer ?? []).entries()) {
      if (s.values) yield { tensor: s.values, field: `${path}.sparse_initializer[${i}].values` };
      if (s.indices) yield { tensor: s.indices, field: `${path}.sparse_initializer[${i}].indices` };
    }
    yield* nodeTensors(graph.node ?? [], path);
  }
}

/**
 * Every tensor stored in the model (initializers, Constant values, sparse tensors, in
 * subgraphs, functions and training graphs too), with the field path that names it.
 */
export function* modelTensors(model: ModelProto): Generator<{ tensor: TensorProto; field: string }> {
  if (model.graph) yield* graphTensors(model.graph, 'graph');
  for (const [i, fn] of (model.functions ?? []).entries()) yield* nodeTensors(fn.node ?? [], `functions[${i}]`);
  for (const [i, training] of (model.trainingInfo ?? []).entries()) {
    if (training.initialization) yield* graphTensors(training.initialization, `training_info[${i}].initialization`);
    if (training.algorithm) yield* graphTensors(training.algorithm, `training_info[${i}].algorithm`);
  }
}

/** The external-data references of a model: each tensor stored outside the .onnx file. */
export function externalDataRefs(model: ModelProto): { field: string; location: string | undefined }[] {
  const refs: { field: string; location: string | undefined }[] = [];
  for (const { tensor, field } of modelTensors(model)) {
    const entries = tensor.externalData ?? [];
    // ORT reads external data only for DATA_LOCATION EXTERNAL, but a `location` entry on any
    // tensor is refused the same way: nothing legitimate puts one on an inline tensor.
    if (tensor.dataLocation !== onnx.TensorProto.DataLocation.EXTERNAL && entries.length === 0) continue;
    refs.push({ field: `${field}.external_data.location`, location: entries.find((e) => e.key === 'location')?.value ?? undefined });
  }
  return refs;
}

function isInside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel);
}

/**
 * Checks, before onnxruntime or anything else opens them, that every external-data file the
 * model names is a plain file inside the model's folder. Thrown ({@link InvalidModelError},
 * `external_data_traversal`) for a location that is absolute, has a `..` segment, resolves
 * outside `modelDir`, or is (or passes through) a symlink leading out; `external_data_invalid`
 * for an EXTERNAL tensor without a location or whose file is missing. A user's model is
 * untrusted: ORT would otherwise read `/etc/passwd` or a secret as weights and return it in
 * outputs.
 */
export async function assertSafeExternalData(model: ModelProto, modelDir: string): Promise<void> {
  const refs = externalDataRefs(model);
  if (refs.length === 0) return;
  const dir = await realpath(resolve(modelDir));
  for (const { field, location } of refs) {
    if (!location || location.includes('\0')) {
      throw new InvalidModelError('external_data_invalid', field, `external data of ${field} has no usable location`);
    }
    if (isAbsolute(location) || win32.isAbsolute(location) || location.startsWith('~')) {
      throw new InvalidModelError('external_data_traversal', field, `external data location ${JSON.stringify(location)} is absolute; it must be a path inside the model's folder`);
    }
    if (location.split(/[\\/]/).includes('..')) {
      throw new InvalidModelError('external_data_traversal', field, `external data location ${JSON.stringify(location)} contains '..'; it must be a path inside the model's folder`);
    }
    const target = resolve(dir, location);
    if (!isInside(dir, target)) {
      throw new InvalidModelError('external_data_traversal', field, `external data location ${JSON.stringify(location)} resolves outside the model's folder`);
    }
    let isSymlink: boolean;
    let real: string;
    try {
      isSymlink = (await lstat(target)).isSymbolicLink();
      real = await realpath(target);
    } catch (err) {
      throw new InvalidModelError('external_data_invalid', field, `external data file ${JSON.stringify(location)} does not exist beside the model`, { cause: err });
    }
    if (isSymlink) {
      throw new InvalidModelError('external_data_traversal', field, `external data location ${JSON.stringify(location)} is a symlink; it must be a plain file inside the model's folder`);
    }
    if (!isInside(dir, real)) {
      throw new InvalidModelError('external_data_traversal', field, `external data location ${JSON.stringify(location)} passes through a symlink that leads outside the model's folder`);
    }
  }
}

/** A model read from disk and checked: the decoded model and the file's bytes. */
export interface LoadedModel {
  readonly model: ModelProto;
  readonly bytes: Uint8Array;
}

/**
 * Reads a model file, checks it is ONNX ({@link readModel}) and that its external data stays
 * in its folder ({@link assertSafeExternalData}). Thrown as those are.
 */
export async function readModelFile(path: string): Promise<LoadedModel> {
  const bytes = await readFile(path);
  const model = readModel(bytes);
  await assertSafeExternalData(model, dirname(path));
  return { model, bytes };
}
