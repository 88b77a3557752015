// Loading the accuracy phase's images ahead of their use: a worker thread reads,
// decodes (jpeg-js, pure JS: the slow part) and preprocesses the next images while the
// variants' sessions run the current one (onnxruntime runs off the main thread, so the main
// thread only waits), at most `depth` images ahead, so memory stays that of a few images.
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { childEntry, runningBundled } from '@benchfarm/isolate';
import type { FloatTensor } from '../runtime/activations';
import { decodeJpeg, imageToTensor, type PreprocessConfig } from '../model-io/preprocess';

/** One image ready to feed, or why it is not. */
export type LoadedImage =
  | { readonly index: number; readonly path: string; readonly tensor: FloatTensor; readonly loadMs: number; readonly loadedAhead: boolean }
  | { readonly index: number; readonly path: string; readonly error: string };

/** Options of {@link loadImagesAhead}. */
export interface LoadAheadOptions {
  /** Images loaded ahead of the consumer (default 2). */
  readonly depth?: number;
  /** false: load in this thread, one image when asked (no overlap). */
  readonly worker?: boolean;
}

type WorkerReply = { index: number; data: Float32Array; dims: number[]; loadMs: number } | { index: number; error: string };

async function loadHere(index: number, path: string, dims: readonly number[], config: PreprocessConfig): Promise<LoadedImage> {
  const started = performance.now();
  try {
    const tensor = imageToTensor(decodeJpeg(await readFile(path)), dims, config);
    return { index, path, tensor, loadMs: performance.now() - started, loadedAhead: false };
  } catch (err) {
    return { index, path, error: (err as Error).message };
  }
}

/** The loader thread's entry: its .ts from source, evaluation-images.worker.mjs in the agent bundle. */
const LOADER_ENTRY = childEntry(new URL('./evaluation-images.worker.ts', import.meta.url));

/** The loader thread; undefined where it cannot start. */
function startWorker(dims: readonly number[], config: PreprocessConfig): Worker | undefined {
  try {
    const workerData = { dims: [...dims], config };
    let worker: Worker;
    if (runningBundled) worker = new Worker(LOADER_ENTRY.path, { workerData });
    else {
      // Worker threads do not inherit the tsx loader of the process: the thread loads tsx's API
      // first and imports the TypeScript entry through it.
      const entry = pathToFileURL(LOADER_ENTRY.path).href;
      const api = import.meta.resolve('tsx/esm/api');
      const code = `import(${JSON.stringify(api)}).then(({ tsImport }) => tsImport(${JSON.stringify(entry)}, ${JSON.stringify(entry)}))`;
      worker = new Worker(code, { eval: true, workerData });
    }
    worker.unref();
    return worker;
  } catch {
    return undefined;
  }
}

/**
 * Yields the images of `paths` as input tensors, in order, each loaded (read, JPEG-decoded,
 * preprocessed) in a worker thread up to `depth` images before it is asked for. An image that
 * cannot be loaded is yielded with its error. Should the thread fail, the remaining images are
 * loaded in this thread. The thread ends when the iteration does (finished or broken off).
 */
export async function* loadImagesAhead(paths: readonly string[], dims: readonly number[], config: PreprocessConfig, options: LoadAheadOptions = {}): AsyncGenerator<LoadedImage> {
  const depth = Math.max(1, options.depth ?? 2);
  const worker = options.worker === false ? undefined : startWorker(dims, config);
  if (!worker) {
    for (const [index, path] of paths.entries()) yield await loadHere(index, path, dims, config);
    return;
  }
  const waiting = new Map<number, (reply: WorkerReply | undefined) => void>();
  const arrived = new Map<number, WorkerReply>();
  let broken = false;
  const onReply = (reply: WorkerReply): void => {
    const resolve = waiting.get(reply.index);
    if (resolve) {
      waiting.delete(reply.index);
      resolve(reply);
    } else arrived.set(reply.index, reply);
  };
  const onBroken = (): void => {
    broken = true;
    for (const resolve of waiting.values()) resolve(undefined);
    waiting.clear();
  };
  worker.on('message', onReply);
  worker.on('error', onBroken);
  worker.on('exit', onBroken);
  let sent = 0;
  const sendUpTo = (limit: number): void => {
    for (; sent < Math.min(limit, paths.length); sent++) worker.postMessage({ index: sent, path: paths[sent] });
  };
  try {
    for (const [index, path] of paths.entries()) {
      if (!broken) sendUpTo(index + 1 + depth);
      let reply: WorkerReply | undefined = arrived.get(index);
      arrived.delete(index);
      if (!reply && !broken) reply = await new Promise<WorkerReply | undefined>((resolve) => waiting.set(index, resolve));
      if (!reply) {
        yield await loadHere(index, path, dims, config);
        continue;
      }
      yield 'error' in reply ? { index, path, error: reply.error } : { index, path, tensor: { data: reply.data, dims: reply.dims }, loadMs: reply.loadMs, loadedAhead: true };
    }
  } finally {
    worker.off('exit', onBroken);
    await worker.terminate();
  }
}
