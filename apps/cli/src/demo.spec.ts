// The demo's shipped data (examples/yolox-nano) is what the demo and the README say it is: a
// real model file, labels that parse and name only shipped images and the model's 3 classes,
// and calibration images that are not evaluation images. Real files, no fakes.
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeJpeg, parseCocoLabels } from '@benchfarm/onnx';
import { DEMO, demoDatasetFlags } from './demo';

const jpegs = (dir: string): string[] => readdirSync(dir).filter((f) => /\.jpe?g$/i.test(f)).sort();
const digest = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

describe('the demo data (examples/yolox-nano)', () => {
  it('ships the YOLOX-nano file its NOTICE names', () => {
    expect(digest(DEMO.model)).toBe('358417533cc718928cf1b32506a65733fceb859d95c8a719e797903d715fa201');
  });

  it('labels every evaluation image, inside the image, with the 3 categories the model outputs', () => {
    const labels = parseCocoLabels(JSON.parse(readFileSync(DEMO.labels, 'utf8')) as unknown);
    const images = jpegs(DEMO.images);
    expect(labels.images.map((i) => i.file_name).sort()).toEqual(images);
    expect(labels.categories.map((c) => c.id).sort()).toEqual([1, 2, 3]);
    for (const image of labels.images) {
      const decoded = decodeJpeg(readFileSync(join(DEMO.images, image.file_name)));
      expect([decoded.width, decoded.height], image.file_name).toEqual([image.width, image.height]);
    }
    for (const [n, a] of labels.annotations.entries()) {
      const image = labels.images.find((i) => i.id === a.image_id);
      const [x = -1, y = -1, w = 0, h = 0] = a.bbox;
      expect(image, `annotation ${n}`).toBeDefined();
      expect(x >= 0 && y >= 0 && w > 0 && h > 0 && x + w <= (image?.width ?? 0) && y + h <= (image?.height ?? 0), `annotation ${n} bbox ${a.bbox.join(',')}`).toBe(true);
      expect([1, 2, 3]).toContain(a.category_id);
    }
    expect(labels.annotations.length).toBeGreaterThanOrEqual(10);
  });

  it('calibrates on images that are not evaluation images', () => {
    const evaluation = new Set(jpegs(DEMO.images).map((f) => digest(join(DEMO.images, f))));
    const calibration = jpegs(DEMO.calibration).map((f) => digest(join(DEMO.calibration, f)));
    expect(calibration.length).toBeGreaterThan(0);
    expect(calibration.filter((d) => evaluation.has(d))).toEqual([]);
  });

  it('gives the sweep its calibration, evaluation set and labels unless the user named data', () => {
    expect(demoDatasetFlags({})).toEqual({ calibration: DEMO.calibration, eval: DEMO.images, labels: DEMO.labels, preprocess: 'yolox' });
    expect(demoDatasetFlags({ dataset: 'mine' })).toEqual({ dataset: 'mine' });
    expect(demoDatasetFlags({ eval: '/data/eval' })).toEqual({ eval: '/data/eval' });
  });
});
