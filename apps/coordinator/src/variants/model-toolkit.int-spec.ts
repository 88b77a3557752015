// OnnxModelToolkit.deriveVariant with int8-auto's held-out images, on the real
// YOLOX-nano of examples/yolox-nano, derived in a real child process: an unusable held-out
// image is refused naming the request field the images came from, not calibrationDir.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DomainErrorCode } from '../common/domain-error';
import { OnnxModelToolkit } from './model-toolkit';

const EXAMPLE = resolve(import.meta.dirname, '../../../../examples/yolox-nano');
const MODEL = join(EXAMPLE, 'yolox_nano_3class.onnx');
const CALIBRATION = join(EXAMPLE, 'calibration');
const present = existsSync(MODEL) && existsSync(CALIBRATION);
if (!present) process.stdout.write(`model-toolkit.int-spec: skipped: ${EXAMPLE} lacks the model or its calibration images\n`);

describe.skipIf(!present)('OnnxModelToolkit.deriveVariant with held-out images', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bf-toolkit-holdout-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses an unreadable held-out image naming the dataset field that supplied it', { timeout: 120_000 }, async () => {
    const missing = join(dir, 'gone.jpg');
    const derive = new OnnxModelToolkit().deriveVariant('int8-auto', MODEL, dir, { kind: 'images', dir: CALIBRATION, preprocess: 'yolox' }, { source: { kind: 'images', files: [missing], preprocess: 'yolox' }, field: 'evaluationDataset' });
    await expect(derive).rejects.toMatchObject({
      code: DomainErrorCode.InvalidArgument,
      field: 'evaluationDataset',
      message: expect.stringMatching(/^held-out images of int8-auto \(evaluationDataset\): cannot read ".*gone\.jpg"/),
    });
  });
});
