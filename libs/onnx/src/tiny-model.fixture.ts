// Tiny ONNX models built with onnx-proto, for tests: Y = X + W (W an initializer).
import { onnx, type ModelProto } from './model-io/proto';
import { mulberry32 } from '@benchfarm/numerics';

/** Options for {@link tinyAddModel}. */
export interface TinyModelOptions {
  /** Dims of X; strings are symbolic. Default [1, 4]. */
  readonly inputDims?: (number | string)[];
  /** Stores W as external data at this location instead of inline. */
  readonly externalLocation?: string;
  /** Also lists W as a graph input, as exporters before IR 4 did. */
  readonly initializerAsInput?: boolean;
  /** Carries W in a Constant node instead of an initializer. */
  readonly weightInConstant?: boolean;
  /** Op type of the node (an unknown one makes ORT refuse the model). */
  readonly opType?: string;
}

const dim = (d: number | string) => onnx.TensorShapeProto.Dimension.create(typeof d === 'number' ? { dimValue: d } : { dimParam: d });

const valueInfo = (name: string, dims: (number | string)[]) =>
  onnx.ValueInfoProto.create({
    name,
    type: onnx.TypeProto.create({ tensorType: onnx.TypeProto.Tensor.create({ elemType: onnx.TensorProto.DataType.FLOAT, shape: onnx.TensorShapeProto.create({ dim: dims.map(dim) }) }) }),
  });

/** A model computing Y = X + W with W of shape [4] = [1, 2, 3, 4]. */
export function tinyAddModel(options: TinyModelOptions = {}): ModelProto {
  const dims = options.inputDims ?? [1, 4];
  const weight = onnx.TensorProto.create({
    name: 'W',
    dims: [4],
    dataType: onnx.TensorProto.DataType.FLOAT,
    ...(options.externalLocation !== undefined
      ? {
          dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
          externalData: [
            onnx.StringStringEntryProto.create({ key: 'location', value: options.externalLocation }),
            onnx.StringStringEntryProto.create({ key: 'offset', value: '0' }),
            onnx.StringStringEntryProto.create({ key: 'length', value: '16' }),
          ],
        }
      : { floatData: [1, 2, 3, 4] }),
  });
  const nodes = [onnx.NodeProto.create({ name: 'add', opType: options.opType ?? 'Add', input: ['X', 'W'], output: ['Y'] })];
  if (options.weightInConstant) {
    nodes.unshift(onnx.NodeProto.create({ name: 'w', opType: 'Constant', output: ['W'], attribute: [onnx.AttributeProto.create({ name: 'value', type: onnx.AttributeProto.AttributeType.TENSOR, t: weight })] }));
  }
  const graph = onnx.GraphProto.create({
    name: 'tiny',
    node: nodes,
    initializer: options.weightInConstant ? [] : [weight],
    input: [valueInfo('X', dims), ...(options.initializerAsInput ? [valueInfo('W', [4])] : [])],
    output: [valueInfo('Y', dims)],
  });
  return onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'benchfarm-test',
    producerVersion: '1',
    opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: 13 })],
    graph,
  });
}

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32), so that test inputs repeat. */
export function seededRandom(seed: number): () => number {
  return mulberry32(seed);
}


/**
 * A white NCHW image with rows of dark glyph-like blobs, normalised as PaddleOCR feeds its
 * detector (0..1, ImageNet mean/std). On random noise the detector outputs ~0 everywhere,
 * which would make any two variants look equal; on this it finds "text" (probabilities up to 1).
 */
export function syntheticTextImage(sizePx: number, seed: number): Float32Array {
  const random = seededRandom(seed);
  const plane = sizePx * sizePx;
  const gray = new Float32Array(plane).fill(1);
  for (let row = 20; row < sizePx - 30; row += 40) {
    for (let x = 16; x < sizePx - 24; x += 14) {
      if (random() < 0.2) continue;
      const width = 6 + Math.floor(random() * 6);
      const height = 14 + Math.floor(random() * 6);
      for (let y = row; y < row + height; y++) for (let xx = x; xx < x + width; xx++) if (random() < 0.9) gray[y * sizePx + xx] = 0.1;
    }
  }
  const mean = [0.485, 0.456, 0.406];
  const std = [0.229, 0.224, 0.225];
  const image = new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++) for (let i = 0; i < plane; i++) image[c * plane + i] = ((gray[i] ?? 1) - (mean[c] ?? 0)) / (std[c] ?? 1);
  return image;
}
