// The suite a simulated agent "runs": deterministic latencies from a generator seeded by the agent
// and the variant, summarised by the real suite's own summary code, so that a result of a simulated
// agent has the shape, sizes and statistics of a real one while nothing is measured. Pure.
import type { BenchJob, SuiteSettings, Summary } from '@benchfarm/protocol';
import { mulberry32 } from '@benchfarm/numerics';
import { SAMPLES_CHUNK_MAX, buildSummary, roundLatenciesInPlace, type SuiteJob } from '@benchfarm/suite';
import { SYNTHETIC_RUNTIME_VERSION } from './simulated-device';

/** Most latencies one synthetic result carries (the coordinator accepts 5 million; a real run of minQueries rarely exceeds thousands). */
export const SYNTHETIC_MAX_QUERIES = 100_000;

/** Why the memory fields of a synthetic result are absent (the real suite measures them on its child process). */
export const SYNTHETIC_UNMEASURED_REASON = 'simulated agent: no suite process runs (synthetic suite)';

const MEMORY_FIELDS = new Set(['peak_rss_bytes', 'rss_before_session_bytes', 'rss_after_session_bytes']);

/** 32-bit FNV-1a of `agentId` and `variant`: the seed of one device's latencies for one variant. */
export function syntheticSeed(agentId: string, variant: string): number {
  let hash = 0x811c9dc5;
  for (const ch of `${agentId}\u0000${variant}`) {
    hash ^= ch.codePointAt(0) ?? 0;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/** The typical latency of a device for a variant: 2 to 50 ms, fixed by the seed. */
export function syntheticBaseMs(seed: number): number {
  return 2 + (seed % 48_000) / 1_000;
}

/**
 * `count` latencies (ms, rounded to the microsecond like real ones) of one device for one
 * variant: log-normal around the base latency (sigma 5%) with a 1% tail at 1.5-2.5x, from
 * mulberry32 seeded by {@link syntheticSeed}. The same agent, variant and count always give the
 * same values. Thrown: RangeError for a count that is not an integer from 0 to
 * {@link SYNTHETIC_MAX_QUERIES}.
 */
export function syntheticLatenciesMs(agentId: string, variant: string, count: number): Float64Array {
  if (!Number.isInteger(count) || count < 0 || count > SYNTHETIC_MAX_QUERIES) throw new RangeError(`count must be an integer from 0 to ${SYNTHETIC_MAX_QUERIES}, got ${count}`);
  const seed = syntheticSeed(agentId, variant);
  const baseMs = syntheticBaseMs(seed);
  const random = mulberry32(seed);
  const out = new Float64Array(count);
  for (let i = 0; i < count; i += 1) {
    // Box-Muller; 1 - u keeps log() away from 0.
    const normal = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    const tail = random() < 0.01 ? 1.5 + random() : 1;
    out[i] = baseMs * Math.exp(0.05 * normal) * tail;
  }
  roundLatenciesInPlace(out);
  return out;
}

/** How many measured queries a synthetic run of these settings reports: minQueries (at least 1), at most {@link SYNTHETIC_MAX_QUERIES}. */
export function syntheticQueryCount(suite: Pick<SuiteSettings, 'minQueries'>): number {
  return Math.min(Math.max(suite.minQueries, 1), SYNTHETIC_MAX_QUERIES);
}

/** The name a job's variant is keyed by: its name, else its digest. */
export function variantKey(job: Pick<BenchJob, 'variant'>): string {
  return job.variant?.variant || job.variant?.sha256 || '';
}

/** What the simulated device tells the summary's manifest. */
export interface SyntheticRunFacts {
  readonly agentVersion: string;
  readonly os: string;
  readonly osRelease: string;
  readonly cpuModel: string;
  /** Size of the model file the agent fetched (a real fact of the run). */
  readonly modelFileSizeBytes: number;
}

/**
 * The Summary of a synthetic run of `job` with these latencies, built by the real suite's
 * `buildSummary` (percentiles with their early-stopping minimums, manifest, unmeasured fields).
 * The durations are the synthetic latencies' own (measured duration = their sum), not the wall
 * time the simulated job took. Thrown: TypeError when the job has no variant or suite settings.
 */
export function syntheticSummary(job: BenchJob, latenciesMs: Float64Array, facts: SyntheticRunFacts): Summary {
  const { variant, suite } = job;
  if (!variant || !suite) throw new TypeError('syntheticSummary: the job has no variant or no suite settings');
  const seed = syntheticSeed(job.agentId, variantKey(job));
  const baseMs = syntheticBaseMs(seed);
  const suiteJob: SuiteJob = {
    modelPath: '',
    inputs: job.inputs,
    executionProvider: job.executionProvider || 'cpu',
    intraOpThreads: job.intraOpThreads,
    interOpThreads: job.interOpThreads,
    suite,
    manifest: { variantSha256: variant.sha256, agentVersion: facts.agentVersion, batch: job.batch || 1 },
  };
  const measuredDurationMs = latenciesMs.reduce((sum, v) => sum + v, 0);
  const warmupQueries = Math.max(suite.warmupMinQueries, 1);
  const summary = buildSummary({
    job: suiteJob,
    run: {
      latenciesMs,
      count: latenciesMs.length,
      measuredDurationMs,
      warmupQueries,
      warmupDurationMs: warmupQueries * baseMs * 1.2,
      firstInferenceMs: baseMs * 3,
      stopReason: 'min_reached',
    },
    sessionCreationMs: 20 + baseMs * 10,
    modelFileSizeBytes: facts.modelFileSizeBytes,
    peakRssBytes: undefined,
    rssBeforeSessionBytes: undefined,
    rssAfterSessionBytes: undefined,
    onnxruntimeVersion: SYNTHETIC_RUNTIME_VERSION,
    machine: { os: facts.os, osRelease: facts.osRelease, cpuModel: facts.cpuModel, nodeVersion: process.version },
  });
  return { ...summary, unmeasured: summary.unmeasured.map((u) => (MEMORY_FIELDS.has(u.field) ? { ...u, reason: SYNTHETIC_UNMEASURED_REASON } : u)) };
}

/** The latencies cut into the chunks a real agent uploads (at most SAMPLES_CHUNK_MAX each, contiguous offsets). */
export function samplesChunks(latenciesMs: Float64Array): Array<{ offset: number; latencyMs: number[] }> {
  const chunks: Array<{ offset: number; latencyMs: number[] }> = [];
  for (let offset = 0; offset < latenciesMs.length; offset += SAMPLES_CHUNK_MAX) {
    chunks.push({ offset, latencyMs: Array.from(latenciesMs.subarray(offset, offset + SAMPLES_CHUNK_MAX)) });
  }
  return chunks;
}
