import { describe, expect, it } from 'vitest';
import { BenchJob, PercentileStatus, Scenario } from '@benchfarm/protocol';
import { SAMPLES_CHUNK_MAX } from '@benchfarm/suite';
import { SYNTHETIC_MAX_QUERIES, SYNTHETIC_UNMEASURED_REASON, samplesChunks, syntheticBaseMs, syntheticLatenciesMs, syntheticQueryCount, syntheticSeed, syntheticSummary } from './synthetic-suite';
import { simulatedCapabilities, simulatedHealthReport } from './simulated-device';

const job = (agentId: string, variant: string, minQueries: number): BenchJob =>
  BenchJob.fromPartial({
    jobId: 'job_1',
    sweepId: 'sweep_1',
    agentId,
    variant: { modelName: 'm', variant, sha256: 'a'.repeat(64), sizeBytes: 10 },
    executionProvider: 'cpu',
    batch: 1,
    suite: { scenario: Scenario.SCENARIO_SINGLE_STREAM, warmupMinQueries: 3, warmupMinDurationMs: 0, minQueries, minDurationMs: 0, maxDurationMs: 1000, seed: 7 },
  });

const facts = { agentVersion: '0.1.0+simulated', os: 'linux', osRelease: '6.1.0-simulated', cpuModel: 'Simulated', modelFileSizeBytes: 4321 };

describe('synthetic suite (pure)', () => {
  it.each([
    ['sim-a', 'fp32'],
    ['sim-a', 'fp16'],
    ['sim-b', 'fp32'],
  ])('latencies of %s / %s are the same on every call and within the base latency band', (agentId, variant) => {
    const a = syntheticLatenciesMs(agentId, variant, 500);
    const b = syntheticLatenciesMs(agentId, variant, 500);
    expect(Array.from(a)).toEqual(Array.from(b));
    const base = syntheticBaseMs(syntheticSeed(agentId, variant));
    expect(base).toBeGreaterThanOrEqual(2);
    expect(base).toBeLessThan(50);
    // Log-normal sigma 5% (|z| < 6) and a tail up to 2.5x.
    for (const v of a) {
      expect(v).toBeGreaterThan(base * Math.exp(-0.3) - 0.001);
      expect(v).toBeLessThan(base * Math.exp(0.3) * 2.5 + 0.001);
      expect(Math.round(v * 1000) / 1000).toBe(v);
    }
  });

  it('differs between agents and between variants of one agent', () => {
    const fp32 = syntheticLatenciesMs('sim-a', 'fp32', 50);
    expect(Array.from(syntheticLatenciesMs('sim-a', 'fp16', 50))).not.toEqual(Array.from(fp32));
    expect(Array.from(syntheticLatenciesMs('sim-b', 'fp32', 50))).not.toEqual(Array.from(fp32));
    expect(syntheticSeed('sim-a', 'fp32')).not.toBe(syntheticSeed('sim-af', 'p32'));
  });

  it.each([
    [0, 1],
    [1, 1],
    [100, 100],
    [SYNTHETIC_MAX_QUERIES + 5, SYNTHETIC_MAX_QUERIES],
  ])('minQueries %i gives %i queries', (minQueries, count) => {
    expect(syntheticQueryCount({ minQueries })).toBe(count);
  });

  it.each([-1, 1.5, SYNTHETIC_MAX_QUERIES + 1])('refuses a count of %s', (count) => {
    expect(() => syntheticLatenciesMs('a', 'b', count)).toThrow(RangeError);
  });

  it('summarises with the real suite: count, percentiles by the early-stopping rule, manifest, memory fields unmeasured with the simulated reason', () => {
    const latencies = syntheticLatenciesMs('sim-a', 'fp32', 100);
    const summary = syntheticSummary(job('sim-a', 'fp32', 100), latencies, facts);
    expect(summary.count).toBe(100);
    expect(summary.minMs).toBe(Math.min(...latencies));
    expect(summary.maxMs).toBe(Math.max(...latencies));
    const p50 = summary.percentiles.find((p) => p.quantile === 0.5);
    const p99 = summary.percentiles.find((p) => p.quantile === 0.99);
    expect(p50?.status).toBe(PercentileStatus.PERCENTILE_STATUS_OK);
    // 100 samples are too few for a p99 (662 needed): reported as such, never guessed.
    expect(p99?.status).toBe(PercentileStatus.PERCENTILE_STATUS_INSUFFICIENT_SAMPLES);
    expect(summary.manifest?.variantSha256).toBe('a'.repeat(64));
    expect(summary.manifest?.onnxruntimeVersion).toBe('synthetic');
    expect(summary.manifest?.cpuModel).toBe('Simulated');
    expect(summary.modelFileSizeBytes).toBe(4321);
    expect(summary.peakRssBytes).toBeUndefined();
    const memory = summary.unmeasured.filter((u) => u.field.includes('rss'));
    expect(memory.map((u) => u.field).sort()).toEqual(['peak_rss_bytes', 'rss_after_session_bytes', 'rss_before_session_bytes']);
    expect(new Set(memory.map((u) => u.reason))).toEqual(new Set([SYNTHETIC_UNMEASURED_REASON]));
  });

  it('cuts samples into contiguous chunks of at most SAMPLES_CHUNK_MAX', () => {
    const latencies = syntheticLatenciesMs('sim-a', 'fp32', SAMPLES_CHUNK_MAX * 2 + 3);
    const chunks = samplesChunks(latencies);
    expect(chunks.map((c) => [c.offset, c.latencyMs.length])).toEqual([
      [0, SAMPLES_CHUNK_MAX],
      [SAMPLES_CHUNK_MAX, SAMPLES_CHUNK_MAX],
      [SAMPLES_CHUNK_MAX * 2, 3],
    ]);
    expect(chunks.flatMap((c) => c.latencyMs)).toEqual(Array.from(latencies));
  });
});

describe('simulated device', () => {
  it('reports a health check that passes the reference comparison, and a made-up CPU device', () => {
    const report = simulatedHealthReport({ attempt: 1, trigger: 'joined', durationMs: 0 });
    expect(report.passed).toBe(true);
    expect(report.outputs).toHaveLength(8);
    expect(report.error).toBe('');
    const caps = simulatedCapabilities('sim-x', { cpuCores: 4 });
    expect(caps.executionProviders).toEqual(['cpu']);
    expect(caps.cpuCores).toBe(4);
    expect(caps.hostname).toBe('sim-sim-x');
  });
});
