import { describe, expect, it } from 'vitest';
import { DomainErrorCode } from '../common/domain-error';
import { parseSweepRequest } from './sweep-request';

describe('sweep request: int8-static calibration fields', () => {
  it('takes a folder with a preset, or a config object sent as JSON text (multipart)', () => {
    expect(parseSweepRequest({ variants: 'int8-static', calibrationDir: ' /data/cal ', calibrationPreprocess: 'yolox' })).toMatchObject({ calibrationDir: '/data/cal', calibrationPreprocess: 'yolox' });
    const config = { resize: 'letterbox', channelOrder: 'RGB', scale: 0.00392156862745098 };
    expect(parseSweepRequest({ variants: 'int8-static', calibrationDir: '/data/cal', calibrationPreprocess: JSON.stringify(config) }).calibrationPreprocess).toEqual(config);
  });
  it('takes random calibration only as an explicit count', () => {
    expect(parseSweepRequest({ variants: 'int8-static', calibrationRandom: '8' }).calibrationRandom).toBe(8);
    expect(parseSweepRequest({}).calibrationRandom).toBeUndefined();
    expect(() => parseSweepRequest({ variants: 'int8-static', calibrationRandom: 0 })).toThrow(/calibrationRandom: must be >= 1/);
  });
  it.each([
    ['calibrationDir', { calibrationDir: '/data/cal', calibrationPreprocess: 'yolox' }],
    ['calibrationRandom', { calibrationRandom: 4 }],
    ['calibrationPreprocess', { calibrationPreprocess: 'yolox' }],
  ])('refuses %s without a variant that calibrates (it used to be ignored), naming the field', (field, fields) => {
    expect(() => parseSweepRequest({ variants: 'fp32,ort-basic', ...fields })).toThrow(expect.objectContaining({ code: DomainErrorCode.InvalidArgument, field }));
    expect(() => parseSweepRequest(fields)).toThrow(/only int8-static and int8-auto calibrate/);
    for (const variants of ['int8-static:entropy', 'fp32, int8-auto:floor=0.97', ['fp32', 'int8-auto']]) expect(parseSweepRequest({ variants, ...fields })).toMatchObject(fields);
  });
  it('refuses a folder without preprocessing, and a folder together with random data, naming the field', () => {
    expect(() => parseSweepRequest({ variants: 'int8-static', calibrationDir: '/data/cal' })).toThrow(expect.objectContaining({ code: DomainErrorCode.InvalidArgument, field: 'calibrationPreprocess' }));
    expect(() => parseSweepRequest({ variants: 'int8-static', calibrationDir: '/data/cal', calibrationPreprocess: 'yolox', calibrationRandom: 4 })).toThrow(expect.objectContaining({ field: 'calibrationRandom' }));
  });
});
