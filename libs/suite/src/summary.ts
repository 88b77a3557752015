import type { HostFacts, Summary, SuiteReport, Unmeasured } from '@benchfarm/protocol';
import { formatInputShapes } from './tensor-spec';
import type { SuiteJob } from './job';
import type { MachineFacts } from './machine';
import type { SingleStreamResult } from './single-stream';
import { summarizeLatencies } from './stats';

/** Rounds milliseconds to the microsecond: the resolution results are reported in. */
export function roundMs(valueMs: number): number {
  return Math.round(valueMs * 1000) / 1000;
}

/**
 * Rounds raw latencies in place to the microsecond. Done before any statistic is computed,
 * so the percentiles in the summary are exactly those anyone recomputes from the samples.
 */
export function roundLatenciesInPlace(latenciesMs: Float64Array): void {
  latenciesMs.forEach((latencyMs, i) => {
    latenciesMs[i] = roundMs(latencyMs);
  });
}

/** Everything a summary is made from, gathered by the suite process. */
export interface SummaryInputs {
  job: SuiteJob;
  run: SingleStreamResult;
  sessionCreationMs: number;
  modelFileSizeBytes: number;
  /** Undefined where the platform cannot tell; the summary then lists it as unmeasured. */
  peakRssBytes: number | undefined;
  rssBeforeSessionBytes: number | undefined;
  rssAfterSessionBytes: number | undefined;
  onnxruntimeVersion: string;
  machine: MachineFacts;
  /** Host facts of the manifest beyond MachineFacts (manifest.host). */
  host?: HostFacts;
  /** What the scenario measured beyond the summary: statistics, levels, runs, comparison, profile. */
  report?: SuiteReport;
}

const NO_PROC = 'no /proc/self/status on this platform';

/**
 * The wire Summary of a finished run. Values that could not be measured are left out and
 * listed in `unmeasured` with the reason, never reported as 0.
 */
export function buildSummary(inputs: SummaryInputs): Summary {
  const { job, run } = inputs;
  const stats = summarizeLatencies(run.latenciesMs);
  const unmeasured: Unmeasured[] = [];
  if (inputs.peakRssBytes === undefined) unmeasured.push({ field: 'peak_rss_bytes', reason: `${NO_PROC} (VmHWM)` });
  if (inputs.rssBeforeSessionBytes === undefined) unmeasured.push({ field: 'rss_before_session_bytes', reason: `${NO_PROC} (VmRSS)` });
  if (inputs.rssAfterSessionBytes === undefined) unmeasured.push({ field: 'rss_after_session_bytes', reason: `${NO_PROC} (VmRSS)` });
  const stdKnown = stats.count >= 2;
  if (!stdKnown) unmeasured.push({ field: 'std_ms', reason: 'a sample standard deviation needs at least 2 measured queries' });

  return {
    count: stats.count,
    meanMs: roundMs(stats.meanMs),
    stdMs: stdKnown ? roundMs(stats.stdMs) : 0,
    minMs: stats.minMs,
    maxMs: stats.maxMs,
    percentiles: stats.percentiles,
    throughputQps: Math.round((stats.count / run.measuredDurationMs) * 1000 * 1000) / 1000,
    measuredDurationMs: roundMs(run.measuredDurationMs),
    warmupQueries: run.warmupQueries,
    warmupDurationMs: roundMs(run.warmupDurationMs),
    sessionCreationMs: roundMs(inputs.sessionCreationMs),
    firstInferenceMs: roundMs(run.firstInferenceMs),
    ...(inputs.peakRssBytes !== undefined && { peakRssBytes: inputs.peakRssBytes }),
    ...(inputs.rssBeforeSessionBytes !== undefined && { rssBeforeSessionBytes: inputs.rssBeforeSessionBytes }),
    ...(inputs.rssAfterSessionBytes !== undefined && { rssAfterSessionBytes: inputs.rssAfterSessionBytes }),
    modelFileSizeBytes: inputs.modelFileSizeBytes,
    stopReason: run.stopReason,
    manifest: {
      variantSha256: job.manifest.variantSha256,
      onnxruntimeVersion: inputs.onnxruntimeVersion,
      executionProvider: job.executionProvider,
      intraOpThreads: job.intraOpThreads,
      interOpThreads: job.interOpThreads,
      batch: job.manifest.batch,
      inputShapes: formatInputShapes(job.inputs),
      seed: job.suite.seed,
      agentVersion: job.manifest.agentVersion,
      os: inputs.machine.os,
      osRelease: inputs.machine.osRelease,
      cpuModel: inputs.machine.cpuModel,
      nodeVersion: inputs.machine.nodeVersion,
      graphOptimizationLevel: job.graphOptimizationLevel ?? 'all',
      ...(inputs.host && { host: inputs.host }),
    },
    unmeasured,
    ...(inputs.report && { report: inputs.report }),
  };
}
