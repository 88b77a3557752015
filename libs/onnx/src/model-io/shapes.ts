import { TensorDataType, type TensorSpec } from '@benchfarm/protocol';
import { declaredDims, inspectModel, toTensorDataType, type Dim, type ModelInfo } from './analyse';
import { InvalidModelError } from '../errors';
import { cloneModel, onnx, type ModelProto } from './proto';

/** Concrete shapes by input name, e.g. `{ x: [1, 3, 320, 320] }`. */
export type InputShapes = Record<string, number[]>;

/** A model whose graph inputs all have concrete dims, and those inputs as the wire contract states them. */
export interface FixedShapes {
  readonly model: ModelProto;
  readonly inputs: TensorSpec[];
}

const formatDims = (dims: Dim[]): string => `[${dims.map((d) => (d === null ? '?' : typeof d === 'string' ? d : String(d))).join(', ')}]`;

/**
 * Rewrites the graph inputs' dims to concrete values, in a copy of the model. Needed because
 * onnxruntime-node ignores `freeDimensionOverrides`: a fixed shape must be in the protobuf
 * for ORT to plan memory and fold shape computations for it. Inputs whose dims are all fixed
 * already may be left out of `shapes`.
 *
 * Thrown ({@link InvalidModelError}): `invalid_shape` when `shapes` names an unknown input, has
 * the wrong rank, contradicts a fixed dim, holds a value that is not a positive integer, or
 * leaves a dynamic input without a shape (`field` is `shapes.<input>` or
 * `shapes.<input>[<axis>]`); `unsupported_input_type` for an input that is not a tensor of a
 * type the wire contract can name.
 */
export function fixInputShapes(model: ModelProto, shapes: InputShapes): FixedShapes {
  const info = inspectModel(model);
  const known = new Set(info.inputs.map((i) => i.name));
  for (const name of Object.keys(shapes)) {
    if (!known.has(name)) {
      throw new InvalidModelError('invalid_shape', `shapes.${name}`, `the model has no input ${JSON.stringify(name)}; its inputs are ${[...known].map((n) => JSON.stringify(n)).join(', ')}`);
    }
  }
  const fixed = cloneModel(model);
  const specs: TensorSpec[] = [];
  for (const value of fixed.graph?.input ?? []) {
    const name = value.name ?? '';
    if (!known.has(name)) continue;
    const tensorType = value.type?.tensorType;
    const elemType = tensorType?.elemType ?? 0;
    const dataType = toTensorDataType(elemType);
    if (!tensorType || dataType === TensorDataType.TENSOR_DATA_TYPE_UNSPECIFIED) {
      throw new InvalidModelError('unsupported_input_type', `graph.input.${name}`, `input ${JSON.stringify(name)} is ${tensorType ? `a tensor of ONNX element type ${elemType}` : 'not a tensor'}; benchfarm can only feed float32/float16/float64/int64/int32/uint8/int8/bool tensors`);
    }
    const declared = declaredDims(value);
    const shape = shapes[name] ?? concreteOrThrow(name, declared);
    checkShape(name, shape, declared);
    const oldDims = tensorType.shape?.dim ?? [];
    tensorType.shape = onnx.TensorShapeProto.create({
      dim: shape.map((size, axis) => onnx.TensorShapeProto.Dimension.create({ dimValue: size, denotation: oldDims[axis]?.denotation ?? '' })),
    });
    specs.push({ name, dataType, shape: [...shape] });
  }
  return { model: fixed, inputs: specs };
}

function concreteOrThrow(name: string, declared: Dim[] | null): number[] {
  if (declared === null || declared.some((d) => typeof d !== 'number')) {
    throw new InvalidModelError('invalid_shape', `shapes.${name}`, `input ${JSON.stringify(name)} has dynamic dims ${declared ? formatDims(declared) : '(rank unknown)'}; give it a concrete shape`);
  }
  return declared as number[];
}

function checkShape(name: string, shape: number[], declared: Dim[] | null): void {
  if (!Array.isArray(shape)) throw new InvalidModelError('invalid_shape', `shapes.${name}`, `the shape of ${JSON.stringify(name)} must be an array of sizes`);
  if (declared !== null && shape.length !== declared.length) {
    throw new InvalidModelError('invalid_shape', `shapes.${name}`, `input ${JSON.stringify(name)} has rank ${declared.length} ${formatDims(declared)}, the shape given has rank ${shape.length} [${shape.join(', ')}]`);
  }
  for (const [axis, size] of shape.entries()) {
    if (!Number.isSafeInteger(size) || size <= 0) {
      throw new InvalidModelError('invalid_shape', `shapes.${name}[${axis}]`, `dim ${axis} of ${JSON.stringify(name)} must be a positive integer, got ${String(size)}`);
    }
    const fixedSize = declared?.[axis];
    if (typeof fixedSize === 'number' && fixedSize !== size) {
      throw new InvalidModelError('invalid_shape', `shapes.${name}[${axis}]`, `dim ${axis} of ${JSON.stringify(name)} is fixed to ${fixedSize} by the model, the shape given says ${size}`);
    }
  }
}

/** What {@link defaultShapes} may assume about the inputs it fills in. */
export interface DefaultShapeOptions {
  /** Size for a dynamic leading (batch) dim. */
  readonly batch: number;
  /** Size for dynamic height and width of a 4-D image input (NCHW or NHWC); without it those are refused. */
  readonly spatial?: number;
}

const IMAGE_CHANNELS = new Set([1, 3, 4]);
const BATCH_NAME = /^(n|b|batch|batch_?size|.*batch.*)$/i;

function guessDim(dims: Dim[], axis: number, options: DefaultShapeOptions): number | undefined {
  const dim = dims[axis];
  if (axis === 0 && dims.length >= 2) return options.batch;
  if (typeof dim === 'string' && BATCH_NAME.test(dim)) return options.batch;
  if (dims.length !== 4) return undefined;
  const channelsFirst = typeof dims[1] === 'number' && IMAGE_CHANNELS.has(dims[1]);
  const channelsLast = typeof dims[3] === 'number' && IMAGE_CHANNELS.has(dims[3]);
  if (channelsFirst && (axis === 2 || axis === 3)) return options.spatial;
  if (!channelsFirst && channelsLast && (axis === 1 || axis === 2)) return options.spatial;
  return undefined;
}

/**
 * Picks concrete sizes for the dynamic dims of every input: the leading dim (or one named like
 * a batch) gets `batch`, the height and width of a 4-D image input with 1, 3 or 4 channels
 * (NCHW or NHWC) get `spatial`. Fixed dims are kept. Thrown ({@link InvalidModelError},
 * `ambiguous_shape`, field `inputs.<input>[<axis>]`) for any dim it cannot guess, e.g. a
 * sequence length, an image size when `spatial` is not given, or an input of unknown rank.
 */
export function defaultShapes(info: Pick<ModelInfo, 'inputs'>, options: DefaultShapeOptions): InputShapes {
  for (const [key, value] of [['batch', options.batch], ['spatial', options.spatial]] as const) {
    if (value !== undefined && !(Number.isSafeInteger(value) && value > 0)) {
      throw new InvalidModelError('invalid_shape', key, `${key} must be a positive integer, got ${String(value)}`);
    }
  }
  const shapes: InputShapes = {};
  for (const input of info.inputs) {
    const dims = input.dims;
    if (dims === null) {
      throw new InvalidModelError('ambiguous_shape', `inputs.${input.name}`, `input ${JSON.stringify(input.name)} does not declare its rank; give its shape explicitly`);
    }
    shapes[input.name] = dims.map((dim, axis) => {
      if (typeof dim === 'number') return dim;
      const guess = guessDim(dims, axis, options);
      if (guess === undefined) {
        const why = dims.length === 4 && options.spatial === undefined ? ' (pass a spatial size for image inputs)' : '';
        throw new InvalidModelError('ambiguous_shape', `inputs.${input.name}[${axis}]`, `cannot guess dim ${axis} (${dim === null ? 'unknown' : JSON.stringify(dim)}) of input ${JSON.stringify(input.name)} ${formatDims(dims)}${why}; give its shape explicitly`);
      }
      return guess;
    });
  }
  return shapes;
}
