import { InvalidModelError } from '../errors';
import { attrInt, attrInts, defaultOpset, GraphIndex } from '../passes/graph-edit';
import { isDefaultDomain } from './model-io';
import { cloneModel, type ModelProto, type NodeProto } from './proto';
import { int64Tensor } from './tensor-data';

/** Ops that moved an attribute to an input at opset 13: upgraded by rewriting. */
const ATTRIBUTE_TO_INPUT: Readonly<Record<string, { attribute: string; inputIndex: number }>> = {
  Split: { attribute: 'split', inputIndex: 1 },
  Squeeze: { attribute: 'axes', inputIndex: 1 },
  Unsqueeze: { attribute: 'axes', inputIndex: 1 },
  ReduceSum: { attribute: 'axes', inputIndex: 1 },
};

/** Ops whose meaning changed at opset 13 in a way a rewrite here does not cover. */
const SOFTMAX_FAMILY = new Set(['Softmax', 'LogSoftmax', 'Hardmax']);

/**
 * Upgrades a model's ai.onnx opset from 11 or 12 to 13 (what per-channel
 * DequantizeLinear needs), in a copy: Split/Squeeze/Unsqueeze/ReduceSum attributes become
 * constant inputs, Dropout's `ratio` attribute is dropped (inference ignores it); every other
 * op of the default domain keeps its meaning between these opsets. A model at 13 or later is
 * returned unchanged (copied).
 *
 * Thrown ({@link InvalidModelError} `unsupported_opset`, field `opset_import`) for an opset
 * below 11, and for Softmax/LogSoftmax/Hardmax with an axis other than -1 (their 2-D
 * coercion before 13 differs from 13's single axis), naming the node.
 */
export function upgradeOpset(model: ModelProto, target = 13): { model: ModelProto; from: number; to: number } {
  const from = defaultOpset(model);
  const copy = cloneModel(model);
  if (from >= target) return { model: copy, from, to: from };
  if (from < 11) throw new InvalidModelError('unsupported_opset', 'opset_import', `ai.onnx opset ${from} cannot be upgraded here (11 and 12 can); convert the model to opset 13 with the onnx version converter first`);
  const graph = copy.graph ?? {};
  const index = new GraphIndex(graph);
  for (const node of graph.node ?? []) {
    if (!isDefaultDomain(node.domain)) continue;
    const op = node.opType ?? '';
    if (SOFTMAX_FAMILY.has(op) && attrInt(node, 'axis', 1) !== -1) {
      throw new InvalidModelError('unsupported_opset', `graph.node[${JSON.stringify(node.name || op)}]`, `${op} ${JSON.stringify(node.name)} has axis ${attrInt(node, 'axis', 1)}; its meaning changes at opset 13 unless the axis is -1, so opset ${from} cannot be upgraded automatically`);
    }
    if (op === 'Dropout') removeAttribute(node, 'ratio');
    const move = ATTRIBUTE_TO_INPUT[op];
    if (!move) continue;
    const values = attrInts(node, move.attribute);
    if (values === undefined) continue;
    removeAttribute(node, move.attribute);
    const name = index.uniqueName(`${node.name || op}_${move.attribute}`);
    index.setInitializer(int64Tensor(name, [values.length], values));
    const inputs = node.input ?? (node.input = []);
    while (inputs.length < move.inputIndex) inputs.push('');
    inputs[move.inputIndex] = name;
  }
  for (const opset of copy.opsetImport) if (isDefaultDomain(opset.domain)) opset.version = target;
  // IR 7 is the first that allows opset 13.
  if (Number(copy.irVersion) < 7) copy.irVersion = 7;
  return { model: copy, from, to: target };
}

function removeAttribute(node: NodeProto, name: string): void {
  node.attribute = (node.attribute ?? []).filter((a) => a.name !== name);
}
