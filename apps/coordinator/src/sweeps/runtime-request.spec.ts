import { describe, expect, it } from 'vitest';
import { DomainError } from '../common/domain-error';
import { externalRuntimeOf, parseRuntimeText, RUNTIME_SETUP_ALLOWANCE_MS } from './runtime-request';
import { parseSweepRequest } from './sweep-request';

describe('runtime of a sweep', () => {
  it.each([
    ['trtexec', { tool: 'trtexec', precision: 'fp32' }],
    ['trtexec:fp16', { tool: 'trtexec', precision: 'fp16' }],
    [' trtexec : int8 : DLA0 ', { tool: 'trtexec', precision: 'int8', device: 'DLA0' }],
    ['benchmark_app:fp16:GPU', { tool: 'benchmark_app', precision: 'fp16', device: 'GPU' }],
  ])('parses %j', (text, expected) => {
    expect(parseRuntimeText(text)).toEqual(expected);
  });

  it.each([
    ['tensorrt:fp16', /tool "tensorrt" is not one of trtexec, benchmark_app, benchmark_model/],
    ['trtexec:fp8', /precision "fp8"/],
    ['trtexec:fp16:GPU', /only DLA0 or DLA1/],
    ['benchmark_model', /\.tflite/],
    ['trtexec:fp16:DLA0:x', /tool\[:precision\[:device\]\]/],
  ])('refuses %j', (text, message) => {
    expect(parseRuntimeText(text)).toMatch(message);
  });

  it('POST /sweeps: runtime is validated, naming the field, and accepted as text or object', () => {
    expect(parseSweepRequest({ runtime: 'trtexec:fp16' }).runtime).toEqual({ tool: 'trtexec', precision: 'fp16' });
    expect(parseSweepRequest({ runtime: { tool: 'benchmark_app', device: 'CPU' } }).runtime).toEqual({ tool: 'benchmark_app', precision: 'fp32', device: 'CPU' });
    expect(parseSweepRequest({}).runtime).toBeUndefined();
    for (const body of [{ runtime: 'trtexec:fp8' }, { runtime: 42 }, { runtime: 'trtexec', scenario: 'offline' }]) {
      const err = (() => {
        try {
          parseSweepRequest(body);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err).toBeInstanceOf(DomainError);
      expect(err).toMatchObject({ code: 'invalid_argument', field: 'runtime' });
    }
  });

  it('a job measures for minDurationMs (whole seconds, at least 1) and is killed after maxDurationMs plus the engine-build allowance', () => {
    expect(externalRuntimeOf({ tool: 'trtexec', precision: 'fp16' }, 600, 20_000)).toEqual({ tool: 'trtexec', precision: 'fp16', device: '', durationSeconds: 1, timeoutMs: 20_000 + RUNTIME_SETUP_ALLOWANCE_MS });
    expect(externalRuntimeOf({ tool: 'benchmark_app', precision: 'fp32', device: 'GPU' }, 2_500, 60_000).durationSeconds).toBe(3);
  });
});
