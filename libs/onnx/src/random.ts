/** `count` deterministic pseudo-random floats in [min, max) (mulberry32 seeded by `seed`). */
export function seededRandomFloats(count: number, seed: number, min: number, max: number): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = min + (((t ^ (t >>> 14)) >>> 0) / 4294967296) * (max - min);
  }
  return out;
}
