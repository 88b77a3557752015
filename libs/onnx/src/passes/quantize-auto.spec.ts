// int8-auto's option parsing, held-out split and task detection: pure logic.
import { describe, expect, it } from 'vitest';
import { VariantParamError } from '../errors';
import { DEFAULT_AUTO_OPTIONS, holdOutEveryThird, parseAutoParams, taskOfOutputs } from './quantize-auto';
import { resolveVariantPass } from './variants';

describe('parseAutoParams', () => {
  it('takes the defaults without options', () => {
    expect(parseAutoParams('int8-auto', undefined)).toEqual({ options: DEFAULT_AUTO_OPTIONS });
  });

  it('reads floor, metric, task, methods, refine, gain and the activation type', () => {
    const p = parseAutoParams('int8-auto', 'floor=0.97+metric=map50_agreement+task=detection+methods=minmax/entropy+refine=3+gain=measured+s8');
    expect(p.floorValue).toBe(0.97);
    expect(p.floorMetric).toBe('map50_agreement');
    expect(p.options).toMatchObject({ task: 'detection', methods: ['minmax', 'entropy'], refineTries: 3, gain: 'measured', activationType: 'int8' });
  });

  it.each([
    ['floor=1.5', /floor must be a number in \(0, 1\]/],
    ['floor=', /floor must be a number/],
    ['metric=map', /metric must be one of/],
    ['methods=kl', /methods must be/],
    ['refine=-1', /refine must be an integer/],
    ['gain=fast', /gain must be share or measured/],
    ['task=segmentation', /task must be one of/],
    ['metric=top1_agreement+task=detection', /needs task classification/],
    ['bogus', /unknown option "bogus"/],
    ['', /empty options/],
  ])('refuses %j naming the problem', (param, message) => {
    expect(() => parseAutoParams('int8-auto', param)).toThrow(VariantParamError);
    expect(() => parseAutoParams('int8-auto', param)).toThrow(message);
  });

  it('is in the variant registry with its options checked at parse time', () => {
    expect(resolveVariantPass('int8-auto').param).toBeUndefined();
    expect(resolveVariantPass('int8-auto:floor=0.9').param).toBe('floor=0.9');
    expect(() => resolveVariantPass('int8-auto:floor=2')).toThrow(/int8-auto.*floor/);
  });
});

describe('holdOutEveryThird', () => {
  it('holds out every 3rd item from the 2nd, as the coordinator splits datasets', () => {
    expect(holdOutEveryThird([0, 1, 2, 3, 4, 5, 6])).toEqual({ kept: [0, 2, 3, 5, 6], heldOut: [1, 4] });
    expect(holdOutEveryThird([0])).toEqual({ kept: [0], heldOut: [] });
  });
});

describe('taskOfOutputs', () => {
  it('detects a YOLOX output, a classifier and anything else', () => {
    expect(taskOfOutputs([[1, 3549, 8]], [416, 416])).toEqual({ task: 'detection', detectionLayout: 'yolox' });
    expect(taskOfOutputs([[1, 1000]], [224, 224])).toEqual({ task: 'classification' });
    expect(taskOfOutputs([[1, 1, 320, 320]], [320, 320])).toEqual({ task: 'fidelity' });
  });
});
