// Version banners and trtexec --exportTimes against RECORDED-SHAPE FIXTURES, not live tools.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { recordedCommands } from '../fake-device.fixture';
import { parseTrtexecExportTimes, probeInstalledRuntimes, trtexecVersion } from './installed';

const fixture = (name: string): string => readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');

describe('installed external runtimes', () => {
  it('reads the TensorRT version from the plain line or the banner code (8.x and 10.x layouts)', () => {
    expect(trtexecVersion(fixture('trtexec-8.6-fp16.txt'))).toBe('8.6.1');
    expect(trtexecVersion('&&&& RUNNING TensorRT.trtexec [TensorRT v8601] # trtexec --help')).toBe('8.6.1');
    expect(trtexecVersion('&&&& RUNNING TensorRT.trtexec [TensorRT v100300] # trtexec --help')).toBe('10.3.0');
    expect(trtexecVersion('usage: trtexec')).toBe('');
  });

  it('lists every found tool, with an empty version when its banner cannot be read', async () => {
    const commands = recordedCommands({ '/opt/trt/trtexec --help': '&&&& RUNNING TensorRT.trtexec [TensorRT v8601] # trtexec --help\n', '/opt/ov/benchmark_app -h': new Error('exit 1') });
    const found = await probeInstalledRuntimes(commands, [{ tool: 'trtexec', path: '/opt/trt/trtexec' }, { tool: 'benchmark_app', path: '/opt/ov/benchmark_app' }]);
    expect(found).toEqual([{ tool: 'trtexec', version: '8.6.1', path: '/opt/trt/trtexec' }, { tool: 'benchmark_app', version: '', path: '/opt/ov/benchmark_app' }]);
  });

  it('takes latencyMs of every iteration from --exportTimes, skipping the count header', () => {
    const text = JSON.stringify([{ count: 2 }, { startH2DMs: 0, computeMs: 2.0, latencyMs: 2.1 }, { startH2DMs: 2.1, computeMs: 2.0, latencyMs: 2.2 }]);
    expect(parseTrtexecExportTimes(text)).toEqual([2.1, 2.2]);
  });

  it('refuses a malformed --exportTimes naming the entry', () => {
    expect(() => parseTrtexecExportTimes('{"latencyMs": 1}')).toThrow(/not a JSON array/);
    expect(() => parseTrtexecExportTimes('[{"computeMs": 1}]')).toThrow(/exportTimes\[0\]\.latencyMs/);
    expect(() => parseTrtexecExportTimes('[{"latencyMs": -1}]')).toThrow(/exportTimes\[0\]\.latencyMs/);
  });
});
