// FABRICATED sweep views for the report's tests: the shapes GET /sweeps/:id returns, with
// figures chosen to exercise each rule of the report; no figure here was measured.
import type { DeviceComparisonView, IntervalView, JobView, SweepView } from '../client';

/** A fabricated done job with a result of `p50` ms. */
export function job(variant: string, device: string, p50: number, sizeBytes: number, extra: Record<string, unknown> = {}, count = 100): JobView {
  return {
    id: `job-${variant}-${device}`,
    variant,
    agentId: device,
    state: 'done',
    attempts: 1,
    result: {
      id: `r-${variant}-${device}`,
      count,
      meanMs: p50,
      stdMs: 0.1,
      minMs: p50 * 0.9,
      maxMs: p50 * 1.5,
      percentiles: [
        { quantile: 0.5, valueMs: p50, status: 'ok', minSamples: 1 },
        { quantile: 0.9, valueMs: p50 * 1.2, status: 'ok', minSamples: 64 },
        { quantile: 0.99, status: 'insufficient_samples', minSamples: 662 },
      ],
      throughputQps: 1000 / p50,
      measuredDurationMs: 1000,
      warmupQueries: 10,
      warmupDurationMs: 50,
      sessionCreationMs: 10,
      firstInferenceMs: 5,
      peakRssBytes: 50e6,
      modelFileSizeBytes: sizeBytes,
      stopReason: 'min_reached',
      device,
      provider: 'cpu',
      unmeasured: [],
      manifest: {},
      attempt: 1,
      committedAt: '2025-01-01T00:01:00.000Z',
      ...extra,
    },
  };
}

/** A fabricated sweep view of these jobs. */
export function sweep(jobs: JobView[], id = 'sweep-1'): SweepView {
  return {
    id,
    name: 'nightly',
    state: 'completed',
    createdAt: '2025-01-01T00:00:00.000Z',
    model: { name: 'cls', sha256: 'a'.repeat(64), sizeBytes: 600_000 },
    inputs: [],
    settings: { scenario: 'single_stream', executionProvider: 'cpu', intraOpThreads: 0, interOpThreads: 0, batch: 1, warmupMinQueries: 10, warmupMinDurationMs: 500, minQueries: 100, minDurationMs: 2000, maxDurationMs: 60_000, seed: 0 },
    targets: ['all'],
    variants: [...new Set(jobs.map((j) => j.variant))].map((name) => ({ name, sha256: 'b'.repeat(64), sizeBytes: 1, recipe: {} })),
    agents: [...new Set(jobs.map((j) => j.agentId))],
    jobs,
    comparisons: [],
  };
}

/** A fabricated comparison job view of a device (reference fp32, 5 rounds). */
export function comparison(device: string, variants: DeviceComparisonView['variants'], evaluation?: DeviceComparisonView['evaluation']): DeviceComparisonView {
  return {
    jobId: `cmp-${device}`,
    agentId: device,
    device,
    state: 'done',
    provider: 'cpu',
    referenceVariant: 'fp32',
    rounds: 5,
    order: 'interleaved',
    ...(evaluation ? { evaluation } : {}),
    variants,
    unmeasured: evaluation ? [] : [{ field: 'accuracy', reason: 'no evaluation dataset in this sweep: fidelity only, on random inputs (not accuracy)' }],
  };
}

/** A 95% interval. */
export const ci = (low: number, high: number): IntervalView => ({ low, high, level: 0.95 });

/** A compared variant with fidelity on random inputs only. */
export function randomFidelity(variant: string, ratio: number, cosine?: number): DeviceComparisonView['variants'][number] {
  return {
    variant,
    reference: variant === 'fp32',
    medianMs: ratio * 10,
    ratioToReference: ratio,
    accuracy: { measuredOn: 'random_inputs', inputs: 'random inputs: seed 0', images: 0, metrics: [], fidelity: cosine === undefined ? [] : [{ output: 'y', cosine, maxAbsError: 0.1, images: 0, measuredOn: 'random_inputs', inputs: 'random inputs: seed 0' }] },
  };
}

/** A fabricated evaluation of 9 real images, 4 labelled. */
export const EVAL = { datasetId: 'ds_1', datasetName: 'photos', task: 'detection', images: 9, labelledImages: 4, inputs: 'real images: dataset photos (9 of 13)', split: 'every 3rd held out', durationMs: 900 };

/** A compared variant of a detector evaluated on real images. */
export function detected(variant: string, ratio: number, ratioCi: IntervalView | undefined, agreement: number | undefined, agreementCi: IntervalView | undefined, cosine = 0.99): DeviceComparisonView['variants'][number] {
  const reference = variant === 'fp32';
  return {
    variant,
    reference,
    medianMs: ratio * 10,
    ratioToReference: ratio,
    ...(ratioCi ? { ratioCi } : {}),
    accuracy: {
      measuredOn: 'real_images',
      inputs: EVAL.inputs,
      images: 9,
      dataset: { id: 'ds_1', name: 'photos' },
      task: 'detection',
      metrics: [
        { metric: 'map50_agreement', ...(agreement === undefined ? { reason: 'decode failed' } : { value: agreement }), ...(agreementCi ? { ci: agreementCi } : {}), images: 9, against: 'reference' },
        { metric: 'map50', value: 0.5 * (agreement ?? 0), ci: ci(0.3, 0.7), images: 4, against: 'labels' },
      ],
      fidelity: reference ? [] : [{ output: 'output', cosine, cosineCi: ci(cosine - 0.01, Math.min(1, cosine + 0.005)), maxAbsError: 0.2, images: 9, measuredOn: 'real_images', inputs: EVAL.inputs }],
    },
  };
}


const MB = 1024 * 1024;

/**
 * A detector swept in fp32, fp16, int8-static and int8-dynamic on one device, evaluated on real
 * images: fp16 ties fp32 (ratio CI includes 1), int8-static is faster (CI apart from 1),
 * int8-dynamic faster still and smallest but its detections do not agree with fp32.
 */
export function detectorSweep(dynamicRatioCi: IntervalView = ci(0.42, 0.48), dynamicRatio = 0.45): SweepView {
  const jobs = [job('fp32', 'cpu-1', 10, 3.6 * MB), job('fp16', 'cpu-1', 9.8, 1.9 * MB), job('int8-static', 'cpu-1', 6.2, 1.1 * MB), job('int8-dynamic', 'cpu-1', 4.5, 1.0 * MB)];
  return {
    ...sweep(jobs),
    comparisons: [
      comparison(
        'cpu-1',
        [
          detected('fp32', 1, undefined, 1, ci(1, 1)),
          detected('fp16', 0.98, ci(0.95, 1.02), 0.99, ci(0.97, 1)),
          detected('int8-static', 0.62, ci(0.58, 0.66), 0.97, ci(0.93, 1), 0.984),
          detected('int8-dynamic', dynamicRatio, dynamicRatioCi, 0, ci(0, 0), 0.78),
        ],
        EVAL,
      ),
    ],
  };
}
