import type { Comparison, OutputFidelity } from '@benchfarm/protocol';

/** Float outputs of one run, by output name (what onnxruntime returns, narrowed). */
export type RunOutputs = Readonly<Record<string, { readonly data: unknown; readonly type: string }>>;

/**
 * Cosine similarity, SNR (dB) and max absolute error of each float32 output of a variant
 * against the reference's, pooled over every input run (the lists are per input, same order).
 * Non-float outputs (indices, shapes) and outputs the variant lacks are left out. SNR is
 * absent when the outputs are identical (it would be infinite).
 */
export function outputFidelity(reference: readonly RunOutputs[], variant: readonly RunOutputs[], inputs: string): OutputFidelity[] {
  const names = Object.keys(reference[0] ?? {}).filter((n) => reference[0]?.[n]?.type === 'float32' && variant[0]?.[n]?.type === 'float32');
  return names.map((output) => {
    let dot = 0;
    let refSq = 0;
    let varSq = 0;
    let errSq = 0;
    let maxAbsError = 0;
    for (const [i, refRun] of reference.entries()) {
      const a = refRun[output]?.data as Float32Array;
      const b = variant[i]?.[output]?.data as Float32Array | undefined;
      if (!b || b.length !== a.length) throw new RangeError(`output ${output}: the variant's tensor has ${b?.length ?? 0} values, the reference's ${a.length}`);
      for (let j = 0; j < a.length; j++) {
        const x = a[j] ?? 0;
        const y = b[j] ?? 0;
        dot += x * y;
        refSq += x * x;
        varSq += y * y;
        const e = x - y;
        errSq += e * e;
        if (Math.abs(e) > maxAbsError) maxAbsError = Math.abs(e);
      }
    }
    const cosine = refSq === 0 && varSq === 0 ? 1 : dot / Math.sqrt(refSq * varSq);
    return { output, cosine, ...(errSq === 0 ? {} : { snrDb: 10 * Math.log10(refSq / errSq) }), maxAbsError, inputs, images: 0, randomInputs: true };
  });
}

/**
 * Runs every compared variant once on its feeds and stores, on each non-reference entry of
 * the comparison, its outputs' fidelity against the reference's (the first variant). A
 * variant whose outputs cannot be compared gets no entry rather than a made-up one.
 */
export async function attachFidelity<F>(variants: readonly { readonly name: string; readonly session: { run(feeds: F): Promise<unknown> }; readonly feeds: F }[], comparison: Comparison, inputs: string): Promise<void> {
  const [reference, ...others] = variants;
  if (!reference) return;
  const refOutputs = (await reference.session.run(reference.feeds)) as RunOutputs;
  for (const variant of others) {
    const entry = comparison.variants.find((v) => v.variant === variant.name);
    if (!entry) continue;
    const outputs = (await variant.session.run(variant.feeds)) as RunOutputs;
    try {
      entry.fidelity = outputFidelity([refOutputs], [outputs], inputs);
    } catch {
      entry.fidelity = [];
    }
  }
}
