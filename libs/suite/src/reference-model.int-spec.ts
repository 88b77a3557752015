import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { REFERENCE_MODEL_ID, REFERENCE_TOLERANCE, compareToReference, referenceModel } from './reference-model';

describe('reference model (health check)', () => {
  it('is a valid ONNX model: onnx-proto decodes the hand-written bytes into the intended graph', async () => {
    const { onnx } = await import('@benchfarm/onnx');
    const model = onnx.ModelProto.decode(referenceModel().bytes);
    expect(Number(model.irVersion)).toBe(8);
    expect(model.producerVersion).toBe(REFERENCE_MODEL_ID);
    expect(model.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([['', 13]]);
    const graph = model.graph!;
    expect(graph.node!.map((n) => n.opType)).toEqual(['MatMul', 'Add', 'Relu', 'MatMul', 'Add']);
    expect(graph.initializer!.map((t) => [t.name, t.dims!.map(Number), t.rawData!.length])).toEqual([
      ['W1', [16, 32], 16 * 32 * 4],
      ['B1', [32], 32 * 4],
      ['W2', [32, 8], 32 * 8 * 4],
      ['B2', [8], 8 * 4],
    ]);
    expect(graph.input!.map((v) => [v.name, v.type!.tensorType!.shape!.dim!.map((d) => Number(d.dimValue))])).toEqual([['X', [1, 16]]]);
    expect(graph.output!.map((v) => v.name)).toEqual(['Y']);
  });

  it('is deterministic: the same bytes and digest every build', () => {
    const a = referenceModel();
    expect(a.sha256).toMatch(/^[0-9a-f]{64}$/);
    // Pinned: a change to the graph, its weights or the writer must come with a new REFERENCE_MODEL_ID.
    expect(a.sha256).toBe('59416f0b80b5e2469fd28489f8fd26f6068af0ad98dc38a24118a8c7b687a958');
  });

  it('onnxruntime (CPU) computes the expected outputs within the tolerance, far inside it', async () => {
    const ref = referenceModel();
    const session = await ort.InferenceSession.create(ref.bytes, { executionProviders: ['cpu'], intraOpNumThreads: 1 });
    const out = await session.run({ [ref.inputName]: new ort.Tensor('float32', ref.input, [...ref.inputShape]) });
    const values = Array.from(out[ref.outputName]!.data as Float32Array);
    expect(out[ref.outputName]!.dims).toEqual([...ref.outputShape]);
    const cmp = compareToReference(values);
    expect(cmp.ok).toBe(true);
    // ~float32 rounding: 100x inside the tolerance on these magnitudes.
    expect(cmp.maxAbsDiff).toBeLessThan(REFERENCE_TOLERANCE.relative / 100);
    // The outputs are not trivial (not all zero after the Relu).
    expect(Math.max(...ref.expected.map(Math.abs))).toBeGreaterThan(0.1);
    await session.release();
  });
});

describe('compareToReference', () => {
  const want = Array.from(referenceModel().expected);
  it.each([
    ['exact', want, true],
    ['within tolerance (relative 5e-5)', want.map((v) => v * (1 + 5e-5)), true],
    ['outside tolerance (relative 1e-3)', want.map((v, i) => (i === 3 ? v * (1 + 1e-3) + 1e-3 : v)), false],
    ['a NaN', want.map((v, i) => (i === 0 ? Number.NaN : v)), false],
    ['missing outputs', want.slice(0, 4), false],
    ['no outputs', [], false],
  ])('%s', (_name, outputs, ok) => {
    const cmp = compareToReference(outputs);
    expect(cmp.ok).toBe(ok);
    if (!cmp.ok) expect(cmp.reason).toMatch(/^outputs/);
  });

  it('names the difference, the count outside and the worst element', () => {
    const cmp = compareToReference(want.map((v, i) => (i === 3 ? v + 0.5 : v)));
    expect(cmp).toMatchObject({ ok: false, reason: expect.stringMatching(/^outputs differ from the reference by 5\.00e-1 \(1 of 8 outside .*worst outputs\[3\]/) });
  });
});
