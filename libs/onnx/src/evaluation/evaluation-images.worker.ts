// The image loader thread of the accuracy phase (see evaluation-images.ts): reads, decodes and
// preprocesses the images it is sent, one at a time, and hands each tensor back (transferred,
// not copied). It loads only preprocess.ts: no onnxruntime in this thread.
import { readFile } from 'node:fs/promises';
import { parentPort, workerData } from 'node:worker_threads';
import { decodeJpeg, imageToTensor, type PreprocessConfig } from '../model-io/preprocess';

const { dims, config } = workerData as { dims: number[]; config: PreprocessConfig };

parentPort?.on('message', (request: { index: number; path: string }) => {
  void (async () => {
    const started = performance.now();
    try {
      const tensor = imageToTensor(decodeJpeg(await readFile(request.path)), dims, config);
      parentPort?.postMessage({ index: request.index, data: tensor.data, dims: tensor.dims, loadMs: performance.now() - started }, [tensor.data.buffer as ArrayBuffer]);
    } catch (err) {
      parentPort?.postMessage({ index: request.index, error: (err as Error).message });
    }
  })();
});
