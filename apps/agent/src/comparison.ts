import { fetchModel, type FarmStore } from '@benchfarm/messaging';
import type { BenchJob } from '@benchfarm/protocol';
import type { ComparedModel } from '@benchfarm/suite';

/**
 * The models of an interleaved comparison job, fetched (and verified) into the cache in the
 * job's order, the reference first; undefined for an ordinary job. Each file is fetched once
 * even when a variant is listed twice.
 *
 * Thrown errors: whatever fetchModel throws (ModelFetchError for a missing or corrupt object).
 */
export async function fetchComparisonModels(models: FarmStore['models'], job: BenchJob, cacheDir: string): Promise<ComparedModel[] | undefined> {
  const variants = job.comparison?.variants ?? [];
  if (variants.length === 0) return undefined;
  const paths = new Map<string, string>();
  const compared: ComparedModel[] = [];
  for (const variant of variants) {
    let path = paths.get(variant.sha256);
    if (path === undefined) {
      path = await fetchModel(models, variant.sha256, cacheDir);
      paths.set(variant.sha256, path);
    }
    compared.push({ variant: variant.variant, sha256: variant.sha256, modelPath: path });
  }
  return compared;
}
