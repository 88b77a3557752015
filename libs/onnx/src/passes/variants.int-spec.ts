import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { sharedYoloxModel } from '@benchfarm/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  InvalidModelError,
  ORT_VERSION,
  UnknownVariantError,
  VariantPassError,
  deriveVariant,
  inspectModel,
  prepareDefaultModel,
  readModel,
  sha256Hex,
  writeModel,
  type DerivedVariant,
  type VariantRegistry,
} from '../index';
import { seededRandom, syntheticTextImage, tinyAddModel } from '../tiny-model.fixture';

/**
 * Runs a model once and returns its first output. Optimizations are off, so that what runs is
 * the graph in the file: at the default level ORT would apply the same fusions to fp32 and
 * every variant would trivially give the same numbers.
 */
async function runOnce(path: string, inputName: string, input: ort.Tensor): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(path, { executionProviders: ['cpu'], graphOptimizationLevel: 'disabled' });
  try {
    const out = await session.run({ [inputName]: input });
    return out[session.outputNames[0] ?? '']?.data as Float32Array;
  } finally {
    await session.release();
  }
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
  return max;
}

const maxAbs = (a: Float32Array): number => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

describe('variants of real models', () => {
  let dir: string;
  let detPath: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bf-onnx-variants-'));
    detPath = (await prepareDefaultModel(join(dir, 'src'))).path;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const cases = [
    { model: 'PaddleOCR PP-OCRv4 det', source: () => detPath, inputName: 'x', shape: [1, 3, 320, 320], data: () => syntheticTextImage(320, 5) },
    {
      model: 'YOLOX-nano',
      // Fails naming ../shared/models when it is absent (SharedModelsMissingError), never skips.
      source: () => sharedYoloxModel(),
      inputName: 'images',
      shape: [1, 3, 416, 416],
      data: () => {
        const random = seededRandom(11);
        return Float32Array.from({ length: 3 * 416 * 416 }, () => random() * 255);
      },
    },
  ];

  for (const c of cases) {
    it(`derives fp32, ort-basic and ort-extended of ${c.model}; outputs stay close to fp32`, async () => {
      const outDir = join(dir, 'variants', c.inputName);
      const fp32 = await deriveVariant('fp32', c.source(), outDir);
      expect(fp32.sha256).toBe(sha256Hex(readFileSync(c.source())));
      expect(fp32.recipe).toEqual({ pass: 'identity', nodeCountBefore: fp32.recipe.nodeCountAfter, nodeCountAfter: fp32.recipe.nodeCountAfter });

      const input = new ort.Tensor('float32', c.data(), c.shape);
      const reference = await runOnce(fp32.path, c.inputName, input);

      const derived: DerivedVariant[] = [];
      for (const name of ['ort-basic', 'ort-extended'] as const) {
        const variant = await deriveVariant(name, fp32.path, outDir);
        derived.push(variant);
        expect(variant.sha256).not.toBe(fp32.sha256);
        expect(variant.path).toBe(join(outDir, `${variant.sha256}.onnx`));
        expect(variant.recipe).toMatchObject({ pass: 'ort-optimize', level: name.slice(4), provider: 'cpu', onnxruntime: ORT_VERSION });
        expect(Number(variant.recipe.nodeCountAfter)).toBeLessThan(Number(variant.recipe.nodeCountBefore));
        const output = await runOnce(variant.path, c.inputName, input);
        const diff = maxAbsDiff(output, reference);
        console.log(
          `${c.model} ${name}: nodes ${variant.recipe.nodeCountBefore} -> ${variant.recipe.nodeCountAfter} (${variant.recipe.opCountChanges}); ` +
            `${(fp32.sizeBytes / 1e6).toFixed(2)} MB -> ${(variant.sizeBytes / 1e6).toFixed(2)} MB; max |diff| vs fp32 ${diff.toExponential(2)} (max |fp32| ${maxAbs(reference).toFixed(3)})`,
        );
        expect(diff).toBeLessThanOrEqual(1e-4 * Math.max(1, maxAbs(reference)));
      }
      const [basic, extended] = derived;
      expect(basic?.recipe.portable).toBe('true');
      expect(extended?.recipe.portable).toBe('false');
      expect(basic?.sha256).not.toBe(extended?.sha256);
      const basicOps = Object.keys(inspectModel(readModel(readFileSync(basic?.path ?? ''))).opHistogram);
      expect(basicOps.some((op) => op.includes('::'))).toBe(false);
    });
  }

  it('derives ort-basic deterministically', async () => {
    const a = await deriveVariant('ort-basic', detPath, join(dir, 'det-a'), { isolated: false });
    const b = await deriveVariant('ort-basic', detPath, join(dir, 'det-b'), { isolated: false });
    expect(b.sha256).toBe(a.sha256);
  });
});

describe('deriveVariant checks', () => {
  let dir: string;
  let tiny: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'bf-onnx-derive-'));
    tiny = join(dir, 'tiny.onnx');
    writeFileSync(tiny, writeModel(tinyAddModel()));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const expectError = async <E extends Error>(promise: Promise<unknown>, type: new (...args: never[]) => E): Promise<E> => {
    const err = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(type);
    return err as E;
  };

  it('refuses an unknown variant, listing the known ones', async () => {
    const err = await expectError(deriveVariant('int4', tiny, dir), UnknownVariantError);
    expect(err.message).toMatch(/"int4".*fp32, ort-basic, ort-extended/);
  });

  it('refuses a source whose inputs are still dynamic', async () => {
    const dynamic = join(dir, 'dynamic.onnx');
    writeFileSync(dynamic, writeModel(tinyAddModel({ inputDims: ['batch', 4] })));
    const err = await expectError(deriveVariant('ort-basic', dynamic, dir, { isolated: false }), InvalidModelError);
    expect(err.code).toBe('invalid_shape');
    expect(err.field).toBe('graph.input.X');
  });

  it('refuses a pass whose output is its source again, or not ONNX, or has other inputs', async () => {
    const registry: VariantRegistry = {
      copy: { kind: 'file', description: 'a copy that claims to change the model', changesModel: true, derive: async (src, out) => (copyFileSync(src, out), {}) },
      garbage: { kind: 'file', description: 'writes text', changesModel: true, derive: async (_src, out) => (writeFileSync(out, 'not a model'), {}) },
      rename: {
        kind: 'model',
        description: 'renames the input',
        apply: (model) => {
          const copy = readModel(writeModel(model));
          const input = copy.graph?.input?.[0];
          if (input) input.name = 'renamed';
          for (const node of copy.graph?.node ?? []) node.input = (node.input ?? []).map((n) => (n === 'X' ? 'renamed' : n));
          return { model: copy, recipe: { pass: 'rename' } };
        },
      },
    };
    expect((await expectError(deriveVariant('copy', tiny, dir, { registry, isolated: false }), VariantPassError)).message).toMatch(/byte-identical/);
    expect((await expectError(deriveVariant('garbage', tiny, dir, { registry, isolated: false }), VariantPassError)).message).toMatch(/not an ONNX model/);
    expect((await expectError(deriveVariant('rename', tiny, dir, { registry, isolated: false }), VariantPassError)).message).toMatch(/changed the model's inputs/);
  });
});
