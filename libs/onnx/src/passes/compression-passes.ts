import type { Feeds } from '../runtime/activations';
import { VariantParamError } from '../errors';
import { convertToFloat16, FP16_BLOCK_LIST } from './fp16';
import { seededRandomFloats } from '@benchfarm/numerics';
import { CalibrationDataError, imageToTensor, decodeJpeg, listImages, parsePreprocessConfig } from '../model-io/preprocess';
import { onnx, type ModelProto } from '../model-io/proto';
import { DEFAULT_STATIC_OPTIONS, quantizeStatic, type CalibrationMethod, type StaticQuantOptions } from './quantize-static';
import { pruneChannels, pruneMagnitude } from './prune';
import { holdOutEveryThird, parseAutoParams, quantizeAuto } from './quantize-auto';
import { quantizeDynamic } from './quantize-dynamic';
import type { CalibrationData, CalibrationSource, ComputedPass } from './variants.types';
import { readFile } from 'node:fs/promises';

function imageInput(model: ModelProto, field = 'calibration'): { name: string; dims: number[] } {
  const inits = new Set((model.graph?.initializer ?? []).map((t) => t.name ?? ''));
  const inputs = (model.graph?.input ?? []).filter((i) => !inits.has(i.name ?? ''));
  const first = inputs[0];
  if (inputs.length !== 1 || !first) throw new CalibrationDataError(field, `image calibration feeds a model with one input; this one has ${inputs.length} (${inputs.map((i) => i.name).join(', ')}): give tensors instead`);
  const dims = (first.type?.tensorType?.shape?.dim ?? []).map((d) => Number(d.dimValue ?? 0));
  if (first.type?.tensorType?.elemType !== onnx.TensorProto.DataType.FLOAT) throw new CalibrationDataError(field, `input ${JSON.stringify(first.name)} is not float32; images cannot feed it`);
  return { name: first.name ?? '', dims };
}

/**
 * Loads calibration (or held-out) inputs for a model. Thrown ({@link CalibrationDataError}, field
 * `calibration` (or the given `field`) or `preprocess.*`): no source given, an empty or unreadable folder, an image
 * that does not decode, a preprocessing config that does not fit the model's input.
 */
export async function loadCalibration(source: CalibrationSource | undefined, model: ModelProto, field = 'calibration'): Promise<CalibrationData> {
  if (!source) throw new CalibrationDataError(field, 'this variant needs calibration inputs: give a folder of images (with a preprocessing config), tensors, or ask for random calibration explicitly');
  switch (source.kind) {
    case 'images': {
      const preprocess = parsePreprocessConfig(source.preprocess);
      const files = source.files ? [...source.files] : await listImages(source.dir ?? '', field);
      if (files.length === 0) throw new CalibrationDataError(field, 'the list of calibration images is empty');
      const input = imageInput(model, field);
      const feeds: Feeds[] = [];
      for (const file of files) {
        let bytes: Uint8Array;
        try {
          bytes = await readFile(file);
        } catch (err) {
          throw new CalibrationDataError(field, `cannot read ${JSON.stringify(file)}: ${(err as Error).message}`, { cause: err });
        }
        let image;
        try {
          image = decodeJpeg(bytes);
        } catch (err) {
          throw new CalibrationDataError(field, `cannot decode ${JSON.stringify(file)} as JPEG: ${(err as Error).message}`, { cause: err });
        }
        feeds.push({ [input.name]: imageToTensor(image, input.dims, preprocess) });
      }
      return {
        feeds,
        recipe: {
          calibrationData: `images: ${files.length}${source.dir ? ` from ${source.dir}` : ''}`,
          preprocess: typeof source.preprocess === 'string' ? source.preprocess : JSON.stringify(preprocess),
        },
      };
    }
    case 'feeds':
      if (source.feeds.length === 0) throw new CalibrationDataError(field, 'no calibration tensors given');
      return { feeds: source.feeds, recipe: { calibrationData: `tensors: ${source.feeds.length} (${source.label})` } };
    case 'random': {
      if (!(Number.isInteger(source.count) && source.count > 0)) throw new CalibrationDataError(`${field}.count`, `must be a positive integer, got ${source.count}`);
      const feeds: Feeds[] = [];
      const inits = new Set((model.graph?.initializer ?? []).map((t) => t.name ?? ''));
      for (let k = 0; k < source.count; k++) {
        const feed: Record<string, { data: Float32Array; dims: number[] }> = {};
        for (const input of model.graph?.input ?? []) {
          if (inits.has(input.name ?? '')) continue;
          const dims = (input.type?.tensorType?.shape?.dim ?? []).map((d) => Number(d.dimValue ?? 0));
          feed[input.name ?? ''] = { data: seededRandomFloats(dims.reduce((a, b) => a * b, 1), source.seed + k, source.min, source.max), dims };
        }
        feeds.push(feed);
      }
      return { feeds, recipe: { calibrationData: `RANDOM uniform [${source.min}, ${source.max}], ${source.count} inputs, seed ${source.seed} (not real data: ranges may not match real inputs)` } };
    }
  }
}

const METHODS = new Set<CalibrationMethod>(['minmax', 'percentile', 'entropy']);

/**
 * Parses int8-static options: `+`-separated tokens, e.g. `entropy+s8+first=0`: a calibration
 * method (minmax, percentile, entropy), `p=<percent>`, `u8`/`s8` activations, `head` (quantize
 * the detection head too), `first=<n>` leading layers kept in float, `dw`/`nodw` (quantize depthwise
 * convs, or keep them in float), `ops=<Op>/<Op>`, `exclude=<node>/<node>`, `act=<Op>/<Op>` (activation ops in QDQ; `act=none` for weighted layers only).
 */
export function parseStaticOptions(variant: string, param: string | undefined): StaticQuantOptions {
  let options: StaticQuantOptions = DEFAULT_STATIC_OPTIONS;
  if (param === undefined) return options;
  const fail = (message: string): never => {
    throw new VariantParamError(variant, `${message}; options are +-separated: minmax|percentile|entropy, p=<percent>, u8|s8, head, first=<n>, dw|nodw, ops=<Op>/<Op>, act=<Op>/<Op>|none, exclude=<node>/<node>`);
  };
  if (param.trim() === '') fail('empty options after ":"');
  for (const token of param.split('+').map((t) => t.trim())) {
    const [key = '', value] = token.split('=', 2);
    if (value === undefined) {
      if (METHODS.has(key as CalibrationMethod)) options = { ...options, method: key as CalibrationMethod };
      else if (key === 'u8' || key === 's8') options = { ...options, activationType: key === 'u8' ? 'uint8' : 'int8' };
      else if (key === 'head') options = { ...options, excludeHead: false };
      else if (key === 'dw') options = { ...options, skipDepthwise: false };
      else if (key === 'nodw') options = { ...options, skipDepthwise: true };
      else fail(`unknown option ${JSON.stringify(token)}`);
      continue;
    }
    const list = value.split('/').map((v) => v.trim()).filter((v) => v !== '');
    switch (key) {
      case 'p': {
        const p = Number(value);
        if (!(p > 0 && p <= 100)) fail(`p must be a percentage in (0, 100], got ${JSON.stringify(value)}`);
        options = { ...options, method: 'percentile', percentile: p };
        break;
      }
      case 'first': {
        const n = Number(value);
        if (!(Number.isInteger(n) && n >= 0)) fail(`first must be an integer >= 0, got ${JSON.stringify(value)}`);
        options = { ...options, skipFirst: n };
        break;
      }
      case 'ops':
        if (list.length === 0) fail('ops needs at least one op type');
        options = { ...options, opTypes: list };
        break;
      case 'act':
        options = { ...options, activationOps: list.length === 1 && list[0] === 'none' ? [] : list };
        break;
      case 'exclude':
        options = { ...options, excludeNodes: list };
        break;
      default:
        fail(`unknown option ${JSON.stringify(key)}`);
    }
  }
  return options;
}

/** Parses a ratio in (0, 1) with optional `+`-options; thrown ({@link VariantParamError}) otherwise. */
export function parseRatio(variant: string, param: string | undefined): { ratio: number; flags: Set<string> } {
  if (param === undefined) throw new VariantParamError(variant, 'needs a ratio in (0, 1): e.g. prune-l1:0.5');
  const [ratioText = '', ...flags] = param.split('+');
  const ratio = Number(ratioText);
  if (ratioText.trim() === '' || !(ratio > 0 && ratio < 1)) throw new VariantParamError(variant, `the ratio must be a number in (0, 1), got ${JSON.stringify(ratioText)}`);
  return { ratio, flags: new Set(flags) };
}

const INT8_STATIC: ComputedPass = {
  kind: 'computed',
  description: 'int8 static quantization (QDQ): calibrated activations (MinMax/Percentile/Entropy), per-channel symmetric int8 weights, int32 bias, Sigmoid/Mul (SiLU) in int8 too; detection head and stem kept in float by default',
  parseParam: (param) => void parseStaticOptions('int8-static', param),
  async apply(model, _info, context) {
    const options = parseStaticOptions(`int8-static${context.param === undefined ? '' : `:${context.param}`}`, context.param);
    const calibration = await context.calibration();
    const result = await quantizeStatic(model, calibration.feeds, options);
    return { model: result.model, recipe: { ...result.recipe, ...calibration.recipe } };
  },
};

const INT8_AUTO: ComputedPass = {
  kind: 'computed',
  description:
    'int8 QDQ with the layers kept in float chosen by a search against an accuracy floor (default: mAP@0.5 agreement >= 0.95 for detectors, top-1 agreement >= 0.99 for classifiers, cosine >= 0.99 otherwise, all against fp32): per-layer sensitivity on the calibration images, ranked by fp32 time share per accuracy lost, checked on held-out images; options floor=, metric=, gain=share|measured',
  parseParam: (param) => void parseAutoParams('int8-auto', param),
  async apply(model, _info, context) {
    const name = `int8-auto${context.param === undefined ? '' : `:${context.param}`}`;
    const params = parseAutoParams(name, context.param);
    const calibration = await context.calibration();
    if ((calibration.recipe.calibrationData ?? '').startsWith('RANDOM')) {
      throw new CalibrationDataError('calibration', 'int8-auto needs real images: its accuracy floor measured on random inputs would say nothing about real ones (give calibration images, or a dataset)');
    }
    const holdout = await context.holdout();
    let search = calibration.feeds;
    let held = holdout?.feeds;
    let inputs = `real images: ${calibration.recipe.calibrationData ?? 'calibration'}`;
    if (!held) {
      const split = holdOutEveryThird(calibration.feeds);
      if (split.heldOut.length === 0 || split.kept.length === 0) throw new CalibrationDataError('calibration', `int8-auto needs at least 3 calibration images when no held-out images are given (every 3rd is held out for the final check); got ${calibration.feeds.length}`);
      search = split.kept;
      held = split.heldOut;
      inputs += `; every 3rd from the 2nd held out (${split.heldOut.length}), the other ${split.kept.length} calibrate and are searched on`;
    } else inputs += `; held out: ${holdout?.recipe.calibrationData ?? `${held.length} images`}`;
    const result = await quantizeAuto(model, search, held, params, inputs);
    return { model: result.model, recipe: { ...result.recipe, ...calibration.recipe, ...(holdout ? { holdoutData: holdout.recipe.calibrationData ?? '' } : {}) }, report: result.report };
  },
};

/** The compression passes (fp16, int8, pruning) of the variant registry. */
export const COMPRESSION_PASSES = {
  fp16: {
    kind: 'computed',
    description: 'float16 weights and activations, float32 inputs/outputs (Casts), block-listed ops kept in float32; on CPUs usually no faster, on GPUs the point',
    async apply(model) {
      return convertToFloat16(model, { blockList: FP16_BLOCK_LIST, blockNodes: [] });
    },
  },
  'int8-static': INT8_STATIC,
  'int8-auto': INT8_AUTO,
  'int8-dynamic': {
    kind: 'computed',
    description: 'int8 dynamic quantization of MatMul/Gemm (DynamicQuantizeLinear + MatMulInteger, uint8 activations, int8 weights); Conv left in float (ConvInteger has no CPU kernel with int8 weights); for transformer/RNN models',
    async apply(model) {
      return quantizeDynamic(model);
    },
  },
  'prune-l1': {
    kind: 'computed',
    description: 'unstructured magnitude pruning: zero the smallest |w| share of each weight tensor (`+global` for one threshold over all); biases, the first layer and the detection head skipped; no speed-up on dense kernels',
    parseParam: (param) => void parseRatio('prune-l1', param),
    async apply(model, _info, context) {
      const { ratio, flags } = parseRatio('prune-l1', context.param);
      return pruneMagnitude(model, ratio, { global: flags.has('global') });
    },
  },
  'prune-channels': {
    kind: 'computed',
    description: 'structured channel pruning with dependency groups (Conv, elementwise Add/Mul, Concat/Split, depthwise): removes the lowest-L2 output channels (multiples of 8), the head kept; no fine-tuning',
    parseParam: (param) => void parseRatio('prune-channels', param),
    async apply(model, _info, context) {
      const { ratio } = parseRatio('prune-channels', context.param);
      return pruneChannels(model, ratio);
    },
  },
} as const satisfies Record<string, ComputedPass>;
