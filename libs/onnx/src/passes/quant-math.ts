// Quantization arithmetic, matching onnxruntime's Python quantizer (quant_utils.py,
// calibrate.py) so that scales and zero points agree with the tool users trust.

/** An 8-bit quantized type. */
export type QuantType = 'uint8' | 'int8';

/** Rounds half to even, as numpy's `round` (not `Math.round`, which rounds half up). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** qmin/qmax of a type; symmetric int8 uses [-127, 127] so that the range is balanced around 0. */
export function quantRange(type: QuantType, symmetric: boolean): { qmin: number; qmax: number } {
  if (type === 'uint8') return { qmin: 0, qmax: 255 };
  return symmetric ? { qmin: -127, qmax: 127 } : { qmin: -128, qmax: 127 };
}

/** A scale and zero point. */
export interface ScaleZp {
  readonly scale: number;
  readonly zeroPoint: number;
}

const FLOAT32_TINY = 1.1754943508222875e-38;

/**
 * onnxruntime's `compute_scale_zp`: the range is widened to include 0; symmetric uses
 * +-max|r|; scale = (rmax - rmin) / (qmax - qmin) in float64 then stored as float32; a scale
 * below float32's smallest normal becomes 1 with zero point 0; zero point =
 * round_half_even(qmin - rmin / scale), the division in float32 as numpy does it on float32 arrays (symmetric: the middle of the range, 0 for int8, 128
 * for uint8).
 */
export function computeScaleZp(rmin: number, rmax: number, type: QuantType, symmetric: boolean): ScaleZp {
  let lo = Math.min(rmin, 0);
  let hi = Math.max(rmax, 0);
  if (symmetric) {
    const absMax = Math.max(Math.abs(lo), Math.abs(hi));
    lo = -absMax;
    hi = absMax;
  }
  const { qmin, qmax } = quantRange(type, symmetric);
  const scale = Math.fround((hi - lo) / (qmax - qmin));
  if (!(scale >= FLOAT32_TINY)) return { scale: 1, zeroPoint: 0 };
  const zeroPoint = symmetric ? roundHalfEven((qmin + qmax) / 2) : roundHalfEven(qmin - Math.fround(lo / scale));
  return { scale, zeroPoint: Math.min(Math.max(zeroPoint, qmin), qmax) };
}

/** QuantizeLinear of one value: saturate(round_half_even(x / scale) + zp), x / scale in float32 as onnxruntime does. */
export function quantizeValue(x: number, scale: number, zeroPoint: number, type: QuantType, symmetric = false): number {
  const { qmin, qmax } = quantRange(type, symmetric);
  const q = roundHalfEven(Math.fround(x / scale)) + zeroPoint;
  return Math.min(Math.max(q, qmin), qmax);
}

/** Per-channel symmetric int8 quantization of a weight along axis 0 (Conv) or 1 (ConvTranspose). */
export function quantizeWeightsPerChannel(values: Float32Array, dims: readonly number[], axis: number): { data: Int8Array; scales: Float32Array } {
  const channels = dims[axis] ?? 1;
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const outer = dims.slice(0, axis).reduce((a, b) => a * b, 1);
  const scales = new Float32Array(channels);
  const data = new Int8Array(values.length);
  for (let c = 0; c < channels; c++) {
    let lo = 0;
    let hi = 0;
    for (let o = 0; o < outer; o++) {
      const base = (o * channels + c) * inner;
      for (let i = 0; i < inner; i++) {
        const v = values[base + i] ?? 0;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
    }
    const { scale } = computeScaleZp(lo, hi, 'int8', true);
    scales[c] = scale;
    for (let o = 0; o < outer; o++) {
      const base = (o * channels + c) * inner;
      for (let i = 0; i < inner; i++) data[base + i] = quantizeValue(values[base + i] ?? 0, scale, 0, 'int8', true);
    }
  }
  return { data, scales };
}

/**
 * Bias to int32 with scale = input_scale x weight_scale[c] and zero point 0 (what QLinearConv
 * expects); a zero product scale (an all-zero weight channel) gets scale 1 as the weight did.
 */
export function quantizeBias(bias: Float32Array, inputScale: number, weightScales: Float32Array): { data: Int32Array; scales: Float32Array } {
  const scales = new Float32Array(bias.length);
  const data = new Int32Array(bias.length);
  for (let c = 0; c < bias.length; c++) {
    const s = Math.fround(inputScale * (weightScales.length === 1 ? (weightScales[0] ?? 1) : (weightScales[c] ?? 1)));
    scales[c] = s > 0 ? s : 1;
    const q = roundHalfEven(Math.fround((bias[c] ?? 0) / (scales[c] ?? 1)));
    data[c] = Math.min(Math.max(q, -2147483648), 2147483647);
  }
  return { data, scales };
}

/** Running statistics of one tensor over the calibration set. */
export interface TensorStats {
  min: number;
  max: number;
  /** Histogram of |x| over [0, absMax] (second pass); absent for MinMax. */
  histogram?: Float64Array;
  absMax: number;
}

/** Number of histogram bins for Percentile and Entropy calibration (onnxruntime's percentile default). */
export const HISTOGRAM_BINS = 2048;

/** Adds a tensor's values to a |x| histogram over [0, absMax]. */
export function accumulateHistogram(histogram: Float64Array, values: Float32Array, absMax: number): void {
  const bins = histogram.length;
  if (!(absMax > 0)) {
    histogram[0] = (histogram[0] ?? 0) + values.length;
    return;
  }
  const k = bins / absMax;
  for (let i = 0; i < values.length; i++) {
    const b = Math.min(Math.floor(Math.abs(values[i] ?? 0) * k), bins - 1);
    histogram[b] = (histogram[b] ?? 0) + 1;
  }
}

/**
 * onnxruntime's Percentile threshold on a |x| histogram: the bin edge where the cumulative
 * share first reaches `percentile`% (numpy searchsorted, left), as a symmetric range clipped
 * to the observed [min, max].
 */
export function percentileRange(stats: TensorStats, percentile: number): { rmin: number; rmax: number } {
  const hist = stats.histogram;
  if (!hist) return { rmin: stats.min, rmax: stats.max };
  const total = hist.reduce((a, b) => a + b, 0);
  const target = percentile / 100;
  let cumulative = 0;
  let idx = hist.length;
  for (let i = 0; i < hist.length; i++) {
    cumulative += (hist[i] ?? 0) / total;
    if (cumulative >= target) {
      idx = i;
      break;
    }
  }
  // hist_edges[idx] in numpy is the left edge of bin idx; searchsorted returns the bin index whose cdf reaches the target.
  const threshold = (stats.absMax * idx) / hist.length;
  return { rmin: Math.max(-threshold, stats.min), rmax: Math.min(threshold, stats.max) };
}

/**
 * Entropy (KL-divergence) threshold on a |x| histogram, as TensorRT's calibrator: for each
 * candidate threshold i bins, P = the first i bins with the tail folded into the last, Q = P
 * merged into `levels` quantization bins and expanded back over P's non-empty bins; the i with
 * the smallest KL(P||Q) wins. Candidates step by `stride` bins to bound the cost.
 */
export function entropyRange(stats: TensorStats, levels = 128, stride = 8): { rmin: number; rmax: number } {
  const hist = stats.histogram;
  if (!hist || !(stats.absMax > 0)) return { rmin: stats.min, rmax: stats.max };
  const bins = hist.length;
  let bestI = bins;
  let bestKl = Number.POSITIVE_INFINITY;
  const p = new Float64Array(bins);
  const q = new Float64Array(bins);
  for (let i = levels; i <= bins; i += stride) {
    let tail = 0;
    for (let j = i; j < bins; j++) tail += hist[j] ?? 0;
    for (let j = 0; j < i; j++) p[j] = hist[j] ?? 0;
    p[i - 1] = (p[i - 1] ?? 0) + tail;
    const merge = i / levels;
    for (let l = 0; l < levels; l++) {
      const start = Math.floor(l * merge);
      const end = l === levels - 1 ? i : Math.floor((l + 1) * merge);
      let sum = 0;
      let nonzero = 0;
      for (let j = start; j < end; j++) {
        const h = hist[j] ?? 0;
        sum += h;
        if (h !== 0) nonzero++;
      }
      for (let j = start; j < end; j++) q[j] = (hist[j] ?? 0) !== 0 && nonzero > 0 ? sum / nonzero : 0;
    }
    let pSum = 0;
    let qSum = 0;
    for (let j = 0; j < i; j++) {
      pSum += p[j] ?? 0;
      qSum += q[j] ?? 0;
    }
    let kl = 0;
    for (let j = 0; j < i; j++) {
      const pj = (p[j] ?? 0) / pSum;
      if (pj === 0) continue;
      const qj = (q[j] ?? 0) / qSum;
      kl += qj > 0 ? pj * Math.log(pj / qj) : pj * Math.log(pj / 1e-12);
    }
    if (kl < bestKl) {
      bestKl = kl;
      bestI = i;
    }
  }
  const threshold = (stats.absMax * bestI) / bins;
  return { rmin: Math.max(-threshold, stats.min), rmax: Math.min(threshold, stats.max) };
}
