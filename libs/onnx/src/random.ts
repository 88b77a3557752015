/** The seeded mulberry32 stream of libs/onnx: random calibration inputs, bootstrap resamples over images, test data. Values in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` deterministic pseudo-random floats in [min, max) (mulberry32 seeded by `seed`). */
export function seededRandomFloats(count: number, seed: number, min: number, max: number): Float32Array {
  const random = mulberry32(seed);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = min + random() * (max - min);
  return out;
}
