// Result commits into one store, the coordinator's ingestion path below gRPC: a sweep of N jobs
// (N agents x 4 variants) created, then one result per job committed through
// SqlResultRepository.commitResult, all issued at once as simultaneous uploads issue them. Prints
// commits/s and checks every job has exactly one result and the sweep completed.
//   npx tsx scripts/bench-store-commits.ts [--jobs 4000] [--store sqlite|postgres] [--runs 3]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PercentileStatus, TensorDataType, type Summary } from '@benchfarm/protocol';
import { startPostgres } from '@benchfarm/testing';
import { openPostgres } from '../apps/coordinator/src/storage/postgres';
import { SqlResultRepository } from '../apps/coordinator/src/storage/result.repository';
import { openSqlite } from '../apps/coordinator/src/storage/sqlite';
import { SqlSweepRepository } from '../apps/coordinator/src/storage/sweep.repository';
import type { NewSweep } from '../apps/coordinator/src/storage/records';
import type { SqlDatabase } from '../apps/coordinator/src/storage/sql';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}
const jobs = Number(arg('jobs', '4000'));
const store = arg('store', 'sqlite');
const runs = Number(arg('runs', '3'));
const variants = ['fp32', 'ort-basic', 'ort-extended', 'fp16'];

function sweep(id: string): NewSweep {
  return {
    id,
    name: 'bench',
    createdAtMs: Date.now(),
    model: { name: 'm', sha256: 'a'.repeat(64), sizeBytes: 100 },
    inputs: [{ name: 'x', dataType: TensorDataType.TENSOR_DATA_TYPE_FLOAT32, shape: [1, 3, 8, 8] }],
    settings: { scenario: 'single_stream', executionProvider: 'cpu', intraOpThreads: 0, interOpThreads: 0, batch: 1, warmupMinQueries: 10, warmupMinDurationMs: 500, minQueries: 100, minDurationMs: 2000, maxDurationMs: 60_000, seed: 0 },
    targets: ['all'],
    agentIds: [],
    variants: variants.map((name, i) => ({ name, sha256: String(i).repeat(64), sizeBytes: 100, recipe: { pass: name } })),
    jobs: Array.from({ length: jobs }, (_, i) => ({ id: `${id}_j${i}`, variant: variants[i % 4] as string, agentId: `sim-${Math.floor(i / 4)}`, agentName: `sim ${Math.floor(i / 4)}` })),
  };
}

const summary: Summary = {
  count: 100, meanMs: 2, stdMs: 0.1, minMs: 1, maxMs: 3,
  percentiles: [{ quantile: 0.5, valueMs: 2, status: PercentileStatus.PERCENTILE_STATUS_OK, minSamples: 1 }],
  throughputQps: 500, measuredDurationMs: 200, warmupQueries: 10, warmupDurationMs: 500, sessionCreationMs: 30, firstInferenceMs: 5,
  peakRssBytes: 1000, rssBeforeSessionBytes: undefined, rssAfterSessionBytes: undefined, modelFileSizeBytes: 100, stopReason: 'min_reached', manifest: undefined, unmeasured: [],
};
const latencies = Array.from({ length: 100 }, (_, i) => 2 + (i % 7) * 0.01);

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bf-bench-store-'));
  const pg = store === 'postgres' ? await startPostgres() : undefined;
  try {
    for (let run = 1; run <= runs; run++) {
      const db: SqlDatabase = pg ? await openPostgres(await pg.createDatabase()) : openSqlite(join(dir, `run${run}.db`));
      const id = `sweep_${run}`;
      await new SqlSweepRepository(db).create(sweep(id));
      const results = new SqlResultRepository(db);
      const started = performance.now();
      const outcomes = await Promise.all(
        Array.from({ length: jobs }, (_, i) => results.commitResult({ resultId: `r${run}_${i}`, jobId: `${id}_j${i}`, attempt: 1, uploadId: `u${i}`, agentId: `sim-${Math.floor(i / 4)}`, summary, latencyMs: latencies, nowMs: Date.now() })),
      );
      const seconds = (performance.now() - started) / 1000;
      const count = await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM results r JOIN jobs j ON j.id = r.job_id WHERE j.sweep_id = ?', [id]);
      const state = await db.get<{ state: string }>('SELECT state FROM sweeps WHERE id = ?', [id]);
      const committed = outcomes.filter((o) => o.outcome === 'committed').length;
      console.log(`${store} run ${run}: ${jobs} commits in ${seconds.toFixed(2)} s = ${(jobs / seconds).toFixed(0)} commits/s; committed ${committed}, results stored ${count?.n}, sweep ${state?.state}`);
      await db.close();
    }
  } finally {
    await pg?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
