// onnxruntime-node session options for one run configuration. Pure (types only from
// onnxruntime), so the coordinator side and tests can use it without the native library.
//
// What onnxruntime-node 1.30 honours, from its typings (onnxruntime-common
// inference-session.d.ts) and its binding (js/node/src/session_options_helper.cc): an
// execution provider is a name or `{name, deviceId}` for cuda, tensorrt and dml (the binding
// reads no other key for them, so TensorRT fp16/int8/workspace cannot be set through it, as
// docs VARIANTS.md says); there is no OpenVINO provider in the binding at all; threads,
// execution mode and graph level are plain session options.
import type { RunConfig } from '@benchfarm/protocol';
import type { InferenceSession } from 'onnxruntime-node';

/** The options to open a session with, or why this configuration cannot be opened as asked. */
export type ConfigSessionOptions = { ok: true; options: InferenceSession.SessionOptions } | { ok: false; reason: string };

/** Providers whose only option onnxruntime-node passes on is the device id. */
const DEVICE_ID_PROVIDERS = new Set(['cuda', 'tensorrt', 'dml']);

/**
 * Session options for a configuration: its execution provider (with `deviceId` where the
 * binding takes one), intra/inter-op threads (0 = left to onnxruntime, so the option is
 * omitted), execution mode and graph optimisation level. Batch size and concurrency are not
 * session options: the runner applies them.
 *
 * A provider option the binding would silently ignore (TensorRT fp16, int8, workspace_mb;
 * OpenVINO device_type; any option of another provider) gives `ok: false` with the reason, so
 * that no point is measured under a label it did not run with. Pure.
 */
export function sessionOptionsForConfig(config: Omit<RunConfig, 'id'>): ConfigSessionOptions {
  const name = config.executionProvider;
  const optionKeys = Object.keys(config.providerOptions).sort();
  let provider: InferenceSession.ExecutionProviderConfig = name;
  if (DEVICE_ID_PROVIDERS.has(name)) {
    const unsupported = optionKeys.filter((k) => k !== 'device_id');
    if (unsupported.length > 0) {
      return {
        ok: false,
        reason: `onnxruntime-node 1.30 passes only deviceId to the ${name} provider: ${unsupported.join(', ')} cannot be set through it${name === 'tensorrt' ? ' (TensorRT precision modes: measure them with the trtexec external runtime)' : ''}`,
      };
    }
    const deviceId = config.providerOptions['device_id'];
    if (deviceId !== undefined) {
      if (!/^\d{1,7}$/.test(deviceId)) return { ok: false, reason: `${name} device_id ${JSON.stringify(deviceId)} is not a whole number` };
      provider = { name, deviceId: Number(deviceId) } as InferenceSession.ExecutionProviderConfig;
    }
  } else if (optionKeys.length > 0) {
    return { ok: false, reason: `onnxruntime-node 1.30 takes no ${optionKeys.join(', ')} option for the ${name} provider` };
  }
  if (config.executionMode !== 'sequential' && config.executionMode !== 'parallel') {
    return { ok: false, reason: `execution mode ${JSON.stringify(config.executionMode)} is not sequential or parallel` };
  }
  const level = config.graphOptimizationLevel;
  if (level !== 'disabled' && level !== 'basic' && level !== 'extended' && level !== 'all') {
    return { ok: false, reason: `graph optimization level ${JSON.stringify(level)} is not disabled, basic, extended or all` };
  }
  return {
    ok: true,
    options: {
      executionProviders: [provider],
      executionMode: config.executionMode,
      graphOptimizationLevel: level,
      ...(config.intraOpThreads > 0 && { intraOpNumThreads: config.intraOpThreads }),
      ...(config.interOpThreads > 0 && { interOpNumThreads: config.interOpThreads }),
    },
  };
}
