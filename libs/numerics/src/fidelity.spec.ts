import { describe, expect, it } from 'vitest';
import { OutputFidelityAccumulator } from './fidelity';

// Hand-computed figures on made-up tensors.
describe('OutputFidelityAccumulator', () => {
  it.each([
    { name: 'identical', ref: [[1, 2, 3]], v: [[1, 2, 3]], cosine: 1, snrDb: undefined, maxAbs: 0 },
    { name: 'orthogonal part', ref: [[1, 0]], v: [[1, 1]], cosine: 1 / Math.sqrt(2), snrDb: 0, maxAbs: 1 },
    // sum ref^2 = 100, sum err^2 = 1 over the two images: 20 dB.
    { name: 'pooled over images', ref: [[10, 0], [0, 0]], v: [[10, 0], [1, 0]], cosine: 100 / Math.sqrt(100 * 101), snrDb: 20, maxAbs: 1 },
    { name: 'both zero', ref: [[0, 0]], v: [[0, 0]], cosine: 1, snrDb: undefined, maxAbs: 0 },
  ])('$name', ({ ref, v, cosine, snrDb, maxAbs }) => {
    const acc = new OutputFidelityAccumulator('y');
    for (const [i, r] of ref.entries()) acc.add(r, v[i]!);
    const pooled = acc.pooled();
    expect(pooled.cosine).toBeCloseTo(cosine, 12);
    if (snrDb === undefined) expect(pooled).not.toHaveProperty('snrDb');
    else expect(pooled.snrDb).toBeCloseTo(snrDb, 9);
    expect(pooled.maxAbsError).toBe(maxAbs);
    expect(acc.images).toBe(ref.length);
  });

  it('weights count an image that many times (the bootstrap resample)', () => {
    const acc = new OutputFidelityAccumulator('y');
    acc.add([1, 2], [1, 3]);
    acc.add([4, 0], [2, 1]);
    acc.add([0, 5], [0, 5]);
    const twice = new OutputFidelityAccumulator('y');
    for (const [r, v] of [[[1, 2], [1, 3]], [[1, 2], [1, 3]], [[0, 5], [0, 5]]] as const) twice.add(r, v);
    expect(acc.pooled([2, 0, 1])).toEqual(twice.pooled());
  });

  it('keeps NaN in the max abs error and refuses tensors of different sizes', () => {
    const acc = new OutputFidelityAccumulator('y');
    acc.add([1, 2], [1, Number.NaN]);
    expect(acc.pooled().maxAbsError).toBeNaN();
    expect(() => acc.add([1, 2], [1])).toThrow(/output y: input 1 has 2 reference values, 1 variant values/);
  });
});
