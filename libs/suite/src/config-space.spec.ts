import { describe, expect, it } from 'vitest';
import {
  ConfigSpaceError,
  baselineConfig,
  checkDimensions,
  configId,
  configLabel,
  estimateSearch,
  expandSpace,
  narrowForDevice,
  parseDimensionsText,
  parseProviderSpec,
  providerSpecText,
  BASELINE_SETTINGS,
} from './config-space';

describe('provider specs', () => {
  it.each([
    ['cpu', 'cpu'],
    ['CUDA:device_id=01', 'cuda:device_id=1'],
    ['tensorrt:workspace_mb=2048,fp16', 'tensorrt:fp16,workspace_mb=2048'],
    ['openvino:device_type=GPU', 'openvino:device_type=GPU'],
  ])('%s -> %s', (text, canonical) => {
    const spec = parseProviderSpec(text);
    expect(typeof spec).toBe('object');
    expect(providerSpecText(spec as Exclude<typeof spec, string>)).toBe(canonical);
  });
  it.each([
    ['cpu:fp16', /unknown option "fp16" for cpu \(it takes no options\)/],
    ['tensorrt:fp16=0', /fp16 is a flag/],
    ['cuda:device_id=x', /device_id must be a whole number/],
    ['../x', /the name must be like/],
    ['tensorrt:fp16,fp16', /given twice/],
  ])('refuses %s', (text, message) => {
    expect(parseProviderSpec(text)).toMatch(message);
  });
});

describe('configuration ids and labels', () => {
  it('the same settings get the same id, option order aside; any setting changes it', () => {
    const a = configId({ ...BASELINE_SETTINGS, executionProvider: 'tensorrt', providerOptions: { fp16: '1', workspace_mb: '2048' } });
    const b = configId({ ...BASELINE_SETTINGS, executionProvider: 'tensorrt', providerOptions: { workspace_mb: '2048', fp16: '1' } });
    expect(a).toBe(b);
    expect(a).toMatch(/^c[0-9a-f]{10}$/);
    expect(configId({ ...BASELINE_SETTINGS, intraOpThreads: 2 })).not.toBe(configId(BASELINE_SETTINGS));
    expect(baselineConfig().id).toBe(configId(BASELINE_SETTINGS));
  });
  it('labels say the settings in a few words', () => {
    expect(configLabel(BASELINE_SETTINGS)).toBe('cpu t=default all');
    expect(configLabel({ ...BASELINE_SETTINGS, intraOpThreads: 4, executionMode: 'parallel', interOpThreads: 2, graphOptimizationLevel: 'basic', batchSize: 8, concurrency: 4 })).toBe('cpu t4 parallel i2 basic b8 c4');
  });
});

describe('dimensions', () => {
  it('parses the compact text form with aliases and provider options joined by +', () => {
    expect(parseDimensionsText('threads=1,2; level=basic,all;provider=cpu,tensorrt:fp16+workspace_mb=64')).toEqual({
      intra_op_threads: ['1', '2'],
      graph_optimization_level: ['basic', 'all'],
      provider: ['cpu', 'tensorrt:fp16,workspace_mb=64'],
    });
    expect(() => parseDimensionsText('colour=red')).toThrow(/unknown axis "colour"/);
    expect(() => parseDimensionsText('threads')).toThrow(ConfigSpaceError);
  });
  it('checks values and names the axis', () => {
    const axes = checkDimensions({ intra_op_threads: ['2', 1, '2', 'auto'], graph_optimization_level: ['all', 'basic'] }, 'single_stream');
    expect(axes).toEqual([
      { name: 'intra_op_threads', values: ['2', '1', 'auto'] },
      { name: 'graph_optimization_level', values: ['all', 'basic'] },
    ]);
    const err = (() => {
      try {
        checkDimensions({ intra_op_threads: ['0'] }, 'single_stream');
      } catch (e) {
        return e as ConfigSpaceError;
      }
      return undefined;
    })();
    expect(err?.field).toBe('dimensions.intra_op_threads');
    expect(err?.message).toMatch(/"0" is not a whole number from 1 to 256/);
    expect(() => checkDimensions({ batch_size: [1, 8] }, 'single_stream')).toThrow(/only the offline scenario/);
    expect(() => checkDimensions({ graph_optimization_level: ['fast'] }, 'single_stream')).toThrow(/"fast" is not one of disabled, basic, extended, all/);
    expect(() => checkDimensions({ provider: [] }, 'single_stream')).toThrow(/at least one value/);
  });
});

describe('narrowing to a device and expanding', () => {
  it('skips providers the device lacks and threads above its cores, with reasons; auto runs to the physical cores', () => {
    const axes = checkDimensions({ provider: ['cpu', 'cuda'], intra_op_threads: ['auto', '8'] }, 'single_stream');
    const narrowed = narrowForDevice(axes, { executionProviders: ['cpu'], logicalCores: 4, physicalCores: 2 });
    expect(narrowed.axes).toEqual([
      { name: 'provider', values: ['cpu'] },
      { name: 'intra_op_threads', values: ['1', '2'] },
    ]);
    expect(narrowed.skipped.map((s) => `${s.axis}=${s.value}: ${s.reason}`)).toEqual([
      'provider=cuda: this device cannot create a cuda session (it reports cpu)',
      "intra_op_threads=8: 8 threads exceed this device's 4 logical cores",
    ]);
    const unknown = narrowForDevice(checkDimensions({ intra_op_threads: ['auto'] }, 'single_stream'), { executionProviders: ['cpu'], logicalCores: 3 });
    expect(unknown.axes[0]?.values).toEqual(['1', '2', '3']);
    expect(unknown.notes[0]).toMatch(/did not report its physical cores/);
  });
  it('crosses axes into points; inter-op threads without parallel mode are skipped as not a point', () => {
    const space = expandSpace(checkDimensions({ intra_op_threads: [1, 2], inter_op_threads: ['default', 2], execution_mode: ['sequential', 'parallel'] }, 'single_stream'));
    expect(space.points).toHaveLength(6);
    expect(space.skipped.map((s) => s.label)).toEqual(['cpu t1 i2 all', 'cpu t2 i2 all']);
    expect(space.skipped.every((s) => s.reason === 'inter_op_threads only applies in parallel execution mode')).toBe(true);
    expect(new Set(space.points.map((p) => p.id)).size).toBe(6);
    expect(expandSpace([{ name: 'provider', values: [] }]).points).toEqual([]);
  });
});

describe('estimateSearch', () => {
  it('grid counts every point per variant; quick its worst case; both add the confirmation', () => {
    const axes = checkDimensions({ intra_op_threads: [1, 2, 3], graph_optimization_level: ['basic', 'extended', 'all'], execution_mode: ['sequential', 'parallel'] }, 'single_stream');
    const grid = estimateSearch({ strategy: 'grid', axes, variants: 2, pointWarmupMs: 500, pointDurationMs: 2000, confirmRounds: 10 });
    expect(grid.points).toBe(18);
    expect(grid.measurements).toBe(36);
    // 36 x (1500 + 500 + 2000) + 2 x (3000 + 10 x 2 x 500)
    expect(grid.estimatedMs).toBe(36 * 4000 + 2 * 13000);
    const quick = estimateSearch({ strategy: 'quick', axes, variants: 2, pointWarmupMs: 500, pointDurationMs: 2000, confirmRounds: 10 });
    expect(quick.measurements).toBe(2 * Math.min(18, 1 + 3 * 5));
  });
});
