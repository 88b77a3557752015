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
  return fetchEachOnce(models, variants, cacheDir);
}

/**
 * The models of a configuration search job, fetched (and verified) into the cache in the
 * search's order, a variant without a name named by its digest's first 12 characters; undefined
 * for a job without a search. Each file is fetched once even when two variants share it.
 *
 * Thrown errors: whatever fetchModel throws (ModelFetchError for a missing or corrupt object).
 */
export async function fetchSearchModels(models: FarmStore['models'], job: BenchJob, cacheDir: string): Promise<ComparedModel[] | undefined> {
  if (!job.configSearch) return undefined;
  return fetchEachOnce(
    models,
    job.configSearch.variants.map((v) => ({ variant: v.variant || v.sha256.slice(0, 12), sha256: v.sha256 })),
    cacheDir,
  );
}

async function fetchEachOnce(models: FarmStore['models'], variants: ReadonlyArray<{ variant: string; sha256: string }>, cacheDir: string): Promise<ComparedModel[]> {
  const paths = new Map<string, string>();
  const out: ComparedModel[] = [];
  for (const v of variants) {
    let path = paths.get(v.sha256);
    if (path === undefined) {
      path = await fetchModel(models, v.sha256, cacheDir);
      paths.set(v.sha256, path);
    }
    out.push({ variant: v.variant, sha256: v.sha256, modelPath: path });
  }
  return out;
}
