// The health check's process: builds the reference model (libs/suite), opens an onnxruntime
// session on it and runs it once on its fixed input, like a suite process runs a job's model,
// then sends the outputs to the agent and exits. One check per process, so a check sees the
// device as the next job will: a fresh process loading onnxruntime's native library.
// Started by runHealthCheck (health-check.ts) with runIsolated; answers HealthChildOutputs, or
// throws, over IPC.
import * as ort from 'onnxruntime-node';
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { serveIsolated } from '@benchfarm/isolate';
import { referenceModel } from '@benchfarm/suite';
import type { HealthChildOutputs } from './health-check';

async function check(): Promise<HealthChildOutputs> {
  const ref = referenceModel();
  const sha256 = createHash('sha256').update(ref.bytes).digest('hex');
  const opened = performance.now();
  const session = await ort.InferenceSession.create(ref.bytes, { executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1 });
  const sessionCreationMs = performance.now() - opened;
  const started = performance.now();
  const out = await session.run({ [ref.inputName]: new ort.Tensor('float32', ref.input, [...ref.inputShape]) });
  const inferenceMs = performance.now() - started;
  const tensor = out[ref.outputName];
  if (!tensor) throw new Error(`the reference model produced no ${ref.outputName} output (got ${Object.keys(out).join(', ') || 'none'})`);
  const values = Array.from(tensor.data as Float32Array, Number);
  await session.release();
  return { type: 'outputs', sha256, values, dims: tensor.dims.map(Number), sessionCreationMs, inferenceMs, onnxruntimeVersion: ort.env.versions.common };
}

serveIsolated(check);
