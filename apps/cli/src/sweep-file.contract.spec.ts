import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SWEEP_FIELD_DOCS, sweepRequestSchema, type SweepField } from '@benchfarm/contract';
import { loadSweepFile, SWEEP_FILE_FIELDS } from './sweep-file';

const dir = mkdtempSync(join(tmpdir(), 'bf-sweepfile-contract-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const jsonFile = (name: string, body: unknown): string => {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(body));
  return path;
};

/** What the coordinator's field schema makes of a value the CLI sends as a multipart text field. */
const serverReads = (field: SweepField, sent: string | number | boolean) => sweepRequestSchema.shape[field].safeParse(String(sent));

/**
 * The sweep file against the REST contract: its keys are the request schema's, so a
 * field added to the server is accepted from a file, and what the file sends as text the
 * coordinator's own field schema reads back.
 */
describe('the sweep file takes every field of POST /sweeps', () => {
  const fields = Object.keys(sweepRequestSchema.shape) as SweepField[];

  it('has exactly the request fields but modelPath (the CLI uploads the model)', () => {
    expect([...SWEEP_FILE_FIELDS].sort()).toEqual(fields.filter((f) => f !== 'modelPath').sort());
  });

  it.each(fields.filter((f) => f !== 'modelPath'))('%s: accepts the documented example (and text form) and sends a text the coordinator reads', async (field) => {
    const doc = SWEEP_FIELD_DOCS[field];
    for (const [i, value] of [doc.example, ...(doc.text === undefined ? [] : [doc.text])].entries()) {
      const settings = await loadSweepFile(jsonFile(`${field}-${i}.json`, { [field]: value }));
      const sent = settings[field];
      expect(sent, `${field} = ${JSON.stringify(value)}`).toBeDefined();
      const read = serverReads(field, sent!);
      expect(read.success ? [] : read.error.issues, `${field} sent as ${JSON.stringify(sent)}`).toEqual([]);
    }
  });

  it('takes the calibration fields and own variants (once absent from the sweep file)', async () => {
    const settings = await loadSweepFile(
      jsonFile('calibration.json', { variants: ['fp32', 'int8-static'], calibrationDir: '/lab/cal', calibrationPreprocess: { resize: 'letterbox', scale: 1 }, ownVariants: { qat: '/models/qat.onnx' } }),
    );
    expect(settings).toEqual({ variants: 'fp32,int8-static', calibrationDir: '/lab/cal', calibrationPreprocess: '{"resize":"letterbox","scale":1}', ownVariants: '{"qat":"/models/qat.onnx"}' });
    expect(await loadSweepFile(jsonFile('random.json', { variants: 'int8-static', calibrationRandom: 16 }))).toEqual({ variants: 'int8-static', calibrationRandom: 16 });
  });

  it('sends runtime given as an object in its text form', async () => {
    expect(await loadSweepFile(jsonFile('runtime.json', { runtime: { tool: 'benchmark_app', device: 'GPU' } }))).toEqual({ runtime: 'benchmark_app:fp32:GPU' });
  });

  it.each([
    ['modelPath', { modelPath: '/models/a.onnx' }, /unknown key\(s\) "modelPath"/],
    ['a bad calibrationRandom', { calibrationRandom: 0 }, /calibrationRandom: must be >= 1/],
    ['a bad runtime', { runtime: 'tensorrt:fp16' }, /runtime: tool "tensorrt" is not one of/],
    ['a bad task', { task: 'segmentation' }, /task: must be one of detection, classification, fidelity/],
  ])('refuses %s, naming the field as the coordinator does', async (_case, body, message) => {
    await expect(loadSweepFile(jsonFile('bad.json', body))).rejects.toThrow(message);
  });
});
