import { VariantPassError } from '../errors';
import { attrFloat, attrInt, constantsToInitializers, GraphIndex, intAttr, makeNode, topologicalSort } from './graph-edit';
import { isDefaultDomain } from '../model-io/model-io';
import { upgradeOpset } from '../model-io/opset';
import { OnnxElemType, type ModelProto, type NodeProto } from '../model-io/proto';
import { computeScaleZp, quantizeValue } from './quant-math';
import { dimsOf, floatsOf, floatTensor, int64Tensor, int8Tensor, uint8Tensor } from '../model-io/tensor-data';

/**
 * int8 dynamic quantization as onnxruntime's `quantize_dynamic`: each MatMul/Gemm with a
 * constant weight becomes DynamicQuantizeLinear (uint8 activations, range computed per run) ->
 * MatMulInteger with per-tensor symmetric int8 weights -> Cast -> Mul by the product of the
 * scales (-> Add bias for Gemm). Conv becomes ConvInteger with uint8 (asymmetric) weights,
 * because ConvInteger with int8 weights has no CPU kernel. Thrown ({@link VariantPassError})
 * when the model has none of these ops with constant weights.
 */
export function quantizeDynamic(source: ModelProto): { model: ModelProto; recipe: Record<string, string> } {
  const model = upgradeOpset(source, 13).model;
  constantsToInitializers(model);
  const graph = model.graph ?? {};
  const index = new GraphIndex(graph);
  const replaced = new Map<NodeProto, NodeProto[]>();
  const counts = { MatMul: 0, Gemm: 0, Conv: 0 };
  for (const node of graph.node ?? []) {
    const op = node.opType ?? '';
    if (!isDefaultDomain(node.domain) || !(op === 'MatMul' || op === 'Gemm' || op === 'Conv')) continue;
    const w = index.initializers.get(node.input?.[1] ?? '');
    if (!w || w.dataType !== OnnxElemType.FLOAT) continue;
    if (op === 'Gemm' && (attrInt(node, 'transA', 0) !== 0 || attrFloat(node, 'alpha', 1) !== 1 || attrFloat(node, 'beta', 1) !== 1)) continue;
    const x = node.input?.[0] ?? '';
    const y = node.output?.[0] ?? '';
    const base = node.name || `${op}_${y}`;
    let dims = dimsOf(w);
    let values = floatsOf(w);
    if (op === 'Gemm' && attrInt(node, 'transB', 0) === 1) {
      const [n = 0, k = 0] = dims;
      const t = new Float32Array(values.length);
      for (let i = 0; i < n; i++) for (let j = 0; j < k; j++) t[j * n + i] = values[i * k + j] ?? 0;
      values = t;
      dims = [k, n];
    }
    let lo = 0;
    let hi = 0;
    for (const v of values) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    const weightType = op === 'Conv' ? 'uint8' : 'int8';
    const symmetric = weightType === 'int8';
    const { scale, zeroPoint } = computeScaleZp(lo, hi, weightType, symmetric);
    const wq = index.uniqueName(`${base}_W_quantized`);
    const wzp = index.uniqueName(`${base}_W_zero_point`);
    const wscale = index.uniqueName(`${base}_W_scale`);
    if (weightType === 'int8') {
      index.setInitializer(int8Tensor(wq, dims, Int8Array.from(values, (v) => quantizeValue(v, scale, zeroPoint, 'int8', true))));
      index.setInitializer(int8Tensor(wzp, [], Int8Array.of(zeroPoint)));
    } else {
      index.setInitializer(uint8Tensor(wq, dims, Uint8Array.from(values, (v) => quantizeValue(v, scale, zeroPoint, 'uint8'))));
      index.setInitializer(uint8Tensor(wzp, [], Uint8Array.of(zeroPoint)));
    }
    index.setInitializer(floatTensor(wscale, [], Float32Array.of(scale)));
    const xq = index.uniqueName(`${base}_X_quantized`);
    const xs = index.uniqueName(`${base}_X_scale`);
    const xzp = index.uniqueName(`${base}_X_zero_point`);
    const acc = index.uniqueName(`${base}_int32`);
    const accF = index.uniqueName(`${base}_int32_float`);
    const s = index.uniqueName(`${base}_scale`);
    const nodes: NodeProto[] = [makeNode('DynamicQuantizeLinear', [x], [xq, xs, xzp], index.uniqueName(`${base}_DynamicQuantizeLinear`))];
    const convAttrs = op === 'Conv' ? (node.attribute ?? []) : [];
    nodes.push(makeNode(op === 'Conv' ? 'ConvInteger' : 'MatMulInteger', [xq, wq, xzp, wzp], [acc], index.uniqueName(`${base}_${op === 'Conv' ? 'ConvInteger' : 'MatMulInteger'}`), [...convAttrs]));
    nodes.push(makeNode('Cast', [acc], [accF], index.uniqueName(`${base}_Cast`), [intAttr('to', OnnxElemType.FLOAT)]));
    nodes.push(makeNode('Mul', [xs, wscale], [s], index.uniqueName(`${base}_scale_Mul`)));
    const bias = node.input?.[2] ?? '';
    if (bias) {
      const scaled = index.uniqueName(`${base}_scaled`);
      nodes.push(makeNode('Mul', [accF, s], [scaled], index.uniqueName(`${base}_output_Mul`)));
      let biasInput = bias;
      if (op === 'Conv') {
        const shape = index.uniqueName(`${base}_bias_shape`);
        index.setInitializer(int64Tensor(shape, [4], [1, -1, 1, 1]));
        biasInput = index.uniqueName(`${base}_bias_reshaped`);
        nodes.push(makeNode('Reshape', [bias, shape], [biasInput], index.uniqueName(`${base}_bias_Reshape`)));
      }
      nodes.push(makeNode('Add', [scaled, biasInput], [y], index.uniqueName(`${base}_bias_Add`)));
    } else {
      nodes.push(makeNode('Mul', [accF, s], [y], index.uniqueName(`${base}_output_Mul`)));
    }
    replaced.set(node, nodes);
    counts[op]++;
  }
  if (replaced.size === 0) throw new VariantPassError('int8-dynamic', 'the model has no MatMul, Gemm or Conv with constant float weights to quantize dynamically');
  graph.node = (graph.node ?? []).flatMap((n) => replaced.get(n) ?? [n]);
  graph.valueInfo = [];
  topologicalSort(graph);
  index.rebuild();
  index.removeUnusedInitializers();
  return {
    model,
    recipe: {
      pass: 'int8-dynamic',
      activations: 'uint8, range per run (DynamicQuantizeLinear)',
      matmulWeights: 'int8 per-tensor symmetric (MatMulInteger)',
      convWeights: 'uint8 per-tensor asymmetric (ConvInteger has no CPU kernel for int8 weights)',
      quantized: `MatMul ${counts.MatMul}, Gemm ${counts.Gemm}, Conv ${counts.Conv}`,
      rounding: 'half-to-even',
    },
  };
}
