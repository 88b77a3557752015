import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (where package.json of the workspace lives). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/**
 * `../shared/models` beside the checkout: the real YOLOX detector and photos. A test that needs
 * them fails with {@link SharedModelsMissingError} when the folder is absent (see
 * {@link sharedModelFile}): a skip would let a run without them pass unnoticed.
 */
export const sharedModelsDir = resolve(repoRoot, '../shared/models');

/**
 * Thrown by {@link sharedModelFile} when a file of `../shared/models` is not there. The message
 * names the path and where the folder comes from.
 */
export class SharedModelsMissingError extends Error {
  override name = 'SharedModelsMissingError';
  constructor(readonly path: string) {
    super(
      `${path} is missing: this test needs the real YOLOX detector and photos of ../shared/models ` +
        `(yolox_nano_3class.onnx and images/*.jpg, described in its README.md), expected at ${sharedModelsDir}. ` +
        'Put the shared/ folder every developer and CI run of benchfarm has beside the repository checkout (or link it there) and run the test again.',
    );
  }
}

/**
 * The path of `relative` inside `../shared/models`. Thrown: {@link SharedModelsMissingError}
 * when it does not exist, so the test that needs it fails naming the path instead of skipping.
 */
export function sharedModelFile(...relative: string[]): string {
  const path = join(sharedModelsDir, ...relative);
  if (!existsSync(path)) throw new SharedModelsMissingError(path);
  return path;
}

/** The YOLOX-nano detector of `../shared/models`. Thrown: {@link SharedModelsMissingError} when absent. */
export function sharedYoloxModel(): string {
  return sharedModelFile('yolox_nano_3class.onnx');
}
