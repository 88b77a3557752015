import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import jpeg from 'jpeg-js';
import { z } from 'zod';
import type { Feeds, FloatTensor } from '../runtime/activations';

/**
 * How images become a model's input tensor. Every model has its own: YOLOX wants BGR 0..255
 * letterboxed with 114, YOLOv5/v8 RGB 0..1, ImageNet classifiers mean/std normalised.
 */
export interface PreprocessConfig {
  /** `letterbox` keeps the aspect ratio and pads (top-left aligned, as YOLOX does); `stretch` resizes to the input size. */
  readonly resize: 'letterbox' | 'stretch';
  /** Value of letterbox padding, in 0..255 pixel units before scaling. */
  readonly padValue: number;
  readonly channelOrder: 'RGB' | 'BGR';
  readonly layout: 'NCHW' | 'NHWC';
  /** Multiplies the 0..255 pixel value (1 for YOLOX, 1/255 for YOLOv5/8). */
  readonly scale: number;
  /** Subtracted after scaling, per channel in `channelOrder`. */
  readonly mean: readonly [number, number, number];
  /** Divides after the mean, per channel. */
  readonly std: readonly [number, number, number];
}

/** Built-in preprocessing configs by name. */
export const PREPROCESS_PRESETS = {
  yolox: { resize: 'letterbox', padValue: 114, channelOrder: 'BGR', layout: 'NCHW', scale: 1, mean: [0, 0, 0], std: [1, 1, 1] },
  yolo: { resize: 'letterbox', padValue: 114, channelOrder: 'RGB', layout: 'NCHW', scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] },
  imagenet: { resize: 'stretch', padValue: 0, channelOrder: 'RGB', layout: 'NCHW', scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
} as const satisfies Record<string, PreprocessConfig>;

const triple = z.tuple([z.number().finite(), z.number().finite(), z.number().finite()]);
const schema = z.strictObject({
  resize: z.enum(['letterbox', 'stretch']),
  padValue: z.number().min(0).max(255).default(114),
  channelOrder: z.enum(['RGB', 'BGR']),
  layout: z.enum(['NCHW', 'NHWC']).default('NCHW'),
  scale: z.number().finite().positive(),
  mean: triple.default([0, 0, 0]),
  std: triple.refine((s) => s.every((v) => v > 0), 'every std must be > 0').default([1, 1, 1]),
});

/** Thrown for unusable calibration/evaluation data: an empty or unreadable folder, a config that does not fit the input. */
export class CalibrationDataError extends Error {
  override name = 'CalibrationDataError';
  constructor(
    readonly field: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${field}: ${message}`, options);
  }
}

/**
 * Validates a preprocessing config (a preset name, or an object as in {@link PreprocessConfig});
 * thrown ({@link CalibrationDataError}, field `preprocess.<key>`) listing every bad key.
 */
export function parsePreprocessConfig(value: unknown): PreprocessConfig {
  if (typeof value === 'string') {
    if (Object.hasOwn(PREPROCESS_PRESETS, value)) return PREPROCESS_PRESETS[value as keyof typeof PREPROCESS_PRESETS];
    throw new CalibrationDataError('preprocess', `unknown preset ${JSON.stringify(value)}; presets: ${Object.keys(PREPROCESS_PRESETS).join(', ')}`);
  }
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `${['preprocess', ...i.path.map(String)].join('.')}: ${i.message}`);
  const first = parsed.error.issues[0]?.path.map(String).join('.') ?? '';
  throw new CalibrationDataError(first ? `preprocess.${first}` : 'preprocess', problems.join('; '));
}

/** An RGB image, 8 bits per channel, interleaved. */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  readonly rgb: Uint8Array;
}

/** Decodes a JPEG file's bytes to RGB (jpeg-js, pure JS). */
export function decodeJpeg(bytes: Uint8Array): RgbImage {
  const decoded = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false, maxMemoryUsageInMB: 1024 });
  return { width: decoded.width, height: decoded.height, rgb: decoded.data };
}

/**
 * Turns an image into one input tensor of `dims` (rank 4, batch 1, 3 channels) by the config:
 * bilinear resize (letterbox: scale = min(H/h, W/w), image at the top-left, the rest padded),
 * channel order, scale, mean/std. Thrown ({@link CalibrationDataError}) when the dims do not
 * fit the config (rank, batch, channel count for the layout).
 */
export function imageToTensor(image: RgbImage, dims: readonly number[], config: PreprocessConfig): FloatTensor {
  if (dims.length !== 4 || dims[0] !== 1) throw new CalibrationDataError('preprocess', `the model input has dims [${dims.join(', ')}]; images fill rank-4 inputs with batch 1`);
  const [channels, height, width] = config.layout === 'NCHW' ? [dims[1], dims[2], dims[3]] : [dims[3], dims[1], dims[2]];
  if (channels !== 3 || !height || !width) throw new CalibrationDataError('preprocess.layout', `layout ${config.layout} reads ${channels ?? '?'} channels from input dims [${dims.join(', ')}]; images have 3`);
  const ratio = config.resize === 'letterbox' ? Math.min(height / image.height, width / image.width) : 0;
  const ry = config.resize === 'letterbox' ? ratio : height / image.height;
  const rx = config.resize === 'letterbox' ? ratio : width / image.width;
  const innerH = config.resize === 'letterbox' ? Math.round(image.height * ratio) : height;
  const innerW = config.resize === 'letterbox' ? Math.round(image.width * ratio) : width;
  const out = new Float32Array(3 * height * width);
  const order = config.channelOrder === 'RGB' ? [0, 1, 2] : [2, 1, 0];
  const plane = height * width;
  // Source taps per output column and row, computed once (pixel-centre mapping, as OpenCV's
  // INTER_LINEAR): the per-pixel loop then only reads and blends, which makes the accuracy
  // phase's preprocessing a few milliseconds per image instead of ~150 (same arithmetic, same values).
  const taps = (n: number, inner: number, ratio: number, size: number) => {
    const i0 = new Int32Array(n);
    const i1 = new Int32Array(n);
    const f = new Float64Array(n);
    for (let i = 0; i < inner && i < n; i++) {
      const s = Math.min(Math.max((i + 0.5) / ratio - 0.5, 0), size - 1);
      i0[i] = Math.floor(s);
      i1[i] = Math.min((i0[i] ?? 0) + 1, size - 1);
      f[i] = s - (i0[i] ?? 0);
    }
    return { i0, i1, f };
  };
  const ys = taps(height, innerH, ry, image.height);
  const xs = taps(width, innerW, rx, image.width);
  const rgb = image.rgb;
  const scale = config.scale;
  const nchw = config.layout === 'NCHW';
  // Per output channel: the source channel it reads, its mean and std.
  const src = [order[0] ?? 0, order[1] ?? 1, order[2] ?? 2];
  const mean = [config.mean[0] ?? 0, config.mean[1] ?? 0, config.mean[2] ?? 0];
  const std = [config.std[0] ?? 1, config.std[1] ?? 1, config.std[2] ?? 1];
  const px = [0, 0, 0];
  for (let y = 0; y < height; y++) {
    const rowInside = y < innerH;
    const y0 = ys.i0[y] ?? 0;
    const y1 = ys.i1[y] ?? 0;
    const fy = ys.f[y] ?? 0;
    for (let x = 0; x < width; x++) {
      if (rowInside && x < innerW) {
        const x0 = xs.i0[x] ?? 0;
        const x1 = xs.i1[x] ?? 0;
        const fx = xs.f[x] ?? 0;
        const a = (y0 * image.width + x0) * 3;
        const b = (y0 * image.width + x1) * 3;
        const c = (y1 * image.width + x0) * 3;
        const d = (y1 * image.width + x1) * 3;
        for (let k = 0; k < 3; k++) px[k] = ((rgb[a + k] ?? 0) * (1 - fx) + (rgb[b + k] ?? 0) * fx) * (1 - fy) + ((rgb[c + k] ?? 0) * (1 - fx) + (rgb[d + k] ?? 0) * fx) * fy;
      } else {
        px[0] = px[1] = px[2] = config.padValue;
      }
      const at = y * width + x;
      for (let c = 0; c < 3; c++) {
        const value = ((px[src[c] ?? c] ?? 0) * scale - (mean[c] ?? 0)) / (std[c] ?? 1);
        out[nchw ? c * plane + at : at * 3 + c] = value;
      }
    }
  }
  return { data: out, dims: [...dims] };
}

const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg']);

/** The JPEG files of a folder, sorted by name. Thrown ({@link CalibrationDataError}) for an unreadable folder or one with no JPEGs. */
export async function listImages(dir: string, field = 'calibration'): Promise<string[]> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (err) {
    throw new CalibrationDataError(field, `cannot read the folder ${JSON.stringify(dir)}: ${(err as Error).message}`, { cause: err });
  }
  const files = entries.filter((f) => IMAGE_EXTENSIONS.has(extname(f).toLowerCase())).sort();
  if (files.length === 0) throw new CalibrationDataError(field, `the folder ${JSON.stringify(dir)} holds no .jpg/.jpeg images`);
  return files.map((f) => join(dir, f));
}

/**
 * Loads images as feeds for a model's single image input. Thrown ({@link CalibrationDataError})
 * naming the file that does not decode.
 */
export async function loadImageFeeds(files: readonly string[], inputName: string, dims: readonly number[], config: PreprocessConfig, field = 'calibration'): Promise<Feeds[]> {
  const feeds: Feeds[] = [];
  for (const file of files) {
    let image: RgbImage;
    try {
      image = decodeJpeg(await readFile(file));
    } catch (err) {
      throw new CalibrationDataError(field, `cannot decode ${JSON.stringify(file)} as JPEG: ${(err as Error).message}`, { cause: err });
    }
    feeds.push({ [inputName]: imageToTensor(image, dims, config) });
  }
  return feeds;
}

/**
 * Splits a sorted image list into calibration and evaluation files, so that fidelity is never
 * measured on the images the quantizer calibrated on: every third image (from the second)
 * is held out for evaluation; a single image is refused for both.
 */
export function splitCalibrationEvaluation(files: readonly string[]): { calibration: string[]; evaluation: string[] } {
  if (files.length < 2) throw new CalibrationDataError('calibration', `needs at least 2 images (some to calibrate, others to measure fidelity on), got ${files.length}`);
  const calibration: string[] = [];
  const evaluation: string[] = [];
  for (const [i, f] of files.entries()) (i % 3 === 1 ? evaluation : calibration).push(f);
  return { calibration, evaluation };
}
