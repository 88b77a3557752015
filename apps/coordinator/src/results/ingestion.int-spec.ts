import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureAgentConsumer, ensureFarmStore, startNatsServer, type FarmStore, type NatsServerHandle } from '@benchfarm/messaging';
import { paddleOcrModelPath } from '@benchfarm/onnx';
import { AgentRecord, UploadOutcome, type ResultsClient, type UploadAck, type UploadHeader } from '@benchfarm/protocol';
import { startCoordinator, type RunningCoordinator } from '../app';
import { openPostgres } from '../storage/postgres';
import { openSqlite } from '../storage/sqlite';
import type { SqlDatabase } from '../storage/sql';
import { fakeAgentRecord } from '../testing/fake-agent';
import { resultsClient, syntheticUpload, upload } from '../testing/grpc-upload';
import { STORE_KINDS, testStores } from '../testing/stores';
import type { SweepView } from '../sweeps/sweep.view';
import { untilDerived } from '../testing/derived';

// Result ingestion on both stores: a real coordinator (nats-server, gRPC, HTTP) on SQLite or on a
// private PostgreSQL server. Every job of a sweep uploads at once, then every job uploads again
// under another upload id: each job has exactly one result row (with its samples), counted in the
// store itself; the second wave is answered DUPLICATE with the first result's id. On PostgreSQL
// the concurrent commits run as SERIALIZABLE transactions that may be re-run.
const AGENTS = Array.from({ length: 8 }, (_, i) => `ingest-${i}`);
const LABEL = 'ingest';
const MODEL = paddleOcrModelPath('cls');

describe.each(STORE_KINDS)('result ingestion on %s', (kind) => {
  const stores = testStores(kind);
  let nats: NatsServerHandle;
  let dir: string;
  let coordinator: RunningCoordinator;
  let nc: NatsConnection;
  let farm: FarmStore;
  let client: ResultsClient;
  /** A second connection to the coordinator's store, to count rows where they are stored. */
  let store: SqlDatabase;

  beforeAll(async () => {
    nats = await startNatsServer();
    dir = mkdtempSync(join(tmpdir(), `bf-ingest-${kind}-`));
    const dbPath = join(dir, 'coordinator.db');
    const databaseUrl = kind === 'postgres' ? await stores.databaseUrl() : undefined;
    coordinator = await startCoordinator({ natsUrl: nats.url, httpPort: 0, grpcPort: 0, dbPath, databaseUrl, dataDir: join(dir, 'data'), logLevel: 'error' });
    store = databaseUrl ? await openPostgres(databaseUrl, { migrate: false }) : openSqlite(dbPath);
    nc = await connect({ servers: nats.url });
    farm = await ensureFarmStore(nc);
    for (const agentId of AGENTS) {
      await farm.agents.put(agentId, AgentRecord.encode(fakeAgentRecord(agentId, { name: agentId, labels: { pool: LABEL } })).finish());
      await ensureAgentConsumer(farm.jsm, agentId);
    }
    client = resultsClient(coordinator.grpcAddress);
  }, 120_000);

  afterAll(async () => {
    client?.close();
    await store?.close();
    await nc?.close();
    await coordinator?.close();
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('stores one result per job when every job uploads at once, and twice', async () => {
    const form = new FormData();
    form.append('model', new Blob([readFileSync(MODEL)]), 'cls.onnx');
    for (const [key, value] of Object.entries({ variants: 'fp32,ort-basic', targets: `label:pool=${LABEL}`, shapes: 'x:1x3x48x192', compare: 'none', minQueries: '20', minDurationMs: '100', maxDurationMs: '5000' })) {
      form.append(key, value);
    }
    const created = await fetch(`${coordinator.httpUrl}/sweeps`, { method: 'POST', body: form });
    const sweep = await untilDerived(coordinator.httpUrl, (await created.json()) as SweepView);
    expect(created.status, JSON.stringify(sweep)).toBe(201);
    expect(sweep.jobs).toHaveLength(AGENTS.length * 2);

    const latencies = (jobIndex: number) => Array.from({ length: 200 }, (_, i) => 3 + jobIndex + (i % 7) * 0.5);
    const headerOf = (jobIndex: number, uploadId: string): UploadHeader => {
      const job = sweep.jobs[jobIndex]!;
      return { jobId: job.id, sweepId: sweep.id, agentId: job.agentId, attempt: 1, uploadId, leaseToken: '', resumeFromEvent: 0 };
    };
    const wave = (suffix: string): Promise<UploadAck[]> =>
      Promise.all(sweep.jobs.map((_job, i) => upload(client, syntheticUpload(headerOf(i, `${sweep.jobs[i]!.id}.${suffix}`), latencies(i), { chunk: 50 }))));

    const first = await wave('first');
    expect(first.map((ack) => ack.outcome)).toEqual(sweep.jobs.map(() => UploadOutcome.UPLOAD_OUTCOME_COMMITTED));
    const again = await wave('again');
    expect(again.map((ack) => ack.outcome)).toEqual(sweep.jobs.map(() => UploadOutcome.UPLOAD_OUTCOME_DUPLICATE));
    expect(again.map((ack) => ack.resultId)).toEqual(first.map((ack) => ack.resultId));

    const perJob = await store.all<{ job_id: string; results: number; samples: number; sample_count: number | null }>(
      `SELECT j.id AS job_id,
              (SELECT COUNT(*) FROM results r WHERE r.job_id = j.id) AS results,
              (SELECT COUNT(*) FROM results r JOIN result_samples s ON s.result_id = r.id WHERE r.job_id = j.id) AS samples,
              (SELECT s.count FROM results r JOIN result_samples s ON s.result_id = r.id WHERE r.job_id = j.id) AS sample_count
       FROM jobs j WHERE j.sweep_id = ? ORDER BY j.position`,
      [sweep.id],
    );
    expect(perJob).toEqual(sweep.jobs.map((job) => ({ job_id: job.id, results: 1, samples: 1, sample_count: 200 })));
    expect(await store.get('SELECT state FROM sweeps WHERE id = ?', [sweep.id])).toEqual({ state: 'completed' });

    // The samples read back are the first wave's, byte for byte.
    const samples = (await (await fetch(`${coordinator.httpUrl}/sweeps/${sweep.id}/jobs/${sweep.jobs[3]!.id}/samples`)).json()) as { latencyMs: number[] };
    expect(samples.latencyMs).toEqual(latencies(3));
  }, 120_000);
});
