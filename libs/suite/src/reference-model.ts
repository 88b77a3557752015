// The health check's reference model: a small deterministic ONNX graph built here, in code,
// with no onnxruntime and no download, so that the agent (which runs it in a fresh process with
// onnxruntime) and the coordinator (which may not load onnxruntime) agree on its bytes and can
// both compute its expected outputs in plain JavaScript.
//
// Y = Relu(X . W1 + B1) . W2 + B2, X [1,16], W1 [16,32], W2 [32,8], Y [1,8], float32, weights
// and input from a fixed seed. MatMul, Add and Relu have no approximations in onnxruntime's CPU
// kernels: its outputs differ from the float64 recomputation only by float32 rounding and
// summation order (about 1e-6 relative here).
import { createHash } from 'node:crypto';
import { mulberry32 } from '@benchfarm/numerics';
import { concat, field, utf8, varint } from './protobuf-writer';

/** Names the reference graph; a changed graph gets a new id (and digest). */
export const REFERENCE_MODEL_ID = 'benchfarm-reference-mlp-v1';

/**
 * How far an output may be from the float64 recomputation: |got - want| <= absolute +
 * relative * |want|. float32 MatMul over 16 and 32 terms with FMA and a different summation
 * order lands within about 1e-6 of the float64 value for outputs of magnitude ~1; 1e-4 leaves
 * two orders of magnitude for other CPU builds (ARM NEON, AVX-512 kernels) while a wrong
 * kernel, a corrupted weight or a broken runtime misses by far more. The absolute term covers
 * outputs near zero, where a relative bound alone would demand exactness.
 */
export const REFERENCE_TOLERANCE = { relative: 1e-4, absolute: 1e-5 } as const;

const SEED = 0x5eed_0001;
const IN = 16;
const HIDDEN = 32;
const OUT = 8;

/** The reference model with its input and expected output. */
export interface ReferenceModel {
  readonly id: string;
  /** The serialized ONNX ModelProto (IR 8, opset 13). */
  readonly bytes: Uint8Array;
  /** SHA-256 of `bytes`, lower-case hex. */
  readonly sha256: string;
  readonly inputName: string;
  readonly inputShape: readonly number[];
  /** The input fed to the model (float32 values). */
  readonly input: Float32Array;
  readonly outputName: string;
  readonly outputShape: readonly number[];
  /** Y computed in float64 from the float32 weights and input. */
  readonly expected: Float64Array;
}

/** How reported outputs compare with the expected ones. */
export type ReferenceComparison =
  | { ok: true; maxAbsDiff: number }
  | { ok: false; maxAbsDiff: number; reason: string };

let cached: ReferenceModel | undefined;

/** The reference model (built once per process; pure and deterministic). */
export function referenceModel(): ReferenceModel {
  cached ??= buildReferenceModel();
  return cached;
}

/**
 * Compares a run's outputs with the expected ones, within {@link REFERENCE_TOLERANCE}. The
 * reason names the count, the worst element and the largest difference.
 */
export function compareToReference(outputs: readonly number[]): ReferenceComparison {
  const { expected } = referenceModel();
  if (outputs.length !== expected.length) {
    return { ok: false, maxAbsDiff: Number.POSITIVE_INFINITY, reason: `outputs: ${outputs.length} values reported, the reference has ${expected.length}` };
  }
  let maxAbsDiff = 0;
  let worst = -1;
  let outside = 0;
  for (let i = 0; i < expected.length; i += 1) {
    const got = outputs[i] ?? Number.NaN;
    const want = expected[i] ?? 0;
    const diff = Number.isFinite(got) ? Math.abs(got - want) : Number.POSITIVE_INFINITY;
    if (diff > REFERENCE_TOLERANCE.absolute + REFERENCE_TOLERANCE.relative * Math.abs(want)) outside += 1;
    if (diff > maxAbsDiff || worst < 0) {
      maxAbsDiff = diff;
      worst = i;
    }
  }
  if (outside === 0) return { ok: true, maxAbsDiff };
  const got = outputs[worst] ?? Number.NaN;
  const want = expected[worst] ?? 0;
  return {
    ok: false,
    maxAbsDiff,
    reason: `outputs differ from the reference by ${formatDiff(maxAbsDiff)} (${outside} of ${expected.length} outside ${REFERENCE_TOLERANCE.absolute} + ${REFERENCE_TOLERANCE.relative} x |expected|; worst outputs[${worst}] = ${got}, expected ${want.toPrecision(8)})`,
  };
}

function formatDiff(diff: number): string {
  return Number.isFinite(diff) ? diff.toExponential(2) : String(diff);
}

function buildReferenceModel(): ReferenceModel {
  const random = mulberry32(SEED);
  // Values in [-scale, scale], rounded to float32 once: the model stores exactly these.
  const values = (count: number, scale: number): Float32Array => Float32Array.from({ length: count }, () => (random() * 2 - 1) * scale);
  const w1 = values(IN * HIDDEN, 0.5);
  const b1 = values(HIDDEN, 0.25);
  const w2 = values(HIDDEN * OUT, 0.5);
  const b2 = values(OUT, 0.25);
  const input = values(IN, 1);

  const hidden = new Float64Array(HIDDEN);
  for (let j = 0; j < HIDDEN; j += 1) {
    let sum = b1[j] ?? 0;
    for (let i = 0; i < IN; i += 1) sum += (input[i] ?? 0) * (w1[i * HIDDEN + j] ?? 0);
    hidden[j] = Math.max(0, sum);
  }
  const expected = new Float64Array(OUT);
  for (let k = 0; k < OUT; k += 1) {
    let sum = b2[k] ?? 0;
    for (let j = 0; j < HIDDEN; j += 1) sum += (hidden[j] ?? 0) * (w2[j * OUT + k] ?? 0);
    expected[k] = sum;
  }

  const graph = concat(
    node(['X', 'W1'], ['H0'], 'matmul1', 'MatMul'),
    node(['H0', 'B1'], ['H1'], 'add1', 'Add'),
    node(['H1'], ['H2'], 'relu', 'Relu'),
    node(['H2', 'W2'], ['Y0'], 'matmul2', 'MatMul'),
    node(['Y0', 'B2'], ['Y'], 'add2', 'Add'),
    field(2, 2, utf8('benchfarm_reference')),
    field(5, 2, tensor('W1', [IN, HIDDEN], w1)),
    field(5, 2, tensor('B1', [HIDDEN], b1)),
    field(5, 2, tensor('W2', [HIDDEN, OUT], w2)),
    field(5, 2, tensor('B2', [OUT], b2)),
    field(11, 2, valueInfo('X', [1, IN])),
    field(12, 2, valueInfo('Y', [1, OUT])),
  );
  const bytes = concat(
    field(1, 0, varint(8)), // ir_version
    field(2, 2, utf8('benchfarm')), // producer_name
    field(3, 2, utf8(REFERENCE_MODEL_ID)), // producer_version
    field(7, 2, graph),
    field(8, 2, concat(field(1, 2, utf8('')), field(2, 0, varint(13)))), // opset_import: ai.onnx 13
  );
  return {
    id: REFERENCE_MODEL_ID,
    bytes,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    inputName: 'X',
    inputShape: [1, IN],
    input,
    outputName: 'Y',
    outputShape: [1, OUT],
    expected,
  };
}

// The few ONNX messages above (field numbers from onnx.proto), written with our own protobuf
// writer: the bytes, and so the digest, depend on nothing but our code.

function node(inputs: string[], outputs: string[], name: string, opType: string): Uint8Array {
  return field(1, 2, concat(...inputs.map((i) => field(1, 2, utf8(i))), ...outputs.map((o) => field(2, 2, utf8(o))), field(3, 2, utf8(name)), field(4, 2, utf8(opType))));
}

function tensor(name: string, dims: number[], data: Float32Array): Uint8Array {
  const raw = new Uint8Array(data.length * 4);
  const view = new DataView(raw.buffer);
  data.forEach((v, i) => view.setFloat32(i * 4, v, true));
  // dims (1, int64), data_type (2) FLOAT = 1, name (8), raw_data (9, little-endian)
  return concat(...dims.map((d) => field(1, 0, varint(d))), field(2, 0, varint(1)), field(8, 2, utf8(name)), field(9, 2, raw));
}

function valueInfo(name: string, dims: number[]): Uint8Array {
  // ValueInfoProto{name 1, type 2: TypeProto{tensor_type 1: {elem_type 1, shape 2: {dim 1: {dim_value 1}}}}}
  const shape = concat(...dims.map((d) => field(1, 2, field(1, 0, varint(d)))));
  return concat(field(1, 2, utf8(name)), field(2, 2, field(1, 2, concat(field(1, 0, varint(1)), field(2, 2, shape)))));
}
