import { stat } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { ModelLoadError } from './errors';
import type { SuiteJob } from './job';

/** The onnxruntime-node version this process runs, as the manifest reports it. */
export const onnxruntimeVersion: string = ort.env.versions.node ?? ort.env.versions.common;

/** onnxruntime session options for a job; 0 threads leaves onnxruntime's own default. */
export function sessionOptions(job: SuiteJob): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [job.executionProvider],
    graphOptimizationLevel: job.graphOptimizationLevel ?? 'all',
    ...(job.intraOpThreads > 0 && { intraOpNumThreads: job.intraOpThreads }),
    ...(job.interOpThreads > 0 && { interOpNumThreads: job.interOpThreads }),
  };
}

/** A session ready to run, with what it cost to open. */
export interface OpenedSession {
  session: ort.InferenceSession;
  /** Wall time of InferenceSession.create alone. */
  sessionCreationMs: number;
  modelFileSizeBytes: number;
}

/**
 * Opens the job's model from its path (not from a buffer, so that no JS copy of the file
 * sits in the process's RSS), timing InferenceSession.create alone.
 *
 * Thrown errors: ModelLoadError, with onnxruntime's (or the file system's) own message in
 * its text and as its cause.
 */
export async function openSession(job: SuiteJob): Promise<OpenedSession> {
  return openSessionWith(job.modelPath, sessionOptions(job));
}

/**
 * Opens a model file with the given session options (a search point's, say), timing
 * InferenceSession.create alone.
 *
 * Thrown errors: ModelLoadError, with onnxruntime's (or the file system's) own message in
 * its text and as its cause.
 */
export async function openSessionWith(modelPath: string, options: ort.InferenceSession.SessionOptions): Promise<OpenedSession> {
  let modelFileSizeBytes: number;
  try {
    modelFileSizeBytes = (await stat(modelPath)).size;
  } catch (err) {
    throw new ModelLoadError(modelPath, { cause: err });
  }
  const start = process.hrtime.bigint();
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(modelPath, options);
  } catch (err) {
    throw new ModelLoadError(modelPath, { cause: err });
  }
  const sessionCreationMs = Number(process.hrtime.bigint() - start) / 1e6;
  return { session, sessionCreationMs, modelFileSizeBytes };
}
