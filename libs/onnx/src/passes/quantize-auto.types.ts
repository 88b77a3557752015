// The contract of int8-auto: what the sensitivity analysis and the accuracy-floor
// search report. Kept apart from the search itself so that the coordinator, the CLI and the
// derivation child can name these shapes without loading the search.
import type { CalibrationMethod } from './quantize-static';

/** The accuracy figure an int8-auto floor is set on (all against the fp32 model's own outputs: no labels needed). */
export type AutoFloorMetric = 'map50_agreement' | 'top1_agreement' | 'cosine';

/** A floor: the search keeps only layer sets whose `metric` is at least `value` on the search images. */
export interface AutoFloor {
  readonly metric: AutoFloorMetric;
  readonly value: number;
}

/** The default accuracy floors: detectors mAP@0.5 agreement >= 0.95, classifiers top-1 agreement >= 0.99, other models cosine >= 0.99. */
export const DEFAULT_AUTO_FLOORS: Readonly<Record<'detection' | 'classification' | 'fidelity', AutoFloor>> = {
  detection: { metric: 'map50_agreement', value: 0.95 },
  classification: { metric: 'top1_agreement', value: 0.99 },
  fidelity: { metric: 'cosine', value: 0.99 },
};

/** One quantizable layer (a weighted node with its activation) in the sensitivity table. */
export interface LayerSensitivity {
  /** The weighted node's name (after BatchNorm folding, as in the derived model). */
  readonly node: string;
  readonly opType: string;
  /** Position among the quantizable layers in graph order (0 = the stem). */
  readonly index: number;
  /** Share of the fp32 model's kernel time spent in this layer and the activation it feeds (onnxruntime profile on the deriving machine), 0..1. */
  readonly timeShare: number;
  /** Its kernel time in the fp32 profile, microseconds per run. */
  readonly fp32Us: number;
  /**
   * Its kernel time in a profile of the model with every layer quantized (QLinearConv, its
   * int8 activation and the Q/DQ of its output), microseconds per run; absent when the profile
   * attributed nothing to it.
   */
  readonly int8Us?: number;
  /** fp32Us - int8Us: what quantizing it saves on this machine (negative: int8 is slower here; such layers stay float). */
  readonly gainUs?: number;
  /** Output cosine to fp32 when only this layer is quantized, pooled over the search images. */
  readonly cosine: number;
  /** The floor metric when only this layer is quantized (absent when not computed, with the reason in `reason`). */
  readonly floorMetric?: number;
  /** 1 - cosine: the accuracy this layer alone costs. */
  readonly loss: number;
  /** Search order: rank by time saved per accuracy lost (1 = quantized first). */
  readonly rank: number;
  /** Calibration method chosen for this layer's output. */
  readonly method: CalibrationMethod;
  /** Whether the chosen int8-auto model quantizes it. */
  readonly quantized?: boolean;
  readonly reason?: string;
}

/** One step of the search: a layer set tried and what it measured. */
export interface AutoSearchStep {
  readonly step: string;
  /** Layers quantized in this candidate. */
  readonly quantized: number;
  readonly floorMetric: number;
  readonly cosine: number;
  readonly accepted: boolean;
  /** gain=measured: its p50 over fp32's, timed interleaved on the deriving machine (absent when not timed). */
  readonly latencyRatio?: number;
}

/** What int8-auto reports besides its model (also written by `benchfarm variants --sensitivity`). */
export interface AutoQuantReport {
  readonly floor: AutoFloor;
  readonly task: 'detection' | 'classification' | 'fidelity';
  readonly searchImages: number;
  readonly holdoutImages: number;
  /** What the images were ("images: 9 from ../shared/models/images"). */
  readonly inputs: string;
  /** Ranked: rank 1 first. */
  readonly layers: readonly LayerSensitivity[];
  readonly steps: readonly AutoSearchStep[];
  /** The chosen set's floor metric on the search images and on the held-out images. */
  readonly searchMetric: number;
  readonly holdoutMetric?: number;
  readonly holdoutCosine?: number;
  /** Whether the chosen set met the floor on the held-out images. */
  readonly holdoutMet?: boolean;
  readonly seconds: number;
}
