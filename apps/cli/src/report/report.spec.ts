import { describe, expect, it } from 'vitest';
import type { JobView, SweepView } from '../client';
import { ReportOptionError, buildReport, compareSweeps, reportCsv, reportHtml, reportMarkdown, ticks } from './index';

function job(variant: string, device: string, p50: number, sizeBytes: number, extra: Record<string, unknown> = {}, count = 100): JobView {
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
      sessionCreationMs: 10,
      firstInferenceMs: 5,
      peakRssBytes: 50e6,
      modelFileSizeBytes: sizeBytes,
      stopReason: 'min_reached',
      device,
      provider: 'cpu',
      unmeasured: [],
      ...extra,
    },
  };
}

function sweep(jobs: JobView[], id = 'sweep-1'): SweepView {
  return {
    id,
    name: 'nightly',
    state: 'completed',
    createdAt: '2025-01-01T00:00:00.000Z',
    model: { name: 'cls', sha256: 'a'.repeat(64), sizeBytes: 600_000 },
    inputs: [],
    variants: [...new Set(jobs.map((j) => j.variant))].map((name) => ({ name, sha256: 'b'.repeat(64), sizeBytes: 1, recipe: {} })),
    agents: [...new Set(jobs.map((j) => j.agentId))],
    jobs,
  };
}

describe('buildReport', () => {
  // On pi every variant wins on one axis (fp32 fidelity, fp16 size vs fp32, int8 speed and size);
  // on x86 (no fidelity) ort-basic is as large as fp32 and slower: dominated.
  const s = sweep([
    job('fp32', 'pi', 10, 4_000_000, { fidelity: { cosineSimilarity: 1 } }),
    job('fp16', 'pi', 12, 2_000_000, { fidelity: { cosineSimilarity: 0.9999 } }),
    job('int8', 'pi', 6, 1_000_000, { fidelity: { cosineSimilarity: 0.97 } }),
    job('fp32', 'x86', 2, 4_000_000),
    job('int8', 'x86', 3, 1_000_000),
    job('ort-basic', 'x86', 2.5, 4_000_000),
  ]);

  it.each([
    ['pi', 'fp32', true],
    ['x86', 'ort-basic', false],
    ['pi', 'int8', true],
    ['pi', 'fp16', true],
    ['x86', 'fp32', true],
    ['x86', 'int8', true],
  ])('Pareto on %s: %s is %s', (device, variant, pareto) => {
    expect(buildReport(s).rows.find((r) => r.device === device && r.variant === variant)?.pareto).toBe(pareto);
  });

  it.each([
    [{ sloQuantile: 0.9 }, { pi: 'int8', x86: 'fp32' }],
    [{ sloQuantile: 0.9, fidelityFloor: 0.99 }, { pi: 'fp32', x86: 'fp32' }],
    [{ sloQuantile: 0.9, fidelityFloor: 0.99, latencySloMs: 12.5 }, { pi: 'fp32', x86: 'fp32' }],
    [{ sloQuantile: 0.9, fidelityFloor: 0.99, latencySloMs: 5 }, { pi: undefined, x86: 'fp32' }],
    // p99 is not reportable from 100 queries: the SLO cannot be shown to hold, so nothing is recommended.
    [{ sloQuantile: 0.99, latencySloMs: 100 }, { pi: undefined, x86: undefined }],
  ])('recommends under %j: %j', (policy, expected) => {
    const recs = buildReport(s, policy).recommendations;
    expect(Object.fromEntries(recs.map((r) => [r.device, r.variant]))).toEqual(expected);
  });

  it('says when the fidelity floor could not be checked', () => {
    const x86 = buildReport(s, { sloQuantile: 0.9, fidelityFloor: 0.99 }).recommendations.find((r) => r.device === 'x86');
    expect(x86?.reason).toContain('fidelity not measured, floor not checked');
  });

  it.each([
    [{ sloQuantile: 0.9, fidelityFloor: 1.5 }, '--fidelity-floor'],
    [{ sloQuantile: 0.9, latencySloMs: -1 }, '--latency-slo-ms'],
    [{ sloQuantile: 0.42 }, '--slo-percentile'],
  ])('refuses %j naming %s', (policy, field) => {
    expect(() => buildReport(s, policy)).toThrow(ReportOptionError);
    expect(() => buildReport(s, policy)).toThrow(field);
  });

  it('renders Markdown, CSV (unmeasured empty, never 0) and HTML with one point per result', () => {
    const report = buildReport(s, { sloQuantile: 0.9, fidelityFloor: 0.99 });
    expect(reportMarkdown(report)).toMatch(/\| pi \| \*\*fp32\*\* \|/);
    const csv = reportCsv(report).trim().split('\n');
    expect(csv).toHaveLength(7);
    const header = csv[0]!.split(',');
    const x86 = csv.find((l) => l.includes(',fp32,x86,'))!.split(',');
    expect(x86[header.indexOf('fidelity_cosine')]).toBe('');
    expect(x86[header.indexOf('energy_per_inference_joules')]).toBe('');
    expect(x86[header.indexOf('p99_ms')]).toBe('');
    const html = reportHtml(report);
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
    expect(html.match(/class="point/g)).toHaveLength(6 + 3); // size charts for both devices + fidelity chart for pi
    expect(html).toContain('no power sensor');
  });
});

describe.each([
  [0, 10, [0, 2, 4, 6, 8, 10]],
  [0.5, 1.7, [0.5, 1, 1.5]],
  [0.05, 0.31, [0.1, 0.2, 0.3]],
  [3, 3, [3]],
])('ticks(%s, %s)', (lo, hi, expected) => {
  it(`is ${JSON.stringify(expected)}`, () => expect(ticks(lo, hi)).toEqual(expected));
});

describe('compareSweeps', () => {
  it('flags a slower variant on the raw samples and lists what it could not compare', async () => {
    const a = sweep([job('fp32', 'pi', 10, 1), job('int8', 'pi', 6, 1), job('fp16', 'pi', 8, 1)], 'A');
    const b = sweep([job('fp32', 'pi', 10, 1), job('int8', 'pi', 7, 1)], 'B');
    const samples = (centre: number, seed: number): number[] => Array.from({ length: 200 }, (_, i) => centre * (1 + (((i * 7919 + seed) % 200) / 200 - 0.5) * 0.04));
    const data: Record<string, number[]> = {
      'A/job-fp32-pi': samples(10, 1),
      'B/job-fp32-pi': samples(10, 2),
      'A/job-int8-pi': samples(6, 3),
      'B/job-int8-pi': samples(7, 4),
    };
    const result = await compareSweeps(a, b, async (sweepId, jobId) => data[`${sweepId}/${jobId}`]!, { alpha: 0.01, minRelativeChange: 0.05 });
    expect(result.compared.map((c) => [c.variant, c.comparison.verdict])).toEqual([
      ['fp32', 'unchanged'],
      ['int8', 'regression'],
    ]);
    expect(result.regressions).toBe(1);
    expect(result.uncompared).toEqual([{ variant: 'fp16', device: 'pi', reason: 'no result in B' }]);
  });
});
