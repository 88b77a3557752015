import { VariantPassError } from '../errors';
import { attrInt, constantsToInitializers, GraphIndex, intAttr } from './graph-edit';
import { foldBatchNorm } from './fold-bn';
import { isDefaultDomain } from '../model-io/model-io';
import { cloneModel, type ModelProto, type NodeProto, type TensorProto } from '../model-io/proto';
import { headNodes } from './quantize-static';
import { dimsOf, floatsOf, floatTensor, integersOf } from '../model-io/tensor-data';

const WEIGHTED = new Set(['Conv', 'ConvTranspose', 'Gemm', 'MatMul']);

/** Share of zero values in a float array. */
export function zeroShare(values: Float32Array): number {
  let zeros = 0;
  for (const v of values) if (v === 0) zeros++;
  return values.length === 0 ? 0 : zeros / values.length;
}

/** Options of {@link pruneMagnitude}. */
export interface MagnitudeOptions {
  /** One |w| threshold over every prunable tensor instead of one per tensor. */
  readonly global: boolean;
  /** Node names whose weights are left alone, on top of the first layer and the head. */
  readonly skipNodes?: readonly string[];
}

/**
 * Unstructured magnitude pruning: zeroes the `ratio` share of smallest-|w| weights of every
 * Conv/Gemm/MatMul weight tensor (rank >= 2), per tensor or with one global threshold.
 * Biases, the first weighted layer and the detection head are skipped. Ties at the threshold
 * are broken by position so that exactly the asked share is zeroed per tensor.
 */
export function pruneMagnitude(source: ModelProto, ratio: number, options: MagnitudeOptions): { model: ModelProto; recipe: Record<string, string> } {
  const model = cloneModel(source);
  constantsToInitializers(model);
  const graph = model.graph ?? {};
  const index = new GraphIndex(graph);
  const head = headNodes(model);
  const skip = new Set(options.skipNodes ?? []);
  const weightNames: string[] = [];
  let first = true;
  const skipped: string[] = [];
  for (const node of graph.node ?? []) {
    if (!isDefaultDomain(node.domain) || !WEIGHTED.has(node.opType ?? '')) continue;
    const w = index.initializers.get(node.input?.[1] ?? '');
    if (!w || dimsOf(w).length < 2 || w.dataType !== 1) continue;
    if (first || head.has(node) || skip.has(node.name ?? '')) {
      first = false;
      skipped.push(node.name || node.opType || '');
      continue;
    }
    if (!weightNames.includes(w.name ?? '')) weightNames.push(w.name ?? '');
  }
  if (weightNames.length === 0) throw new VariantPassError('prune-l1', 'no weight tensor to prune outside the first layer and the head');
  const tensors = weightNames.map((n) => ({ name: n, tensor: index.initializers.get(n) as TensorProto, values: floatsOf(index.initializers.get(n) as TensorProto) }));
  let globalThreshold = Number.NaN;
  if (options.global) {
    const all = new Float32Array(tensors.reduce((n, t) => n + t.values.length, 0));
    let at = 0;
    for (const t of tensors) for (const v of t.values) all[at++] = Math.abs(v);
    all.sort();
    globalThreshold = all[Math.floor(ratio * all.length)] ?? Number.POSITIVE_INFINITY;
  }
  let zeros = 0;
  let total = 0;
  for (const t of tensors) {
    const values = t.values;
    if (options.global) {
      for (let i = 0; i < values.length; i++) if (Math.abs(values[i] ?? 0) < globalThreshold) values[i] = 0;
    } else {
      const order = Array.from(values.keys()).sort((a, b) => Math.abs(values[a] ?? 0) - Math.abs(values[b] ?? 0) || a - b);
      const k = Math.floor(ratio * values.length);
      for (let i = 0; i < k; i++) values[order[i] ?? 0] = 0;
    }
    for (const v of values) if (v === 0) zeros++;
    total += values.length;
    index.setInitializer(floatTensor(t.name, dimsOf(t.tensor), values));
  }
  let modelZeros = 0;
  let modelTotal = 0;
  for (const t of graph.initializer ?? []) {
    if (t.dataType !== 1) continue;
    const v = floatsOf(t);
    modelZeros += Math.round(zeroShare(v) * v.length);
    modelTotal += v.length;
  }
  return {
    model,
    recipe: {
      pass: 'prune-l1',
      ratio: String(ratio),
      scope: options.global ? 'global threshold' : 'per tensor',
      prunedTensors: String(tensors.length),
      skipped: skipped.join(','),
      sparsityOfPrunedTensors: (zeros / total).toFixed(4),
      sparsityOfAllWeights: (modelZeros / modelTotal).toFixed(4),
      note: 'zeros do not speed up dense kernels; the gain is in compressed size',
    },
  };
}

class UnionFind {
  private readonly parent: number[] = [];
  add(): number {
    this.parent.push(this.parent.length);
    return this.parent.length - 1;
  }
  find(x: number): number {
    let r = x;
    while (this.parent[r] !== r) r = this.parent[r] ?? r;
    while (this.parent[x] !== r) {
      const next = this.parent[x] ?? r;
      this.parent[x] = r;
      x = next;
    }
    return r;
  }
  union(a: number, b: number): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra !== rb) this.parent[rb] = ra;
  }
}

const PASS_THROUGH = new Set(['Relu', 'LeakyRelu', 'Sigmoid', 'Tanh', 'Clip', 'HardSigmoid', 'HardSwish', 'Elu', 'Selu', 'Softplus', 'Identity', 'MaxPool', 'AveragePool', 'Resize', 'Upsample', 'BatchNormalization', 'Dropout']);
const ELEMENTWISE = new Set(['Add', 'Mul', 'Sub', 'Div']);
const CHANNEL_MULTIPLE = 8;

/**
 * Structured channel pruning with dependency groups (DepGraph's idea at channel granularity):
 * every output channel of a Conv is an atom; pass-through ops (activations, BN, pooling,
 * Resize) and depthwise convs carry atoms unchanged, elementwise Add/Mul tie the channels of
 * their operands together, Concat lays its inputs' atoms side by side. Channels whose atoms
 * reach a graph output, the detection head's outputs, or an op this pass does not understand
 * are kept. In each group of coupled convs the lowest-L2 channel classes are removed (the
 * kept count rounded up to a multiple of 8); producers lose filters, consumers lose input
 * channels, depthwise convs and BN lose both. Thrown ({@link VariantPassError}) when nothing
 * can be pruned.
 */
export function pruneChannels(source: ModelProto, ratio: number): { model: ModelProto; recipe: Record<string, string> } {
  const withInits = cloneModel(source);
  constantsToInitializers(withInits);
  const model = foldBatchNorm(withInits).model;
  const graph = model.graph ?? {};
  const index = new GraphIndex(graph);
  const head = headNodes(model);
  const uf = new UnionFind();
  const atomConv: NodeProto[] = [];
  const atomChannel: number[] = [];
  const bad = new Set<number>();
  const chans = new Map<string, number[]>();
  const markBad = (name: string | undefined) => {
    for (const a of chans.get(name ?? '') ?? []) bad.add(a);
  };
  const isDepthwise = (node: NodeProto, w: TensorProto) => {
    const dims = dimsOf(w);
    const group = attrInt(node, 'group', 1);
    return group > 1 && dims[1] === 1 && dims[0] === group;
  };
  const constInput = (name: string) => index.initializers.get(name) ?? (index.producers.get(name)?.opType === 'Constant' ? index.producers.get(name)?.attribute?.find((a) => a.name === 'value')?.t ?? undefined : undefined);

  for (const node of graph.node ?? []) {
    const op = isDefaultDomain(node.domain) ? (node.opType ?? '') : `${node.domain}::${node.opType}`;
    const inputs = node.input ?? [];
    const out = node.output?.[0] ?? '';
    if (op === 'Conv') {
      const w = index.initializers.get(inputs[1] ?? '');
      if (!w) {
        for (const i of inputs) markBad(i);
        continue;
      }
      if (isDepthwise(node, w)) {
        const a = chans.get(inputs[0] ?? '');
        if (a) chans.set(out, a);
        if (head.has(node)) markBad(inputs[0]);
        continue;
      }
      if (attrInt(node, 'group', 1) !== 1) {
        markBad(inputs[0]);
        continue;
      }
      const filters = dimsOf(w)[0] ?? 0;
      const atoms: number[] = [];
      for (let c = 0; c < filters; c++) {
        const a = uf.add();
        atomConv[a] = node;
        atomChannel[a] = c;
        atoms.push(a);
        if (head.has(node)) bad.add(a);
      }
      chans.set(out, atoms);
      continue;
    }
    if (PASS_THROUGH.has(op)) {
      const a = chans.get(inputs[0] ?? '');
      if (a) chans.set(out, a);
      for (const i of inputs.slice(1)) markBad(i);
      continue;
    }
    if (ELEMENTWISE.has(op)) {
      const arrays = inputs.map((i) => chans.get(i));
      const first = arrays.find((a) => a !== undefined);
      let ok = first !== undefined;
      for (const [k, i] of inputs.entries()) {
        const a = arrays[k];
        if (a) {
          if (first && a.length === first.length) for (let c = 0; c < a.length; c++) uf.union(first[c] ?? 0, a[c] ?? 0);
          else ok = false;
          continue;
        }
        const t = constInput(i);
        // A constant operand that varies per channel would need slicing too: keep those channels.
        if (!t || dimsOf(t).some((d, axis, all) => d > 1 && axis === all.length - 3)) ok = false;
      }
      if (first && ok) chans.set(out, first);
      else for (const i of inputs) markBad(i);
      continue;
    }
    if (op === 'Concat' && (attrInt(node, 'axis', 0) === 1 || attrInt(node, 'axis', 0) === -3)) {
      const arrays = inputs.map((i) => chans.get(i));
      if (arrays.every((a) => a !== undefined)) chans.set(out, arrays.flatMap((a) => a ?? []));
      else for (const i of inputs) markBad(i);
      continue;
    }
    if (op === 'Slice') {
      const axes = inputs[3] ? constInput(inputs[3]) : undefined;
      const a = chans.get(inputs[0] ?? '');
      if (a && axes && !integersOf(axes).some((x) => x === 1 || x === -3)) chans.set(out, a);
      else markBad(inputs[0]);
      continue;
    }
    for (const i of inputs) markBad(i);
  }
  for (const o of graph.output ?? []) markBad(o.name ?? '');

  // Channel classes, grouped by the set of convs they couple.
  const classes = new Map<number, number[]>();
  for (let a = 0; a < atomConv.length; a++) {
    const r = uf.find(a);
    const list = classes.get(r) ?? [];
    list.push(a);
    classes.set(r, list);
  }
  const badRoots = new Set([...bad].map((a) => uf.find(a)));
  const weightValues = new Map<string, Float32Array>();
  const valuesOf = (name: string) => {
    let v = weightValues.get(name);
    if (!v) {
      v = floatsOf(index.initializers.get(name) as TensorProto);
      weightValues.set(name, v);
    }
    return v;
  };
  const importance = (atoms: number[]) => {
    let sum = 0;
    for (const a of atoms) {
      const conv = atomConv[a] as NodeProto;
      const wName = conv.input?.[1] ?? '';
      const dims = dimsOf(index.initializers.get(wName) as TensorProto);
      const per = dims.slice(1).reduce((x, y) => x * y, 1);
      const v = valuesOf(wName);
      const c = atomChannel[a] ?? 0;
      for (let i = c * per; i < (c + 1) * per; i++) sum += (v[i] ?? 0) ** 2;
    }
    return Math.sqrt(sum);
  };
  const groups = new Map<string, { root: number; score: number }[]>();
  for (const [root, atoms] of classes) {
    if (badRoots.has(root)) continue;
    const key = [...new Set(atoms.map((a) => atomConv[a]?.name ?? ''))].sort().join('|');
    const list = groups.get(key) ?? [];
    list.push({ root, score: importance(atoms) });
    groups.set(key, list);
  }
  const removed = new Set<number>();
  let removedClasses = 0;
  let prunedGroups = 0;
  for (const list of groups.values()) {
    const n = list.length;
    if (n <= CHANNEL_MULTIPLE) continue;
    const keep = Math.min(n, Math.max(CHANNEL_MULTIPLE, Math.ceil((n * (1 - ratio)) / CHANNEL_MULTIPLE) * CHANNEL_MULTIPLE));
    if (keep >= n) continue;
    prunedGroups++;
    list.sort((a, b) => a.score - b.score);
    for (const { root } of list.slice(0, n - keep)) {
      removedClasses++;
      for (const a of classes.get(root) ?? []) removed.add(a);
    }
  }
  if (removed.size === 0) throw new VariantPassError('prune-channels', `ratio ${ratio} removes no channel: no prunable group has more than ${CHANNEL_MULTIPLE} channel classes to spare`);

  const keepMask = (name: string): boolean[] | undefined => chans.get(name)?.map((a) => !removed.has(a));
  const sliced = (name: string, axis: number, keep: boolean[]) => {
    const t = index.initializers.get(name);
    if (!t) return;
    const dims = dimsOf(t);
    const values = floatsOf(t);
    const outer = dims.slice(0, axis).reduce((x, y) => x * y, 1);
    const inner = dims.slice(axis + 1).reduce((x, y) => x * y, 1);
    const size = dims[axis] ?? 0;
    const keptCount = keep.filter(Boolean).length;
    const out = new Float32Array(outer * keptCount * inner);
    let at = 0;
    for (let o = 0; o < outer; o++) for (let c = 0; c < size; c++) {
      if (!keep[c]) continue;
      out.set(values.subarray((o * size + c) * inner, (o * size + c + 1) * inner), at);
      at += inner;
    }
    const newDims = [...dims];
    newDims[axis] = keptCount;
    const name2 = index.uniqueName(`${name}_pruned`);
    index.setInitializer(floatTensor(name2, newDims, out));
    return name2;
  };
  let paramsBefore = 0;
  for (const t of graph.initializer ?? []) paramsBefore += dimsOf(t).reduce((x, y) => x * y, 1);
  for (const node of graph.node ?? []) {
    const inputs = node.input ?? [];
    const op = node.opType ?? '';
    if (op === 'Conv') {
      const w = index.initializers.get(inputs[1] ?? '');
      if (!w) continue;
      const inKeep = keepMask(inputs[0] ?? '');
      if (isDepthwise(node, w)) {
        if (!inKeep || inKeep.every(Boolean)) continue;
        inputs[1] = sliced(inputs[1] ?? '', 0, inKeep) ?? inputs[1] ?? '';
        if (inputs[2]) inputs[2] = sliced(inputs[2], 0, inKeep) ?? inputs[2];
        node.attribute = (node.attribute ?? []).filter((a) => a.name !== 'group');
        node.attribute.push(intAttr('group', inKeep.filter(Boolean).length));
        continue;
      }
      const outKeep = keepMask(node.output?.[0] ?? '');
      if (inKeep && !inKeep.every(Boolean)) inputs[1] = sliced(inputs[1] ?? '', 1, inKeep) ?? inputs[1] ?? '';
      if (outKeep && !outKeep.every(Boolean)) {
        inputs[1] = sliced(inputs[1] ?? '', 0, outKeep) ?? inputs[1] ?? '';
        if (inputs[2]) inputs[2] = sliced(inputs[2], 0, outKeep) ?? inputs[2];
      }
    } else if (op === 'BatchNormalization') {
      const keep = keepMask(inputs[0] ?? '');
      if (keep && !keep.every(Boolean)) for (let k = 1; k <= 4; k++) if (inputs[k]) inputs[k] = sliced(inputs[k] ?? '', 0, keep) ?? inputs[k] ?? '';
    }
  }
  graph.valueInfo = [];
  index.rebuild();
  index.removeUnusedInitializers();
  let paramsAfter = 0;
  for (const t of graph.initializer ?? []) paramsAfter += dimsOf(t).reduce((x, y) => x * y, 1);
  return {
    model,
    recipe: {
      pass: 'prune-channels',
      ratio: String(ratio),
      importance: 'L2 norm of the coupled filters',
      channelMultiple: String(CHANNEL_MULTIPLE),
      groupsPruned: String(prunedGroups),
      channelClassesRemoved: String(removedClasses),
      parametersBefore: String(paramsBefore),
      parametersAfter: String(paramsAfter),
      note: 'no fine-tuning: expect accuracy loss past 10-20%',
    },
  };
}
