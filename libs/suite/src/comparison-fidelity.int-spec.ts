// Fidelity on the agent: the comparison scenario, in a real suite process with real
// onnxruntime-node, reports each variant's outputs against the reference's on the same inputs.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Scenario, TensorDataType, type Summary } from '@benchfarm/protocol';
import { afterAll, describe, expect, it } from 'vitest';
import { runSuiteInChild, type SuiteChildEvent, type SuiteJob } from './index';

// Lazy, as the module-boundary rule wants for @benchfarm/onnx in this project.
const { deriveVariant, fixInputShapes, paddleOcrModelPath, readModelFile, writeModel } = await import('@benchfarm/onnx');

const dir = mkdtempSync(join(tmpdir(), 'bf-suite-fidelity-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('comparison scenario: fidelity against the reference', () => {
  it('gives fp16 a cosine close to 1 and a finite SNR, and the same file again an exact match', { timeout: 120_000 }, async () => {
    const fixed = join(dir, 'cls.onnx');
    writeFileSync(fixed, writeModel(fixInputShapes((await readModelFile(paddleOcrModelPath('cls'))).model, { x: [1, 3, 48, 192] }).model));
    const fp16 = await deriveVariant('fp16', fixed, dir, { isolated: false });
    const job: SuiteJob = {
      modelPath: fixed,
      inputs: [{ name: 'x', dataType: TensorDataType.TENSOR_DATA_TYPE_FLOAT32, shape: [1, 3, 48, 192] }],
      executionProvider: 'cpu',
      intraOpThreads: 1,
      interOpThreads: 1,
      suite: { scenario: Scenario.SCENARIO_SINGLE_STREAM, warmupMinQueries: 2, warmupMinDurationMs: 0, minQueries: 10, minDurationMs: 0, maxDurationMs: 20_000, seed: 11, scenarioOptions: { interleaveRounds: 2, roundMinQueries: 3 } as never },
      manifest: { variantSha256: 'f'.repeat(64), agentVersion: '0.0.0-test', batch: 1, modelSha256: 'e'.repeat(64) },
      comparison: [
        { variant: 'fp32', sha256: 'a'.repeat(64), modelPath: fixed },
        { variant: 'fp16', sha256: fp16.sha256, modelPath: fp16.path },
        { variant: 'same-again', sha256: 'b'.repeat(64), modelPath: fixed },
      ],
    } as SuiteJob;
    const events: SuiteChildEvent[] = [];
    await runSuiteInChild(job, { onEvent: (e) => events.push(e) });
    const last = events.at(-1);
    if (last?.type !== 'summary') throw new Error(`expected a summary, got ${JSON.stringify(last).slice(0, 800)}`);
    const summary: Summary = last.summary;
    const [reference, half, same] = summary.report?.comparison?.variants ?? [];
    expect(reference?.fidelity).toEqual([]);
    expect(half?.fidelity).toHaveLength(1);
    expect(half?.fidelity[0]?.cosine).toBeGreaterThan(0.999);
    expect(half?.fidelity[0]?.snrDb).toBeGreaterThan(20);
    expect(half?.fidelity[0]?.inputs).toMatch(/^random inputs: the suite's seeded inputs \(seed 11/);
    expect(half?.fidelity[0]).toMatchObject({ randomInputs: true, images: 0 });
    expect(same?.fidelity[0]).toMatchObject({ cosine: 1, maxAbsError: 0 });
    expect(same?.fidelity[0]?.snrDb).toBeUndefined();
  });
});
