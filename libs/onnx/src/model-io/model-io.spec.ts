import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidModelError, assertSafeExternalData, defaultModelSourcePath, onnx, readModel, writeModel, type InvalidModelCode } from '../index';
import { seededRandom, tinyAddModel } from '../tiny-model.fixture';

function refusal(fn: () => unknown): InvalidModelError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidModelError);
    return err as InvalidModelError;
  }
  throw new Error('expected an InvalidModelError');
}

async function asyncRefusal(promise: Promise<unknown>): Promise<InvalidModelError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InvalidModelError);
  return err as InvalidModelError;
}

const encode = (props: Parameters<typeof onnx.ModelProto.create>[0]) => onnx.ModelProto.encode(onnx.ModelProto.create(props)).finish();

describe('readModel', () => {
  it.each([
    ['an empty file', new Uint8Array(), 'not_onnx', ''],
    ['a text file', new TextEncoder().encode('hello, this is not a model\n'), 'not_onnx', ''],
    ['a JSON file', new TextEncoder().encode(JSON.stringify({ irVersion: 8, graph: { node: [] } })), 'not_onnx', ''],
    ['a protobuf without ir_version', encode({ opsetImport: [{ domain: '', version: 13 }], graph: tinyAddModel().graph }), 'not_onnx', 'ir_version'],
    ['a protobuf without graph', encode({ irVersion: 8, opsetImport: [{ domain: '', version: 13 }] }), 'no_graph', 'graph'],
    ['a protobuf without opset_import', encode({ irVersion: 8, graph: tinyAddModel().graph }), 'unsupported_opset', 'opset_import'],
    ['an ai.onnx opset onnxruntime does not implement', encode({ irVersion: 3, opsetImport: [{ domain: '', version: 6 }], graph: tinyAddModel().graph }), 'unsupported_opset', 'opset_import[0].version'],
    ['a graph without outputs', encode({ irVersion: 8, opsetImport: [{ domain: '', version: 13 }], graph: { ...tinyAddModel().graph, output: [] } }), 'no_graph', 'graph.output'],
    [
      'a node from an undeclared domain',
      encode({ irVersion: 8, opsetImport: [{ domain: '', version: 13 }], graph: { ...tinyAddModel().graph, node: [{ opType: 'FusedConv', domain: 'com.microsoft', input: ['X'], output: ['Y'] }] } }),
      'unsupported_opset',
      'graph.node[0].domain',
    ],
  ] as const)('refuses %s', (_what, bytes, code: InvalidModelCode, field) => {
    const err = refusal(() => readModel(bytes));
    expect(err.code).toBe(code);
    expect(err.field).toBe(field);
    expect(err.name).toBe('InvalidModelError');
  });

  it.each([
    ['long', 4096],
    ['short', 12],
  ])('refuses %s random byte strings, whether or not protobufjs decodes them', (_what, maxLength) => {
    const random = seededRandom(maxLength);
    let decodedByProtobufjs = 0;
    for (let i = 0; i < 1000; i++) {
      const bytes = Uint8Array.from({ length: 1 + Math.floor(random() * maxLength) }, () => Math.floor(random() * 256));
      const err = refusal(() => readModel(bytes));
      // A random string can decode into a plausible ir_version and nothing else: that is `no_graph`.
      expect(['not_onnx', 'no_graph', 'unsupported_opset']).toContain(err.code);
      if (!err.message.includes('not a protobuf')) decodedByProtobufjs++;
    }
    // Short random strings often decode "successfully": only the structure check refuses those.
    if (maxLength < 100) expect(decodedByProtobufjs).toBeGreaterThan(10);
  });

  it('either refuses a fuzzed model or returns one with the structure of ONNX', () => {
    const random = seededRandom(7);
    const original = writeModel(tinyAddModel());
    for (let i = 0; i < 1000; i++) {
      const bytes = Uint8Array.from(original);
      for (let flips = 1 + Math.floor(random() * 4); flips > 0; flips--) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
      try {
        const model = readModel(bytes);
        expect(model.graph?.output?.length).toBeGreaterThan(0);
      } catch (err) {
        expect(err).toBeInstanceOf(InvalidModelError);
      }
    }
  });

  it('reads the real PaddleOCR detector, and writes the same bytes each time', () => {
    const model = readModel(readFileSync(defaultModelSourcePath()));
    expect(model.graph?.input?.[0]?.name).toBe('x');
    const once = writeModel(model);
    expect(Buffer.from(writeModel(readModel(once))).equals(Buffer.from(once))).toBe(true);
  });
});

describe('assertSafeExternalData', () => {
  let dir: string;
  let outside: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'bf-onnx-ext-'));
    outside = mkdtempSync(join(tmpdir(), 'bf-onnx-outside-'));
    mkdirSync(join(dir, 'weights'));
    writeFileSync(join(dir, 'weights', 'w.bin'), Buffer.alloc(16));
    writeFileSync(join(outside, 'secret.bin'), Buffer.alloc(16));
    symlinkSync(join(outside, 'secret.bin'), join(dir, 'link.bin'));
    symlinkSync(outside, join(dir, 'linkdir'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });

  it('accepts a model without external data, and a location inside its folder', async () => {
    await assertSafeExternalData(tinyAddModel(), dir);
    await assertSafeExternalData(tinyAddModel({ externalLocation: 'weights/w.bin' }), dir);
  });

  it.each([
    ['a ../ traversal', '../../etc/passwd'],
    ['an absolute path', '/etc/passwd'],
    ['a Windows absolute path', 'C:\\Windows\\win.ini'],
    ['a backslash traversal', 'weights\\..\\..\\x'],
    ['a symlink to a file outside', 'link.bin'],
    ['a path through a symlinked folder', 'linkdir/secret.bin'],
  ])('refuses %s', async (_what, location) => {
    const err = await asyncRefusal(assertSafeExternalData(tinyAddModel({ externalLocation: location }), dir));
    expect(err.code).toBe('external_data_traversal');
    expect(err.field).toBe('graph.initializer["W"].external_data.location');
  });

  it('refuses a traversal hidden in a Constant node', async () => {
    const err = await asyncRefusal(assertSafeExternalData(tinyAddModel({ externalLocation: '../../etc/passwd', weightInConstant: true }), dir));
    expect(err.code).toBe('external_data_traversal');
    expect(err.field).toBe('graph.node["w"].attribute["value"].t.external_data.location');
  });

  it('refuses a missing external file and an empty location', async () => {
    expect((await asyncRefusal(assertSafeExternalData(tinyAddModel({ externalLocation: 'nope.bin' }), dir))).code).toBe('external_data_invalid');
    expect((await asyncRefusal(assertSafeExternalData(tinyAddModel({ externalLocation: '' }), dir))).code).toBe('external_data_invalid');
  });

  it('survives a write and read of the model (the traversal is in the bytes, not only the object)', async () => {
    const model = readModel(writeModel(tinyAddModel({ externalLocation: '../../etc/passwd' })));
    expect((await asyncRefusal(assertSafeExternalData(model, dir))).code).toBe('external_data_traversal');
  });
});
