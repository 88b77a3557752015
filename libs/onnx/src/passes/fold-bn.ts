import { attrFloat, GraphIndex } from './graph-edit';
import { isDefaultDomain } from '../model-io/model-io';
import { cloneModel, type ModelProto } from '../model-io/proto';
import { dimsOf, floatsOf, floatTensor } from '../model-io/tensor-data';

/**
 * Folds each BatchNormalization that is the sole consumer of a Conv with constant weights into
 * that Conv, in a copy: s = gamma / sqrt(var + eps); W'[o] = W[o] x s[o]; b' = (b - mean) x s +
 * beta. Quantization and channel pruning then see one weight per channel, as deployed.
 * Returns the model and how many were folded.
 */
export function foldBatchNorm(source: ModelProto): { model: ModelProto; folded: number } {
  const model = cloneModel(source);
  const graph = model.graph ?? {};
  const index = new GraphIndex(graph);
  const drop = new Set<unknown>();
  let folded = 0;
  for (const conv of graph.node ?? []) {
    if (conv.opType !== 'Conv' || !isDefaultDomain(conv.domain)) continue;
    const bn = index.soleConsumer(conv.output?.[0] ?? '');
    if (!bn || bn.opType !== 'BatchNormalization' || (bn.output ?? []).filter((o) => o).length !== 1) continue;
    const w = index.initializers.get(conv.input?.[1] ?? '');
    const [gamma, beta, mean, variance] = [1, 2, 3, 4].map((k) => index.initializers.get(bn.input?.[k] ?? ''));
    if (!w || !gamma || !beta || !mean || !variance || w.dataType !== 1) continue;
    const eps = attrFloat(bn, 'epsilon', 1e-5);
    const dims = dimsOf(w);
    const channels = dims[0] ?? 0;
    const per = dims.slice(1).reduce((a, b) => a * b, 1);
    const wv = floatsOf(w);
    const g = floatsOf(gamma);
    const b0 = floatsOf(beta);
    const m = floatsOf(mean);
    const v = floatsOf(variance);
    const biasName = conv.input?.[2];
    const bias = biasName ? floatsOf(index.initializers.get(biasName) ?? floatTensor('', [channels], new Float32Array(channels))) : new Float32Array(channels);
    const newW = new Float32Array(wv.length);
    const newB = new Float32Array(channels);
    for (let o = 0; o < channels; o++) {
      const s = (g[o] ?? 1) / Math.sqrt((v[o] ?? 1) + eps);
      for (let i = 0; i < per; i++) newW[o * per + i] = (wv[o * per + i] ?? 0) * s;
      newB[o] = ((bias[o] ?? 0) - (m[o] ?? 0)) * s + (b0[o] ?? 0);
    }
    const wName = index.uniqueName(`${w.name ?? 'W'}_bn_folded`);
    const bName = index.uniqueName(`${conv.name || 'conv'}_bias_bn_folded`);
    index.setInitializer(floatTensor(wName, dims, newW));
    index.setInitializer(floatTensor(bName, [channels], newB));
    conv.input = [conv.input?.[0] ?? '', wName, bName];
    conv.output = [bn.output?.[0] ?? ''];
    drop.add(bn);
    folded++;
  }
  graph.node = (graph.node ?? []).filter((n) => !drop.has(n));
  index.rebuild();
  index.removeUnusedInitializers();
  return { model, folded };
}
