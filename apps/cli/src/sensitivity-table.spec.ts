// The int8-auto tables of `benchfarm variants` on a RECORDED AutoQuantReport (fixtures/
// int8-auto-yolox-nano.recorded.json: the shared YOLOX-nano, 9 photos searched on, 4 held out;
// how and when it was recorded is in its "recorded" field). The figures come from that run;
// the tests check the formatting against the report's own values, not against constants.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AutoQuantReport } from '@benchfarm/onnx';
import { autoSearchText, sensitivityHeading, sensitivityTable } from './sensitivity-table';
import { autoQuantSection, type VariantRow } from './variants.command';

const recorded = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures/int8-auto-yolox-nano.recorded.json'), 'utf8')) as { recorded: string; report: AutoQuantReport };
const report = recorded.report;

describe('sensitivityTable (recorded int8-auto report)', () => {
  const lines = sensitivityTable(report).split('\n');

  it('has one row per layer, in rank order, with every column of the issue', () => {
    expect(lines[0]?.split(/ {2,}/)).toEqual(['rank', 'node', 'op', 'time share %', 'fp32 us', 'int8 us', 'saved us', 'cosine alone', 'map50_agreement alone', 'method', 'int8-auto quantizes']);
    expect(lines).toHaveLength(2 + report.layers.length);
    const ranks = lines.slice(2).map((l) => Number(l.trim().split(/\s+/)[0]));
    expect(ranks).toEqual(report.layers.map((_, i) => i + 1));
  });

  it('prints each layer with its own figures: share in %, us rounded, cosine to 5 places, quantized or kept float', () => {
    for (const [i, layer] of report.layers.entries()) {
      const cells = (lines[i + 2] ?? '').trim().split(/\s{2,}/);
      expect(cells).toEqual([
        String(layer.rank),
        layer.node,
        layer.opType,
        (layer.timeShare * 100).toFixed(2),
        layer.fp32Us.toFixed(0),
        layer.int8Us === undefined ? 'n/a' : layer.int8Us.toFixed(0),
        layer.gainUs === undefined ? 'n/a' : layer.gainUs.toFixed(0),
        layer.cosine.toFixed(5),
        layer.floorMetric === undefined ? 'n/a' : layer.floorMetric.toFixed(4),
        layer.method,
        layer.quantized ? 'yes' : 'no (float)',
      ]);
    }
    const float = report.layers.filter((l) => l.quantized === false).map((l) => l.node);
    expect(float.length).toBeGreaterThan(0);
    for (const node of float) expect(lines.find((l) => l.includes(` ${node} `))).toMatch(/no \(float\)$/);
  });

  it('says n/a where a figure crossed a process boundary as null (NaN in JSON), adds a note column for layers left out of the search, and drops the int8-auto column of a table measured alone', () => {
    const first = report.layers[0];
    if (!first) throw new Error('empty recorded report');
    const odd: AutoQuantReport = { ...report, layers: [{ ...first, cosine: null as unknown as number, quantized: undefined, reason: 'int8 is not faster here' }] };
    const row = sensitivityTable(odd).split('\n');
    expect(row[0]).toMatch(/ method {2}note$/);
    expect(row[0]).not.toContain('int8-auto quantizes');
    expect(row[2]).toMatch(/ n\/a .* minmax\s+int8 is not faster here$/);
  });
});

describe('autoSearchText (recorded int8-auto report)', () => {
  const text = autoSearchText(report);

  it('states the floor, the counts, the search and held-out accuracy from the report', () => {
    const quantized = report.layers.filter((l) => l.quantized).length;
    expect(text).toContain(`floor map50_agreement >= ${report.floor.value} (detection); ${quantized} layers quantized, ${report.layers.length - quantized} kept in float; ${report.seconds.toFixed(1)} s`);
    expect(text).toContain(`search (${report.searchImages} images): map50_agreement ${report.searchMetric.toFixed(4)}`);
    expect(text).toContain(`held out: map50_agreement ${report.holdoutMetric?.toFixed(4)}, cosine ${report.holdoutCosine?.toFixed(5)} on ${report.holdoutImages} held-out images: floor ${report.holdoutMet ? 'met' : 'NOT met'}`);
  });

  it('lists every step with whether it met the floor', () => {
    for (const step of report.steps) expect(text).toMatch(new RegExp(`^${step.step.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} +${step.quantized} +${step.floorMetric.toFixed(4)} +${step.cosine.toFixed(5)} +${step.accepted ? 'yes' : 'no'}$`, 'm'));
  });

  it('says the held-out check is missing rather than printing a number (a sensitivity-only report)', () => {
    const alone: AutoQuantReport = { ...report, steps: [], holdoutImages: 0, searchMetric: null as unknown as number, holdoutMetric: undefined, holdoutCosine: undefined, holdoutMet: undefined };
    expect(autoSearchText(alone)).toContain('search (9 images): map50_agreement n/a');
    expect(autoSearchText(alone)).toContain('held out: not checked on held-out images (0 given)');
  });
});

describe('autoQuantSection', () => {
  const row = (extra: Partial<VariantRow>): VariantRow => ({ name: 'x', ok: true, ...extra });

  it('prints int8-auto search always and its table only with --sensitivity', () => {
    const rows = [row({ name: 'fp32 (reference)' }), row({ name: 'int8-auto', report })];
    const short = autoQuantSection(rows, false);
    expect(short).toContain('int8-auto: floor map50_agreement >= 0.95');
    expect(short).not.toContain('int8-auto sensitivity');
    const long = autoQuantSection(rows, true);
    expect(long).toContain(sensitivityHeading(report, 'int8-auto sensitivity')[0]);
    expect(long).toContain(sensitivityTable(report));
  });

  it('prints the table measured alone on the reference row, labelled as having no search', () => {
    const text = autoQuantSection([row({ name: 'fp32 (reference)', sensitivity: { ...report, steps: [] } })], true);
    expect(text).toContain('sensitivity (no int8-auto search: the table alone): 113 layers of a detection model, each quantized ALONE');
    expect(autoQuantSection([row({ name: 'fp32 (reference)' })], true)).toBe('');
  });
});
