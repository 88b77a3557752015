import { describe, expect, it } from 'vitest';
import { DomainError } from '../common/domain-error';
import { checkDatasetName, datasetId, parseDatasetManifest, summarizeLabels } from './dataset-manifest';

const LIMITS = { maxImageBytes: 1000, maxDatasetBytes: 2500, maxImages: 3, maxLabelsBytes: 500 };
const digest = (n: number): string => n.toString(16).padStart(64, '0');
const image = (name: string, n: number, sizeBytes = 100) => ({ name, sha256: digest(n), sizeBytes });

const refusal = (fn: () => unknown): { code: string; field: string | undefined; message: string } => {
  try {
    fn();
  } catch (err) {
    if (err instanceof DomainError) return { code: err.code, field: err.field, message: err.message };
    throw err;
  }
  throw new Error('not refused');
};

describe('parseDatasetManifest', () => {
  it('sorts images by name and gives the same id whatever the order, the name, or the order of preprocess keys', () => {
    const a = parseDatasetManifest({ name: 'a', preprocess: { resize: 'letterbox', channelOrder: 'BGR', scale: 1 }, images: [image('b.jpg', 2), image('a.jpg', 1)] }, LIMITS);
    const b = parseDatasetManifest({ preprocess: { scale: 1, channelOrder: 'BGR', resize: 'letterbox' }, images: [image('a.jpg', 1), image('b.jpg', 2)] }, LIMITS);
    expect(a.images.map((i) => i.name)).toEqual(['a.jpg', 'b.jpg']);
    expect(b.name).toBeUndefined();
    expect(datasetId(a)).toBe(datasetId(b));
    expect(datasetId(a)).toMatch(/^[0-9a-f]{64}$/);
    const renamed = parseDatasetManifest({ images: [image('a.jpg', 1), image('c.jpg', 2)] }, LIMITS);
    const other = parseDatasetManifest({ images: [image('a.jpg', 1), image('b.jpg', 2)] }, LIMITS);
    expect(datasetId(renamed)).not.toBe(datasetId(other));
    expect(datasetId(other)).not.toBe(datasetId(b));
  });

  it('digests inline labels as sent and counts them in the dataset size', () => {
    const labels = { images: [{ id: 1, file_name: 'a.jpg', width: 4, height: 3 }], annotations: [], categories: [] };
    const m = parseDatasetManifest({ labels, images: [image('a.jpg', 1)] }, LIMITS);
    expect(m.labels?.inlineBytes?.toString()).toBe(JSON.stringify(labels));
    expect(m.labels?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(refusal(() => parseDatasetManifest({ labels: { sha256: digest(9), sizeBytes: 501 }, images: [image('a.jpg', 1)] }, LIMITS))).toMatchObject({ code: 'dataset_too_large', field: 'labels.sizeBytes' });
    expect(refusal(() => parseDatasetManifest({ labels: { sha256: digest(1), sizeBytes: 10 }, images: [image('a.jpg', 1)] }, LIMITS))).toMatchObject({ code: 'invalid_dataset', field: 'labels.sha256' });
    expect(refusal(() => parseDatasetManifest({ labels: { sha256: digest(9), sizeBytes: 500 }, images: [image('a.jpg', 1, 1000), image('b.jpg', 2, 1000), image('c.jpg', 3, 1)] }, LIMITS))).toMatchObject({ code: 'dataset_too_large', field: 'images' });
  });

  it.each([
    [null, 'invalid_dataset', 'manifest'],
    [{ images: [image('a.jpg', 1)], extra: 1 }, 'invalid_dataset', 'extra'],
    [{ images: 'a.jpg' }, 'invalid_dataset', 'images'],
    [{ images: [image('a.jpg', 1, 0)] }, 'invalid_dataset', 'images[0] (a.jpg).sizeBytes'],
    [{ images: [image('a.jpg', 1, 1.5)] }, 'invalid_dataset', 'images[0] (a.jpg).sizeBytes'],
    [{ images: [image('a\\b.jpg', 1)] }, 'invalid_dataset', 'images[0].name'],
    [{ images: [image('..', 1)] }, 'invalid_dataset', 'images[0].name'],
    [{ images: [image('a.jpg ', 1)] }, 'invalid_dataset', 'images[0].name'],
    [{ images: [image('é.jpg', 1)] }, 'invalid_dataset', 'images[0].name'],
    [{ images: [image('a.jpg', 1, 1001)] }, 'dataset_too_large', 'images[0] (a.jpg).sizeBytes'],
    [{ images: [1, 2, 3, 4].map((n) => image(`${n}.jpg`, n)) }, 'dataset_too_large', 'images'],
    [{ name: 'deadbeef', images: [image('a.jpg', 1)] }, 'invalid_dataset', 'name'],
  ])('refuses %j with %s naming %s', (body, code, field) => {
    expect(refusal(() => parseDatasetManifest(body, LIMITS))).toMatchObject({ code, field });
  });
});

describe('checkDatasetName', () => {
  it('accepts folder-like names and refuses hex-only ones that read as id prefixes', () => {
    expect(checkDatasetName('coco-val_2017.small')).toBe('coco-val_2017.small');
    expect(checkDatasetName('dead')).toBe('dead');
    expect(refusal(() => checkDatasetName('0123abcd')).message).toMatch(/looks like a dataset id prefix/);
    expect(refusal(() => checkDatasetName('-x')).field).toBe('name');
  });
});

describe('summarizeLabels', () => {
  const images = [{ name: 'a.jpg', width: 40, height: 30 }, { name: 'b.jpg' }];
  const coco = (over: Record<string, unknown> = {}) => ({
    images: [{ id: 1, file_name: 'sub/a.jpg', width: 40, height: 30 }],
    annotations: [{ image_id: 1, category_id: 5, bbox: [0, 0, 4, 4] }],
    categories: [{ id: 5, name: 'dog' }, { id: 2, name: 'cat' }],
    ...over,
  });

  it('matches file names by base name, as the evaluation does, and lists categories by id', () => {
    expect(summarizeLabels(coco(), images)).toEqual({ labelledImages: 1, annotations: 1, categories: [{ id: 2, name: 'cat' }, { id: 5, name: 'dog' }] });
  });

  it.each([
    [coco({ images: [null] }), 'labels.images[0]'],
    [coco({ images: [{ id: 1, file_name: 'a.jpg', width: 41, height: 30 }] }), 'labels.images[0]'],
    [coco({ images: [{ id: 1, file_name: 'a.jpg', width: 40, height: 30 }, { id: 1, file_name: 'b.jpg', width: 1, height: 1 }] }), 'labels.images[1].id'],
    [coco({ images: [{ id: 1, file_name: 'a.jpg', width: 40, height: 30 }, { id: 2, file_name: 'x/a.jpg', width: 40, height: 30 }] }), 'labels.images[1].file_name'],
    [coco({ annotations: [{ image_id: 3, category_id: 5, bbox: [0, 0, 1, 1] }] }), 'labels.annotations[0].image_id'],
    [coco({ annotations: [{ image_id: 1, category_id: 5, bbox: [0, 0, -1, 1] }] }), 'labels.annotations[0].bbox'],
    [coco({ categories: [{ id: 5, name: 'dog' }, { id: 5, name: 'wolf' }] }), 'labels.categories[1].id'],
    [coco({ categories: [{ id: 5 }] }), 'labels.categories[0].name'],
    [[], 'labels'],
  ])('refuses bad labels naming %s', (json, field) => {
    expect(refusal(() => summarizeLabels(json, images))).toMatchObject({ code: 'invalid_dataset', field });
  });
});
