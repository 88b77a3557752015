import { join } from 'node:path';
import { fetchModel, ModelFetchError, type FarmStore } from '@benchfarm/messaging';
import type { EvaluationRequest } from '@benchfarm/protocol';
import type { SuiteEvaluation } from '@benchfarm/suite';

/** Dataset objects (images, labels) are cached apart from the models, in this folder of the cache. */
export const DATASET_CACHE_FOLDER = 'datasets';

/** Object-store reads in flight at once: a lab coordinator may be a WAN round trip away. */
const PARALLEL_FETCHES = 4;

/**
 * Fetches an evaluation's images and labels from the farm's object store (the models bucket,
 * where the coordinator stores dataset objects by digest) into `<cacheDir>/datasets`, each
 * streamed to disk and verified against its digest by fetchModel, and only once per digest: a
 * file already cached with the right digest is not read again (a second sweep on the same
 * dataset reads nothing). Returns the SuiteJob's evaluation with local paths in request order.
 *
 * Thrown errors: ModelFetchError naming the image (or labels) and the dataset, for a missing or
 * corrupt object (`transient` kept from fetchModel: a read that failed on the way is retried by
 * the caller).
 */
export async function fetchEvaluationData(store: FarmStore['models'], request: EvaluationRequest, cacheDir: string): Promise<SuiteEvaluation> {
  const dir = join(cacheDir, DATASET_CACHE_FOLDER);
  const dataset = request.datasetName || request.datasetId;
  const fetched = new Map<string, Promise<string>>();
  const fetchOnce = (digest: string, what: string, extension: string): Promise<string> => {
    let path = fetched.get(digest);
    if (!path) {
      path = fetchModel(store, digest, dir, extension).catch((err: unknown) => {
        const transient = err instanceof ModelFetchError && err.transient;
        throw new ModelFetchError(`evaluation ${what} of dataset ${dataset}: ${(err as Error).message}`, digest, { cause: err, transient });
      });
      fetched.set(digest, path);
    }
    return path;
  };
  const imagePaths: string[] = new Array<string>(request.images.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (next < request.images.length && !failed) {
      const i = next++;
      const image = request.images[i];
      try {
        if (image) imagePaths[i] = await fetchOnce(image.sha256, `image ${image.name}`, '.jpg');
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_FETCHES, request.images.length) }, worker));
  const labelsPath = request.labelsSha256 ? await fetchOnce(request.labelsSha256, 'labels', '.json') : undefined;
  return { request, imagePaths, ...(labelsPath && { labelsPath }) };
}
