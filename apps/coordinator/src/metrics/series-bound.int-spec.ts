import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureFarmStore, startNatsServer, type FarmStore, type NatsServerHandle } from '@benchfarm/messaging';
import { median } from '@benchfarm/numerics';
import { AgentRecord, UploadOutcome, type ResultsClient } from '@benchfarm/protocol';
import { paddleOcrModelPath } from '@benchfarm/onnx';
import { startCoordinator, type RunningCoordinator } from '../app';
import { resultsClient, syntheticUpload, upload } from '../testing/grpc-upload';
import type { SweepView } from '../sweeps/sweep.view';
import { fakeAgentRecord } from '../testing/fake-agent';
import { untilDerived } from '../testing/derived';

// RELIABILITY.md promise 15: many results ingested over gRPC into a real coordinator; the
// number of Prometheus series stays bounded (no ids in labels) and the scrape time stays flat.
// CI ingests 1 000 results; `npm run faults:figures` sets BENCHFARM_SERIES_RESULTS=10000.
const RESULTS = Math.max(100, Number(process.env.BENCHFARM_SERIES_RESULTS ?? 1_000));
const AGENTS = 50;
const MODEL = paddleOcrModelPath('cls');
const ID_IN_LABEL = /(job|sweep|res|upload|lease)_[0-9a-f]{8,}|[0-9a-f]{32}/;

/** Distinct series (name + labels) of a Prometheus text exposition. */
function seriesOf(text: string): string[] {
  return text.split('\n').filter((line) => line !== '' && !line.startsWith('#')).map((line) => line.slice(0, line.lastIndexOf(' ')));
}


describe(`promise 15: ${RESULTS} results ingested; bounded series, flat scrape time`, () => {
  let nats: NatsServerHandle;
  let dir: string;
  let coordinator: RunningCoordinator;
  let nc: NatsConnection;
  let farm: FarmStore;
  let client: ResultsClient;

  const scrape = async (): Promise<{ text: string; ms: number }> => {
    const started = performance.now();
    const response = await fetch(`${coordinator.httpUrl}/metrics`);
    const text = await response.text();
    return { text, ms: performance.now() - started };
  };
  const scrapeMs = async (): Promise<number> => {
    const times: number[] = [];
    for (let i = 0; i < 5; i += 1) times.push((await scrape()).ms);
    return median(times);
  };
  /** The registry entries fake agents keep fresh (the bucket's TTL removes them otherwise). */
  const heartbeat = async (): Promise<void> => {
    for (let i = 0; i < AGENTS; i += 1) {
      const record = fakeAgentRecord(`series-agent-${i}`, { name: `device-${i}` });
      await farm.agents.put(record.agentId, AgentRecord.encode(record).finish());
    }
  };
  const sweepOf = async (): Promise<SweepView> => {
    await heartbeat();
    const response = await fetch(`${coordinator.httpUrl}/sweeps`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ modelPath: MODEL, variants: 'fp32', targets: 'all', compare: 'none', shapes: 'x:1x3x48x192' }),
    });
    const body = await untilDerived(coordinator.httpUrl, (await response.json()) as SweepView);
    expect(response.status, JSON.stringify(body)).toBe(201);
    return body;
  };
  const ingest = async (sweep: SweepView): Promise<void> => {
    const latencies = Array.from({ length: 64 }, (_, i) => 5 + (i % 7) * 0.1);
    const jobs = [...sweep.jobs];
    // A few uploads at a time, as a fleet of agents would send them.
    while (jobs.length > 0) {
      const batch = jobs.splice(0, 10);
      const acks = await Promise.all(
        batch.map((job) => upload(client, syntheticUpload({ jobId: job.id, sweepId: sweep.id, agentId: job.agentId, attempt: 1, uploadId: `${job.id}.1.s`, leaseToken: '', resumeFromEvent: 0 }, latencies))),
      );
      for (const ack of acks) expect(ack.outcome).toBe(UploadOutcome.UPLOAD_OUTCOME_COMMITTED);
    }
  };

  beforeAll(async () => {
    nats = await startNatsServer();
    dir = mkdtempSync(join(tmpdir(), 'bf-series-'));
    coordinator = await startCoordinator({ natsUrl: nats.url, httpPort: 0, grpcPort: 0, dbPath: join(dir, 'coordinator.db'), dataDir: join(dir, 'data'), logLevel: 'error' });
    nc = await connect({ servers: nats.url });
    farm = await ensureFarmStore(nc);
    await heartbeat();
    client = resultsClient(coordinator.grpcAddress);
  }, 60_000);

  afterAll(async () => {
    client?.close();
    await nc?.close();
    await coordinator?.close();
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('keeps the series count and the scrape time flat from the first sweep to the last', async () => {
    // Two sweeps first: the regression gauges of a series appear with its second result.
    for (let i = 0; i < 2; i += 1) {
      const sweep = await sweepOf();
      expect(sweep.jobs).toHaveLength(AGENTS);
      await ingest(sweep);
    }
    const early = seriesOf((await scrape()).text);
    const earlyMs = await scrapeMs();
    for (let done = 2 * AGENTS; done < RESULTS; done += AGENTS) await ingest(await sweepOf());
    const late = seriesOf((await scrape()).text);
    const lateMs = await scrapeMs();

    // Bounded: the same series after RESULTS results as after the first 2 x AGENTS (a fixed
    // number per model x variant x device x provider), whatever the number of results.
    const resultSeries = (all: string[]): string[] => all.filter((s) => s.includes('device="'));
    expect(resultSeries(late).length).toBe(resultSeries(early).length);
    expect(resultSeries(late).length % AGENTS).toBe(0);
    expect(late.length).toBeLessThanOrEqual(early.length + 10);
    for (const series of late) expect(series).not.toMatch(ID_IN_LABEL);
    // Flat: the scrape after RESULTS results within 3x (+250 ms) of the one after the first sweep.
    expect(lateMs).toBeLessThanOrEqual(3 * earlyMs + 250);
    console.log(`[figures] ${JSON.stringify({ promise: `15 ${RESULTS} results ingested`, seriesEarly: early.length, seriesLate: late.length, scrapeEarlyMs: Math.round(earlyMs), scrapeLateMs: Math.round(lateMs) })}`);
  }, 600_000);
});
