import type { TensorSpec } from '@benchfarm/protocol';
import { InvalidTensorSpecError } from './errors';

// Pure helpers about input specs and seeded data, kept apart from onnxruntime so that
// importing them (the agent, the statistics) does not load onnxruntime's native library.

/** Number of elements of a fixed shape, after checking every dimension is a whole number >= 1. */
export function elementCount(spec: TensorSpec): number {
  let count = 1;
  for (const dim of spec.shape) {
    if (!Number.isSafeInteger(dim) || dim < 1) {
      throw new InvalidTensorSpecError(spec.name, `shape [${spec.shape.join(', ')}] has dimension ${dim}; every dimension must be fixed and >= 1`);
    }
    count *= dim;
  }
  if (!Number.isSafeInteger(count)) throw new InvalidTensorSpecError(spec.name, `shape [${spec.shape.join(', ')}] has too many elements`);
  return count;
}

/**
 * IEEE half bits of k / 2048 for a whole k in [0, 2048). Every such value is exact in
 * float16 (at most 11 significant bits, exponent >= -11), so no rounding is involved: the
 * generated halves are uniform on [0, 1) at the format's resolution near 1.
 */
export function halfBitsOfGridValue(k: number): number {
  if (k === 0) return 0;
  const exponent = 31 - Math.clz32(k); // k = 1.m * 2^exponent, so k / 2048 = 1.m * 2^(exponent - 11)
  return ((exponent + 4) << 10) | ((k - (1 << exponent)) << (10 - exponent));
}

/** The manifest's `input_shapes`: "name:1x3x320x320", several joined by ";" in spec order. */
export function formatInputShapes(specs: readonly TensorSpec[]): string {
  return specs.map((spec) => `${spec.name}:${spec.shape.join('x')}`).join(';');
}
