import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Metadata, credentials, status, type ChannelCredentials, type ServiceError } from '@grpc/grpc-js';
// Test support only: "nothing written" is checked in the coordinator's own database file.
// eslint-disable-next-line @nx/enforce-module-boundaries
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startNatsServer, type NatsServerHandle } from '@benchfarm/messaging';
import { paddleOcrModelPath } from '@benchfarm/onnx';
import type * as Protocol from '@benchfarm/protocol';
import type { LeasesClient, ResultsClient, ResultEvent, UploadHeader } from '@benchfarm/protocol';
import { CoordinatorClient, type JobView } from '../client';
import { repoRoot } from '../processes';
import { startAgentProcess, startCoordinatorProcess, waitFor, type TestProcess } from './harness';
import { createDerived, QUICK_SWEEP } from '../testing/farm.fixture';

// RELIABILITY.md promise 14 against real processes: a coordinator serving gRPC over TLS with
// client certificates required (mTLS), its PKI made by `benchfarm pki`, a real agent process
// with its certificate, and real grpc-js clients (the generated ts-proto clients) that try to
// get in without a certificate, with another CA's certificate, trusting another CA, as another
// agent, or with an oversized message. Every attempt is repeated N times and counted; afterwards
// nothing may have been written and the real agent's sweep completes over mTLS.
const N = Math.max(20, Number(process.env.BENCHFARM_GRPC_SECURITY_TRIALS ?? 20));
const figure = (promise: string, fields: Record<string, number>): void => console.log(`[figures] ${JSON.stringify({ promise, ...fields })}`);
/** Larger than the coordinator's 4 MiB receive limit (GRPC_MAX_RECEIVE_MESSAGE_BYTES). */
const OVERSIZED_SAMPLES = 600_000;

type Outcome = { code: status; details: string; ms: number };

/** One unary or streaming call's outcome: OK (0) or the gRPC status it failed with. */
async function outcome(call: () => Promise<unknown>): Promise<Outcome> {
  const started = performance.now();
  try {
    await call();
    return { code: status.OK, details: '', ms: performance.now() - started };
  } catch (err) {
    const e = err as Partial<ServiceError>;
    return { code: e.code ?? status.UNKNOWN, details: e.details ?? String(err), ms: performance.now() - started };
  }
}

const quantile = (values: number[], q: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;
};
const round = (ms: number): number => Math.round(ms * 10) / 10;

describe('promise 14: gRPC over TLS with mTLS tying the certificate to the agent id', () => {
  let dir: string;
  let nats: NatsServerHandle;
  let coordinator: TestProcess;
  let agent: TestProcess;
  let client: CoordinatorClient;
  let grpcAddress: string;
  let sweepId: string;
  let job: JobView;
  let leaseTokensBefore: string[];
  const victim = 'sec-victim';
  const intruder = 'sec-intruder';
  /** Upload ids the attacks used: none may be parked or committed. */
  const attackUploads: string[] = [];
  const files = (...path: string[]): Buffer => readFileSync(join(dir, ...path));
  const benchfarm = (...args: string[]): void => void execFileSync(join(repoRoot, 'bin/benchfarm'), args, { stdio: 'pipe' });

  /** The generated clients (loaded lazily, as the fault suite loads the protocol lib). */
  let protocol: typeof Protocol;
  /** A fresh channel (own subchannel pool: every call makes its own TLS handshake). */
  const leasesClient = (creds: ChannelCredentials): LeasesClient => new protocol.LeasesClient(grpcAddress, creds, { 'grpc.use_local_subchannel_pool': 1 });
  const resultsClient = (creds: ChannelCredentials): ResultsClient => new protocol.ResultsClient(grpcAddress, creds, { 'grpc.use_local_subchannel_pool': 1 });
  const farmCa = (): Buffer => files('pki', 'ca.crt');
  const asAgent = (agentDir: string, trust = farmCa()): ChannelCredentials => credentials.createSsl(trust, files(agentDir, 'agent.key'), files(agentDir, 'agent.crt'));
  const deadline = (): { deadline: number } => ({ deadline: Date.now() + 15_000 });

  const acquire = (c: LeasesClient, agentId: string): Promise<unknown> =>
    new Promise((resolve, reject) => c.acquire({ jobId: job.id, sweepId, agentId, deliveryCount: 1 }, new Metadata(), deadline(), (err, res) => (err ? reject(err) : resolve(res))));
  const renew = (c: LeasesClient, agentId: string): Promise<unknown> =>
    new Promise((resolve, reject) => c.renew({ jobId: job.id, agentId, leaseToken: `lease_${'0'.repeat(32)}` }, new Metadata(), deadline(), (err, res) => (err ? reject(err) : resolve(res))));
  const uploadStatus = (c: LeasesClient, uploadId: string): Promise<{ eventsReceived: number; committed: boolean }> =>
    new Promise((resolve, reject) => c.uploadStatus({ jobId: job.id, uploadId, leaseToken: '' }, new Metadata(), deadline(), (err, res) => (err ? reject(err) : resolve(res))));
  const upload = (c: ResultsClient, events: ResultEvent[]): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const stream = c.upload(new Metadata(), deadline(), (err, ack) => (err ? reject(err) : resolve(ack)));
      stream.on('error', () => undefined);
      for (const event of events) stream.write(event);
      stream.end();
    });
  const header = (agentId: string, uploadId: string): UploadHeader => {
    attackUploads.push(uploadId);
    return { jobId: job.id, sweepId, agentId, attempt: 1, uploadId, leaseToken: `lease_${'0'.repeat(32)}`, resumeFromEvent: 0 };
  };
  const started = (h: UploadHeader): ResultEvent => ({ header: h, event: { $case: 'started', value: { startedAtUnixMs: Date.now(), onnxruntimeVersion: 'x', childPid: 1 } } });

  /** Runs `attempt` N times on fresh clients and counts the outcomes by gRPC status name. */
  const repeat = async (name: string, attempt: (i: number) => Promise<Outcome>): Promise<{ codes: Record<string, number>; outcomes: Outcome[] }> => {
    const outcomes: Outcome[] = [];
    for (let i = 0; i < N; i += 1) outcomes.push(await attempt(i));
    const codes: Record<string, number> = {};
    for (const o of outcomes) codes[status[o.code]] = (codes[status[o.code]] ?? 0) + 1;
    const ms = outcomes.map((o) => o.ms);
    console.log(`[grpc-security] ${name}: ${JSON.stringify(codes)} p50 ${round(quantile(ms, 0.5))} ms, max ${round(Math.max(...ms))} ms; e.g. ${outcomes[0]?.details}`);
    figure(`14 ${name}`, { attempts: outcomes.length, refused: outcomes.filter((o) => o.code !== status.OK).length, p50Ms: round(quantile(ms, 0.5)), p95Ms: round(quantile(ms, 0.95)), maxMs: round(Math.max(...ms)) });
    return { codes, outcomes };
  };
  const db = <T>(read: (d: Database.Database) => T): T => {
    const d = new Database(join(dir, 'coordinator.db'), { readonly: true, fileMustExist: true });
    try {
      return read(d);
    } finally {
      d.close();
    }
  };
  const leaseTokens = (): string[] => db((d) => (d.prepare('SELECT token, agent_id FROM job_leases ORDER BY token').all() as Array<{ token: string; agent_id: string }>).map((r) => `${r.agent_id}:${r.token}`));

  beforeAll(async () => {
    protocol = await import('@benchfarm/protocol');
    dir = mkdtempSync(join(tmpdir(), 'bf-grpc-security-'));
    // The farm PKI, an agent's and an intruder's credentials, and a rogue CA with a certificate
    // that names the victim: all made by `benchfarm pki`.
    benchfarm('pki', 'init', '--dir', join(dir, 'pki'));
    benchfarm('pki', 'issue-agent', '--dir', join(dir, 'pki'), '--id', victim, '--out', join(dir, victim));
    benchfarm('pki', 'issue-agent', '--dir', join(dir, 'pki'), '--id', intruder, '--out', join(dir, intruder));
    benchfarm('pki', 'init', '--dir', join(dir, 'rogue-pki'));
    benchfarm('pki', 'issue-agent', '--dir', join(dir, 'rogue-pki'), '--id', victim, '--out', join(dir, 'rogue-victim'));

    nats = await startNatsServer({ storeDir: join(dir, 'nats') });
    coordinator = await startCoordinatorProcess({
      natsUrl: nats.url,
      dir,
      grpcPort: await freePort(),
      httpPort: 0,
      env: {
        BENCHFARM_GRPC_TLS_CERT: join(dir, 'pki', 'server.crt'),
        BENCHFARM_GRPC_TLS_KEY: join(dir, 'pki', 'server.key'),
        BENCHFARM_GRPC_TLS_CLIENT_CA: join(dir, 'pki', 'ca.crt'),
        BENCHFARM_PKI_CA_CERT: join(dir, 'pki', 'ca.crt'),
        BENCHFARM_PKI_CA_KEY: join(dir, 'pki', 'ca.key'),
      },
    });
    client = new CoordinatorClient(String(coordinator.ready.httpUrl));
    grpcAddress = String(coordinator.ready.grpcAddress);
    agent = await startAgentProcess({
      agentId: victim,
      natsUrl: nats.url,
      grpcAddress,
      dir,
      env: { BENCHFARM_GRPC_TLS_CA: join(dir, victim, 'ca.crt'), BENCHFARM_GRPC_TLS_CERT: join(dir, victim, 'agent.crt'), BENCHFARM_GRPC_TLS_KEY: join(dir, victim, 'agent.key') },
    });
    await waitFor(`${victim} registered`, async () => ((await client.listAgents()).some((a) => a.agentId === victim && !a.stale) ? true : undefined), 60_000);
    // A job long enough that the attacks below run while the victim holds its lease.
    const sweep = await createDerived(client, paddleOcrModelPath('cls'), { ...QUICK_SWEEP, targets: victim, minDurationMs: 20_000, maxDurationMs: 60_000 });
    sweepId = sweep.id;
    job = await waitFor('the job running on the victim over mTLS', async () => {
      const j = (await client.getSweep(sweepId)).jobs[0];
      return j?.state === 'running' ? j : undefined;
    }, 90_000, 100);
    leaseTokensBefore = leaseTokens();
  }, 240_000);

  afterAll(async () => {
    await agent?.stop(3_000);
    await coordinator?.stop();
    await nats?.stop();
    if (!process.env.BENCHFARM_KEEP_FAULT_LOGS) rmSync(dir, { recursive: true, force: true });
    else console.log(`[grpc-security] logs kept in ${dir}/logs`);
  }, 60_000);

  it('the victim holds exactly one lease, taken over mTLS', () => {
    expect(leaseTokensBefore).toHaveLength(1);
    expect(leaseTokensBefore[0]).toMatch(new RegExp(`^${victim}:lease_`));
  });

  it('(a) no client certificate: the handshake is refused, every time', async () => {
    const { codes } = await repeat('no client certificate', async () => {
      const c = leasesClient(credentials.createSsl(farmCa()));
      try {
        return await outcome(() => acquire(c, victim));
      } finally {
        c.close();
      }
    });
    expect(codes).toEqual({ UNAVAILABLE: N });
  }, 120_000);

  it("(b) a client certificate from another CA (naming the victim): refused, every time", async () => {
    const { codes } = await repeat('client certificate from another CA', async () => {
      const c = leasesClient(asAgent('rogue-victim'));
      try {
        return await outcome(() => acquire(c, victim));
      } finally {
        c.close();
      }
    });
    expect(codes).toEqual({ UNAVAILABLE: N });
  }, 120_000);

  it("(c) a client that trusts another CA refuses the coordinator's certificate, every time", async () => {
    const { codes, outcomes } = await repeat('client trusting another CA', async () => {
      const c = leasesClient(asAgent(victim, files('rogue-pki', 'ca.crt')));
      try {
        return await outcome(() => acquire(c, victim));
      } finally {
        c.close();
      }
    });
    expect(codes).toEqual({ UNAVAILABLE: N });
    expect(outcomes.every((o) => /certificate|self.signed|verify/i.test(o.details))).toBe(true);
  }, 120_000);

  it("(d) agent A's certificate acting for agent B or on B's job: PERMISSION_DENIED naming both, every time", async () => {
    const creds = asAgent(intruder);
    const leases = leasesClient(creds);
    const results = resultsClient(creds);
    try {
      const attempts: Array<[string, (i: number) => Promise<unknown>]> = [
        ['acquire as B', () => acquire(leases, victim)],
        ['renew as B', () => renew(leases, victim)],
        ["upload status of B's job", (i) => uploadStatus(leases, `attack-status-${i}`)],
        ['upload as B', (i) => upload(results, [started(header(victim, `attack-as-b-${i}`))])],
        ["upload as A for B's job", (i) => upload(results, [started(header(intruder, `attack-as-a-${i}`))])],
      ];
      for (const [name, attempt] of attempts) {
        const { codes, outcomes } = await repeat(`intruder: ${name}`, (i) => outcome(() => attempt(i)));
        expect(codes, name).toEqual({ PERMISSION_DENIED: N });
        expect(outcomes[0]?.details, name).toContain(`the client certificate names agent ${intruder}`);
        expect(outcomes[0]?.details, name).toContain(victim);
      }
    } finally {
      leases.close();
      results.close();
    }
  }, 180_000);

  it('(e) a message over 4 MiB, even from the rightful agent: RESOURCE_EXHAUSTED, every time', async () => {
    const creds = asAgent(victim);
    const leases = leasesClient(creds);
    const results = resultsClient(creds);
    const samples = Array.from({ length: OVERSIZED_SAMPLES }, (_, i) => 1 + (i % 7) / 10);
    try {
      const upload5Mb = await repeat('oversized upload event (4.8 MB)', (i) =>
        outcome(() => upload(results, [{ header: header(victim, `attack-big-${i}`), event: { $case: 'samples', value: { offset: 0, latencyMs: samples } } }])),
      );
      expect(upload5Mb.codes).toEqual({ RESOURCE_EXHAUSTED: N });
      expect(upload5Mb.outcomes[0]?.details).toMatch(/larger than max/);
      const unary5Mb = await repeat('oversized lease request (5 MiB)', () => outcome(() => acquire(leases, 'x'.repeat(5 * 1024 * 1024))));
      expect(unary5Mb.codes).toEqual({ RESOURCE_EXHAUSTED: N });
    } finally {
      leases.close();
      results.close();
    }
  }, 180_000);

  it('afterwards: no lease taken or changed, no upload parked, one result (the real agent\'s, over mTLS), coordinator serving', async () => {
    // Nothing of any attack upload is held for resuming (asked as the rightful agent).
    const leases = leasesClient(asAgent(victim));
    try {
      const held = await Promise.all(attackUploads.map((id) => uploadStatus(leases, id)));
      expect(attackUploads.length).toBe(3 * N);
      expect(held.filter((h) => h.eventsReceived > 0 || h.committed)).toEqual([]);
    } finally {
      leases.close();
    }
    const done = await waitFor(`sweep ${sweepId} settled`, async () => {
      const s = await client.getSweep(sweepId);
      return s.state === 'running' ? undefined : s;
    }, 120_000, 250);
    expect(done.jobs[0]).toMatchObject({ state: 'done', agentId: victim, attempts: 1 });
    // The victim's lease is the only one ever taken (released by its commit, not replaced).
    expect(leaseTokens()).toEqual(leaseTokensBefore);
    const rows = db((d) => d.prepare('SELECT r.upload_id AS uploadId, j.agent_id AS agentId FROM results r JOIN jobs j ON j.id = r.job_id').all() as Array<{ uploadId: string; agentId: string }>);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.agentId).toBe(victim);
    expect(attackUploads).not.toContain(rows[0]?.uploadId);
    expect((await fetch(`${client.baseUrl}/healthz`)).status).toBe(200);
    figure('14 after all attacks', { resultRows: rows.length, leasesTaken: leaseTokens().length, parkedAttackUploads: 0 });
  }, 180_000);
});
