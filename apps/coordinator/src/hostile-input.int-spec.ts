import { execFileSync } from 'node:child_process';
import { closeSync, constants, copyFileSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Metadata, credentials, status, type ServiceError } from '@grpc/grpc-js';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureFarmStore, startNatsServer, type FarmStore, type NatsServerHandle } from '@benchfarm/messaging';
import { AgentRecord, LeasesClient, Summary, type ResultsClient } from '@benchfarm/protocol';
import { paddleOcrModelPath } from '@benchfarm/onnx';
import { repoRoot } from '@benchfarm/testing';
import { startCoordinator, type RunningCoordinator } from './app';
import { JsonLogger } from './common/json-logger';
import { GRPC_DETAILS_MAX_CHARS } from './results/grpc-bounds';
import { resultsClient, upload } from './testing/grpc-upload';
import { fakeAgentRecord } from './testing/fake-agent';
import type { AgentView } from './agents/agents.service';

/**
 * The probes of hostile and careless input against a real coordinator: nats-server
 * (JetStream), SQLite, the REST API and the gRPC services, one of each for the whole file.
 */
const MODEL = paddleOcrModelPath('cls');
/** The model's input `x` has a dynamic width. */
const SHAPES = 'x:1x3x48x192';
const GOOD_AGENTS = ['good-agent-1', 'good-agent-2'];
/** Small on purpose: two variants on the two agents already exceed it. */
const MAX_JOBS_PER_SWEEP = 3;
/** A request that hangs is a failure: generous for 2 loaded cores, far below any derivation timeout. */
const PROMPT_MS = 30_000;
const HUGE_ID = 'j'.repeat(100_000);

describe('hostile and careless input (real nats-server, coordinator, gRPC)', () => {
  let nats: NatsServerHandle;
  let dir: string;
  let coordinator: RunningCoordinator;
  let nc: NatsConnection;
  let farm: FarmStore;
  const logLines: string[] = [];
  const fifos: string[] = [];

  const putAgent = async (key: string, value: Uint8Array): Promise<void> => {
    await farm.agents.put(key, value);
  };
  const putGoodAgents = async (): Promise<void> => {
    for (const id of GOOD_AGENTS) await putAgent(id, AgentRecord.encode(fakeAgentRecord(id)).finish());
  };
  const postJson = async (body: object): Promise<{ status: number; body: Record<string, unknown>; ms: number }> => {
    const started = Date.now();
    const response = await fetch(`${coordinator.httpUrl}/sweeps`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' }, signal: AbortSignal.timeout(PROMPT_MS) });
    return { status: response.status, body: (await response.json()) as Record<string, unknown>, ms: Date.now() - started };
  };
  const sweepCount = async (): Promise<number> => ((await (await fetch(`${coordinator.httpUrl}/sweeps`)).json()) as unknown[]).length;
  const workFolders = (): string[] => readdirSync(join(coordinator.config.dataDir, 'work'));
  const mkfifo = (path: string): string => {
    execFileSync('mkfifo', [path]);
    fifos.push(path);
    return path;
  };

  beforeAll(async () => {
    nats = await startNatsServer();
    dir = mkdtempSync(join(tmpdir(), 'bf-hostile-'));
    coordinator = await startCoordinator(
      { natsUrl: nats.url, httpPort: 0, grpcPort: 0, dbPath: join(dir, 'coordinator.db'), dataDir: join(dir, 'data'), maxJobsPerSweep: MAX_JOBS_PER_SWEEP },
      { logger: new JsonLogger('warn', (line) => logLines.push(line)) },
    );
    nc = await connect({ servers: nats.url });
    farm = await ensureFarmStore(nc);
  });

  afterAll(async () => {
    // A reader stuck opening a FIFO (the defect, if it is back) is released by a writer's open and close.
    for (const fifo of fifos) {
      try {
        closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
      } catch {
        // no reader waiting: nothing to release
      }
    }
    await nc?.close();
    await coordinator?.close();
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe('agent registry', () => {
    it('answers GET /agents with the good entries when one has startedAtUnixMs 8.7e15 and one does not decode, and reports each bad one once', async () => {
      await putGoodAgents();
      await putAgent('bad-clock', AgentRecord.encode(fakeAgentRecord('bad-clock', { startedAtUnixMs: 8.7e15 })).finish());
      await putAgent('garbage', new Uint8Array([0xff, 0xff, 0xff, 0xff]));
      for (let round = 0; round < 2; round++) {
        const response = await fetch(`${coordinator.httpUrl}/agents`);
        const body = (await response.json()) as AgentView[];
        expect(response.status, JSON.stringify(body)).toBe(200);
        expect(body.map((a) => a.agentId).sort()).toEqual(GOOD_AGENTS);
      }
      const skips = logLines.filter((line) => line.includes('agent registry entry'));
      expect(skips.filter((line) => line.includes('bad-clock'))).toHaveLength(1);
      expect(skips.find((line) => line.includes('bad-clock'))).toContain('started_at_unix_ms 8700000000000000');
      expect(skips.filter((line) => line.includes('garbage'))).toHaveLength(1);
      await farm.agents.delete('bad-clock');
      await farm.agents.delete('garbage');
    });
  });

  describe('files a request names', () => {
    it('refuses a FIFO as an own variant with 400 naming ownVariants, promptly, leaving no work folder', async () => {
      await putGoodAgents();
      const fifo = mkfifo(join(dir, 'own-variant.onnx'));
      const before = await sweepCount();
      const { status: code, body } = await postJson({ modelPath: MODEL, shapes: SHAPES, variants: 'fp32', compare: 'none', ownVariants: { mine: fifo } });
      expect(code, JSON.stringify(body)).toBe(400);
      expect(body).toMatchObject({ code: 'invalid_argument', field: 'ownVariants' });
      expect(String(body['message'])).toContain('not a readable regular file');
      expect(workFolders()).toEqual([]);
      expect(await sweepCount()).toBe(before);
    });

    it('refuses a FIFO among the calibrationDir images with 400 naming calibrationDir, promptly, leaving no work folder', async () => {
      await putGoodAgents();
      const calibration = join(dir, 'calibration');
      mkdirSync(calibration);
      mkfifo(join(calibration, 'a-fifo.jpg'));
      copyFileSync(join(repoRoot, 'examples/yolox-nano/calibration/capture_20240913_124002_jpg.jpg'), join(calibration, 'b-photo.jpg'));
      const { status: code, body } = await postJson({ modelPath: MODEL, shapes: SHAPES, variants: 'int8-static', compare: 'none', calibrationDir: calibration, calibrationPreprocess: 'imagenet' });
      expect(code, JSON.stringify(body)).toBe(400);
      expect(body).toMatchObject({ code: 'invalid_argument', field: 'calibrationDir' });
      expect(String(body['message'])).toContain('a-fifo.jpg');
      expect(workFolders()).toEqual([]);
    });
  });

  describe('work size', () => {
    it('refuses an input shape of [1,3,16777216,16777216] with 400 naming shapes before any work', async () => {
      await putGoodAgents();
      const before = await sweepCount();
      const { status: code, body } = await postJson({ modelPath: MODEL, variants: 'fp32', shapes: { x: [1, 3, 16777216, 16777216] } });
      expect(code, JSON.stringify(body)).toBe(400);
      expect(body).toMatchObject({ code: 'invalid_argument', field: 'shapes' });
      expect(String(body['message'])).toContain('BENCHFARM_MAX_INPUT_ELEMENTS');
      expect(workFolders()).toEqual([]);
      expect(await sweepCount()).toBe(before);
    });

    it('refuses 300 distinct variants with 400 naming variants before any is derived', async () => {
      await putGoodAgents();
      const before = await sweepCount();
      const variants = Array.from({ length: 300 }, (_, i) => `prune-l1:${((i + 1) / 1000).toFixed(3)}`).join(',');
      const { status: code, body } = await postJson({ modelPath: MODEL, shapes: SHAPES, variants, compare: 'none' });
      expect(code, JSON.stringify(body)).toBe(400);
      expect(body).toMatchObject({ code: 'invalid_argument', field: 'variants' });
      expect(String(body['message'])).toContain('BENCHFARM_MAX_VARIANTS_PER_SWEEP');
      expect(workFolders()).toEqual([]);
      expect(await sweepCount()).toBe(before);
    });

    it(`refuses a sweep of more than ${MAX_JOBS_PER_SWEEP} jobs (BENCHFARM_MAX_JOBS_PER_SWEEP) with 400 naming targets, queueing nothing`, async () => {
      await putGoodAgents();
      const before = await sweepCount();
      const { status: code, body } = await postJson({ modelPath: MODEL, shapes: SHAPES, variants: 'fp32,ort-basic', compare: 'none', targets: GOOD_AGENTS.join(',') });
      expect(code, JSON.stringify(body)).toBe(400);
      expect(body).toMatchObject({ code: 'invalid_argument', field: 'targets' });
      expect(String(body['message'])).toContain('4 jobs');
      expect(await sweepCount()).toBe(before);
      expect(workFolders()).toEqual([]);
    });
  });

  describe('gRPC field bounds', () => {
    let leases: LeasesClient;
    let results: ResultsClient;
    beforeAll(() => {
      leases = new LeasesClient(coordinator.grpcAddress, credentials.createInsecure());
      results = resultsClient(coordinator.grpcAddress);
    });
    afterAll(() => {
      leases?.close();
      results?.close();
    });

    const unary = <Req>(method: (req: Req, md: Metadata, options: { deadline: number }, cb: (err: ServiceError | null) => void) => unknown, request: Req): Promise<ServiceError | null> =>
      new Promise((resolve) => {
        method(request, new Metadata(), { deadline: Date.now() + PROMPT_MS }, (err) => resolve(err));
      });
    const expectRefused = (err: ServiceError | null, field: string, bound: number): void => {
      expect(err?.code, err?.details).toBe(status.INVALID_ARGUMENT);
      expect(err?.details).toContain(`${field} is 100000 characters long; at most ${bound}`);
      expect(err!.details.length).toBeLessThanOrEqual(GRPC_DETAILS_MAX_CHARS + 40);
    };

    it('answers a 100k-character job id on every RPC with INVALID_ARGUMENT naming the field and the bound, and logs none of it whole', async () => {
      const linesBefore = logLines.length;
      expectRefused(await unary(leases.acquire.bind(leases), { jobId: HUGE_ID, sweepId: 's', agentId: 'a', deliveryCount: 1 }), 'job_id', 128);
      expectRefused(await unary(leases.renew.bind(leases), { jobId: HUGE_ID, agentId: 'a', leaseToken: 't' }), 'job_id', 128);
      expectRefused(await unary(leases.uploadStatus.bind(leases), { jobId: HUGE_ID, uploadId: 'u', leaseToken: 't' }), 'job_id', 128);
      const header = { jobId: HUGE_ID, sweepId: 's', agentId: 'a', attempt: 1, uploadId: 'u', leaseToken: 't', resumeFromEvent: 0 };
      const uploadError = await Promise.race([
        upload(results, [{ header, event: { $case: 'progress', value: { phase: 'measure', queriesDone: 1, elapsedMs: 1 } } }]).then(
          () => null,
          (err: ServiceError) => err,
        ),
        new Promise<ServiceError | null>((resolve) => setTimeout(() => resolve(null), PROMPT_MS)),
      ]);
      expectRefused(uploadError, 'header.job_id', 128);
      const newLines = logLines.slice(linesBefore);
      expect(newLines.every((line) => !line.includes('j'.repeat(1000))), newLines.map((l) => l.slice(0, 200)).join('\n')).toBe(true);
    });

    it('bounds the count of a repeated field of an upload', async () => {
      const header = { jobId: 'job_x', sweepId: 's', agentId: 'a', attempt: 1, uploadId: 'u', leaseToken: 't', resumeFromEvent: 0 };
      const summary = Summary.fromPartial({ percentiles: Array.from({ length: 10_001 }, () => ({ quantile: 0.5, minSamples: 1 })) });
      const err = await upload(results, [{ header, event: { $case: 'summary', value: summary } }]).then(
        () => null,
        (e: ServiceError) => e,
      );
      expect(err?.code, err?.details).toBe(status.INVALID_ARGUMENT);
      expect(err?.details).toContain('summary.percentiles has 10001 entries; at most 10000');
    });
  });
});
