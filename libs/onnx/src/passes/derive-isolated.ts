import { IsolatedWorkError, childEntry, runIsolated } from '@benchfarm/isolate';
import { InvalidModelError, UnknownVariantError, VariantParamError, VariantPassError } from '../errors';
import { CalibrationDataError } from '../model-io/preprocess';
import type { CalibrationSource, DerivedVariant } from './variants.types';

/** What the parent sends the derive child. */
export interface DeriveTask {
  readonly name: string;
  readonly srcPath: string;
  readonly outDir: string;
  readonly calibration?: CalibrationSource;
  /** Held-out images for int8-auto's final check (see DeriveOptions.holdout). */
  readonly holdout?: CalibrationSource;
}

/** The derivation errors that come back from the child as their own class, fields and cause. */
const DERIVE_ERRORS = { InvalidModelError, CalibrationDataError, VariantPassError, VariantParamError, UnknownVariantError };

const DERIVE_CHILD = childEntry(new URL('./derive.child.ts', import.meta.url));
const STDERR_TAIL_BYTES = 2_000;

/**
 * Derives a variant in a short-lived child process (runIsolated, IPC with structured clone so
 * that tensor calibration data crosses too); `signal` kills the child. A crash, abort or timeout becomes a
 * {@link VariantPassError}; the pass's own errors come back as their own classes.
 */
export async function deriveVariantIsolated(task: DeriveTask, timeoutMs: number, signal?: AbortSignal): Promise<DerivedVariant> {
  try {
    return await runIsolated<DerivedVariant>(DERIVE_CHILD, task, { timeoutMs, serialization: 'advanced', stderrTailBytes: STDERR_TAIL_BYTES, errors: DERIVE_ERRORS, ...(signal ? { signal } : {}) });
  } catch (err) {
    if (Object.values(DERIVE_ERRORS).some((cls) => err instanceof cls)) throw err;
    if (err instanceof IsolatedWorkError) {
      if (err.code === 'start_failed') throw new VariantPassError(task.name, `could not start the derivation child process: ${err.how}`, { cause: err });
      const tail = err.stderrTail.trim() ? `; stderr: ${err.stderrTail.trim()}` : '';
      throw new VariantPassError(task.name, `the derivation process ${err.how}${tail}`, { cause: err });
    }
    throw new VariantPassError(task.name, err instanceof Error ? err.message : String(err), { cause: err });
  }
}
