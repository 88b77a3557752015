// Harness overhead per inference on a trivial model: the suite's single-stream loop
// (runSingleStream: two hrtime reads per query, sample storage, stop and progress checks)
// against a bare `await session.run(feeds)` loop, in ONE process on ONE session, so the
// only difference is the harness. The model is one Add (Y = X + W, X of shape [1, 4]) built
// with onnx-proto through libs/onnx, so session.run itself costs a few microseconds and any
// harness cost shows. Rounds alternate bare / harness / harness / bare ... so drift hits both.
//
//   npx tsx scripts/bench-overhead.ts [--rounds 10] [--queries 20000]
//
// Prints each round's mean per-inference time of both and the median added time per
// inference (harness - bare) in microseconds, with its min..max over rounds. Target <= 5 us.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { onnx, writeModel } from '@benchfarm/onnx';
import { median as medianOf } from '@benchfarm/numerics';
import { runSingleStream } from '@benchfarm/suite';
import * as ort from 'onnxruntime-node';

/** Y = X + W with X [1, 4] float32 and W = [1, 2, 3, 4]: the cheapest real graph onnxruntime runs. */
function trivialAddModel(): Uint8Array {
  const info = (name: string) =>
    onnx.ValueInfoProto.create({
      name,
      type: onnx.TypeProto.create({ tensorType: onnx.TypeProto.Tensor.create({ elemType: onnx.TensorProto.DataType.FLOAT, shape: onnx.TensorShapeProto.create({ dim: [1, 4].map((d) => onnx.TensorShapeProto.Dimension.create({ dimValue: d })) }) }) }),
    });
  const graph = onnx.GraphProto.create({
    name: 'trivial-add',
    node: [onnx.NodeProto.create({ name: 'add', opType: 'Add', input: ['X', 'W'], output: ['Y'] })],
    initializer: [onnx.TensorProto.create({ name: 'W', dims: [4], dataType: onnx.TensorProto.DataType.FLOAT, floatData: [1, 2, 3, 4] })],
    input: [info('X')],
    output: [info('Y')],
  });
  return writeModel(onnx.ModelProto.create({ irVersion: 8, producerName: 'benchfarm-bench', opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: 13 })], graph }));
}

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '10' }, queries: { type: 'string', default: '20000' } } });
const rounds = Number(values.rounds);
const queries = Number(values.queries);

const dir = mkdtempSync(join(os.tmpdir(), 'bench-overhead-'));
const modelPath = join(dir, 'add.onnx');
writeFileSync(modelPath, trivialAddModel());
const session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: 1, interOpNumThreads: 1 });
const feeds = { X: new ort.Tensor('float32', Float32Array.of(0.1, 0.2, 0.3, 0.4), [1, 4]) };

async function bareUs(): Promise<number> {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < queries; i++) await session.run(feeds);
  return Number(process.hrtime.bigint() - t0) / 1e3 / queries;
}

async function harnessUs(): Promise<number> {
  // Wall time of the measured phase over its queries: everything the harness does per query
  // counts, exactly as it would in a job.
  const run = await runSingleStream(session, feeds, { warmupMinQueries: 0, warmupMinDurationMs: 0, minQueries: queries, minDurationMs: 0, maxDurationMs: 600_000, initialCapacity: queries });
  return (run.measuredDurationMs * 1e3) / run.count;
}

for (let i = 0; i < 2000; i++) await session.run(feeds); // warm the session and the JIT
const added: number[] = [];
console.log(`load before: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}; ${os.cpus()[0]?.model ?? '?'} x${os.availableParallelism()}; node ${process.version}; onnxruntime-node ${ort.env.versions.node ?? '?'}`);
console.log('round  bare us/inf  harness us/inf  added us');
for (let r = 0; r < rounds; r++) {
  let bare: number;
  let harness: number;
  if (r % 2 === 0) {
    bare = await bareUs();
    harness = await harnessUs();
  } else {
    harness = await harnessUs();
    bare = await bareUs();
  }
  added.push(harness - bare);
  console.log(`${String(r + 1).padStart(5)}  ${bare.toFixed(3).padStart(11)}  ${harness.toFixed(3).padStart(14)}  ${(harness - bare).toFixed(3).padStart(8)}`);
}
console.log(`median added per inference: ${medianOf(added).toFixed(3)} us (min ${Math.min(...added).toFixed(3)}, max ${Math.max(...added).toFixed(3)}) over ${rounds} rounds x ${queries} queries; target <= 5 us`);
console.log(`load after: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
await session.release();
rmSync(dir, { recursive: true, force: true });
