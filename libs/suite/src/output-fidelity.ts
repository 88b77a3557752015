import type { Comparison } from '@benchfarm/protocol';

/**
 * Runs every compared variant once on its feeds and stores, on each non-reference entry of
 * the comparison, its outputs' fidelity against the reference's (the first variant), labelled
 * random inputs (`inputs` says which). The figures come from libs/onnx's outputsFidelity, the
 * one fidelity computation (the CLI's `variants --eval` and the accuracy phase on real images
 * use it too); loaded lazily, as libs/suite loads @benchfarm/onnx everywhere. A variant whose
 * outputs cannot be compared gets no entry rather than a made-up one.
 */
export async function attachFidelity<F>(variants: readonly { readonly name: string; readonly session: { run(feeds: F): Promise<unknown> }; readonly feeds: F }[], comparison: Comparison, inputs: string): Promise<void> {
  const [reference, ...others] = variants;
  if (!reference) return;
  const { outputsFidelity } = await import('@benchfarm/onnx');
  type Outputs = Parameters<typeof outputsFidelity>[0][number];
  const refOutputs = (await reference.session.run(reference.feeds)) as Outputs;
  for (const variant of others) {
    const entry = comparison.variants.find((v) => v.variant === variant.name);
    if (!entry) continue;
    const outputs = (await variant.session.run(variant.feeds)) as Outputs;
    try {
      entry.fidelity = outputsFidelity([refOutputs], [outputs], { inputs: `random inputs: ${inputs}`, randomInputs: true, resamples: 1, seed: 0 });
    } catch {
      entry.fidelity = [];
    }
  }
}
