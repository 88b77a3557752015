import type { Comparison } from '@benchfarm/protocol';
import { describe, expect, it } from 'vitest';
import { attachFidelity } from './output-fidelity';

// Fake sessions (pure logic): each returns fixed outputs; the real-session path is in comparison-fidelity.int-spec.
const session = (values: number[], type = 'float32') => ({ run: () => Promise.resolve({ y: { data: Float32Array.from(values), type, dims: [values.length] } }) });
const comparison = (): Comparison =>
  ({ referenceVariant: 'ref', rounds: 1, order: 'interleaved', roundMinQueries: 1, variants: ['ref', 'a', 'b'].map((variant) => ({ variant, fidelity: [] })) }) as unknown as Comparison;

describe('attachFidelity (random inputs)', () => {
  it('hand-computed: ref [1, 0], variant [1, 1] -> cosine 1/sqrt(2), SNR 0 dB, max error 1, labelled random inputs', async () => {
    const c = comparison();
    await attachFidelity([{ name: 'ref', session: session([1, 0]), feeds: {} }, { name: 'a', session: session([1, 1]), feeds: {} }, { name: 'b', session: session([1, 0]), feeds: {} }], c, 'seed 3, 1 run');
    const [ref, a, b] = c.variants;
    expect(ref?.fidelity).toEqual([]);
    expect(a?.fidelity[0]?.cosine).toBeCloseTo(Math.SQRT1_2, 6);
    expect(a?.fidelity[0]?.snrDb).toBeCloseTo(0, 6);
    expect(a?.fidelity[0]).toMatchObject({ output: 'y', maxAbsError: 1, inputs: 'random inputs: seed 3, 1 run', randomInputs: true, images: 0 });
    expect(a?.fidelity[0]).not.toHaveProperty('cosineCi');
    // Identical: cosine 1 and no SNR (it would be infinite).
    expect(b?.fidelity[0]).toMatchObject({ cosine: 1, maxAbsError: 0 });
    expect(b?.fidelity[0]).not.toHaveProperty('snrDb');
  });

  it('skips non-float outputs and leaves no entry for outputs of different sizes', async () => {
    const c = comparison();
    await attachFidelity([{ name: 'ref', session: session([1, 2]), feeds: {} }, { name: 'a', session: session([1]), feeds: {} }, { name: 'b', session: session([1, 2], 'int64'), feeds: {} }], c, 'x');
    expect(c.variants[1]?.fidelity).toEqual([]);
    expect(c.variants[2]?.fidelity).toEqual([]);
  });
});
