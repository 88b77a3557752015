/**
 * Fidelity of a variant's output against the reference's: cosine similarity, SNR (dB) and max
 * absolute error, pooled over inputs. The one implementation behind the CLI's `variants` table,
 * the suite's comparison on random inputs and the agent's evaluation on real images. Pure.
 */

/** Pooled agreement of one output over images: see {@link OutputFidelityAccumulator.pooled}. */
export interface PooledFidelity {
  readonly cosine: number;
  /**
   * 10 log10(sum ref^2 / sum err^2); absent when the outputs are identical (no error energy:
   * the SNR is infinite, which neither JSON nor the proto's optional double can carry, so
   * every layer — wire, REST, report, Prometheus — shows it as absent).
   */
  readonly snrDb?: number;
  readonly maxAbsError: number;
}

/**
 * Streaming fidelity of one output of a variant against the reference: per image, the dot
 * product, both squared norms, the squared error and the max abs error, so the pooled cosine
 * and SNR of any weighting of the images (all of them, or a bootstrap resample) are exact.
 */
export class OutputFidelityAccumulator {
  private readonly dot: number[] = [];
  private readonly refSq: number[] = [];
  private readonly varSq: number[] = [];
  private readonly errSq: number[] = [];
  private readonly maxAbs: number[] = [];

  constructor(readonly output: string) {}

  /** Images added so far. */
  get images(): number {
    return this.dot.length;
  }

  /** Adds one image's tensors of this output. Thrown (RangeError) when their sizes differ. */
  add(reference: ArrayLike<number>, variant: ArrayLike<number>): void {
    if (reference.length !== variant.length) throw new RangeError(`output ${this.output}: input ${this.images} has ${reference.length} reference values, ${variant.length} variant values`);
    let dot = 0;
    let refSq = 0;
    let varSq = 0;
    let errSq = 0;
    let maxAbs = 0;
    for (let j = 0; j < reference.length; j++) {
      const a = reference[j] ?? 0;
      const b = variant[j] ?? 0;
      dot += a * b;
      refSq += a * a;
      varSq += b * b;
      const e = a - b;
      errSq += e * e;
      // NaN wins: a variant that outputs NaN must not look exact.
      if (Math.abs(e) > maxAbs || Number.isNaN(e)) maxAbs = Math.abs(e);
    }
    this.dot.push(dot);
    this.refSq.push(refSq);
    this.varSq.push(varSq);
    this.errSq.push(errSq);
    this.maxAbs.push(maxAbs);
  }

  /** Cosine, SNR and max abs error pooled over the images, each counted `weights[i]` times (default once). */
  pooled(weights?: ArrayLike<number>): PooledFidelity {
    let dot = 0;
    let refSq = 0;
    let varSq = 0;
    let errSq = 0;
    let maxAbsError = 0;
    for (let i = 0; i < this.dot.length; i++) {
      const w = weights ? (weights[i] ?? 0) : 1;
      if (w === 0) continue;
      dot += w * (this.dot[i] ?? 0);
      refSq += w * (this.refSq[i] ?? 0);
      varSq += w * (this.varSq[i] ?? 0);
      errSq += w * (this.errSq[i] ?? 0);
      const m = this.maxAbs[i] ?? 0;
      if (m > maxAbsError || Number.isNaN(m)) maxAbsError = m;
    }
    const cosine = refSq === 0 && varSq === 0 ? 1 : dot / Math.sqrt(refSq * varSq);
    return errSq === 0 ? { cosine, maxAbsError } : { cosine, snrDb: 10 * Math.log10(refSq / errSq), maxAbsError };
  }
}
