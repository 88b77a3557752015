// The execution-provider probe process: loads onnxruntime-node (kept out of the agent's own
// process, whose idle footprint stays small), and for every provider onnxruntime lists,
// creates a session on a tiny model with only that provider and runs it once. Reports one
// IPC message per provider as it goes, so a provider that hangs costs only its own entry.
import { sendToParent } from '@benchfarm/isolate';
import * as ort from 'onnxruntime-node';
import { TINY_MODEL_BASE64 } from './tiny-model';

type Send = (message: unknown) => Promise<void>;

async function main(): Promise<void> {
  // Awaited: a message still queued when the process exits would be lost.
  const send: Send = sendToParent;
  const listed = ort.listSupportedBackends().map((b) => b.name);
  await send({ type: 'listed', providers: listed, onnxruntimeVersion: ort.env.versions.common ?? 'unknown' });
  const model = Buffer.from(TINY_MODEL_BASE64, 'base64');
  for (const provider of listed) {
    try {
      const session = await ort.InferenceSession.create(model, { executionProviders: [provider], graphOptimizationLevel: 'disabled' });
      const x = new ort.Tensor('float32', Float32Array.from([1, 1, 1, 1]), [1, 4]);
      const out = await session.run({ X: x });
      const y = Array.from(out.Y?.data as Float32Array);
      // Y = X + [1, 2, 3, 4]: a provider that runs but computes nonsense does not count.
      if (y.join(',') !== '2,3,4,5') throw new Error(`wrong output ${y.join(',')}`);
      await session.release();
      await send({ type: 'probed', provider, ok: true });
    } catch (err) {
      await send({ type: 'probed', provider, ok: false, reason: (err instanceof Error ? err.message : String(err)).split('\n')[0]?.slice(0, 300) ?? '' });
    }
  }
}

// Never outlive the agent: a provider hanging in native code must not keep this process.
process.once('disconnect', () => process.exit(2));
main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${String(err)}\n`);
    process.exit(1);
  },
);
