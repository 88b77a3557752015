/** Packs latencies as little-endian float64 (the `result_samples` BLOB format, the same on every host). */
export function encodeSamples(latencyMs: ArrayLike<number>): Buffer {
  const buffer = Buffer.allocUnsafe(latencyMs.length * 8);
  Array.prototype.forEach.call(latencyMs, (value: number, i: number) => buffer.writeDoubleLE(value, i * 8));
  return buffer;
}

/** Unpacks a BLOB written by {@link encodeSamples}. */
export function decodeSamples(blob: Uint8Array): number[] {
  if (blob.byteLength % 8 !== 0) throw new RangeError(`a samples BLOB must be a multiple of 8 bytes, got ${blob.byteLength}`);
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const out = new Array<number>(blob.byteLength / 8);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat64(i * 8, true);
  return out;
}
