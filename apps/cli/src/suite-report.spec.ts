// FABRICATED suite reports (pure formatting under test): the shapes GET /sweeps/:id/suite-reports returns.
import { describe, expect, it } from 'vitest';
import type { SuiteReport } from '@benchfarm/protocol';
import type { SuiteReportsView } from './client';
import { suiteReportText } from './suite-report';

const ci = (low: number, high: number) => ({ low, high, level: 0.95, resamples: 1000 });

function view(report: SuiteReport): SuiteReportsView {
  return { sweepId: 's', comparisonJobs: [{ jobId: 'cmp', agentId: 'a', variants: ['fp32', 'int8'] }], reports: [{ jobId: 'cmp', resultId: 'r-cmp', variant: 'fp32', agentId: 'a', agentName: 'box', scenario: 'comparison', report }] };
}

const comparison = (randomCosine?: number): SuiteReport['comparison'] => ({
  referenceVariant: 'fp32',
  rounds: 5,
  order: 'interleaved',
  roundMinQueries: 20,
  variants: [
    { variant: 'fp32', sha256: '', reference: true, queries: 100, medianMs: 5, meanMs: 5, roundMedianMs: [], ratioToReference: 1, fidelity: [] },
    {
      variant: 'int8',
      sha256: '',
      reference: false,
      queries: 100,
      medianMs: 3,
      meanMs: 3,
      roundMedianMs: [],
      ratioToReference: 0.6,
      ratioCi: { low: 0.55, high: 0.65, level: 0.95 },
      fidelity: randomCosine === undefined ? [] : [{ output: 'y', cosine: randomCosine, maxAbsError: 0.3, inputs: 'random inputs', images: 0, randomInputs: true }],
    },
  ],
});

describe('suiteReportText', () => {
  it('says the comparison cosine is on random inputs, not accuracy', () => {
    const text = suiteReportText(view({ scenario: 'comparison', profiles: [], unmeasured: [], comparison: comparison(0.78) }));
    expect(text).toContain('RANDOM inputs: not accuracy');
    expect(text).toMatch(/int8 +3\.000 +0\.600 +\[0\.550, 0\.650\] +0\.78000/);
    expect(text).not.toContain('accuracy on box');
  });

  it('prints the evaluation on real images: every metric and the worst cosine with CI and n, absent ones with the reason', () => {
    const text = suiteReportText(
      view({
        scenario: 'comparison',
        profiles: [],
        unmeasured: [],
        comparison: comparison(),
        evaluation: {
          datasetId: 'ds',
          datasetName: 'photos',
          task: 'detection',
          images: 9,
          labelledImages: 0,
          inputs: 'real images: dataset photos (9 of 13)',
          split: 'every 3rd held out',
          durationMs: 1,
          loadMs: 1,
          detectionLayout: 'yolox',
          variants: [
            { variant: 'fp32', sha256: '', reference: true, images: 9, fidelity: [], metrics: [{ metric: 'map50_agreement', value: 1, ci: ci(1, 1), images: 9, against: 'reference', reason: '' }], inferenceMs: 1, postprocessMs: 1, error: '' },
            {
              variant: 'int8',
              sha256: '',
              reference: false,
              images: 9,
              fidelity: [{ output: 'output', cosine: 0.984, cosineCi: ci(0.98, 0.99), maxAbsError: 0.1, inputs: 'real images', images: 9, randomInputs: false }],
              metrics: [
                { metric: 'map50_agreement', value: 0.97, ci: ci(0.93, 1), images: 9, against: 'reference', reason: '' },
                { metric: 'map50', images: 0, against: 'labels', reason: 'the dataset has no labels' },
              ],
              inferenceMs: 1,
              postprocessMs: 1,
              error: '',
            },
          ],
        },
      }),
    );
    expect(text).not.toContain('RANDOM inputs');
    expect(text).toContain('accuracy on box, real images: dataset photos (9 of 13) (9 images, 0 labelled; detection; every 3rd held out)');
    expect(text).toMatch(/int8 +map50_agreement 0\.970 \[0\.930, 1\.000\] \(n=9\), map50 n\/a \(the dataset has no labels\), cosine 0\.9840 \[0\.9800, 0\.9900\] \(n=9\)/);
    expect(text).toMatch(/fp32 +map50_agreement 1\.000 \[1\.000, 1\.000\] \(n=9\), cosine: reference/);
  });
});
