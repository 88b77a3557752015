// The runtime-settings section of the report on FABRICATED sweep views (report.config-search.fixture.ts):
// what is under test is how the report reads a search (verdicts from CIs, the latency bound, the
// accuracy floor, skips, every format), not the figures.
import { describe, expect, it } from 'vitest';
import type { SweepView } from '../client';
import { renderReport, tradeOffText } from '../report-command';
import { C, TRT_OPEN_ERROR, best, configSearchSweep } from './report.config-search.fixture';
import { detectorSweep, job } from './report.fixture';
import { CONFIG_CSV_COLUMNS, ReportOptionError, buildReport, confirmedVerdict, reportHtml, reportMarkdown, type DeviceConfigSearch, type ReportPolicy } from './index';

const device = (s: SweepView, name: string, policy?: ReportPolicy): DeviceConfigSearch => {
  const d = buildReport(s, policy).configSearch?.devices.find((x) => x.device === name);
  if (!d) throw new Error(`no device ${name} in the report`);
  return d;
};
const render = (s: SweepView, format: string): string => renderReport(s, { format, sloPercentile: 90 });

/** The fixture with int8-static's x86 confirmation replaced. */
function withX86Int8Best(ratioCi: [number, number] | undefined, verdict: string): SweepView {
  const s = configSearchSweep();
  const r = s.configSearch?.devices[0]?.result;
  if (!r) throw new Error('fixture changed');
  r.best = [r.best[0] as (typeof r.best)[number], best('int8-static', C.t1basic, 0.99, ratioCi, verdict)];
  return s;
}

/** The fixture with every `int8-static` renamed. */
function renamed(name: string): SweepView {
  return JSON.parse(JSON.stringify(configSearchSweep()).replaceAll('"int8-static"', JSON.stringify(name))) as SweepView;
}

describe('configuration search in the report model', () => {
  it('gives each variant its best configuration with the verdict its CI supports', () => {
    const s = configSearchSweep();
    const x86 = device(s, 'x86-1');
    const jetson = device(s, 'jetson-1');
    expect(x86.variants.map((v) => [v.variant, v.label, v.verdict])).toEqual([
      ['fp32', 'cpu t1 basic', 'faster'],
      ['int8-static', 'cpu t1 basic', 'tied'],
    ]);
    expect(x86.variants[0]).toMatchObject({ configId: C.t1basic.id, bestP50Ms: 8, ratio: 0.84, ratioCi: { low: 0.8, high: 0.88 }, pointsMeasured: 4, spacePoints: 4 });
    expect(x86.variants[0]?.gain).toBe("1.19x faster than onnxruntime's defaults (p50 ratio 0.840 [0.800, 0.880], 10 interleaved rounds)");
    expect(x86.variants[1]?.gain).toMatch(/^tied with onnxruntime's defaults .*the CI holds 1/);
    // The defaults were a point on the Jetson: its p50 is the baseline's; one round without a CI confirms nothing.
    expect(jetson.variants.map((v) => [v.variant, v.verdict, v.reportedVerdict])).toEqual([
      ['fp32', 'baseline', undefined],
      ['int8-static', 'unconfirmed', 'faster'],
    ]);
    expect(jetson.variants[1]).toMatchObject({ bestP50Ms: 8.5, baselineP50Ms: 9 });
    expect(jetson).toMatchObject({ budgetExhausted: true, spentMs: 1_812_000, pointsMeasured: 4, latencyBoundMs: 15 });
  });

  it.each([
    [[0.95, 1.04], 'faster', 'tied'],
    [[0.9, 0.99], 'tied', 'faster'],
    [[1.01, 1.2], 'faster', 'slower'],
    [undefined, 'faster', 'unconfirmed'],
  ] as const)('a CI of %j with the agent saying %s reads %s', (ratioCi, said, expected) => {
    expect(confirmedVerdict({ configId: 'ca', baselineConfigId: 'cb', verdict: said, ...(ratioCi ? { ratioCi: { low: ratioCi[0], high: ratioCi[1] } } : {}) })).toBe(expected);
  });

  it('picks the best overall among points whose p99 meets the bound, naming points it cannot tell apart', () => {
    const x86 = device(configSearchSweep(), 'x86-1');
    const over = x86.points.find((p) => p.variant === 'int8-static' && p.configId === C.t1basic.id);
    expect(over).toMatchObject({ p50Ms: 6.5, p99Ms: 16, meetsBound: false, best: true });
    // Too few queries for p99: not shown to meet the bound.
    expect(x86.points.find((p) => p.variant === 'fp32' && p.configId === C.t2all.id)?.meetsBound).toBe(false);
    expect(x86.best).toMatchObject({ variant: 'int8-static', configId: C.t1all.id, label: 'cpu t1 all', p50Ms: 6.8, tiedWith: ['int8-static cpu t2 basic'] });
    expect(x86.best.verdict).toBeUndefined();
    expect(x86.best.reason).toContain("not int8-static's confirmed best (cpu t1 basic: its p99 is over the bound), so not confirmed");
    expect(x86.best.reason).toContain('map50_agreement 0.970 [0.930, 1.000] on 9 real images >= floor 0.95 (default)');
  });

  it('without a latency bound the lowest p50 wins, whatever its p99', () => {
    const s = configSearchSweep();
    const cs = s.configSearch;
    if (!cs) throw new Error('fixture changed');
    delete cs.latencyBoundMs;
    for (const d of cs.devices) if (d.result) d.result.latencyBoundMs = 0;
    const x86 = device(s, 'x86-1');
    expect(x86.best).toMatchObject({ variant: 'int8-static', configId: C.t1basic.id, verdict: 'tied' });
    expect(x86.points.every((p) => p.meetsBound === undefined)).toBe(true);
  });

  it('for throughput, ranks by samples/s among points under the bound and says a single window has no CI', () => {
    const s = configSearchSweep();
    for (const d of s.configSearch?.devices ?? []) if (d.result) d.result.objective = 'throughput';
    const x86 = device(s, 'x86-1');
    // int8-static t1 basic has the most samples/s (153.8) but its p99 (16 ms) is over the bound.
    expect(x86.best).toMatchObject({ variant: 'int8-static', configId: C.t1all.id });
    expect(x86.best.samplesPerSecond).toBeCloseTo(1000 / 6.8, 6);
    expect(x86.best.reason).toContain('highest samples/s of 6 qualifying point(s)');
    expect(x86.best.reason).toContain('samples/s of a point has no CI');
    expect(x86.variants[0]?.gain).toContain('time per sample ratio 0.840');
    const md = render(s, 'markdown');
    expect(md).toContain('| fp32 | cpu t1 basic | ' + C.t1basic.id + ' | 125.0 samples/s | - |');
  });

  it('applies the accuracy floor the report applies: a variant below it, or not measured under it, is never the best', () => {
    const policy: ReportPolicy = { sloQuantile: 0.9, accuracyFloor: { metric: 'map50_agreement', value: 0.98 } };
    const x86 = device(configSearchSweep(), 'x86-1', policy);
    expect(x86.best).toMatchObject({ variant: 'fp32', configId: C.t1basic.id, verdict: 'faster' });
    expect(x86.best.reason).toContain('excluded int8-static: map50_agreement 0.970 [0.930, 1.000] < floor 0.98');
    const jetson = device(configSearchSweep(), 'jetson-1', policy);
    expect(jetson.best.variant).toBeUndefined();
    expect(jetson.best.reason).toContain('excluded fp32: map50_agreement not measured on real images, not eligible under the accuracy floor');
  });

  it('says the default floor was not checked on a device without accuracy, and never calls an unmeasured variant the more accurate', () => {
    const jetson = device(configSearchSweep(), 'jetson-1');
    expect(jetson.best.variant).toBe('int8-static');
    expect(jetson.best.reason).toContain('the default accuracy floor map50_agreement >= 0.95 (default) was not checked on this device');
    expect(jetson.best.reason).toContain('accuracy not measured on real images on this device');
    // Only fp32's accuracy on x86 is measured: int8-static wins on latency and the report says that is all it won on.
    const s = configSearchSweep();
    const cmp = s.comparisons?.[0];
    if (!cmp) throw new Error('fixture changed');
    cmp.variants = cmp.variants.filter((v) => v.variant === 'fp32');
    const x86 = device(s, 'x86-1', { sloQuantile: 0.9, accuracyFloor: 'none' });
    expect(x86.best.variant).toBe('int8-static');
    expect(x86.best.reason).toContain('chosen on latency alone: its accuracy was not measured, so it is not shown to be as accurate as fp32');
  });

  it('lists every skipped value and point with its reason', () => {
    const s = configSearchSweep();
    const jetson = device(s, 'jetson-1');
    expect(jetson.skipped).toEqual([
      { kind: 'value', axis: 'provider', value: 'cuda', reason: 'not among the execution providers this agent reports (cpu, tensorrt)' },
      { kind: 'point', value: C.trt1.id, label: 'tensorrt:fp16 t1 all', variant: 'fp32', reason: TRT_OPEN_ERROR },
      { kind: 'point', value: C.trt2.id, label: 'tensorrt:fp16 t2 all', variant: 'fp32', reason: TRT_OPEN_ERROR },
      { kind: 'point', value: C.trt1.id, label: 'tensorrt:fp16 t1 all', variant: 'int8-static', reason: 'budget spent' },
      { kind: 'point', value: C.trt2.id, label: 'tensorrt:fp16 t2 all', variant: 'int8-static', reason: 'budget spent' },
    ]);
    // A skipped point carries no figure: its zeros on the wire are not measurements.
    const trt = jetson.points.find((p) => !p.measured);
    expect(trt).toBeDefined();
    for (const field of ['p50Ms', 'p99Ms', 'meanMs', 'queriesPerSecond', 'samplesPerSecond', 'queries', 'meetsBound'] as const) expect(trt?.[field]).toBeUndefined();
  });

  it('leaves the search jobs out of the variant rows and says why a device has no result', () => {
    const s = configSearchSweep();
    expect(buildReport(s).rows).toEqual([]);
    const cs = s.configSearch;
    if (!cs?.devices[1]) throw new Error('fixture changed');
    delete cs.devices[1].result;
    cs.devices[1].state = 'failed';
    const failed = s.jobs.find((j) => j.id === 'search-jetson');
    if (failed) Object.assign(failed, { state: 'failed', error: 'agent lost during point 3' });
    const jetson = device(s, 'jetson-1');
    expect(jetson.missing).toBe('no result: the search is failed: agent lost during point 3');
    expect(jetson.skipped.map((x) => x.value)).toEqual(['cuda']);
    expect(render(s, 'markdown')).toContain('no result: the search is failed: agent lost during point 3');
  });

  it('says so for a device the coordinator planned no search for', () => {
    const s = configSearchSweep();
    s.configSearch?.devices.push({ agentId: 'agent-pi', agentName: 'pi-1', jobId: '', state: 'skipped', skipped: [{ axis: 'provider', value: 'cpu', reason: 'excluded by the request', label: '' }], notes: [], estimatedMs: 0 });
    const pi = device(s, 'pi-1');
    expect(pi.missing).toBe('no search on this device: no point of the space can run here (the skipped values say why)');
    expect(pi.skipped).toEqual([{ kind: 'value', axis: 'provider', value: 'cpu', reason: 'excluded by the request' }]);
    expect(tradeOffText(buildReport(s))).toContain('pi-1: no search on this device');
  });

  it('adds no section to a sweep without a search', () => {
    const report = buildReport(detectorSweep());
    expect(report.configSearch).toBeUndefined();
    expect(reportMarkdown(report)).not.toContain('Runtime settings');
    expect(() => render(detectorSweep(), 'config-csv')).toThrow(ReportOptionError);
    expect(() => render(detectorSweep(), 'config-csv')).toThrow('--format');
  });
});

describe('configuration search in every format', () => {
  it('terminal text: the section after the tables, tied never printed as faster, skips with reasons', () => {
    const text = tradeOffText(buildReport(withX86Int8Best([0.95, 1.04], 'faster')));
    expect(text.indexOf('Runtime settings search: grid, objective p50 latency')).toBeGreaterThan(text.indexOf('Policy:'));
    const int8Line = text.split('\n').find((l) => l.startsWith('  int8-static: ') && l.includes('p50 ratio 0.990'));
    expect(int8Line).toMatch(/^ {2}int8-static: tied with onnxruntime's defaults/);
    expect(int8Line).toContain('the agent wrote "faster"; the CI says tied');
    const row = text.split('\n').find((l) => l.startsWith('int8-static  cpu t1 basic'));
    expect(row).toMatch(/ tied /);
    expect(row).not.toContain('faster');
    expect(text).toMatch(/^fp32 +cpu t1 basic .* faster 1\.19x/m);
    expect(text).toContain(`fp32 tensorrt:fp16 t1 all (${C.trt1.id}): ${TRT_OPEN_ERROR}`);
    expect(text).toContain('provider=cuda: not among the execution providers this agent reports (cpu, tensorrt)');
    expect(text).toContain('budget EXHAUSTED');
    expect(text).toMatch(/int8-static +cpu t1 basic +cb[0-9a-f]+ +yes .* 16\.000 .* OVER +best/);
  });

  it('Markdown: a table per device, the overall best, skips and every point', () => {
    const md = render(configSearchSweep(), 'markdown');
    expect(md).toContain('## Runtime settings per device');
    expect(md).toContain('### x86-1');
    expect(md).toContain(`| int8-static | cpu t1 basic | ${C.t1basic.id} | p50 6.500 ms | - | 9.900 / 10.000 | 0.990 [0.950, 1.040] | tied | 4/4 |`);
    expect(md).toContain(`| fp32 | cpu t1 basic | ${C.t1basic.id} | p50 8.000 ms | - | 8.400 / 10.000 | 0.840 [0.800, 0.880] | faster 1.19x | 4/4 |`);
    expect(md).toMatch(/\*\*best overall on x86-1 \(p99 <= 15 ms, accuracy floor map50_agreement >= 0\.95 \(default\)\): int8-static cpu t1 all/);
    expect(md).toContain(`- fp32 tensorrt:fp16 t2 all (${C.trt2.id}): ${TRT_OPEN_ERROR}`);
    // 8 points on each device, one row each.
    expect(md.split('\n').filter((l) => /^\| (fp32|int8-static) \| (cpu|tensorrt)[^|]* \| c[0-9a-f]{10} \| (yes|no) \|/.test(l))).toHaveLength(16);
  });

  it('CSV: one row per point, every setting, unmeasured figures empty', () => {
    const csv = render(configSearchSweep(), 'config-csv');
    const [header, ...rows] = csv.trimEnd().split('\n');
    expect(header).toBe(['sweep_id', ...CONFIG_CSV_COLUMNS.map(([n]) => n)].join(','));
    expect(header).toContain('intra_op_threads,inter_op_threads,execution_mode,graph_optimization_level,batch_size,concurrency,measured,skip_reason');
    const points = (configSearchSweep().configSearch?.devices ?? []).reduce((n, d) => n + (d.result?.points.length ?? 0), 0);
    expect(rows).toHaveLength(points);
    const col = (name: string): number => (header ?? '').split(',').indexOf(name);
    const cells = rows.map((r) => r.split(','));
    const trt = cells.find((c) => c[col('config_id')] === C.trt1.id && c[col('variant')] === 'fp32');
    expect(trt?.[col('measured')]).toBe('false');
    expect(trt?.[col('p50_ms')]).toBe('');
    expect(trt?.[col('samples_per_second')]).toBe('');
    expect(trt?.[col('execution_provider')]).toBe('tensorrt');
    expect(trt?.[col('provider_spec')]).toBe('tensorrt:fp16');
    const over = cells.find((c) => c[col('device')] === 'x86-1' && c[col('variant')] === 'int8-static' && c[col('config_id')] === C.t1basic.id);
    expect(over?.slice(col('p50_ms'), col('p50_ms') + 1)).toEqual(['6.5']);
    expect(over?.[col('meets_latency_bound')]).toBe('false');
    expect(over?.[col('graph_optimization_level')]).toBe('basic');
    // A variant name with a comma and a quote stays one field.
    const hostile = render(renamed('int8 "static", v2'), 'config-csv');
    expect(hostile).toContain('"int8 ""static"", v2"');
    expect(hostile.trimEnd().split('\n')).toHaveLength(points + 1);
  });

  it('JSON: the model, whole', () => {
    const json = JSON.parse(render(configSearchSweep(), 'json')) as ReturnType<typeof buildReport>;
    expect(json.configSearch).toEqual(JSON.parse(JSON.stringify(buildReport(configSearchSweep()).configSearch)));
    expect(json.configSearch?.devices.map((d) => [d.device, d.points.length, d.best.variant])).toEqual([
      ['jetson-1', 8, 'int8-static'],
      ['x86-1', 8, 'int8-static'],
    ]);
    expect(json.configSearch?.axes).toEqual(['provider=cpu,tensorrt:fp16,cuda', 'intra_op_threads=1,2', 'graph_optimization_level=basic,all']);
  });

  it('HTML: a chart per device with a line per variant and settings, hollow points over the bound, everything escaped', () => {
    const html = reportHtml(buildReport(configSearchSweep()));
    expect(html).toContain('<h2>Runtime settings per device</h2>');
    for (const d of ['x86-1', 'jetson-1']) expect(html).toContain(`data-chart="config:${d}"`);
    const x86Chart = /<svg[^>]*data-chart="config:x86-1".*?<\/svg>/s.exec(html)?.[0] ?? '';
    expect([...x86Chart.matchAll(/data-series="([^"]*)"/g)].map((m) => m[1]).sort()).toEqual(['fp32 cpu all', 'fp32 cpu basic', 'int8-static cpu all', 'int8-static cpu basic']);
    expect([...x86Chart.matchAll(/class="point config over"/g)]).toHaveLength(2);
    expect([...x86Chart.matchAll(/class="recommended"/g)]).toHaveLength(1);
    expect(html).toContain(esc(TRT_OPEN_ERROR));
    expect(html).not.toContain('<script');
    // A sweep that is only a search has no variant rows: no empty tables, no claim that accuracy was not measured.
    expect(html).not.toContain('Accuracy was not measured on real images in this sweep');
    expect(html).not.toContain('<h2>Variant x device</h2>');
    expect(html).toContain('this sweep is a runtime-settings search, reported below');
    expect(reportMarkdown(buildReport(configSearchSweep()))).not.toContain('## Variant x device');

    const evil = '<img src=x onerror=alert(1)>"&\'';
    const hostile = reportHtml(buildReport(renamed(evil)));
    expect(hostile).not.toContain('<img src=x');
    expect(hostile).toContain('&lt;img src=x onerror=alert(1)&gt;&quot;&amp;');
    expect(hostile).not.toContain('<script');
  });

  it('keeps the variant rows of a sweep that has both variant jobs and a search', () => {
    const s = configSearchSweep();
    s.jobs.push({ ...job('fp32', 'x86-1', 10, 3_600_000), agentId: 'agent-x86' }, { ...job('int8-static', 'x86-1', 6.2, 1_100_000), agentId: 'agent-x86' });
    const report = buildReport(s);
    expect(report.rows.map((r) => [r.variant, r.device, r.accuracy?.value])).toEqual([
      ['fp32', 'x86-1', 1],
      ['int8-static', 'x86-1', 0.97],
    ]);
    expect(report.recommendations.map((r) => [r.device, r.variant])).toEqual([['x86-1', 'int8-static']]);
    expect(report.configSearch?.devices).toHaveLength(2);
  });
});

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
