import { describe, expect, it } from 'vitest';
import { DomainErrorCode } from '../common/domain-error';
import { parseSweepRequest } from './sweep-request';

describe('sweep request: int8-static calibration fields', () => {
  it('takes a folder with a preset, or a config object sent as JSON text (multipart)', () => {
    expect(parseSweepRequest({ calibrationDir: ' /data/cal ', calibrationPreprocess: 'yolox' })).toMatchObject({ calibrationDir: '/data/cal', calibrationPreprocess: 'yolox' });
    const config = { resize: 'letterbox', channelOrder: 'RGB', scale: 0.00392156862745098 };
    expect(parseSweepRequest({ calibrationDir: '/data/cal', calibrationPreprocess: JSON.stringify(config) }).calibrationPreprocess).toEqual(config);
  });
  it('takes random calibration only as an explicit count', () => {
    expect(parseSweepRequest({ calibrationRandom: '8' }).calibrationRandom).toBe(8);
    expect(parseSweepRequest({}).calibrationRandom).toBeUndefined();
    expect(() => parseSweepRequest({ calibrationRandom: 0 })).toThrow(/calibrationRandom: must be >= 1/);
  });
  it('refuses a folder without preprocessing, and a folder together with random data, naming the field', () => {
    expect(() => parseSweepRequest({ calibrationDir: '/data/cal' })).toThrow(expect.objectContaining({ code: DomainErrorCode.InvalidArgument, field: 'calibrationPreprocess' }));
    expect(() => parseSweepRequest({ calibrationDir: '/data/cal', calibrationPreprocess: 'yolox', calibrationRandom: 4 })).toThrow(expect.objectContaining({ field: 'calibrationRandom' }));
  });
});
