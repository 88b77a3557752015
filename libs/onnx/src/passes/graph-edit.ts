import { isDefaultDomain } from '../model-io/model-io';
import { onnx, toNumber, type GraphProto, type ModelProto, type NodeProto, type TensorProto } from '../model-io/proto';

/** A node attribute as passes build it. */
export type AttributeProto = ReturnType<typeof onnx.AttributeProto.create>;

/** An attribute value a pass reads: ints, floats, strings, one int/float. */
export function attrInt(node: NodeProto, name: string, fallback: number): number {
  const attr = (node.attribute ?? []).find((a) => a.name === name);
  return attr ? toNumber(attr.i) : fallback;
}

/** A repeated-int attribute (`pads`, `strides`, `kernel_shape`, `axes`); undefined when absent. */
export function attrInts(node: NodeProto, name: string): number[] | undefined {
  const attr = (node.attribute ?? []).find((a) => a.name === name);
  return attr ? (attr.ints ?? []).map((v) => toNumber(v)) : undefined;
}

/** A float attribute. */
export function attrFloat(node: NodeProto, name: string, fallback: number): number {
  const attr = (node.attribute ?? []).find((a) => a.name === name);
  return attr?.f ?? fallback;
}

/** An INT attribute. */
export function intAttr(name: string, value: number): AttributeProto {
  return onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i: value });
}

/** An INTS attribute. */
export function intsAttr(name: string, values: readonly number[]): AttributeProto {
  return onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: [...values] });
}

/** A node of the default domain. */
export function makeNode(opType: string, inputs: readonly string[], outputs: readonly string[], name: string, attributes: NodeProto["attribute"] = []): NodeProto {
  return onnx.NodeProto.create({ opType, input: [...inputs], output: [...outputs], name, attribute: attributes ?? [] });
}

/** The ai.onnx opset a model imports (0 when it imports none). */
export function defaultOpset(model: ModelProto): number {
  const entry = model.opsetImport.find((o) => isDefaultDomain(o.domain));
  return entry ? toNumber(entry.version) : 0;
}

/**
 * Lookups over one graph that passes use while rewriting it: initializers by name, the node
 * producing each value, the nodes consuming it. Call {@link GraphIndex.rebuild} after
 * changing the node list.
 */
export class GraphIndex {
  readonly initializers = new Map<string, TensorProto>();
  readonly producers = new Map<string, NodeProto>();
  readonly consumers = new Map<string, NodeProto[]>();
  readonly graphOutputs = new Set<string>();
  private readonly used = new Set<string>();
  private counter = 0;

  constructor(readonly graph: GraphProto) {
    this.rebuild();
  }

  /** Recomputes every lookup from the graph. */
  rebuild(): void {
    this.initializers.clear();
    this.producers.clear();
    this.consumers.clear();
    this.graphOutputs.clear();
    for (const t of this.graph.initializer ?? []) {
      this.initializers.set(t.name ?? '', t);
      this.used.add(t.name ?? '');
    }
    for (const o of this.graph.output ?? []) this.graphOutputs.add(o.name ?? '');
    for (const i of this.graph.input ?? []) this.used.add(i.name ?? '');
    for (const node of this.graph.node ?? []) {
      if (node.name) this.used.add(node.name);
      for (const out of node.output ?? []) {
        this.producers.set(out, node);
        this.used.add(out);
      }
      for (const input of node.input ?? []) {
        if (!input) continue;
        const list = this.consumers.get(input) ?? [];
        list.push(node);
        this.consumers.set(input, list);
      }
    }
  }

  /** A value or node name not used in the graph yet, derived from `base`. */
  uniqueName(base: string): string {
    let name = base;
    while (this.used.has(name)) name = `${base}_${++this.counter}`;
    this.used.add(name);
    return name;
  }

  /** Adds (or replaces) an initializer. */
  setInitializer(tensor: TensorProto): void {
    const name = tensor.name ?? '';
    const list = this.graph.initializer ?? (this.graph.initializer = []);
    const at = list.findIndex((t) => t.name === name);
    if (at >= 0) list[at] = tensor;
    else list.push(tensor);
    this.initializers.set(name, tensor);
    this.used.add(name);
  }

  /** Drops initializers no node, graph output or subgraph reads. */
  removeUnusedInitializers(): void {
    const read = new Set<string>([...this.graphOutputs]);
    for (const node of this.graph.node ?? []) for (const i of node.input ?? []) read.add(i);
    this.graph.initializer = (this.graph.initializer ?? []).filter((t) => read.has(t.name ?? ''));
    const names = new Set(this.graph.initializer.map((t) => t.name ?? ''));
    this.graph.input = (this.graph.input ?? []).filter((i) => !this.initializers.has(i.name ?? '') || names.has(i.name ?? ''));
    this.rebuild();
  }

  /** The value's only consumer, or undefined when it has none, several, or is a graph output. */
  soleConsumer(value: string): NodeProto | undefined {
    const list = this.consumers.get(value) ?? [];
    return list.length === 1 && !this.graphOutputs.has(value) ? list[0] : undefined;
  }
}

/** Sorts nodes so every node comes after the producers of its inputs (Kahn; stable). */
export function topologicalSort(graph: GraphProto): void {
  const nodes = graph.node ?? [];
  const available = new Set<string>(['', ...(graph.input ?? []).map((i) => i.name ?? ''), ...(graph.initializer ?? []).map((t) => t.name ?? '')]);
  const sorted: NodeProto[] = [];
  let pending = [...nodes];
  while (pending.length > 0) {
    const next: NodeProto[] = [];
    for (const node of pending) {
      if ((node.input ?? []).every((i) => available.has(i))) {
        sorted.push(node);
        for (const o of node.output ?? []) available.add(o);
      } else next.push(node);
    }
    if (next.length === pending.length) {
      // Inputs produced by nothing (outer-scope values of a subgraph): keep their order.
      sorted.push(...next);
      break;
    }
    pending = next;
  }
  graph.node = sorted;
}

/**
 * Turns main-graph Constant nodes that hold a tensor into initializers of the same name, in
 * place: exporters such as paddle2onnx store every weight that way, and passes look weights
 * up among initializers. Returns how many were moved.
 */
export function constantsToInitializers(model: ModelProto): number {
  const graph = model.graph ?? {};
  const keep: NodeProto[] = [];
  let moved = 0;
  const inits = graph.initializer ?? (graph.initializer = []);
  for (const node of graph.node ?? []) {
    const value = node.opType === 'Constant' && isDefaultDomain(node.domain) && node.attribute?.length === 1 && node.attribute[0]?.name === 'value' ? node.attribute[0].t : undefined;
    const out = node.output?.[0];
    if (!value || !out) {
      keep.push(node);
      continue;
    }
    inits.push(onnx.TensorProto.create({ ...value, name: out }));
    moved++;
  }
  graph.node = keep;
  return moved;
}
