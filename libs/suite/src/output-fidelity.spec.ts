import { describe, expect, it } from 'vitest';
import { outputFidelity } from './output-fidelity';

const run = (values: number[], type = 'float32') => ({ y: { data: Float32Array.from(values), type } });

describe('outputFidelity', () => {
  it('hand-computed: ref [1, 0], variant [1, 1] -> cosine 1/sqrt(2), SNR 0 dB, max error 1', () => {
    const [f] = outputFidelity([run([1, 0])], [run([1, 1])], 'test inputs');
    expect(f?.cosine).toBeCloseTo(Math.SQRT1_2, 6);
    expect(f?.snrDb).toBeCloseTo(0, 6);
    expect(f?.maxAbsError).toBe(1);
    expect(f?.inputs).toBe('test inputs');
  });
  it('identical outputs: cosine 1 and no SNR (it would be infinite)', () => {
    const [f] = outputFidelity([run([3, 4])], [run([3, 4])], 'x');
    expect(f).toEqual({ output: 'y', cosine: 1, maxAbsError: 0, inputs: 'x' });
  });
  it('skips non-float outputs and refuses tensors of different sizes', () => {
    expect(outputFidelity([run([1], 'int64')], [run([1], 'int64')], 'x')).toEqual([]);
    expect(() => outputFidelity([run([1, 2])], [run([1])], 'x')).toThrow(/1 values, the reference's 2/);
  });
});
