import { describe, expect, it } from 'vitest';
import { DomainError } from '../common/domain-error';
import { CONFIG_SEARCH_DEFAULTS, dimensionsOf } from './config-search-request';
import { parseSweepRequest } from './sweep-request';

function refusal(body: unknown): { field: string | undefined; message: string } {
  try {
    parseSweepRequest(body);
  } catch (err) {
    expect(err).toBeInstanceOf(DomainError);
    return { field: (err as DomainError).field, message: (err as DomainError).message };
  }
  throw new Error(`accepted: ${JSON.stringify(body)}`);
}

describe('dimensions and search fields of POST /sweeps', () => {
  it('takes the object form, the compact text and its JSON text alike, with aliases resolved and defaults applied', () => {
    const fromObject = parseSweepRequest({ dimensions: { threads: [1, 2], level: ['basic', 'all'] } });
    const fromText = parseSweepRequest({ dimensions: 'threads=1,2;level=basic,all' });
    const fromJsonText = parseSweepRequest({ dimensions: '{"intra_op_threads":"1,2","graph_optimization_level":["basic","all"]}' });
    expect(fromObject.configSearch).toEqual({
      axes: [
        { name: 'intra_op_threads', values: ['1', '2'] },
        { name: 'graph_optimization_level', values: ['basic', 'all'] },
      ],
      strategy: CONFIG_SEARCH_DEFAULTS.search,
      budgetMinutes: 30,
      pointWarmupMs: 500,
      pointDurationMs: 2000,
      pointMinQueries: 10,
      confirmRounds: 10,
    });
    expect(fromText.configSearch).toEqual(fromObject.configSearch);
    expect(fromJsonText.configSearch).toEqual(fromObject.configSearch);
  });

  it('takes multipart texts for the search settings', () => {
    const request = parseSweepRequest({ dimensions: 'threads=auto', search: 'quick', budgetMinutes: '2.5', pointDurationMs: '800', pointWarmupMs: '0', pointMinQueries: '5', confirmRounds: '4' });
    expect(request.configSearch).toMatchObject({ strategy: 'quick', budgetMinutes: 2.5, pointDurationMs: 800, pointWarmupMs: 0, pointMinQueries: 5, confirmRounds: 4, axes: [{ name: 'intra_op_threads', values: ['auto'] }] });
  });

  it('leaves configSearch out without dimensions', () => {
    expect(parseSweepRequest({}).configSearch).toBeUndefined();
  });

  it.each<[string, Record<string, unknown>, string, RegExp]>([
    ['an unknown axis (text)', { dimensions: 'colour=red' }, 'dimensions', /unknown axis "colour"/],
    ['an unknown axis (object)', { dimensions: { colour: ['red'] } }, 'dimensions.colour', /unknown axis/],
    ['a bad thread count', { dimensions: 'threads=0,2' }, 'dimensions.intra_op_threads', /"0" is not a whole number from 1 to 256/],
    ['an unknown level', { dimensions: { level: ['fast'] } }, 'dimensions.graph_optimization_level', /"fast" is not one of disabled, basic, extended, all/],
    ['an unknown provider option', { dimensions: 'provider=tensorrt:fp8' }, 'dimensions.provider', /unknown option "fp8" for tensorrt/],
    ['an axis given twice under two names', { dimensions: { threads: [1], intra_op_threads: [2] } }, 'dimensions', /intra_op_threads given twice/],
    ['an empty axis', { dimensions: { threads: [] } }, 'dimensions.intra_op_threads', /at least one value/],
    ['batch outside offline', { dimensions: 'batch=1,8' }, 'dimensions.batch_size', /only the offline scenario/],
    ['not an object or text', { dimensions: [1, 2] }, 'dimensions', /must be an object of axis to values/],
    ['a strategy not known', { dimensions: 'threads=1', search: 'random' }, 'search', /must be one of grid, quick/],
    ['a budget of 0', { dimensions: 'threads=1', budgetMinutes: 0 }, 'budgetMinutes', /must be > 0/],
    ['a budget over a day', { dimensions: 'threads=1', budgetMinutes: 1441 }, 'budgetMinutes', /must be <= 1440/],
    ['a window too short', { dimensions: 'threads=1', pointDurationMs: 50 }, 'pointDurationMs', /must be >= 100/],
    ['one confirmation round', { dimensions: 'threads=1', confirmRounds: 1 }, 'confirmRounds', /must be >= 2/],
    ['a fractional min queries', { dimensions: 'threads=1', pointMinQueries: 2.5 }, 'pointMinQueries', /must be an integer/],
  ])('refuses %s, naming the field', (_case, body, field, message) => {
    const r = refusal(body);
    expect(r.field).toBe(field);
    expect(r.message).toMatch(message);
  });

  it.each(['search', 'budgetMinutes', 'pointWarmupMs', 'pointDurationMs', 'pointMinQueries', 'confirmRounds'])('refuses %s without dimensions, naming it', (field) => {
    const r = refusal({ [field]: field === 'search' ? 'quick' : 100 });
    expect(r.field).toBe(field);
    expect(r.message).toContain('this sweep has no dimensions');
  });

  it('refuses dimensions with an external runtime, naming runtime', () => {
    const r = refusal({ dimensions: 'threads=1,2', runtime: 'trtexec:fp16' });
    expect(r.field).toBe('runtime');
    expect(r.message).toContain('configuration search');
  });

  it('takes batch and concurrency axes in the offline scenario', () => {
    const request = parseSweepRequest({ scenario: 'offline', dimensions: 'batch=1,8;concurrency=1,2' });
    expect(request.configSearch?.axes.map((a) => a.name)).toEqual(['batch_size', 'concurrency']);
  });
});

describe('dimensionsOf', () => {
  it('keeps provider options in the text form (split by +) and in the object form', () => {
    expect(dimensionsOf('ep=cpu,tensorrt:fp16+workspace_mb=2048')).toEqual({ provider: ['cpu', 'tensorrt:fp16,workspace_mb=2048'] });
    expect(dimensionsOf({ ep: ['cpu', 'tensorrt:fp16,workspace_mb=2048'] })).toEqual({ provider: ['cpu', 'tensorrt:fp16,workspace_mb=2048'] });
  });

  it('says what is wrong with malformed JSON text', () => {
    expect(dimensionsOf('{"threads": [1,')).toBe('is not valid JSON');
  });
});
