// The int8-auto section of a sweep report, on FABRICATED sweep views (report.fixture): the
// recipe strings have the shape libs/onnx quantize-auto writes, the figures are made up.
import { describe, expect, it } from 'vitest';
import type { SweepView } from '../client';
import { tradeOffText } from '../report-command';
import { EVAL, ci, comparison, detected, job, sweep } from './report.fixture';
import { buildReport, parseAutoFloor, reportHtml, reportMarkdown } from './index';

const MB = 1024 * 1024;
const FLOAT = ['stem.conv', 'head.cls_preds.0', 'head.cls_preds.1', 'head.cls_preds.2', 'head.reg_preds.0', 'head.reg_preds.1', 'head.reg_preds.2', 'head.obj_preds.0', 'head.obj_preds.1', 'head.obj_preds.2', 'head.obj_preds.3', 'head.stems.0'];
const RECIPE = {
  pass: 'int8-auto',
  floor: 'map50_agreement >= 0.95',
  floatLayers: FLOAT.join(','),
  quantizedLayers: '70 of 82 (91.3% of fp32 kernel time)',
  searchImages: '6',
  holdoutImages: '3',
  'accuracy.search': 'map50_agreement 0.9800, cosine 0.9950',
  'accuracy.holdout': 'map50_agreement 0.9600 [0.9000, 1.0000], cosine 0.9930, n=3, floor met',
  sensitivity: '82 layers ranked ... (fabricated)',
};

/** fp32 and int8-auto on two devices: on cpu-1 int8-auto agrees 0.97 with fp32, on pi 0.90 (below its floor). */
function autoSweep(): SweepView {
  const jobs = [job('fp32', 'cpu-1', 10, 3.6 * MB), job('int8-auto', 'cpu-1', 7.5, 1.2 * MB), job('fp32', 'pi', 40, 3.6 * MB), job('int8-auto', 'pi', 35, 1.2 * MB)];
  const base = sweep(jobs);
  return {
    ...base,
    variants: base.variants.map((v) => (v.name === 'int8-auto' ? { ...v, recipe: RECIPE } : v)),
    comparisons: [
      comparison('cpu-1', [detected('fp32', 1, undefined, 1, ci(1, 1)), detected('int8-auto', 0.75, ci(0.7, 0.8), 0.97, ci(0.93, 1), 0.993)], EVAL),
      comparison('pi', [detected('fp32', 1, undefined, 1, ci(1, 1)), detected('int8-auto', 0.88, ci(0.85, 0.9), 0.9, ci(0.8, 1), 0.99)], EVAL),
    ],
  };
}

describe('int8-auto in the sweep report', () => {
  it('summarises the recipe and puts each device own accuracy next to the coordinator checks', () => {
    const report = buildReport(autoSweep());
    expect(report.autoQuant).toEqual([
      {
        variant: 'int8-auto',
        floor: 'map50_agreement >= 0.95',
        floatLayers: FLOAT,
        quantizedLayers: '70 of 82 (91.3% of fp32 kernel time)',
        searchImages: 6,
        holdoutImages: 3,
        coordinatorSearch: RECIPE['accuracy.search'],
        coordinatorHoldout: RECIPE['accuracy.holdout'],
        sensitivity: RECIPE.sensitivity,
        devices: [
          { device: 'cpu-1', provider: 'cpu', metric: 'map50_agreement', value: 0.97, ci: { low: 0.93, high: 1 }, images: 9, meetsFloor: true },
          { device: 'pi', provider: 'cpu', metric: 'map50_agreement', value: 0.9, ci: { low: 0.8, high: 1 }, images: 9, meetsFloor: false },
        ],
      },
    ]);
  });

  it('prints the section in the terminal text, saying the device figure is what counts', () => {
    const text = tradeOffText(buildReport(autoSweep()));
    expect(text).toContain('the accuracy each device measured on the sweep\'s evaluation images with its own execution provider is what counts');
    expect(text).toContain('int8-auto: floor map50_agreement >= 0.95; quantized 70 of 82 (91.3% of fp32 kernel time); kept in float (12): stem.conv, head.cls_preds.0,');
    expect(text).toContain(', ... (2 more)');
    expect(text).toContain('  coordinator, search (6 images): map50_agreement 0.9800, cosine 0.9950');
    expect(text).toContain('  coordinator, held out (3 images): map50_agreement 0.9600 [0.9000, 1.0000], cosine 0.9930, n=3, floor met');
    expect(text).toContain("  on cpu-1 (cpu): map50_agreement 0.970 [0.930, 1.000] on 9 real images, meets int8-auto's floor (map50_agreement >= 0.95)");
    expect(text).toContain("  on pi (cpu): map50_agreement 0.900 [0.800, 1.000] on 9 real images, BELOW int8-auto's floor (map50_agreement >= 0.95)");
  });

  it('puts it in Markdown and HTML too, and leaves it out of sweeps without int8-auto', () => {
    const report = buildReport(autoSweep());
    expect(reportMarkdown(report)).toMatch(/## int8-auto\n\n.*is what counts.*\n\n- int8-auto: floor map50_agreement >= 0\.95;.*\n {2}- coordinator, search \(6 images\)/);
    expect(reportHtml(report)).toContain('<h2>int8-auto</h2>');
    const plain = buildReport(sweep([job('fp32', 'cpu-1', 10, MB)]));
    expect(plain.autoQuant).toBeUndefined();
    expect(tradeOffText(plain)).not.toContain('int8-auto');
    expect(reportMarkdown(plain)).not.toContain('## int8-auto');
  });

  it('says when a device measured no accuracy, and when the report floor is on another metric', () => {
    const s = autoSweep();
    const cosineFloor = { ...s, variants: s.variants.map((v) => (v.name === 'int8-auto' ? { ...v, recipe: { ...RECIPE, floor: 'cosine >= 0.99' } } : v)), comparisons: s.comparisons?.slice(0, 1) };
    const text = tradeOffText(buildReport(cosineFloor));
    expect(text).toContain("on cpu-1 (cpu): map50_agreement 0.970 [0.930, 1.000] on 9 real images; int8-auto's floor (cosine >= 0.99) is on another metric");
    expect(text).toMatch(/on pi \(cpu\): accuracy not measured: no interleaved comparison job on this device/);
  });

  it.each([
    ['map50_agreement >= 0.95', { metric: 'map50_agreement', value: 0.95 }],
    ['cosine >= 0.995', { metric: 'cosine', value: 0.995 }],
    ['something else', undefined],
    [undefined, undefined],
  ])('parseAutoFloor(%j)', (text, expected) => {
    expect(parseAutoFloor(text)).toEqual(expected);
  });
});
