// Job identity on a secured farm: nats-server 2.9 in operator mode from generated accounts
// (libs/messaging farm-security, what `benchfarm security init` writes), the coordinator
// in-process with its NATS creds, the account signing key, gRPC mTLS with the farm CA of the
// project's PKI (initPki) and a REST token; two agents enrolled through the real REST flow
// (keys made here, a NATS user signed with agentPermissions, a client certificate issued by the
// farm CA). No agent process: the test is agent A, with A's NATS user and certificate, and
// agent B attacks A's job with its own. Every attack of the issue is refused; A's flow works.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, status, type ChannelCredentials, type ServiceError } from '@grpc/grpc-js';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import type { JetStreamManager } from '@nats-io/jetstream';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  JOB_STREAM,
  agentConsumer,
  agentInboxPrefix,
  createUserKeyPair,
  formatAccountSigningKey,
  formatCredsFile,
  generateFarmSecurity,
  jobSubject,
  natsAuthConfig,
  openFarmStore,
  parseCredsFile,
  startNatsServer,
  type FarmStore,
  type NatsServerHandle,
} from '@benchfarm/messaging';
import { paddleOcrModelPath } from '@benchfarm/onnx';
import { AgentRecord, LeaseDecision, ResultsClient, UploadOutcome, type ResultEvent, type UploadAck, type UploadHeader } from '@benchfarm/protocol';
import { startCoordinator, type RunningCoordinator } from '../app';
import { JsonLogger } from '../common/json-logger';
import { initPki } from '../security/pki-files';
import { fakeAgentRecord } from '../testing/fake-agent';
import { syntheticUpload } from '../testing/grpc-upload';
import { LogLines, acquireLease, leasesClient, publishForgedMaxDeliveries } from '../testing/leases';
import type { SweepView } from '../sweeps/sweep.view';
import { untilDerived } from '../testing/derived';

const TOKEN = 'job-identity-test-token-0123456789';
const A = 'id-agent-a';
const B = 'id-agent-b';
const WATCHER = 'MaxDeliverWatcher';
/** Repetitions of each gRPC attack (a handful by default: `BENCHFARM_JOB_IDENTITY_TRIALS` for more). */
const N = Math.max(5, Number(process.env.BENCHFARM_JOB_IDENTITY_TRIALS ?? 5));
const figure = (fields: Record<string, unknown>): void => console.log(`[figures] ${JSON.stringify({ promise: 'job identity', ...fields })}`);

interface Enrolled {
  agentId: string;
  creds: Uint8Array;
  userKey: string;
  tls: ChannelCredentials;
}

const grpcCode = async (call: () => Promise<unknown>): Promise<{ code: number; details: string }> => {
  try {
    await call();
    return { code: status.OK, details: '' };
  } catch (err) {
    const e = err as Partial<ServiceError>;
    return { code: e.code ?? status.UNKNOWN, details: e.details ?? String(err) };
  }
};

function uploadOver(client: ResultsClient, events: readonly ResultEvent[]): Promise<UploadAck> {
  return new Promise<UploadAck>((resolve, reject) => {
    const stream = client.upload((err, ack) => (err ? reject(err) : resolve(ack)));
    stream.on('error', () => undefined);
    for (const event of events) stream.write(event);
    stream.end();
  });
}

describe('job identity on a secured farm (operator-mode NATS, mTLS gRPC): an agent leases and uploads only its own jobs; advisories only from the server', () => {
  let dir: string;
  let nats: NatsServerHandle;
  const serverLog: string[] = [];
  let coordinator: RunningCoordinator;
  const logs = new LogLines();
  let a: Enrolled;
  let b: Enrolled;
  let ncA: NatsConnection;
  let storeA: FarmStore;
  let ncB: NatsConnection;
  /** A user with the farm account's full rights (the coordinator's creds; a leaf link has as many). */
  let admin: NatsConnection;
  let adminJsm: JetStreamManager;
  let heartbeat: NodeJS.Timeout;
  let sweepId: string;
  let jobId: string;
  let seq: number;

  const rest = async <T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> => {
    const response = await fetch(`${coordinator.httpUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as T };
  };
  const job = async (): Promise<SweepView['jobs'][number]> => (await rest<SweepView>('GET', `/sweeps/${sweepId}`)).body.jobs[0]!;
  const stillStored = (): Promise<boolean> => adminJsm.streams.getMessage(JOB_STREAM, { seq }).then((m) => m !== null && m !== undefined, () => false);
  const header = (agentId: string, leaseToken: string, uploadId: string, attempt = 1): UploadHeader => ({ jobId, sweepId, agentId, attempt, uploadId, leaseToken, resumeFromEvent: 0 });
  const latencies = Array.from({ length: 40 }, (_, i) => 4 + (i % 5) * 0.5);

  /** Enrolls an agent the way `benchfarm agent enroll` does: keys made here, public halves sent. */
  const enroll = async (agentId: string): Promise<Enrolled> => {
    const code = await rest<{ code: string }>('POST', '/v1/enrollments', { agentId });
    expect(code.status).toBe(201);
    const nkey = createUserKeyPair();
    const tlsKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const enrolled = await rest<{ natsUserJwt: string; tls?: { certificatePem: string; caCertificatePem: string } }>('POST', '/v1/enroll', {
      agentId,
      code: code.body.code,
      natsPublicKey: nkey.publicKey,
      tlsPublicKeyPem: tlsKey.publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    });
    expect(enrolled.status, JSON.stringify(enrolled.body)).toBe(200);
    const tls = enrolled.body.tls!;
    const creds = new TextEncoder().encode(formatCredsFile(enrolled.body.natsUserJwt, nkey.seed));
    return {
      agentId,
      creds,
      userKey: parseCredsFile(new TextDecoder().decode(creds)).userPublicKey,
      tls: credentials.createSsl(Buffer.from(tls.caCertificatePem), Buffer.from(tlsKey.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()), Buffer.from(tls.certificatePem)),
    };
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bf-job-identity-'));
    const material = await generateFarmSecurity();
    writeFileSync(join(dir, 'auth.conf'), natsAuthConfig(material));
    writeFileSync(join(dir, 'coordinator.creds'), material.coordinatorCreds, { mode: 0o600 });
    writeFileSync(join(dir, 'signing-key.json'), formatAccountSigningKey(material), { mode: 0o600 });
    nats = await startNatsServer({ storeDir: join(dir, 'js'), args: ['-c', join(dir, 'auth.conf')], log: (line) => serverLog.push(line) });
    const pki = join(dir, 'pki');
    await initPki(pki, []);
    coordinator = await startCoordinator(
      {
        natsUrl: nats.url,
        httpPort: 0,
        grpcPort: 0,
        dbPath: join(dir, 'coordinator.db'),
        dataDir: join(dir, 'data'),
        logLevel: 'info',
        apiToken: TOKEN,
        natsCredsFile: join(dir, 'coordinator.creds'),
        natsAccountSigningKeyFile: join(dir, 'signing-key.json'),
        grpcTlsCertFile: join(pki, 'server.crt'),
        grpcTlsKeyFile: join(pki, 'server.key'),
        grpcTlsClientCaFile: join(pki, 'ca.crt'),
        pkiCaCertFile: join(pki, 'ca.crt'),
        pkiCaKeyFile: join(pki, 'ca.key'),
      },
      { logger: new JsonLogger('info', logs.write) },
    );
    a = await enroll(A);
    b = await enroll(B);
    ncA = await connect({ servers: nats.url, authenticator: credsAuthenticator(a.creds), inboxPrefix: agentInboxPrefix(A) });
    storeA = await openFarmStore(ncA);
    ncB = await connect({ servers: nats.url, authenticator: credsAuthenticator(b.creds), inboxPrefix: agentInboxPrefix(B) });
    admin = await connect({ servers: nats.url, authenticator: credsAuthenticator(new TextEncoder().encode(material.coordinatorCreds)) });
    adminJsm = await jetstreamManager(admin);
    // A heartbeats its own registry entry with its own NATS user (a fake agent: no onnxruntime).
    const put = (): Promise<unknown> => storeA.agents.put(A, AgentRecord.encode(fakeAgentRecord(A)).finish());
    await put();
    heartbeat = setInterval(() => void put().catch(() => undefined), 2_000);
    const created = await rest<SweepView>('POST', '/sweeps', {
      modelPath: paddleOcrModelPath('cls'),
      variants: ['fp32'],
      targets: [A],
      shapes: { x: [1, 3, 48, 192] },
      compare: 'none',
      minQueries: 10,
      minDurationMs: 100,
      maxDurationMs: 5_000,
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    sweepId = created.body.id;
    jobId = (await untilDerived(coordinator.httpUrl, created.body, { authorization: `Bearer ${TOKEN}` })).jobs[0]!.id;
    seq = (await adminJsm.streams.getMessage(JOB_STREAM, { last_by_subj: jobSubject(A) }))!.seq;
  }, 90_000);

  afterAll(async () => {
    clearInterval(heartbeat);
    await ncA?.close();
    await ncB?.close();
    await admin?.close();
    await coordinator?.close();
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("B's certificate: Acquire naming A is PERMISSION_DENIED; Acquire naming B is NOT_YOURS and, repeated, fails nothing; an upload for A's job is PERMISSION_DENIED", async () => {
    const leases = leasesClient(coordinator.grpcAddress, b.tls);
    const results = new ResultsClient(coordinator.grpcAddress, b.tls, { 'grpc.use_local_subchannel_pool': 1 });
    try {
      for (let i = 0; i < N; i += 1) {
        const asA = await grpcCode(() => acquireLease(leases, { jobId, sweepId, agentId: A }));
        expect(asA.code).toBe(status.PERMISSION_DENIED);
        expect(asA.details).toBe(`the client certificate names agent ${B} but agent_id claims agent "${A}"`);
        const asB = await acquireLease(leases, { jobId, sweepId, agentId: B });
        expect(asB).toMatchObject({ decision: LeaseDecision.LEASE_DECISION_NOT_YOURS, leaseToken: '' });
        const upload = await grpcCode(() => uploadOver(results, syntheticUpload(header(B, '', `attack-b-${i}`), latencies)));
        expect(upload.code).toBe(status.PERMISSION_DENIED);
        expect(upload.details).toMatch(new RegExp(`names agent ${B} but job ${jobId} .* is assigned to agent ${A}`));
      }
    } finally {
      leases.close();
      results.close();
    }
    expect(await job()).toMatchObject({ state: 'queued', attempts: 0 });
    figure({ attack: "B: Acquire naming A / Acquire naming B / Upload for A's job", attempts: 3 * N, refused: 3 * N, jobAttemptsAfter: 0 });
  }, 120_000);

  it("A's certificate on its own job: an upload without a lease (PERMISSION_DENIED) or under a lease it does not hold (stale) is refused; nothing is committed", async () => {
    const results = new ResultsClient(coordinator.grpcAddress, a.tls, { 'grpc.use_local_subchannel_pool': 1 });
    try {
      const unleased = await grpcCode(() => uploadOver(results, syntheticUpload(header(A, '', 'a-no-lease'), latencies)));
      expect(unleased).toMatchObject({ code: status.PERMISSION_DENIED });
      expect(unleased.details).toMatch(/header\.lease_token is empty: with mTLS an upload must carry the lease its agent was granted/);
      const madeUp = await grpcCode(() => uploadOver(results, syntheticUpload(header(A, `lease_${'0'.repeat(32)}`, 'a-made-up-lease'), latencies)));
      expect(madeUp.code).toBe(status.FAILED_PRECONDITION);
      expect(madeUp.details).toMatch(/is not a lease of job/);
    } finally {
      results.close();
    }
    const view = await job();
    expect(view).toMatchObject({ state: 'queued', attempts: 0 });
    expect(view.result).toBeUndefined();
  }, 60_000);

  it("advisories: B's NATS user may not publish one (server Permissions Violation); one published with account-wide rights is refused by the coordinator; the job and its message stay", async () => {
    const violationsBefore = serverLog.filter((l) => l.includes(b.userKey) && /Publish Violation/.test(l) && l.includes('$JS.EVENT.ADVISORY')).length;
    const seen = logs.of(WATCHER).length;
    await publishForgedMaxDeliveries(ncB, A, seq);
    await expect
      .poll(() => serverLog.filter((l) => l.includes(b.userKey) && /Publish Violation/.test(l) && l.includes('$JS.EVENT.ADVISORY')).length, { timeout: 10_000 })
      .toBe(violationsBefore + 1);

    const sentAt = Date.now();
    await publishForgedMaxDeliveries(admin, A, seq);
    const lines = await logs.next(WATCHER, seen);
    const verdictMs = Date.now() - sentAt;
    // B's attempt never reached the coordinator: the admin's is the only advisory it handled.
    expect(lines).toHaveLength(1);
    expect(lines[0]?.message).toMatch(new RegExp(`refused a MaxDeliver advisory for message ${seq} .*never delivered`));
    expect(await job()).toMatchObject({ state: 'queued', attempts: 0 });
    expect(await stillStored()).toBe(true);
    figure({ attack: 'forged MaxDeliver advisory', byAgentB: 'Permissions Violation', byAccountWideUser: 'refused by the coordinator', verdictMs });
  }, 60_000);

  it("A's own flow: pulls its job with its NATS user, takes the lease over mTLS, survives a forged advisory while running, uploads; B cannot use A's lease token", async () => {
    const consumer = await agentConsumer(storeA.js, A);
    const msg = await consumer.next({ expires: 5_000 });
    expect(msg?.seq).toBe(seq);
    const leases = leasesClient(coordinator.grpcAddress, a.tls);
    const resultsA = new ResultsClient(coordinator.grpcAddress, a.tls, { 'grpc.use_local_subchannel_pool': 1 });
    const resultsB = new ResultsClient(coordinator.grpcAddress, b.tls, { 'grpc.use_local_subchannel_pool': 1 });
    try {
      const grant = await acquireLease(leases, { jobId, sweepId, agentId: A, deliveryCount: msg!.info.deliveryCount });
      expect(grant).toMatchObject({ decision: LeaseDecision.LEASE_DECISION_GRANTED, attempt: 1 });

      const seen = logs.of(WATCHER).length;
      await publishForgedMaxDeliveries(admin, A, seq);
      const [line] = await logs.next(WATCHER, seen);
      expect(line?.message).toMatch(new RegExp(`refused a MaxDeliver advisory for message ${seq} .*still pending`));
      expect(await job()).toMatchObject({ state: 'running', attempts: 1 });

      const stolen = await grpcCode(() => uploadOver(resultsB, syntheticUpload(header(B, grant.leaseToken, 'b-stolen-lease'), latencies)));
      expect(stolen.code).toBe(status.PERMISSION_DENIED);
      const stolenAsA = await grpcCode(() => uploadOver(resultsB, syntheticUpload(header(A, grant.leaseToken, 'b-stolen-lease-as-a'), latencies)));
      expect(stolenAsA.code).toBe(status.PERMISSION_DENIED);

      const ack = await uploadOver(resultsA, syntheticUpload(header(A, grant.leaseToken, 'a-real'), latencies));
      expect(ack).toMatchObject({ outcome: UploadOutcome.UPLOAD_OUTCOME_COMMITTED, jobFinal: true });
      await msg!.ackAck();
    } finally {
      leases.close();
      resultsA.close();
      resultsB.close();
    }
    const done = await job();
    expect(done).toMatchObject({ state: 'done', attempts: 1 });
    expect(done.result?.count).toBe(latencies.length);
    // Pull, ack, heartbeat and the server's own work raised no violation for A.
    expect(serverLog.filter((l) => l.includes(a.userKey) && /Violation/.test(l))).toEqual([]);
  }, 60_000);
});
