import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { CalibrationSource } from './compression-passes';
import { INVALID_MODEL_CODES, InvalidModelError, UnknownVariantError, VariantParamError, VariantPassError, type InvalidModelCode } from './errors';
import { CalibrationDataError } from './preprocess';
import type { DerivedVariant } from './variants';

/** What the parent sends the derive child. */
export interface DeriveTask {
  readonly name: string;
  readonly srcPath: string;
  readonly outDir: string;
  readonly calibration?: CalibrationSource;
  /** Held-out images for int8-auto's final check (see DeriveOptions.holdout). */
  readonly holdout?: CalibrationSource;
}

/** An error as it crosses the process boundary. */
export interface SerializedDeriveError {
  readonly name: string;
  readonly message: string;
  readonly code?: string;
  readonly field?: string;
  readonly variant?: string;
  readonly known?: readonly string[];
}

/** What the derive child answers. */
export type DeriveChildMessage = { readonly ok: true; readonly result: DerivedVariant } | { readonly ok: false; readonly error: SerializedDeriveError };

/** Flattens a derive error so that the parent can rebuild the same class. */
export function serializeDeriveError(err: unknown): SerializedDeriveError {
  if (err instanceof InvalidModelError) return { name: err.name, message: err.message, code: err.code, field: err.field };
  if (err instanceof CalibrationDataError) return { name: err.name, message: err.message.slice(err.field.length + 2), field: err.field };
  if (err instanceof VariantPassError || err instanceof VariantParamError) return { name: err.name, message: err.message.slice(`variant ${err.variant}: `.length), variant: err.variant };
  if (err instanceof UnknownVariantError) return { name: err.name, message: err.message, variant: err.variant, known: err.known };
  return { name: 'Error', message: err instanceof Error ? err.message : String(err) };
}

function rebuild(e: SerializedDeriveError, variant: string): Error {
  switch (e.name) {
    case 'InvalidModelError': {
      const code = (INVALID_MODEL_CODES as readonly string[]).includes(e.code ?? '') ? (e.code as InvalidModelCode) : 'ort_load_failed';
      return new InvalidModelError(code, e.field ?? '', e.message);
    }
    case 'CalibrationDataError':
      return new CalibrationDataError(e.field ?? 'calibration', e.message);
    case 'VariantParamError':
      return new VariantParamError(e.variant ?? variant, e.message);
    case 'UnknownVariantError':
      return new UnknownVariantError(e.variant ?? variant, e.known ?? []);
    case 'VariantPassError':
      return new VariantPassError(e.variant ?? variant, e.message);
    default:
      return new VariantPassError(variant, e.message);
  }
}

const CHILD_ENTRY = fileURLToPath(new URL('./derive.child.ts', import.meta.url));
const STDERR_TAIL_CHARS = 2_000;

/**
 * Derives a variant in a short-lived child process (tsx loader, IPC with structured clone so
 * that tensor calibration data crosses too). A crash, abort or timeout becomes a
 * {@link VariantPassError}; the pass's own errors come back as their own classes.
 */
export async function deriveVariantIsolated(task: DeriveTask, timeoutMs: number): Promise<DerivedVariant> {
  const child = fork(CHILD_ENTRY, [], {
    execArgv: ['--import', import.meta.resolve('tsx')],
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    serialization: 'advanced',
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-STDERR_TAIL_CHARS);
  });
  return new Promise<DerivedVariant>((resolvePromise, reject) => {
    let answer: DeriveChildMessage | undefined;
    let timedOut = false;
    const deadline = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('message', (message: DeriveChildMessage) => {
      answer = message;
    });
    child.on('error', (err) => {
      clearTimeout(deadline);
      reject(new VariantPassError(task.name, `could not start the derivation child process: ${err.message}`, { cause: err }));
    });
    child.on('exit', (code, signal) => {
      clearTimeout(deadline);
      if (answer?.ok) return resolvePromise(answer.result);
      if (answer) return reject(rebuild(answer.error, task.name));
      const how = timedOut ? `did not finish within ${timeoutMs} ms` : signal ? `crashed (${signal})` : `exited with code ${code}`;
      reject(new VariantPassError(task.name, `the derivation process ${how}${stderr.trim() ? `; stderr: ${stderr.trim()}` : ''}`));
    });
    child.send(task);
  });
}
