// The health check's process: builds the reference model (libs/suite), opens an onnxruntime
// session on it and runs it once on its fixed input, like a suite process runs a job's model,
// then sends the outputs to the agent and exits. One check per process, so a check sees the
// device as the next job will: a fresh process loading onnxruntime's native library.
// Started by runHealthCheck (health-check.ts) with fork(); speaks HealthChildRequest /
// HealthChildReply over IPC.
import * as ort from 'onnxruntime-node';
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { referenceModel } from '@benchfarm/suite';
import type { HealthChildReply } from './health-check';

const reply = (message: HealthChildReply): Promise<void> =>
  new Promise((resolve, reject) => {
    if (!process.send) {
      reject(new Error('the health check process was started without an IPC channel'));
      return;
    }
    process.send(message, undefined, undefined, (err: Error | null) => (err ? reject(err) : resolve()));
  });

async function check(): Promise<HealthChildReply> {
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

process.once('disconnect', () => process.exit(2));
process.once('message', () => {
  check().then(
    async (result) => {
      await reply(result);
      process.exit(0);
    },
    async (err: unknown) => {
      await reply({ type: 'error', message: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }).catch(() => undefined);
      process.exit(0);
    },
  );
});
