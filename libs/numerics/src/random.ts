/**
 * mulberry32: a 32-bit seeded PRNG, uniform on [0, 1) with 2^-32 resolution. Chosen for
 * being tiny and identical everywhere (plain 32-bit integer math), so a seed names the same
 * input bytes on every device and in every language that reimplements it.
 *
 * The one seeded generator of benchfarm: suite inputs, Poisson arrivals, bootstrap resamples
 * (latency CIs and evaluation images), random calibration inputs and test data all draw from it.
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
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
