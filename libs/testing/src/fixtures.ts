import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (where package.json of the workspace lives). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/**
 * `../shared/models` beside the checkout: the real YOLOX detector and photos. Tests that use
 * them skip with a printed reason when the folder is absent (a fresh clone without shared/).
 */
export const sharedModelsDir = resolve(repoRoot, '../shared/models');

/** The YOLOX-nano detector from shared/, or undefined when shared/ is not beside the checkout. */
export function sharedYoloxModel(): string | undefined {
  const path = join(sharedModelsDir, 'yolox_nano_3class.onnx');
  return existsSync(path) ? path : undefined;
}
