import type { EvaluationResult, SuiteReport } from '@benchfarm/protocol';
import type { SuiteReportsView } from './client';

const ms = (value: number | undefined): string => (value === undefined ? 'n/a' : value.toFixed(3));
const ci = (interval: { low: number; high: number } | undefined, digits = 3): string => (interval ? `[${interval.low.toFixed(digits)}, ${interval.high.toFixed(digits)}]` : 'n/a');

/**
 * The measurement suite's part of a sweep report, as text: each device's interleaved
 * comparison (ratio to the reference with its 95% CI), then per job what its scenario
 * measured beyond the variant x device table (offline levels, server runs and peak QPS, cold
 * start, bootstrap CIs, CV and stability, top operators). Empty when there is nothing.
 */
export function suiteReportText(view: SuiteReportsView): string {
  const lines: string[] = [];
  const comparisonIds = new Set(view.comparisonJobs.map((c) => c.jobId));
  for (const entry of view.reports.filter((r) => comparisonIds.has(r.jobId))) {
    const c = entry.report.comparison;
    if (!c) continue;
    lines.push('', `Interleaved comparison on ${entry.agentName} (${c.rounds} rounds x ${c.roundMinQueries} queries per variant, reference ${c.referenceVariant}):`);
    // Fidelity here is on the suite's generated inputs unless the job evaluated real images: say which.
    const onRandom = c.variants.some((v) => (v.fidelity ?? []).some((f) => f.randomInputs || f.images === 0));
    lines.push(`  ${'variant'.padEnd(16)} ${'median ms'.padStart(10)} ${'ratio'.padStart(7)}  ${'95% CI of the ratio'.padEnd(20)} cosine vs ${c.referenceVariant} (worst output${onRandom ? ', RANDOM inputs: not accuracy' : ''})`);
    for (const v of c.variants) {
      // Fidelity on this device's provider; the reference has none (it is what others are compared with).
      const cosines = (v.fidelity ?? []).map((f) => f.cosine).filter((x) => Number.isFinite(x));
      const fidelity = v.reference ? 'reference' : cosines.length > 0 ? Math.min(...cosines).toFixed(5) : 'not measured';
      lines.push(`  ${v.variant.padEnd(16)} ${ms(v.medianMs).padStart(10)} ${v.ratioToReference.toFixed(3).padStart(7)}  ${ci(v.ratioCi).padEnd(20)} ${fidelity}`);
    }
    lines.push(...evaluationLines(entry.report.evaluation, entry.agentName));
    lines.push(...profileLines(entry.report));
  }
  for (const entry of view.reports.filter((r) => !comparisonIds.has(r.jobId))) {
    const detail = scenarioLines(entry.report);
    if (detail.length === 0) continue;
    lines.push('', `${entry.variant} on ${entry.agentName} (${entry.scenario}):`, ...detail, ...profileLines(entry.report));
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

function scenarioLines(report: SuiteReport): string[] {
  const lines: string[] = [];
  const s = report.statistics;
  if (s) {
    const stability = s.stability;
    const spread = stability?.lastWindowsSpreadPct === undefined ? 'too few windows' : `last 3 windows within ${stability.lastWindowsSpreadPct.toFixed(1)}%`;
    lines.push(`  p50 95% CI ${ci(s.p50CiMs)} ms, mean 95% CI ${ci(s.meanCiMs)} ms, CV ${s.coefficientOfVariation?.toFixed(3) ?? 'n/a'}, ${stability?.stable ? 'stable' : 'NOT stable'} (${spread}, tolerance ${stability?.tolerancePct ?? '?'}%)`);
  }
  for (const level of report.offline?.levels ?? []) {
    if (level.error) lines.push(`  offline batch ${level.batchSize} x ${level.concurrency} in flight: failed: ${level.error}`);
    else {
      const p50 = level.percentiles.find((p) => p.quantile === 0.5);
      lines.push(`  offline batch ${level.batchSize} x ${level.concurrency} in flight: ${level.queriesPerSecond.toFixed(1)} q/s, ${level.samplesPerSecond.toFixed(1)} samples/s, p50 ${ms(p50?.valueMs)} ms (${level.queries} queries)`);
    }
  }
  const server = report.server;
  if (server) {
    for (const run of server.runs) {
      const p99 = run.p99?.sufficient ? `${ms(run.p99.valueMs)} ms` : `n/a (<${run.p99?.minSamples ?? 662})`;
      lines.push(`  server ${run.targetQps} qps (achieved ${run.achievedQps.toFixed(1)}): p99 ${p99} ${run.meetsBound ? 'meets' : 'misses'} the ${server.latencyBoundMs} ms bound`);
    }
    lines.push(`  server peak: ${server.peakQps === undefined ? 'none found' : `${server.peakQps} qps`} (${server.searchNote})`);
  }
  const cold = report.coldStart;
  if (cold) {
    const peak = cold.peakRssBytes === undefined ? 'n/a' : `${(cold.peakRssBytes / 1024 / 1024).toFixed(1)} MB`;
    lines.push(`  cold start: session ${ms(cold.sessionCreationMs)} ms, first inference ${ms(cold.firstInferenceMs)} ms, second ${ms(cold.secondInferenceMs)} ms, peak RSS ${peak}`);
  }
  for (const u of report.unmeasured) lines.push(`  not measured: ${u.field}: ${u.reason}`);
  return lines;
}

/** The accuracy phase of a comparison job: every metric and the worst output's cosine, each with n and its 95% CI. */
function evaluationLines(e: EvaluationResult | undefined, agentName: string): string[] {
  if (!e) return [];
  const lines = [
    `  accuracy on ${agentName}, ${e.inputs || `real images: dataset ${e.datasetName}`} (${e.images} images, ${e.labelledImages} labelled; ${e.task}${e.split && !e.inputs.includes(e.split) ? `; ${e.split}` : ''}); value [bootstrap 95% CI over images] (n):`,
  ];
  for (const v of e.variants) {
    if (v.error) {
      lines.push(`    ${v.variant.padEnd(16)} not evaluated: ${v.error}`);
      continue;
    }
    const metrics = v.metrics.map((m) => (m.value === undefined ? `${m.metric} n/a (${m.reason || 'not reported'})` : `${m.metric} ${m.value.toFixed(3)} ${ci(m.ci)} (n=${m.images})`));
    const worst = [...v.fidelity].sort((a, b) => a.cosine - b.cosine)[0];
    const cosine = v.reference ? 'cosine: reference' : worst ? `cosine ${worst.cosine.toFixed(4)} ${ci(worst.cosineCi, 4)} (n=${worst.images})` : 'cosine not measured';
    lines.push(`    ${v.variant.padEnd(16)} ${[...metrics, cosine].join(', ')}`);
  }
  return lines;
}

function profileLines(report: SuiteReport): string[] {
  return report.profiles.map((p) => `  top operators of ${p.variant} (${p.profiledRuns} runs): ${p.top.map((t) => `${t.opType} ${(t.share * 100).toFixed(1)}%`).join(', ')}`);
}
