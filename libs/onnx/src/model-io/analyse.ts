import { TensorDataType } from '@benchfarm/protocol';
import { isDefaultDomain } from './model-io';
import { bitsPerElement, OnnxElemType, toNumber, type ModelProto, type TensorProto, type ValueInfoProto } from './proto';

/**
 * One dimension of a graph input or output: a number when fixed, a string when symbolic
 * (`dim_param`, e.g. "batch"), null when the model says nothing about it.
 */
export type Dim = number | string | null;

/** A graph input or output as the model declares it. */
export interface TensorInfo {
  readonly name: string;
  /** ONNX `TensorProto.DataType` number (1 = FLOAT, 7 = INT64, ...); 0 for non-tensor values. */
  readonly elemType: number;
  /** The same type in benchfarm's wire contract; UNSPECIFIED when the contract has no name for it. */
  readonly dataType: TensorDataType;
  /** null when the model does not declare the rank at all. */
  readonly dims: Dim[] | null;
}

/** What the coordinator shows and plans with about a model. */
export interface ModelInfo {
  readonly irVersion: number;
  /** `producer_name producer_version`, trimmed; '' when the exporter left both empty. */
  readonly producer: string;
  readonly opsets: { domain: string; version: number }[];
  /** Graph inputs the caller must feed: initializers that older exporters list as inputs are left out. */
  readonly inputs: TensorInfo[];
  readonly outputs: TensorInfo[];
  /** Nodes of the main graph (subgraphs of If/Loop are not counted, as Netron shows it). */
  readonly nodeCount: number;
  /** Main-graph nodes by op type; ops of other domains are keyed `domain::OpType` (e.g. `com.microsoft::FusedConv`). */
  readonly opHistogram: Record<string, number>;
  /**
   * Elements in initializers plus elements in Constant nodes' values: exporters such as
   * paddle2onnx store every weight as a Constant node and no initializer at all.
   */
  readonly parameterCount: number;
  readonly initializerParameterCount: number;
  readonly constantParameterCount: number;
  /** Bytes the initializers take as stored (elements x element size), external data included. */
  readonly initializerBytes: number;
  /** Bytes the Constant nodes' tensors take. */
  readonly constantBytes: number;
  /** The size of the .onnx file; undefined when the caller did not pass it. */
  readonly fileSizeBytes: number | undefined;
}

const TO_WIRE_TYPE: Readonly<Record<number, TensorDataType>> = {
  [OnnxElemType.FLOAT]: TensorDataType.TENSOR_DATA_TYPE_FLOAT32,
  [OnnxElemType.FLOAT16]: TensorDataType.TENSOR_DATA_TYPE_FLOAT16,
  [OnnxElemType.INT64]: TensorDataType.TENSOR_DATA_TYPE_INT64,
  [OnnxElemType.INT32]: TensorDataType.TENSOR_DATA_TYPE_INT32,
  [OnnxElemType.UINT8]: TensorDataType.TENSOR_DATA_TYPE_UINT8,
  [OnnxElemType.INT8]: TensorDataType.TENSOR_DATA_TYPE_INT8,
  [OnnxElemType.BOOL]: TensorDataType.TENSOR_DATA_TYPE_BOOL,
  [OnnxElemType.DOUBLE]: TensorDataType.TENSOR_DATA_TYPE_FLOAT64,
};

/** Maps an ONNX element type number to the wire contract's TensorDataType (UNSPECIFIED when it has none). */
export function toTensorDataType(elemType: number): TensorDataType {
  return TO_WIRE_TYPE[elemType] ?? TensorDataType.TENSOR_DATA_TYPE_UNSPECIFIED;
}

/** The dims a value declares: numbers, symbols, nulls; null when the rank is unknown. */
export function declaredDims(value: ValueInfoProto): Dim[] | null {
  const shape = value.type?.tensorType?.shape;
  if (!shape) return null;
  return (shape.dim ?? []).map((d) => {
    if (d.dimValue !== null && d.dimValue !== undefined) return toNumber(d.dimValue);
    if (d.dimParam) return d.dimParam;
    return null;
  });
}

function tensorInfo(value: ValueInfoProto): TensorInfo {
  const elemType = value.type?.tensorType?.elemType ?? 0;
  return { name: value.name ?? '', elemType, dataType: toTensorDataType(elemType), dims: declaredDims(value) };
}

/** Number of elements a tensor holds (1 for a scalar). */
export function elementCount(tensor: TensorProto): number {
  return (tensor.dims ?? []).reduce<number>((n, d) => n * toNumber(d), 1);
}

/** Bytes a tensor's data takes: elements x element size, or the string lengths for STRING tensors. */
export function tensorBytes(tensor: TensorProto): number {
  const elemType = tensor.dataType ?? 0;
  if (elemType === OnnxElemType.STRING) return (tensor.stringData ?? []).reduce((n, s) => n + s.length, 0);
  const bits = bitsPerElement(elemType);
  if (bits === undefined) return tensor.rawData?.length ?? 0;
  return Math.ceil((elementCount(tensor) * bits) / 8);
}

/**
 * Summarises a model: opsets, the inputs a caller must feed and the outputs, node and op
 * counts, parameter count and weight bytes. Pure: reads nothing but the model.
 */
export function inspectModel(model: ModelProto, fileSizeBytes?: number): ModelInfo {
  const graph = model.graph ?? {};
  const initializerNames = new Set<string>([
    ...(graph.initializer ?? []).map((t) => t.name ?? ''),
    ...(graph.sparseInitializer ?? []).map((s) => s.values?.name ?? ''),
  ]);
  const opHistogram: Record<string, number> = {};
  let constantParameterCount = 0;
  let constantBytes = 0;
  for (const node of graph.node ?? []) {
    const key = isDefaultDomain(node.domain) ? (node.opType ?? '') : `${node.domain}::${node.opType ?? ''}`;
    opHistogram[key] = (opHistogram[key] ?? 0) + 1;
    if (key !== 'Constant') continue;
    for (const attr of node.attribute ?? []) {
      if (attr.t) {
        constantParameterCount += elementCount(attr.t);
        constantBytes += tensorBytes(attr.t);
      } else if (attr.sparseTensor?.values) {
        constantParameterCount += elementCount(attr.sparseTensor.values);
        constantBytes += tensorBytes(attr.sparseTensor.values);
      } else if (attr.floats?.length || attr.ints?.length) {
        constantParameterCount += (attr.floats?.length ?? 0) + (attr.ints?.length ?? 0);
        constantBytes += (attr.floats?.length ?? 0) * 4 + (attr.ints?.length ?? 0) * 8;
      } else if (attr.name === 'value_float' || attr.name === 'value_int') {
        constantParameterCount += 1;
        constantBytes += attr.name === 'value_float' ? 4 : 8;
      }
    }
  }
  let initializerParameterCount = 0;
  let initializerBytes = 0;
  for (const t of graph.initializer ?? []) {
    initializerParameterCount += elementCount(t);
    initializerBytes += tensorBytes(t);
  }
  for (const s of graph.sparseInitializer ?? []) {
    if (!s.values) continue;
    initializerParameterCount += elementCount(s.values);
    initializerBytes += tensorBytes(s.values) + (s.indices ? tensorBytes(s.indices) : 0);
  }
  return {
    irVersion: toNumber(model.irVersion),
    producer: `${model.producerName ?? ''} ${model.producerVersion ?? ''}`.trim(),
    opsets: model.opsetImport.map((o) => ({ domain: o.domain ?? '', version: toNumber(o.version) })),
    inputs: (graph.input ?? []).filter((i) => !initializerNames.has(i.name ?? '')).map(tensorInfo),
    outputs: (graph.output ?? []).map(tensorInfo),
    nodeCount: (graph.node ?? []).length,
    opHistogram,
    parameterCount: initializerParameterCount + constantParameterCount,
    initializerParameterCount,
    constantParameterCount,
    initializerBytes,
    constantBytes,
    fileSizeBytes,
  };
}
