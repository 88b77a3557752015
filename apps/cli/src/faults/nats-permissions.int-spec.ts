import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { AckPolicy, jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AGENT_BUCKET,
  JOB_STREAM,
  agentConsumerName,
  agentInboxPrefix,
  createUserKeyPair,
  findNatsServer,
  freePort,
  jobSubject,
  parseCredsFile,
  startNatsServer,
  type NatsServerHandle,
} from '@benchfarm/messaging';
import { paddleOcrModelPath } from '@benchfarm/onnx';
import { CoordinatorClient, CoordinatorRequestError } from '../client';
import { AGENT_ENROLLMENT_FILES, FARM_SECURITY_FILES, enrollAgent, enrolledAgentEnv, initFarmSecurity, requestEnrollmentCode, type FarmSecurityFiles } from '../enrollment';
import { repoRoot } from '../processes';
import { createDerived, waitForSweep, QUICK_SWEEP } from '../testing/farm.fixture';
import { startAgentProcess, startCoordinatorProcess, waitFor, type TestProcess } from './harness';
import { isNatsPermissionError, tallyAttacks } from '../testing/attacks';

// Promise 13 of RELIABILITY.md on a secured farm: nats-server in operator mode from the config
// `benchfarm security init` writes, a coordinator with its creds and the account signing key (and
// gRPC mTLS with the farm CA of `benchfarm pki init`, REST behind a token), two agents enrolled
// through the real REST flow and the real `agent enroll` code, joined with the NATS creds and the
// client certificates enrollment gave them. Agent A then attacks agent B's jobs, inbox and registry entry with its own creds,
// ATTEMPTS times per attack; every attempt must be denied by the server.
const ATTEMPTS = Math.max(20, Number(process.env.BENCHFARM_PERMISSION_ATTEMPTS ?? 20));
const figure = (fields: Record<string, unknown>): void => console.log(`[figures] ${JSON.stringify({ promise: '13 NATS permissions', ...fields })}`);
const run = promisify(execFile);
const TOKEN = 'permissions-test-token-0123456789';
const MODEL = paddleOcrModelPath('cls');

describe('promise 13: an enrolled agent cannot reach another agent\'s jobs, inbox or registry entry', () => {
  let dir: string;
  let security: FarmSecurityFiles;
  let nats: NatsServerHandle;
  const serverLog: string[] = [];
  let coordinator: TestProcess;
  let client: CoordinatorClient;
  let admin: NatsConnection;
  let adminJsm: JetStreamManager;
  const agents: TestProcess[] = [];
  const savedToken = process.env.BENCHFARM_TOKEN;

  const enrollDir = (agentId: string): string => join(dir, 'enrolled', agentId);
  const rest = async (path: string, body: unknown, token?: string): Promise<{ status: number; body: { code?: string; field?: string; message?: string } }> => {
    const response = await fetch(`${client.baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as { code?: string; field?: string } };
  };
  const consumerExists = async (agentId: string): Promise<boolean> =>
    adminJsm.consumers.info(JOB_STREAM, agentConsumerName(agentId)).then(
      () => true,
      () => false,
    );
  const queuedFor = async (agentId: string): Promise<number> => {
    const info = await adminJsm.streams.info(JOB_STREAM, { subjects_filter: jobSubject(agentId) });
    return info.state.subjects?.[jobSubject(agentId)] ?? 0;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bf-natsperm-'));
    process.env.BENCHFARM_TOKEN = TOKEN;
    const port = await freePort();
    security = await initFarmSecurity(join(dir, 'security'), { natsPort: port, natsHost: '127.0.0.1' });
    const pki = join(dir, 'pki');
    await run(join(repoRoot, 'bin/benchfarm'), ['pki', 'init', '--dir', pki]);
    // The generated nats-server.conf as it is (listen address, included auth file, JetStream store):
    // the shared launcher adds -js/-sd flags, which clash with its store_dir and break a config
    // reload (revocation, below), so this test starts the server itself.
    nats = await startNatsServer({ configFile: security.natsConfigFile, port, startTimeoutMs: 15_000, log: (line) => serverLog.push(line) });
    coordinator = await startCoordinatorProcess({
      natsUrl: nats.url,
      dir,
      grpcPort: await freePort(),
      httpPort: 0,
      env: {
        BENCHFARM_NATS_CREDS: security.coordinatorCredsFile,
        BENCHFARM_NATS_ACCOUNT_SIGNING_KEY: security.accountSigningKeyFile,
        BENCHFARM_API_TOKEN: TOKEN,
        BENCHFARM_GRPC_TLS_CERT: join(pki, 'server.crt'),
        BENCHFARM_GRPC_TLS_KEY: join(pki, 'server.key'),
        BENCHFARM_GRPC_TLS_CLIENT_CA: join(pki, 'ca.crt'),
        BENCHFARM_PKI_CA_CERT: join(pki, 'ca.crt'),
        BENCHFARM_PKI_CA_KEY: join(pki, 'ca.key'),
      },
    });
    client = new CoordinatorClient(String(coordinator.ready.httpUrl));
    // The test's own view of the stream, as the coordinator's user.
    admin = await connect({ servers: nats.url, authenticator: credsAuthenticator(readFileSync(security.coordinatorCredsFile)) });
    adminJsm = await jetstreamManager(admin);
  }, 120_000);

  afterAll(async () => {
    for (const a of agents) await a.stop(3_000);
    await coordinator?.stop();
    await admin?.close();
    await nats?.stop();
    if (savedToken === undefined) delete process.env.BENCHFARM_TOKEN;
    else process.env.BENCHFARM_TOKEN = savedToken;
    if (!process.env.BENCHFARM_KEEP_FAULT_LOGS) rmSync(dir, { recursive: true, force: true });
    else console.log(`[faults] logs kept in ${dir}/logs`);
  }, 60_000);

  it('security init wrote owner-only files, and nats-server refuses a client without creds', async () => {
    expect(statSync(security.dir).mode & 0o777).toBe(0o700);
    for (const name of Object.values(FARM_SECURITY_FILES)) expect(statSync(join(security.dir, name)).mode & 0o777).toBe(0o600);
    await expect(connect({ servers: nats.url, reconnect: false, timeout: 5_000 })).rejects.toThrow(/Authorization/i);
    // The complete config (listen address, the included auth file, JetStream) is what operators run.
    const checked = await run(findNatsServer()!, ['-c', security.natsConfigFile, '-t']).catch((err: { stderr?: string; stdout?: string }) => err);
    expect(`${checked.stdout ?? ''}${checked.stderr ?? ''}`).toMatch(/is valid/);
  });

  it('enrolls two agents through REST and `agent enroll`; an enrolled agent runs a sweep with only its own permissions', async () => {
    // Issuing codes is an admin call behind the API token.
    expect((await rest('/v1/enrollments', { agentId: 'perm-a' })).status).toBe(401);
    const codeA = await requestEnrollmentCode(client.baseUrl, 'perm-a');
    const codeB = await requestEnrollmentCode(client.baseUrl, 'perm-b');
    // A through the real CLI, B through the same code called in-process.
    const cli = await run(join(repoRoot, 'bin/benchfarm'), ['agent', 'enroll', '--coordinator', client.baseUrl, '--id', 'perm-a', '--dir', enrollDir('perm-a')], { env: { ...process.env, BENCHFARM_TOKEN: '', BENCHFARM_ENROLLMENT_CODE: codeA.code } });
    expect(cli.stdout).toContain('enrolled as perm-a');
    expect(cli.stdout).toContain('mTLS client certificate issued');
    await enrollAgent({ coordinatorUrl: client.baseUrl, code: codeB.code, agentId: 'perm-b', dir: enrollDir('perm-b') });
    for (const id of ['perm-a', 'perm-b']) {
      expect(statSync(enrollDir(id)).mode & 0o777).toBe(0o700);
      expect(statSync(join(enrollDir(id), AGENT_ENROLLMENT_FILES.creds)).mode & 0o777).toBe(0o600);
      expect(parseCredsFile(readFileSync(join(enrollDir(id), AGENT_ENROLLMENT_FILES.creds), 'utf8')).name).toBe(id);
      expect(statSync(join(enrollDir(id), AGENT_ENROLLMENT_FILES.tlsKey)).mode & 0o777).toBe(0o600);
      expect(new X509Certificate(readFileSync(join(enrollDir(id), AGENT_ENROLLMENT_FILES.tlsCertificate))).subject).toContain(`CN=${id}`);
      // The coordinator created the consumer the agent's user may not create.
      expect(await consumerExists(id)).toBe(true);
    }

    for (const id of ['perm-a', 'perm-b']) {
      const env = enrolledAgentEnv(enrollDir(id));
      expect(Object.keys(env).sort()).toEqual(['BENCHFARM_AGENT_ID', 'BENCHFARM_GRPC_ADDRESS', 'BENCHFARM_GRPC_TLS_CA', 'BENCHFARM_GRPC_TLS_CERT', 'BENCHFARM_GRPC_TLS_KEY', 'BENCHFARM_NATS_CREDS', 'BENCHFARM_NATS_URL']);
      const p = await startAgentProcess({ agentId: id, natsUrl: env.BENCHFARM_NATS_URL!, grpcAddress: env.BENCHFARM_GRPC_ADDRESS!, dir, env });
      agents.push(p);
      await waitFor(`${id} registered`, async () => ((await client.listAgents()).some((a) => a.agentId === id && !a.stale) ? true : undefined), 60_000);
    }
    const sweep = await createDerived(client, MODEL, { ...QUICK_SWEEP, targets: 'perm-a' });
    const done = await waitForSweep(client, sweep.id, 120_000);
    expect(done.state).toBe('completed');
    expect(done.jobs.map((j) => [j.agentId, j.state])).toEqual([['perm-a', 'done']]);
    // Pull, ack, heartbeat, model read: none of it hit a permission the agent lacks.
    expect(serverLog.filter((line) => /Violation/.test(line))).toEqual([]);
  }, 240_000);

  it(`denies every one of agent A's attempts on agent B (${ATTEMPTS} each) and leaves B's queue as it was`, async () => {
    // B goes away so that its queued jobs stay queued; the coordinator's user queues three.
    await agents.find((a) => a.name === 'perm-b')?.stop(5_000);
    const js = jetstream(admin);
    for (let i = 0; i < 3; i += 1) await js.publish(jobSubject('perm-b'), new TextEncoder().encode(`not-a-real-job-${i}`), { msgID: `perm-b-job-${i}` });
    const queuedBefore = await queuedFor('perm-b');
    const consumerBefore = await adminJsm.consumers.info(JOB_STREAM, agentConsumerName('perm-b'));
    expect(queuedBefore).toBe(3);

    const credsA = readFileSync(join(enrollDir('perm-a'), AGENT_ENROLLMENT_FILES.creds));
    const keyA = parseCredsFile(credsA.toString()).userPublicKey;
    const ncA = await connect({ servers: nats.url, authenticator: credsAuthenticator(credsA), inboxPrefix: agentInboxPrefix('perm-a') });
    const jsA = jetstream(ncA);
    const jsmA = await jetstreamManager(ncA);
    const registryA = await new Kvm(jsA).open(AGENT_BUCKET);
    const violationsBefore = serverLog.filter((line) => line.includes(keyA) && /Violation/.test(line)).length;
    const json = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));

    const attacks: Record<string, (i: number) => Promise<unknown>> = {
      "pull from B's consumer": () => ncA.request(`$JS.API.CONSUMER.MSG.NEXT.${JOB_STREAM}.${agentConsumerName('perm-b')}`, json({ batch: 1, no_wait: true }), { timeout: 5_000 }),
      "subscribe to B's inbox prefix": async () => {
        const sub = ncA.subscribe(`${agentInboxPrefix('perm-b')}.>`);
        const closed = await Promise.race([sub.closed, sleep(5_000).then(() => 'still open')]);
        if (closed === 'still open') sub.unsubscribe();
        if (closed instanceof Error) throw closed;
        return closed;
      },
      'subscribe to _INBOX.>': async () => {
        const sub = ncA.subscribe('_INBOX.>');
        const closed = await Promise.race([sub.closed, sleep(5_000).then(() => 'still open')]);
        if (closed === 'still open') sub.unsubscribe();
        if (closed instanceof Error) throw closed;
        return closed;
      },
      "put B's heartbeat key": () => registryA.put('perm-b', new TextEncoder().encode('forged')),
      "delete B's heartbeat key": () => registryA.delete('perm-b'),
      "create a consumer on B's job subject": (i) =>
        jsmA.consumers.add(JOB_STREAM, { ...(i % 2 === 0 ? { durable_name: `spy-${i}` } : {}), filter_subject: jobSubject('perm-b'), ack_policy: AckPolicy.Explicit }),
      'read a job message (STREAM.MSG.GET)': () => jsmA.streams.getMessage(JOB_STREAM, { last_by_subj: jobSubject('perm-b') }),
      'read a job message (DIRECT.GET)': () => ncA.request(`$JS.API.DIRECT.GET.${JOB_STREAM}`, json({ last_by_subj: jobSubject('perm-b') }), { timeout: 5_000 }),
      'publish a job to bench.jobs.B': (i) => jsA.publish(jobSubject('perm-b'), new TextEncoder().encode('forged job'), { msgID: `forged-${i}` }),
      'create a stream': (i) => jsmA.streams.add({ name: `EVIL_${i}`, subjects: [`evil${i}.>`] }),
      'delete the job stream': () => jsmA.streams.delete(JOB_STREAM),
    };
    const { results, attempts, denied } = await tallyAttacks(attacks, ATTEMPTS, isNatsPermissionError, (line) => console.log(`[natsperm] ${line}`));
    await ncA.close();
    // The server's own account of it: one violation line per attempt, all naming A's user key.
    await sleep(500);
    const serverDenials = serverLog.filter((line) => line.includes(keyA) && /Violation/.test(line)).length - violationsBefore;
    figure({ attemptsPerAttack: ATTEMPTS, attacks: Object.keys(results).length, attempts, denied, serverDenials, results });

    for (const [name, tally] of Object.entries(results)) expect({ name, ...tally }).toEqual({ name, attempts: ATTEMPTS, denied: ATTEMPTS });
    expect(serverDenials).toBe(attempts);
    // B's jobs are where they were: none taken, none added, none read by a new consumer.
    expect(await queuedFor('perm-b')).toBe(queuedBefore);
    const consumerAfter = await adminJsm.consumers.info(JOB_STREAM, agentConsumerName('perm-b'));
    expect(consumerAfter.delivered.stream_seq).toBe(consumerBefore.delivered.stream_seq);
    expect(consumerAfter.num_pending).toBe(consumerBefore.num_pending);
    expect((await adminJsm.consumers.list(JOB_STREAM).next()).map((c) => c.name).sort()).toEqual([agentConsumerName('perm-a'), agentConsumerName('perm-b')]);
    expect((await adminJsm.streams.names().next()).filter((name) => name.startsWith('EVIL'))).toEqual([]);
  }, 180_000);

  it('refuses bad enrollment input with the field named, and writes nothing', async () => {
    const key = (): string => createUserKeyPair().publicKey;
    const unknown = await rest('/v1/enroll', { agentId: 'perm-c', code: 'A'.repeat(43), natsPublicKey: key() });
    expect(unknown).toMatchObject({ status: 401, body: { code: 'enrollment_code_invalid', field: 'code' } });

    const short = await requestEnrollmentCode(client.baseUrl, 'perm-c', 1);
    await sleep(1_200);
    const expired = await rest('/v1/enroll', { agentId: 'perm-c', code: short.code, natsPublicKey: key() });
    expect(expired).toMatchObject({ status: 401, body: { code: 'enrollment_code_invalid', field: 'code' } });
    expect(expired.body.message).toMatch(/expired/);

    const { code } = await requestEnrollmentCode(client.baseUrl, 'perm-c');
    const cases: Array<[string, Record<string, unknown>, number, string]> = [
      ['another agent id', { agentId: 'perm-d' }, 401, 'agentId'],
      ['a traversal-like agent id', { agentId: '../../etc/passwd' }, 400, 'agentId'],
      ['a subject wildcard agent id', { agentId: 'perm-c.>' }, 400, 'agentId'],
      ['an account key as NATS key', { natsPublicKey: 'ABJHLOVMPA4CI6R5KLNGOB4GSLNIY7IOUPAJC4YFNDLQVIOBYQGUWVLA' }, 400, 'natsPublicKey'],
      ['garbage as NATS key', { natsPublicKey: 'hello' }, 400, 'natsPublicKey'],
      ['a TLS key that is not PEM', { tlsPublicKeyPem: '-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----' }, 400, 'tlsPublicKeyPem'],
    ];
    for (const [what, change, status, field] of cases) {
      const refused = await rest('/v1/enroll', { agentId: 'perm-c', code, natsPublicKey: key(), ...change });
      expect({ what, status: refused.status, field: refused.body.field }).toEqual({ what, status, field });
    }
    expect(await consumerExists('perm-c')).toBe(false);
    expect(await consumerExists('perm-d')).toBe(false);

    // The real `agent enroll` code writes nothing when the coordinator refuses.
    const refusedDir = join(dir, 'enrolled', 'refused');
    await expect(enrollAgent({ coordinatorUrl: client.baseUrl, code, agentId: 'perm-d', dir: refusedDir })).rejects.toSatisfy((err) => err instanceof CoordinatorRequestError && err.status === 401 && err.field === 'agentId');
    expect(existsSync(refusedDir)).toBe(false);

    // None of those failures was the code's: it still enrolls perm-c, once.
    await enrollAgent({ coordinatorUrl: client.baseUrl, code, agentId: 'perm-c', dir: enrollDir('perm-c') });
    expect(await consumerExists('perm-c')).toBe(true);
    const reused = await rest('/v1/enroll', { agentId: 'perm-c', code, natsPublicKey: key() });
    expect(reused).toMatchObject({ status: 409, body: { code: 'enrollment_code_used', field: 'code' } });
    // The codes are in SQLite only as digests.
    expect(readFileSync(join(dir, 'coordinator.db')).includes(Buffer.from(code))).toBe(false);
  }, 60_000);

  it('an enrolled agent whose consumer is gone refuses to start, saying so (it may not create one)', async () => {
    await adminJsm.consumers.delete(JOB_STREAM, agentConsumerName('perm-c'));
    const env = enrolledAgentEnv(enrollDir('perm-c'));
    const started = startAgentProcess({ agentId: 'perm-c', natsUrl: env.BENCHFARM_NATS_URL!, grpcAddress: env.BENCHFARM_GRPC_ADDRESS!, dir, env });
    await expect(started).rejects.toThrow(/cannot open this agent's job consumer agent-perm-c \(the coordinator creates it at enrollment/);
    expect(await consumerExists('perm-c')).toBe(false);
  }, 60_000);

  it('revokes a running agent: `security revoke` + a server reload closes and refuses its connection, others carry on', async () => {
    const credsOf = (id: string): Buffer => readFileSync(join(enrollDir(id), AGENT_ENROLLMENT_FILES.creds));
    const keyA = parseCredsFile(credsOf('perm-a').toString()).userPublicKey;
    // The coordinator logged the key it enrolled A with; revoke by that key.
    expect(readFileSync(coordinator.logFile, 'utf8')).toContain(`enrolled agent perm-a: NATS user ${keyA}, gRPC client certificate issued`);
    const a = agents.find((p) => p.name === 'perm-a')!;
    expect(a.child.exitCode).toBeNull();
    const revoked = await run(join(repoRoot, 'bin/benchfarm'), ['security', 'revoke', '--dir', security.dir, '--key', keyA]);
    expect(revoked.stdout).toContain(`revoked ${keyA}`);
    const reloadedAt = serverLog.length;
    nats.process.kill('SIGHUP');
    await waitFor('server reload', () => (serverLog.slice(reloadedAt).some((line) => /Reloaded server configuration/.test(line)) ? true : undefined), 10_000).catch((err: unknown) => {
      throw new Error(`${String(err)}; server said: ${serverLog.slice(reloadedAt).join('\n')}`);
    });
    // A's running agent is cut off and cannot come back; its registry entry goes stale.
    await waitFor('perm-a refused', () => (serverLog.slice(reloadedAt).some((line) => /authentication error|Authorization Violation/i.test(line)) ? true : undefined), 10_000);
    await expect(connect({ servers: nats.url, authenticator: credsAuthenticator(credsOf('perm-a')), reconnect: false, timeout: 5_000 })).rejects.toThrow(/Authorization/i);
    await waitFor('perm-a stale', async () => ((await client.listAgents()).find((x) => x.agentId === 'perm-a')?.stale !== false ? true : undefined), 20_000);
    // B (and the coordinator) are untouched.
    const ncB = await connect({ servers: nats.url, authenticator: credsAuthenticator(credsOf('perm-b')), inboxPrefix: agentInboxPrefix('perm-b'), reconnect: false });
    await ncB.flush();
    await ncB.close();
    expect((await client.listAgents()).length).toBeGreaterThan(0);
    expect(await queuedFor('perm-b')).toBe(3);
  }, 60_000);
});
