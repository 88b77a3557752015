import onnxProto from 'onnx-proto';

/**
 * The ONNX protobuf classes (protobufjs-generated, schema of ONNX 1.10). onnx-proto is
 * CommonJS that assigns `module.exports` wholesale, so under Node's ESM only its default
 * export exists; this is the one place that unwraps it.
 */
export const onnx = onnxProto.onnx;

/** A decoded ONNX model. */
export type ModelProto = onnxProto.onnx.ModelProto;
/**
 * A graph as protobufjs types the fields of a decoded model (its nested messages are typed
 * by their `I...` interfaces, every field optional).
 */
export type GraphProto = onnxProto.onnx.IGraphProto;
/** A tensor (initializer or constant) as found inside a decoded model. */
export type TensorProto = onnxProto.onnx.ITensorProto;
/** A node as found inside a decoded model. */
export type NodeProto = onnxProto.onnx.INodeProto;
/** A graph input/output/value_info entry as found inside a decoded model. */
export type ValueInfoProto = onnxProto.onnx.IValueInfoProto;

/**
 * ONNX `TensorProto.DataType` numbers. onnx-proto stops at BFLOAT16 (16); the later ones
 * (float8, int4, ...) are listed so that models using them are sized, not mis-sized.
 */
export const OnnxElemType = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  COMPLEX64: 14,
  COMPLEX128: 15,
  BFLOAT16: 16,
  FLOAT8E4M3FN: 17,
  FLOAT8E4M3FNUZ: 18,
  FLOAT8E5M2: 19,
  FLOAT8E5M2FNUZ: 20,
  UINT4: 21,
  INT4: 22,
  FLOAT4E2M1: 23,
  FLOAT8E8M0: 24,
  UINT2: 25,
  INT2: 26,
} as const;

const BITS_PER_ELEMENT: Readonly<Record<number, number>> = {
  1: 32, 2: 8, 3: 8, 4: 16, 5: 16, 6: 32, 7: 64, 9: 8, 10: 16, 11: 64, 12: 32, 13: 64,
  14: 64, 15: 128, 16: 16, 17: 8, 18: 8, 19: 8, 20: 8, 21: 4, 22: 4, 23: 4, 24: 8, 25: 2, 26: 2,
};

/** Bits one element of this ONNX type takes in `raw_data`; undefined for STRING and unknown types. */
export function bitsPerElement(elemType: number): number | undefined {
  return BITS_PER_ELEMENT[elemType];
}

/**
 * protobufjs hands int64 fields back as `Long` when the `long` package is installed (it is,
 * at the root) and as `number` otherwise; every int64 read goes through here. Values past
 * 2^53 cannot be a dimension or an opset version, so they are reported as NaN rather than
 * rounded into something plausible.
 */
export function toNumber(value: number | { toNumber(): number } | null | undefined): number {
  if (value === null || value === undefined) return 0;
  if (typeof value === 'number') return value;
  const n = value.toNumber();
  return Number.isSafeInteger(n) ? n : Number.NaN;
}

/** A deep copy, so that passes can stay pure functions model -> model. */
export function cloneModel(model: ModelProto): ModelProto {
  return onnx.ModelProto.decode(onnx.ModelProto.encode(model).finish());
}

/** Every graph in the model: the main graph, subgraphs of If/Loop/Scan, functions' bodies excluded. */
export function* allGraphs(graph: GraphProto, path = 'graph'): Generator<{ graph: GraphProto; path: string }> {
  yield { graph, path };
  for (const node of graph.node ?? []) {
    for (const attr of node.attribute ?? []) {
      const at = `${path}.node[${JSON.stringify(node.name || node.opType)}].attribute[${JSON.stringify(attr.name)}]`;
      if (attr.g) yield* allGraphs(attr.g, at);
      for (const [i, g] of (attr.graphs ?? []).entries()) yield* allGraphs(g, `${at}[${i}]`);
    }
  }
}
