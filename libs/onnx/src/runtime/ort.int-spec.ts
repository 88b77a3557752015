import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidModelError, checkLoadsInOrt, checkLoadsInOrtIsolated, fixInputShapes, prepareDefaultModel, writeModel, type DefaultModel } from '../index';
import { seededRandom, tinyAddModel } from '../tiny-model.fixture';

/** Pids of this process's children running the ORT child entry (Linux /proc). */
function ortChildren(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid && readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('ort.child.ts')) pids.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

async function refusal(promise: Promise<unknown>): Promise<InvalidModelError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InvalidModelError);
  return err as InvalidModelError;
}

describe('onnxruntime load checks', () => {
  let dir: string;
  let det: DefaultModel;
  const file = (name: string, bytes: Uint8Array | string): string => {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    return path;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bf-onnx-ort-'));
    det = await prepareDefaultModel(join(dir, 'cache'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loads the fixed PaddleOCR detector, in process and in a child', async () => {
    const expected = { inputNames: ['x'], outputNames: ['sigmoid_0.tmp_0'] };
    expect(await checkLoadsInOrt(det.path)).toEqual(expected);
    expect(await checkLoadsInOrtIsolated(det.path)).toEqual(expected);
  });

  it('refuses a garbage file clearly from the child', async () => {
    const random = seededRandom(1);
    const garbage = file('garbage.onnx', Uint8Array.from({ length: 10_000 }, () => Math.floor(random() * 256)));
    const err = await refusal(checkLoadsInOrtIsolated(garbage));
    expect(err.code).toBe('not_onnx');
    expect(err.message).toMatch(/not an ONNX model/);
  });

  it("maps ORT's refusal to ort_load_failed with ORT's message", async () => {
    const path = file('unknown-op.onnx', writeModel(tinyAddModel({ opType: 'NoSuchOp' })));
    for (const err of [await refusal(checkLoadsInOrt(path)), await refusal(checkLoadsInOrtIsolated(path))]) {
      expect(err.code).toBe('ort_load_failed');
      expect(err.message).toMatch(/NoSuchOp/);
    }
  });

  it('refuses external data that escapes the folder before ORT opens it', async () => {
    const path = file('traversal.onnx', writeModel(tinyAddModel({ externalLocation: '../../etc/passwd' })));
    const err = await refusal(checkLoadsInOrtIsolated(path));
    expect(err.code).toBe('external_data_traversal');
    expect(err.field).toBe('graph.initializer["W"].external_data.location');
  });

  it('turns a child that does not answer in time into ort_load_failed', async () => {
    const err = await refusal(checkLoadsInOrtIsolated(det.path, { timeoutMs: 1 }));
    expect(err.code).toBe('ort_load_failed');
    expect(err.message).toMatch(/did not finish within 1 ms/);
  });

  it.skipIf(process.platform !== 'linux')('turns a child killed by SIGSEGV (as ORT has crashed on fuzzed models) into ort_load_failed', async () => {
    const pending = checkLoadsInOrtIsolated(det.path);
    let children: number[] = [];
    for (let tries = 0; children.length === 0 && tries < 200; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      children = ortChildren();
    }
    for (const pid of children) process.kill(pid, 'SIGSEGV');
    const err = await refusal(pending);
    expect(err.code).toBe('ort_load_failed');
    expect(err.message).toMatch(/crashed \(SIGSEGV\)/);
  });

  it('runs a model with the shapes fixed in the protobuf', async () => {
    const { model } = fixInputShapes(tinyAddModel({ inputDims: ['batch', 4] }), { X: [3, 4] });
    const session = await ort.InferenceSession.create(writeModel(model));
    try {
      const meta = session.inputMetadata[0];
      expect(meta?.isTensor && meta.shape).toEqual([3, 4]);
      const out = await session.run({ X: new ort.Tensor('float32', new Float32Array(12), [3, 4]) });
      expect(Array.from(out.Y?.data as Float32Array).slice(0, 4)).toEqual([1, 2, 3, 4]);
    } finally {
      await session.release();
    }
  });
});
