import { z } from 'zod';

/** External tools a sweep may ask for, by the name of their executable. */
export const EXTERNAL_TOOLS = ['trtexec', 'benchmark_app', 'benchmark_model'] as const;
/** An external tool's executable name. */
export type ExternalTool = (typeof EXTERNAL_TOOLS)[number];
/** Precisions the tools are asked to build / run in. */
export const RUNTIME_PRECISIONS = ['fp32', 'fp16', 'int8'] as const;

/** The external runtime a sweep runs its variants with instead of onnxruntime-node. */
export interface RuntimeRequest {
  tool: ExternalTool;
  precision: (typeof RUNTIME_PRECISIONS)[number];
  /** benchmark_app: CPU, GPU, NPU...; trtexec: DLA0 / DLA1; absent: the tool's default. */
  device?: string;
}

const DEVICE = /^[A-Za-z0-9_.:-]{1,32}$/;

/**
 * Parses `tool[:precision[:device]]` (`trtexec:fp16`, `benchmark_app:fp32:GPU`,
 * `trtexec:int8:DLA0`). Returns a message instead when the text is malformed.
 */
export function parseRuntimeText(text: string): RuntimeRequest | string {
  const [tool = '', precision = 'fp32', device, ...rest] = text.trim().split(':').map((p) => p.trim());
  if (rest.length > 0) return `${JSON.stringify(text)} is not "tool[:precision[:device]]"`;
  return checkRuntime({ tool, precision, ...(device === undefined || device === '' ? {} : { device }) });
}

function checkRuntime(value: { tool: string; precision: string; device?: string }): RuntimeRequest | string {
  if (!EXTERNAL_TOOLS.some((t) => t === value.tool)) return `tool ${JSON.stringify(value.tool)} is not one of ${EXTERNAL_TOOLS.join(', ')}`;
  if (!RUNTIME_PRECISIONS.some((p) => p === value.precision)) return `precision ${JSON.stringify(value.precision)} is not one of ${RUNTIME_PRECISIONS.join(', ')}`;
  // Every variant a sweep derives is ONNX; benchmark_model only runs .tflite files.
  if (value.tool === 'benchmark_model') return 'benchmark_model runs .tflite models, and every sweep variant is ONNX: use trtexec or benchmark_app';
  if (value.device !== undefined && !DEVICE.test(value.device)) return `device ${JSON.stringify(value.device)} is not a device name like GPU, CPU or DLA0`;
  if (value.tool === 'trtexec' && value.device !== undefined && !/^DLA[01]$/.test(value.device)) return `trtexec device ${JSON.stringify(value.device)}: only DLA0 or DLA1 (the GPU is the default)`;
  return { tool: value.tool as ExternalTool, precision: value.precision as RuntimeRequest['precision'], ...(value.device === undefined ? {} : { device: value.device }) };
}

/** The `runtime` field of POST /sweeps: the text form, or `{ tool, precision?, device? }` in a JSON body. */
export const runtimeField = z.preprocess(
  (value, ctx) => {
    if (value === undefined || value === null || (typeof value === 'string' && value.trim() === '')) return undefined;
    let parsed: RuntimeRequest | string;
    if (typeof value === 'string') parsed = parseRuntimeText(value);
    else if (typeof value === 'object' && !Array.isArray(value)) {
      const o = value as Record<string, unknown>;
      parsed =
        typeof o.tool !== 'string' || (o.precision !== undefined && typeof o.precision !== 'string') || (o.device !== undefined && typeof o.device !== 'string')
          ? 'must be { tool: string, precision?: string, device?: string }'
          : checkRuntime({ tool: o.tool, precision: (o.precision as string | undefined) ?? 'fp32', ...(o.device === undefined ? {} : { device: o.device as string }) });
    } else parsed = 'must be "tool[:precision[:device]]", e.g. "trtexec:fp16"';
    if (typeof parsed === 'string') {
      ctx.addIssue({ code: 'custom', message: parsed });
      return z.NEVER;
    }
    return parsed;
  },
  z.custom<RuntimeRequest>().optional(),
);

