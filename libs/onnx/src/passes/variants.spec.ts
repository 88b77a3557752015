import { describe, expect, it } from 'vitest';
import { UnknownVariantError, VARIANT_PASSES, opHistogramDelta, parseVariantList } from '../index';

describe('parseVariantList', () => {
  it.each([
    ['fp32,ort-basic', ['fp32', 'ort-basic']],
    [' ort-extended , fp32 ', ['ort-extended', 'fp32']],
    ['fp32,,fp32,ort-basic,', ['fp32', 'ort-basic']],
  ])('parses %j', (list, expected) => {
    expect(parseVariantList(list)).toEqual(expected);
  });

  it('names the unknown variant and lists the known ones', () => {
    let caught: unknown;
    try {
      parseVariantList('fp32,int8-qdq,ort-basic');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(UnknownVariantError);
    const err = caught as UnknownVariantError;
    expect(err.name).toBe('UnknownVariantError');
    expect(err.variant).toBe('int8-qdq');
    expect(err.known).toEqual(Object.keys(VARIANT_PASSES));
    expect(err.message).toBe('unknown variant "int8-qdq"; known variants: fp32, ort-basic, ort-extended, fp16, int8-static, int8-auto, int8-dynamic, prune-l1, prune-channels');
  });

  it('refuses an empty list and names from a prototype', () => {
    expect(() => parseVariantList(' , ')).toThrow(UnknownVariantError);
    expect(() => parseVariantList('toString')).toThrow(/unknown variant "toString"/);
  });

  it('checks against the registry it is given', () => {
    expect(parseVariantList('mine', { mine: VARIANT_PASSES.fp32 })).toEqual(['mine']);
    expect(() => parseVariantList('fp32', { mine: VARIANT_PASSES.fp32 })).toThrow(/known variants: mine/);
  });
});

describe('opHistogramDelta', () => {
  it.each([
    [{ Conv: 2, Constant: 3 }, { Conv: 2 }, 'Constant -3'],
    [{ Conv: 2, Relu: 2 }, { 'com.microsoft::FusedConv': 2 }, 'Conv -2, Relu -2, com.microsoft::FusedConv +2'],
    [{ Add: 1 }, { Add: 1 }, ''],
  ])('summarises %j -> %j', (before, after, expected) => {
    expect(opHistogramDelta(before, after)).toBe(expected);
  });
});
