import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPostgresBinDir, startPostgres, type PostgresServerHandle } from '@benchfarm/testing';
import { CoordinatorClient } from './client';
import { isAbsent, type FleetFigures } from './simulate-fleet.figures';
import { resolveFleetOptions, runSimulateFleet } from './simulate-fleet';

// The fleet simulator at small scale on the real parts: a nats-server with JetStream, a coordinator
// process (REST + gRPC) on each store, 50 simulated agents in 2 worker processes speaking the real
// protocol (KV registry and heartbeat, own durable consumers, gRPC leases and uploads, object-store
// model fetch), one sweep of 3 variants to all of them. Counts, not speed: every job done once,
// every result stored once, every agent registered idle.
const AGENTS = 50;
const VARIANTS = 3;
const QUERIES = 120;
const FETCH_AGENTS = 20;

const postgresMissing = ((): string | undefined => {
  try {
    findPostgresBinDir();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
})();
if (postgresMissing) console.log(`[simulate-fleet.int-spec] the PostgreSQL run is skipped: ${postgresMissing}`);

describe.each([
  { store: 'sqlite', skip: undefined },
  { store: 'postgresql', skip: postgresMissing },
])('simulate-fleet: $store store', ({ store, skip }) => {
  let postgres: PostgresServerHandle | undefined;
  let databaseUrl: string | undefined;
  let figures: FleetFigures;
  const seen: { storeRows?: { results: number; distinctJobs: number; done: number }; restJobs?: number; agentsIdle?: number; samples?: number } = {};

  beforeAll(async () => {
    if (skip) return;
    if (store === 'postgresql') {
      postgres = await startPostgres();
      databaseUrl = postgres.url;
    }
    const options = resolveFleetOptions({ agents: AGENTS, processes: 2, variants: VARIANTS, jobMs: 100, queries: QUERIES, idleWindowMs: 1_000, fetchAgents: FETCH_AGENTS, fetchMb: 5, ...(databaseUrl ? { coordinatorEnv: { BENCHFARM_DATABASE_URL: databaseUrl } } : {}) });
    figures = await runSimulateFleet(options, (line) => console.log(`[simulate-fleet ${store}] ${line}`), {
      // Counted while the farm still runs, apart from the figures: REST, and the PostgreSQL rows themselves.
      async afterSweep({ sweepId, jobIds, httpUrl, runId }) {
        const client = new CoordinatorClient(httpUrl);
        const sweep = await client.getSweep(sweepId);
        seen.restJobs = sweep.jobs.filter((j) => j.state === 'done' && j.result?.count === QUERIES).length;
        const first = jobIds[0];
        if (first) seen.samples = (await client.samples(sweepId, first)).length;
        seen.agentsIdle = (await client.listAgents()).filter((a) => a.labels.fleet === runId && a.state === 'idle' && a.health?.status === 'verified').length;
        if (databaseUrl) {
          const db = new pg.Client({ connectionString: databaseUrl });
          await db.connect();
          try {
            const rows = await db.query<{ results: string; distinct_jobs: string; done: string }>(
              `SELECT (SELECT count(*) FROM results r JOIN jobs j ON j.id = r.job_id WHERE j.sweep_id = $1) AS results,
                      (SELECT count(DISTINCT r.job_id) FROM results r JOIN jobs j ON j.id = r.job_id WHERE j.sweep_id = $1) AS distinct_jobs,
                      (SELECT count(*) FROM jobs WHERE sweep_id = $1 AND state = 'done') AS done`,
              [sweepId],
            );
            const row = rows.rows[0];
            if (row) seen.storeRows = { results: Number(row.results), distinctJobs: Number(row.distinct_jobs), done: Number(row.done) };
          } finally {
            await db.end();
          }
        }
      },
    });
  }, 300_000);

  afterAll(async () => {
    await postgres?.stop();
  }, 60_000);

  it.skipIf(skip !== undefined)('every agent registers and is seen idle with a verified health check', () => {
    const r = figures.registration;
    expect(r).toMatchObject({ agents: AGENTS, started: AGENTS, failed: 0 });
    expect(isAbsent(r.coordinatorAllIdleMs)).toBe(false);
    expect(r.agentSideAllIdleMs).toBeGreaterThan(0);
    // Back to idle after the sweep, as the coordinator's GET /agents shows them.
    expect(seen.agentsIdle).toBe(AGENTS);
  });

  it.skipIf(skip !== undefined)('every job is done exactly once and every result stored once', () => {
    const sweep = figures.sweep;
    if (isAbsent(sweep)) throw new Error(`no sweep: ${sweep.absent}`);
    const jobs = AGENTS * VARIANTS;
    expect(sweep.jobs).toBe(jobs);
    expect(sweep.store).toEqual({ jobs, done: jobs, failed: 0, open: 0, results: jobs, distinctResults: jobs, lost: 0, retried: 0 });
    expect(sweep.agents).toMatchObject({ committedOnce: jobs, committedMoreThanOnce: 0, duplicateUploads: 0, notCommitted: 0, outcomes: { committed: jobs } });
    expect(sweep.uploadCounters).toEqual({ committed: jobs, duplicate: 0, error_recorded: 0, rejected: 0 });
    expect(sweep.dispatch.firstJobPerAgent?.n).toBe(AGENTS);
    expect(sweep.dispatch.everyJob?.n).toBe(jobs);
    expect(sweep.ingest?.results).toBe(jobs);
    expect(seen.restJobs).toBe(jobs);
    expect(seen.samples).toBe(QUERIES);
    if (store === 'postgresql') expect(seen.storeRows).toEqual({ results: jobs, distinctJobs: jobs, done: jobs });
  });

  it.skipIf(skip !== undefined)('the big model is read once per worker process and shared by the others', () => {
    const fetch = figures.modelFetch;
    if (isAbsent(fetch)) throw new Error(`no fetch figure: ${fetch.absent}`);
    expect(fetch.errors).toEqual([]);
    expect(fetch.agents).toBe(FETCH_AGENTS);
    expect(fetch.storeReads).toBe(2);
    expect(fetch.bytesServed).toBe(2 * fetch.sizeBytes);
    expect(fetch.cacheHits).toBe(FETCH_AGENTS - 2);
    expect(fetch.perAgent?.n).toBe(FETCH_AGENTS);
  });

  it.skipIf(skip !== undefined)('measures the coordinator and nats-server it started, and /metrics with one series set per device', () => {
    expect(isAbsent(figures.idle.coordinator)).toBe(false);
    expect(isAbsent(figures.idle.natsServer)).toBe(false);
    const loaded = figures.metricsLoaded;
    if (isAbsent(loaded)) throw new Error(loaded.absent);
    expect(loaded.scrapeMs).toHaveLength(3);
    const idle = figures.metricsIdle;
    if (isAbsent(idle)) throw new Error(idle.absent);
    // Each variant x device adds its latency, throughput and size series.
    expect(loaded.series - idle.series).toBeGreaterThanOrEqual(AGENTS * VARIANTS);
  });
});
