import { PercentileStatus, Scenario, TensorDataType } from '@benchfarm/protocol';
import { describe, expect, it } from 'vitest';
import type { SuiteJob } from './job';
import type { SingleStreamResult } from './single-stream';
import { buildSummary, roundLatenciesInPlace, roundMs, type SummaryInputs } from './summary';

const job: SuiteJob = {
  modelPath: '/m.onnx',
  inputs: [
    { name: 'images', dataType: TensorDataType.TENSOR_DATA_TYPE_FLOAT32, shape: [1, 3, 320, 320] },
    { name: 'scale', dataType: TensorDataType.TENSOR_DATA_TYPE_FLOAT32, shape: [1] },
  ],
  executionProvider: 'cpu',
  intraOpThreads: 4,
  interOpThreads: 1,
  suite: { scenario: Scenario.SCENARIO_SINGLE_STREAM, warmupMinQueries: 0, warmupMinDurationMs: 0, minQueries: 0, minDurationMs: 0, maxDurationMs: 1, seed: 42 },
  manifest: { variantSha256: 'beef', agentVersion: '0.1.0', batch: 1 },
};

function runOf(latenciesMs: number[], measuredDurationMs: number): SingleStreamResult {
  return {
    latenciesMs: Float64Array.from(latenciesMs),
    count: latenciesMs.length,
    measuredDurationMs,
    warmupQueries: 3,
    warmupDurationMs: 12.34567,
    firstInferenceMs: 9.8765,
    stopReason: 'min_reached',
  };
}

const inputs = (over: Partial<SummaryInputs> = {}): SummaryInputs => ({
  job,
  run: runOf([2, 1, 4, 3, 5, 2, 1, 4, 3, 5, 3], 40),
  sessionCreationMs: 55.5555,
  modelFileSizeBytes: 1234,
  peakRssBytes: 300,
  rssBeforeSessionBytes: 100,
  rssAfterSessionBytes: 200,
  onnxruntimeVersion: '1.30.0',
  machine: { os: 'linux', osRelease: '6.1.0', cpuModel: 'Test CPU', nodeVersion: 'v20.0.0' },
  ...over,
});

describe('roundMs', () => {
  it.each([
    [1.23449, 1.234],
    [1.2345, 1.235],
    [0.0004, 0],
    [12.3456789, 12.346],
  ])('%s -> %s', (value, rounded) => {
    expect(roundMs(value)).toBe(rounded);
  });

  it('rounds latencies in place', () => {
    const latencies = Float64Array.of(1.00049, 2.0006);
    roundLatenciesInPlace(latencies);
    expect(Array.from(latencies)).toEqual([1, 2.001]);
  });
});

describe('buildSummary', () => {
  it('fills every field from the run, the session and the job', () => {
    // 11 samples: sum 33, mean 3; squared deviations 1+4+1+0+4+1+4+1+0+4+0 = 20, std sqrt(2).
    expect(buildSummary(inputs())).toEqual({
      count: 11,
      meanMs: 3,
      stdMs: roundMs(Math.sqrt(2)),
      minMs: 1,
      maxMs: 5,
      percentiles: [
        { quantile: 0.5, valueMs: 3, status: PercentileStatus.PERCENTILE_STATUS_OK, minSamples: 11 },
        { quantile: 0.9, status: PercentileStatus.PERCENTILE_STATUS_INSUFFICIENT_SAMPLES, minSamples: 64 },
        { quantile: 0.95, status: PercentileStatus.PERCENTILE_STATUS_INSUFFICIENT_SAMPLES, minSamples: 130 },
        { quantile: 0.99, status: PercentileStatus.PERCENTILE_STATUS_INSUFFICIENT_SAMPLES, minSamples: 662 },
      ],
      throughputQps: 275, // 11 queries in 40 ms
      measuredDurationMs: 40,
      warmupQueries: 3,
      warmupDurationMs: 12.346,
      sessionCreationMs: 55.556,
      firstInferenceMs: 9.877,
      peakRssBytes: 300,
      rssBeforeSessionBytes: 100,
      rssAfterSessionBytes: 200,
      modelFileSizeBytes: 1234,
      stopReason: 'min_reached',
      manifest: {
        variantSha256: 'beef',
        onnxruntimeVersion: '1.30.0',
        executionProvider: 'cpu',
        intraOpThreads: 4,
        interOpThreads: 1,
        batch: 1,
        inputShapes: 'images:1x3x320x320;scale:1',
        seed: 42,
        agentVersion: '0.1.0',
        os: 'linux',
        osRelease: '6.1.0',
        cpuModel: 'Test CPU',
        nodeVersion: 'v20.0.0',
        graphOptimizationLevel: 'all',
      },
      unmeasured: [],
    });
  });

  it('leaves out what the platform cannot measure and says why, instead of reporting 0', () => {
    const summary = buildSummary(inputs({ peakRssBytes: undefined, rssBeforeSessionBytes: undefined, rssAfterSessionBytes: undefined }));
    expect('peakRssBytes' in summary).toBe(false);
    expect('rssBeforeSessionBytes' in summary).toBe(false);
    expect(summary.unmeasured.map((u) => u.field)).toEqual(['peak_rss_bytes', 'rss_before_session_bytes', 'rss_after_session_bytes']);
    expect(summary.unmeasured[0]!.reason).toMatch(/VmHWM/);
  });

  it('lists std as unmeasured for a single query', () => {
    const summary = buildSummary(inputs({ run: runOf([2.5], 2.5) }));
    expect(summary.stdMs).toBe(0);
    expect(summary.unmeasured).toEqual([{ field: 'std_ms', reason: expect.stringMatching(/at least 2/) }]);
  });

  it('reports the graph optimisation level the job chose', () => {
    expect(buildSummary(inputs({ job: { ...job, graphOptimizationLevel: 'disabled' } })).manifest!.graphOptimizationLevel).toBe('disabled');
  });
});
