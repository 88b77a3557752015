import { IsolatedWorkError, childEntry, runIsolated } from '@benchfarm/isolate';
import * as ort from 'onnxruntime-node';
import { InvalidModelError } from '../errors';
import { readModelFile } from '../model-io/model-io';

/** The onnxruntime-node version that loads, checks and optimizes models here. */
export const ORT_VERSION: string = ort.env.versions.node ?? ort.env.versions.common;

/** What onnxruntime reports about a model it loaded. */
export interface OrtLoadResult {
  readonly inputNames: string[];
  readonly outputNames: string[];
}

/** The graph optimization levels whose output is written as a variant. */
export type OrtOptimizationLevel = 'basic' | 'extended';

/** Work that runs onnxruntime on an untrusted model, in this process or in a child. */
export type OrtTask =
  | { readonly kind: 'load'; readonly path: string }
  | { readonly kind: 'optimize'; readonly srcPath: string; readonly outPath: string; readonly level: OrtOptimizationLevel };

/** Results of {@link OrtTask}s by kind. */
export interface OrtTaskResult {
  load: OrtLoadResult;
  optimize: OrtLoadResult;
}

function ortFailure(err: unknown, doing: string): InvalidModelError {
  const message = err instanceof Error ? err.message : String(err);
  return new InvalidModelError('ort_load_failed', '', `onnxruntime ${ORT_VERSION} cannot ${doing}: ${message}`, { cause: err });
}

async function withSession<T>(path: string, options: ort.InferenceSession.SessionOptions, doing: string, use: (session: ort.InferenceSession) => T): Promise<T> {
  // The file is checked before ORT opens it: ORT itself would follow external-data paths.
  await readModelFile(path);
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(path, { executionProviders: ['cpu'], ...options });
  } catch (err) {
    throw ortFailure(err, doing);
  }
  try {
    return use(session);
  } finally {
    await session.release();
  }
}

const names = (session: ort.InferenceSession): OrtLoadResult => ({ inputNames: [...session.inputNames], outputNames: [...session.outputNames] });

/**
 * Proves onnxruntime can load the model, by creating a CPU session on it in this process.
 * Thrown ({@link InvalidModelError}): as {@link readModelFile} for a file that is not ONNX or
 * whose external data escapes its folder, `ort_load_failed` with ORT's message when ORT
 * refuses it. An ORT crash takes this process down: for untrusted models use
 * {@link checkLoadsInOrtIsolated}.
 */
export async function checkLoadsInOrt(path: string): Promise<OrtLoadResult> {
  return withSession(path, {}, 'load the model', names);
}

/**
 * Writes onnxruntime's own graph-optimized version of a model (CPU EP) to `outPath`, in this
 * process. `basic` output is portable ONNX; `extended` contains com.microsoft contrib ops of
 * the CPU EP. Thrown as {@link checkLoadsInOrt}.
 */
export async function optimizeWithOrt(srcPath: string, outPath: string, level: OrtOptimizationLevel): Promise<OrtLoadResult> {
  return withSession(srcPath, { graphOptimizationLevel: level, optimizedModelFilePath: outPath }, `optimize the model (${level})`, names);
}

/** Runs a task in this process; the child entry calls it too. */
export async function runOrtTask<K extends OrtTask['kind']>(task: Extract<OrtTask, { kind: K }>): Promise<OrtTaskResult[K]>;
export async function runOrtTask(task: OrtTask): Promise<OrtLoadResult> {
  switch (task.kind) {
    case 'load':
      return checkLoadsInOrt(task.path);
    case 'optimize':
      return optimizeWithOrt(task.srcPath, task.outPath, task.level);
  }
}

/** Options for running onnxruntime in a child process. */
export interface IsolationOptions {
  /** The child is killed and the model refused after this long. */
  readonly timeoutMs?: number;
}

const DEFAULT_ISOLATED_TIMEOUT_MS = 120_000;
/** A child that has answered gets this long to exit on its own before it is killed. */
const EXIT_GRACE_MS = 5_000;
const STDERR_TAIL_BYTES = 2_000;
const ORT_CHILD = childEntry(new URL('./ort.child.ts', import.meta.url));

/**
 * Runs a task in a short-lived child process (runIsolated), so that an onnxruntime crash
 * (SIGSEGV and aborts have been seen on fuzzed models) or hang becomes an
 * {@link InvalidModelError} `ort_load_failed` instead of a dead coordinator. The child's own
 * InvalidModelError comes back with its code and field.
 */
export async function runOrtTaskIsolated<K extends OrtTask['kind']>(task: Extract<OrtTask, { kind: K }>, options: IsolationOptions = {}): Promise<OrtTaskResult[K]> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_ISOLATED_TIMEOUT_MS;
  try {
    return await runIsolated<OrtTaskResult[K]>(ORT_CHILD, task, { timeoutMs, exitGraceMs: EXIT_GRACE_MS, stderrTailBytes: STDERR_TAIL_BYTES, errors: { InvalidModelError } });
  } catch (err) {
    if (err instanceof InvalidModelError) throw err;
    if (err instanceof IsolatedWorkError) {
      if (err.code === 'start_failed') throw new InvalidModelError('ort_load_failed', '', `could not start the onnxruntime child process: ${err.how}`, { cause: err });
      const tail = err.stderrTail.trim() ? `; stderr: ${err.stderrTail.trim()}` : '';
      throw new InvalidModelError('ort_load_failed', '', `onnxruntime ${ORT_VERSION} ${err.how} while running ${task.kind} on the model${tail}`, { cause: err });
    }
    const message = err instanceof Error ? err.message : String(err);
    throw new InvalidModelError('ort_load_failed', '', `onnxruntime task ${task.kind} failed: ${message}`, { cause: err });
  }
}

/**
 * {@link checkLoadsInOrt} in a short-lived child process: an ORT crash, abort or hang on a
 * hostile model is reported as `ort_load_failed` rather than killing the caller. The
 * coordinator checks user models with this one.
 */
export async function checkLoadsInOrtIsolated(path: string, options?: IsolationOptions): Promise<OrtLoadResult> {
  return runOrtTaskIsolated({ kind: 'load', path }, options);
}
