// sensitivityRecipeEntry on a hand-made AutoQuantReport (fabricated figures: pure formatting).
import { describe, expect, it } from 'vitest';
import type { AutoQuantReport, LayerSensitivity } from '@benchfarm/onnx';
import { sensitivityRecipeEntry } from './auto-quant-summary';

const layer = (node: string, rank: number, cosine: number, timeShare: number, quantized: boolean): LayerSensitivity => ({
  node,
  opType: 'Conv',
  index: rank,
  timeShare,
  fp32Us: timeShare * 1000,
  cosine,
  loss: 1 - cosine,
  rank,
  method: 'minmax',
  quantized,
});

const report = (layers: LayerSensitivity[]): AutoQuantReport => ({
  floor: { metric: 'map50_agreement', value: 0.95 },
  task: 'detection',
  searchImages: 6,
  holdoutImages: 3,
  inputs: 'images: 6 (fabricated)',
  layers,
  steps: [],
  searchMetric: 0.97,
  seconds: 1,
});

describe('sensitivityRecipeEntry', () => {
  it('names the most sensitive layers first, then the largest time shares not listed yet, each with rank, cosine, share and int8/float', () => {
    const text = sensitivityRecipeEntry(
      report([layer('big', 1, 0.9999, 0.3, true), layer('mid', 2, 0.999, 0.2, true), layer('head', 3, 0.95, 0.05, false), layer('stem', 4, 0.97, 0.1, false), layer('tiny', 5, 0.9995, 0.01, true)]),
      4,
    );
    expect(text).toBe(
      '5 layers ranked for the search (rank 1 quantized first; cosine to fp32 with the layer alone quantized, on 6 search images)' +
        ' | most sensitive alone: head (Conv, rank 3) cos 0.9500, 5.0% time float; stem (Conv, rank 4) cos 0.9700, 10.0% time float' +
        ' | largest time shares: big (Conv, rank 1) cos 0.9999, 30.0% time int8; mid (Conv, rank 2) cos 0.9990, 20.0% time int8',
    );
  });

  it('says n/a for a cosine that crossed the process boundary as null (NaN in JSON), and ranks it as the most sensitive', () => {
    const broken = { ...layer('nan', 2, 0, 0.1, false), cosine: null as unknown as number };
    const text = sensitivityRecipeEntry(report([layer('a', 1, 0.99, 0.5, true), broken]), 2);
    expect(text).toContain('most sensitive alone: nan (Conv, rank 2) cos n/a, 10.0% time float');
  });
});
