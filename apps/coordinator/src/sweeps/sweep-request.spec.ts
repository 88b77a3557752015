import { describe, expect, it } from 'vitest';
import { DomainError } from '../common/domain-error';
import { SCENARIO_REQUEST_DEFAULTS } from './scenario-request';
import { parseShapesText, parseSweepRequest, SWEEP_DEFAULTS } from './sweep-request';

function fieldOf(body: unknown): string | undefined {
  try {
    parseSweepRequest(body);
  } catch (err) {
    expect(err).toBeInstanceOf(DomainError);
    return (err as DomainError).field;
  }
  return undefined;
}

describe('parseSweepRequest', () => {
  it('applies the documented defaults', () => {
    expect(parseSweepRequest({})).toEqual({
      ...SCENARIO_REQUEST_DEFAULTS,
      variants: ['fp32', 'ort-basic'],
      targets: ['all'],
      threads: 0,
      warmupMinQueries: SWEEP_DEFAULTS.warmupMinQueries,
      warmupMinDurationMs: 500,
      minQueries: 100,
      minDurationMs: 2000,
      maxDurationMs: 60_000,
      seed: 0,
      evaluationImages: SWEEP_DEFAULTS.evaluationImages,
    });
  });

  it('takes multipart strings and JSON values alike', () => {
    const fromForm = parseSweepRequest({ variants: 'fp32, ort-basic', targets: 'a1,label:site=lab', threads: '2', minQueries: '5', shapes: 'x:1x3x48x192' });
    const fromJson = parseSweepRequest({ variants: ['fp32', 'ort-basic'], targets: ['a1', 'label:site=lab'], threads: 2, minQueries: 5, shapes: { x: [1, 3, 48, 192] } });
    expect(fromForm).toEqual(fromJson);
    expect(fromForm.shapes).toEqual({ x: [1, 3, 48, 192] });
  });

  it.each([
    [{ minDurationMs: 5000, maxDurationMs: 1000 }, 'minDurationMs'],
    [{ minQueries: 0 }, 'minQueries'],
    [{ threads: -1 }, 'threads'],
    [{ threads: '1.5' }, 'threads'],
    [{ seed: 2 ** 32 }, 'seed'],
    [{ shapes: 'x=1x3' }, 'shapes'],
    [{ shapes: { x: [1, 0] } }, 'shapes'],
    [{ variants: 3 }, 'variants'],
    [{ bogus: 1 }, 'bogus'],
    [{ name: '' }, 'name'],
  ])('refuses %j naming %s', (body, field) => {
    expect(fieldOf(body)).toBe(field);
  });

  it('lists every problem in one message', () => {
    try {
      parseSweepRequest({ threads: -1, seed: 'x' });
      expect.fail('should throw');
    } catch (err) {
      expect((err as Error).message).toMatch(/threads/);
      expect((err as Error).message).toMatch(/seed/);
    }
  });

  it.each<[Record<string, unknown>, number, number]>([
    [{}, 2000, 60_000],
    [{ maxDurationMs: 500 }, 500, 500],
    [{ maxDurationMs: '1500' }, 1500, 1500],
    [{ maxDurationMs: 5000 }, 2000, 5000],
    [{ minDurationMs: 100, maxDurationMs: 500 }, 100, 500],
    [{ minDurationMs: '', maxDurationMs: 300 }, 300, 300],
  ])('defaults minDurationMs to min(2000, maxDurationMs) (a short max alone used to be refused): %j', (body, min, max) => {
    expect(parseSweepRequest(body)).toMatchObject({ minDurationMs: min, maxDurationMs: max });
  });
});

describe('parseShapesText', () => {
  it.each([
    ['x:1x3x320x320', { x: [1, 3, 320, 320] }],
    ['a:1x2; b:3', { a: [1, 2], b: [3] }],
    ['ns:in:1x2', { 'ns:in': [1, 2] }],
    ['{"x":[1,2]}', { x: [1, 2] }],
  ])('%s', (text, expected) => expect(parseShapesText(text)).toEqual(expected));

  it.each(['x', 'x:', ':1x2', 'x:1x', 'x:1,x:2', '{bad'])('refuses %s', (text) => expect(typeof parseShapesText(text)).toBe('string'));
});
