import { describe, expect, it } from 'vitest';
import type { JobView, SweepView } from '../client';
import { EVAL, ci, comparison, detected, detectorSweep, job, randomFidelity, sweep } from './report.fixture';
import { ReportOptionError, buildReport, compareSweeps, latencyVerdict, parseAccuracyFloor, reportCsv, reportHtml, reportMarkdown, ticks, type ReportPolicy, type SweepReport } from './index';

describe('buildReport on random-input fidelity (no evaluation dataset)', () => {
  // On pi every variant wins on one axis (fp32 fidelity, fp16 size vs fp32, int8 speed and size);
  // on x86 (no comparison job) ort-basic is as large as fp32 and slower: dominated.
  const s: SweepView = {
    ...sweep([job('fp32', 'pi', 10, 4_000_000), job('fp16', 'pi', 12, 2_000_000), job('int8', 'pi', 6, 1_000_000), job('fp32', 'x86', 2, 4_000_000), job('int8', 'x86', 3, 1_000_000), job('ort-basic', 'x86', 2.5, 4_000_000)]),
    comparisons: [comparison('pi', [randomFidelity('fp32', 1), randomFidelity('fp16', 1.2, 0.9999), randomFidelity('int8', 0.6, 0.97)])],
  };

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

  it('says the fidelity floor could not be checked, and that random-input fidelity is not accuracy', () => {
    const report = buildReport(s, { sloQuantile: 0.9, fidelityFloor: 0.99 });
    expect(report.recommendations.find((r) => r.device === 'x86')?.reason).toContain('fidelity not measured, floor not checked');
    expect(report.recommendations.find((r) => r.device === 'pi')?.reason).toMatch(/accuracy NOT measured \(fidelity on random inputs only/);
    expect(report.accuracyFloor).toBeUndefined();
    expect(report.accuracyNote).toMatch(/Accuracy NOT measured.*random inputs/);
    expect(report.rows.find((r) => r.variant === 'int8' && r.device === 'pi')).toMatchObject({ fidelity: 0.97, fidelityOn: 'random_inputs', fidelityImages: 0 });
  });

  it('without real data, an explicit --accuracy-floor recommends nothing and says why', () => {
    const rec = buildReport(s, { sloQuantile: 0.9, accuracyFloor: { value: 0.9 } }).recommendations.find((r) => r.device === 'pi');
    expect(rec?.variant).toBeUndefined();
    expect(rec?.reason).toMatch(/no variant meets accuracy .*measured no accuracy on real images/);
  });

  it.each([
    [{ sloQuantile: 0.9, fidelityFloor: 1.5 }, '--fidelity-floor'],
    [{ sloQuantile: 0.9, latencySloMs: -1 }, '--latency-slo-ms'],
    [{ sloQuantile: 0.42 }, '--slo-percentile'],
    [{ sloQuantile: 0.9, accuracyFloor: { value: 2 } }, '--accuracy-floor'],
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
    expect(x86[header.indexOf('accuracy')]).toBe('');
    const html = reportHtml(report);
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
    expect(html.match(/class="point/g)).toHaveLength(6 + 3); // size charts for both devices + fidelity chart for pi
    expect(html).toContain('no power sensor');
    expect(html).toContain('fidelity on RANDOM inputs (not accuracy)');
    expect(html).not.toContain('data-chart="accuracy:');
  });
});

describe('buildReport on accuracy measured on real images (detector)', () => {
  // fp16 ties fp32 (ratio CI includes 1); int8-static is faster (CI apart from 1); int8-dynamic is
  // faster still and smallest but its detections do not agree with fp32 (what the YOLOX-nano evaluation saw).
  const jobs = detectorSweep().jobs;
  const view = detectorSweep;
  const s = view(ci(0.42, 0.48));
  const recOf = (policy: Partial<ReportPolicy>, v = s) => buildReport(v, { sloQuantile: 0.9, ...policy }).recommendations[0]!;

  it('applies the default floor map50_agreement >= 0.95: int8-dynamic is neither recommended nor on the Pareto front', () => {
    const report = buildReport(s);
    expect(report.accuracyFloor).toEqual({ metric: 'map50_agreement', value: 0.95, source: 'default' });
    expect(report.recommendations[0]?.variant).toBe('int8-static');
    expect(report.recommendations[0]?.reason).toMatch(/faster than fp16 \(interleaved ratio CIs apart/);
    expect(report.recommendations[0]?.reason).toContain('map50_agreement 0.970 [0.930, 1.000] on 9 real images >= floor 0.95 (default)');
    expect(report.recommendations[0]?.reason).toContain('excluded int8-dynamic: map50_agreement 0.000 [0.000, 0.000] < floor 0.95');
    const dynamic = report.rows.find((r) => r.variant === 'int8-dynamic')!;
    expect(dynamic.pareto).toBe(false);
    expect(dynamic.belowAccuracyFloor).toBeDefined();
    // fp16 stays on the front: more accurate than int8-static, smaller than fp32.
    expect(report.rows.filter((r) => r.pareto).map((r) => r.variant).sort()).toEqual(['fp16', 'fp32', 'int8-static']);
    expect(report.accuracyNote).toContain('Accuracy measured on real images: dataset photos (9 of 13) (9 images per variant, 4 labelled)');
  });

  it.each([
    // Without a floor int8-dynamic is faster than int8-static (CIs apart): the fastest wins.
    ['none', 'none' as const, 'int8-dynamic', undefined],
    // map50_agreement 0.98 drops int8-static; fp16 and fp32 are tied (CI includes 1): the more accurate fp32.
    ['map50_agreement=0.98', { metric: 'map50_agreement' as const, value: 0.98 }, 'fp32', ['fp16']],
    // A bare value is on the task's metric (map50_agreement for a detector).
    ['0.5', { value: 0.5 }, 'int8-static', undefined],
    // A floor on mAP@0.5 against the labels: int8-static 0.485 >= 0.48.
    ['map50=0.48', { metric: 'map50' as const, value: 0.48 }, 'int8-static', undefined],
    ['map50=0.49', { metric: 'map50' as const, value: 0.49 }, 'fp32', ['fp16']],
    // cosine on real images: int8-static 0.984 < 0.99.
    ['cosine=0.99', { metric: 'cosine' as const, value: 0.99 }, 'fp32', ['fp16']],
  ])('--accuracy-floor %s recommends %s', (text, parsed, expected, tied) => {
    expect(parseAccuracyFloor(text)).toEqual(parsed);
    const rec = recOf({ accuracyFloor: parsed });
    expect(rec.variant).toBe(expected);
    expect(rec.tiedWith).toEqual(tied);
    if (tied) expect(rec.reason).toMatch(/tied on latency with fp16 \(interleaved ratio CIs overlap: fp32 1 \(reference\) vs fp16 0.980 \[0.950, 1.020\]\); chosen as the more accurate/);
  });

  it('calls overlapping ratio CIs a tie and prefers the more accurate, then the smaller', () => {
    // int8-dynamic's CI now overlaps int8-static's: tied, and int8-static agrees better.
    const rec = recOf({ accuracyFloor: 'none' }, view(ci(0.5, 0.63), 0.56));
    expect(rec).toMatchObject({ variant: 'int8-static', tiedWith: ['int8-dynamic'] });
    expect(rec.reason).toContain('chosen as the more accurate (map50_agreement 0.970 vs int8-dynamic 0.000)');
    expect(latencyVerdict(buildReport(s).rows[2]!, buildReport(s).rows[3]!)).toBe('slower');
    // Equal accuracy: the smaller of the tied ones.
    const equal: SweepView = { ...s, comparisons: [comparison('cpu-1', [detected('fp32', 1, undefined, 1, ci(1, 1)), detected('fp16', 0.98, ci(0.95, 1.02), 1, ci(1, 1))], EVAL)] };
    const two = { ...equal, jobs: jobs.slice(0, 2) };
    expect(recOf({}, two)).toMatchObject({ variant: 'fp16', tiedWith: ['fp32'] });
    expect(recOf({}, two).reason).toContain('chosen as the smaller');
  });

  it('never picks a variant whose accuracy was not measured without saying so', () => {
    // int8-static's map50_agreement could not be computed on this device.
    const missing: SweepView = {
      ...s,
      comparisons: [comparison('cpu-1', [detected('fp32', 1, undefined, 1, ci(1, 1)), detected('fp16', 0.98, ci(0.95, 1.02), 0.99, ci(0.97, 1)), detected('int8-static', 0.62, ci(0.58, 0.66), undefined, undefined)], EVAL)],
    };
    const rec = recOf({}, missing);
    expect(rec.variant).toBe('fp32');
    expect(rec.reason).toContain('int8-static: map50_agreement not measured on real images, not eligible under the accuracy floor');
    expect(rec.reason).toContain('int8-dynamic: map50_agreement not measured on real images');
  });

  it('renders accuracy with n and CI in Markdown, CSV, JSON-able rows and an HTML accuracy chart', () => {
    const report = buildReport(s);
    const md = reportMarkdown(report);
    expect(md).toContain('| int8-static | cpu-1 | cpu | done |');
    expect(md).toMatch(/map50_agreement 0\.970 \| \[0\.930, 1\.000\] \| 9 \| 0\.9840 \[0\.9740, 0\.9890\] \| real images \|/);
    expect(md).toContain('accuracy floor map50_agreement >= 0.95 (default for real data)');
    const [head, ...lines] = reportCsv(report).trim().split('\n');
    const header = head!.split(',');
    const row = lines.find((l) => l.includes(',int8-static,'))!.split(',');
    const at = (name: string): string => row[header.indexOf(name)] ?? 'missing';
    expect([at('accuracy_metric'), at('accuracy'), at('accuracy_ci_low'), at('accuracy_ci_high'), at('accuracy_images'), at('accuracy_measured_on')]).toEqual(['map50_agreement', '0.97', '0.93', '1', '9', 'real_images']);
    expect([at('map50'), at('map50_images'), at('ratio_to_reference'), at('ratio_ci_low'), at('ratio_ci_high')]).toEqual(['0.485', '4', '0.62', '0.58', '0.66']);
    const json = JSON.parse(JSON.stringify(report)) as SweepReport;
    expect(json.rows[2]?.accuracy).toMatchObject({ measuredOn: 'real_images', metric: 'map50_agreement', value: 0.97, ci: { low: 0.93, high: 1 }, valueImages: 9 });
    const html = reportHtml(report);
    expect(html).toContain('data-chart="accuracy:cpu-1"');
    expect(html).toContain('accuracy vs latency, real images: dataset photos (9 of 13), n = 9 images');
    expect(html.match(/class="whisker ci"/g)?.length).toBeGreaterThanOrEqual(4);
    expect(html).toContain('class="floor"');
  });
});

describe('buildReport on two devices, one without an evaluation', () => {
  it('applies the default floor where accuracy was measured and says where it was not checked', () => {
    const detector = detectorSweep();
    const other = [job('fp32', 'edge-2', 20, 3.6 * 1024 * 1024), job('int8-dynamic', 'edge-2', 9, 1.0 * 1024 * 1024)];
    const twoDevices: SweepView = {
      ...detector,
      jobs: [...detector.jobs, ...other],
      agents: [...detector.agents, 'edge-2'],
      comparisons: [...(detector.comparisons ?? []), { ...comparison('edge-2', [randomFidelity('fp32', 1), randomFidelity('int8-dynamic', 0.45, 0.78)]), unmeasured: [{ field: 'accuracy', reason: 'evaluation failed: out of memory' }] }],
    };
    const report = buildReport(twoDevices);
    expect(report.accuracyNote).toContain('Not measured on: edge-2 (evaluation failed: out of memory)');
    const edge = report.recommendations.find((r) => r.device === 'edge-2')!;
    expect(edge.variant).toBe('int8-dynamic');
    expect(edge.reason).toContain('the default floor map50_agreement >= 0.95 (default) was not checked');
    expect(edge.reason).toContain('accuracy NOT measured (fidelity on random inputs only: cosine 0.7800');
    expect(report.recommendations.find((r) => r.device === 'cpu-1')?.variant).toBe('int8-static');
    // An explicit floor holds everywhere: nothing on edge-2 can be shown to meet it.
    expect(buildReport(twoDevices, { sloQuantile: 0.9, accuracyFloor: { value: 0.95 } }).recommendations.find((r) => r.device === 'edge-2')?.variant).toBeUndefined();
  });
});

describe('buildReport on two agents that share a name', () => {
  it('keeps their rows and recommendations apart (the agent id tells them apart), each with its own accuracy', () => {
    // Two boards registered under one name (e.g. both "jetson"): results carry the agent's name as device.
    const as = (agentId: string, j: JobView): JobView => ({ ...j, id: `${j.id}-${agentId}`, agentId, ...(j.result ? { result: { ...j.result, device: 'jetson' } } : {}) });
    const a = ['fp32', 'int8-dynamic'].map((v, i) => as('jetson-a', job(v, 'x', [10, 4.5][i] as number, [3.6e6, 1e6][i] as number)));
    const b = ['fp32', 'int8-dynamic'].map((v, i) => as('jetson-b', job(v, 'x', [10, 4.5][i] as number, [3.6e6, 1e6][i] as number)));
    const twoBoards: SweepView = {
      ...sweep([...a, ...b]),
      comparisons: [
        { ...comparison('x', [detected('fp32', 1, undefined, 1, ci(1, 1)), detected('int8-dynamic', 0.45, ci(0.42, 0.48), 0, ci(0, 0))], EVAL), jobId: 'cmp-a', agentId: 'jetson-a', device: 'jetson' },
        { ...comparison('x', [detected('fp32', 1, undefined, 1, ci(1, 1)), detected('int8-dynamic', 0.45, ci(0.42, 0.48), 0.98, ci(0.96, 1))], EVAL), jobId: 'cmp-b', agentId: 'jetson-b', device: 'jetson' },
      ],
    };
    const report = buildReport(twoBoards);
    expect(report.recommendations.map((r) => [r.device, r.variant])).toEqual([
      ['jetson (jetson-a)', 'fp32'],
      ['jetson (jetson-b)', 'int8-dynamic'],
    ]);
    expect(report.rows.filter((r) => r.variant === 'int8-dynamic').map((r) => [r.device, r.accuracy?.value])).toEqual([
      ['jetson (jetson-a)', 0],
      ['jetson (jetson-b)', 0.98],
    ]);
    // Distinct names stay as they are.
    expect(buildReport(detectorSweep()).rows.every((r) => r.device === 'cpu-1')).toBe(true);
  });
});

describe('parseAccuracyFloor', () => {
  it.each(['map51=0.5', 'map50=', 'abc', 'top1=x'])('refuses %s naming --accuracy-floor', (text) => {
    expect(() => parseAccuracyFloor(text)).toThrow(/--accuracy-floor/);
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
