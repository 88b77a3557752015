// A table of run configurations and the onnxruntime-node session options they become. No GPU
// here: the GPU rows (cuda, tensorrt, dml) check the option objects onnxruntime-node 1.30's
// typings (onnxruntime-common inference-session.d.ts: {name, deviceId}) and its binding
// (session_options_helper.cc, which reads only deviceId for them) accept; a real CUDA session is
// opened only where a GPU machine runs the int-spec.
import type { RunConfig } from '@benchfarm/protocol';
import { describe, expect, it } from 'vitest';
import { BASELINE_SETTINGS, parseProviderSpec, settingsOf } from './config-space';
import { sessionOptionsForConfig } from './config-search.session-options';

const config = (provider: string, rest: Partial<Omit<RunConfig, 'id'>> = {}): Omit<RunConfig, 'id'> => {
  const spec = parseProviderSpec(provider);
  if (typeof spec === 'string') throw new Error(spec);
  return { ...BASELINE_SETTINGS, executionProvider: spec.name, providerOptions: spec.options, ...rest };
};

describe('sessionOptionsForConfig', () => {
  it.each([
    ['the baseline: cpu, threads left to onnxruntime (omitted), sequential, all', config('cpu'), { executionProviders: ['cpu'], executionMode: 'sequential', graphOptimizationLevel: 'all' }],
    [
      'threads and parallel mode',
      config('cpu', { intraOpThreads: 2, interOpThreads: 3, executionMode: 'parallel', graphOptimizationLevel: 'basic' }),
      { executionProviders: ['cpu'], executionMode: 'parallel', graphOptimizationLevel: 'basic', intraOpNumThreads: 2, interOpNumThreads: 3 },
    ],
    ['graph level disabled', config('cpu', { graphOptimizationLevel: 'disabled' }), { executionProviders: ['cpu'], executionMode: 'sequential', graphOptimizationLevel: 'disabled' }],
    ['cuda without options: the bare name', config('cuda'), { executionProviders: ['cuda'], executionMode: 'sequential', graphOptimizationLevel: 'all' }],
    ['cuda on device 1', config('cuda:device_id=1'), { executionProviders: [{ name: 'cuda', deviceId: 1 }], executionMode: 'sequential', graphOptimizationLevel: 'all' }],
    ['tensorrt on device 0', config('tensorrt:device_id=0', { intraOpThreads: 1 }), { executionProviders: [{ name: 'tensorrt', deviceId: 0 }], executionMode: 'sequential', graphOptimizationLevel: 'all', intraOpNumThreads: 1 }],
    ['dml on device 2', config('dml:device_id=2'), { executionProviders: [{ name: 'dml', deviceId: 2 }], executionMode: 'sequential', graphOptimizationLevel: 'all' }],
    ['a provider without options: passed by name (onnxruntime says whether it exists)', config('openvino'), { executionProviders: ['openvino'], executionMode: 'sequential', graphOptimizationLevel: 'all' }],
  ])('%s', (_name, settings, expected) => {
    expect(sessionOptionsForConfig(settings)).toEqual({ ok: true, options: expected });
  });

  it.each([
    ['tensorrt:fp16', /passes only deviceId to the tensorrt provider: fp16 cannot be set through it .*trtexec/],
    ['tensorrt:int8,workspace_mb=2048', /passes only deviceId to the tensorrt provider: int8, workspace_mb cannot be set/],
    ['tensorrt:device_id=1,fp16', /fp16 cannot be set/],
    ['openvino:device_type=GPU', /takes no device_type option for the openvino provider/],
  ])('refuses %s: the binding would ignore the option and the point would run under a false label', (provider, reason) => {
    const out = sessionOptionsForConfig(config(provider));
    expect(out.ok).toBe(false);
    if (!out.ok) expect(out.reason).toMatch(reason);
  });

  it('gives every point of a parsed space options (axes from text, as a job carries them)', () => {
    const settings = settingsOf({ provider: 'cuda:device_id=3', intra_op_threads: '4', execution_mode: 'parallel', inter_op_threads: '2', graph_optimization_level: 'extended' });
    expect(sessionOptionsForConfig(settings)).toEqual({
      ok: true,
      options: { executionProviders: [{ name: 'cuda', deviceId: 3 }], executionMode: 'parallel', graphOptimizationLevel: 'extended', intraOpNumThreads: 4, interOpNumThreads: 2 },
    });
  });

  it('names a bad mode or level instead of passing it on', () => {
    expect(sessionOptionsForConfig(config('cpu', { executionMode: 'fast' }))).toEqual({ ok: false, reason: 'execution mode "fast" is not sequential or parallel' });
    expect(sessionOptionsForConfig(config('cpu', { graphOptimizationLevel: 'layout' }))).toEqual({ ok: false, reason: 'graph optimization level "layout" is not disabled, basic, extended or all' });
  });
});
