import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
  agentConsumer,
  agentConsumerName,
  agentInboxPrefix,
  agentPermissions,
  findNatsServer,
  formatCredsFile,
  freePort,
  jobSubject,
  openFarmStore,
  parseAccountSigningKey,
  parseCredsFile,
  signUserJwt,
  startNatsServer,
  type NatsServerHandle,
} from '@benchfarm/messaging';
import { paddleOcrModelPath } from '@benchfarm/onnx';
import { CoordinatorClient } from '../client';
import { AGENT_ENROLLMENT_FILES, LEAF_SITE_FILES, enrollAgent, enrolledAgentEnv, initFarmSecurity, requestEnrollmentCode, type FarmSecurityFiles } from '../enrollment';
import { repoRoot } from '../processes';
import { createDerived, waitForSweep, QUICK_SWEEP } from '../testing/farm.fixture';
import { startAgentProcess, startCoordinatorProcess, waitFor, type TestProcess } from './harness';
import { readSweepLedger } from './ledger';
import { isNatsPermissionError, tallyAttacks } from '../testing/attacks';

// Promise 13 behind a leaf node: a secured hub (operator mode from `benchfarm security init`,
// JetStream domain "hub") and a secured edge leaf node run from deploy/nats/leaf-secured/edge.conf
// with the files `benchfarm security leaf` writes (the farm's operator and accounts, so the leaf
// authenticates agents itself, and the site's leaf user for its connection to the hub). The
// coordinator on the hub enrolls with BENCHFARM_PUBLIC_NATS_JS_DOMAIN=hub; an agent enrolled through
// the real REST flow and `agent enroll` joins through the LEAF with its creds and the domain, does
// a job, and then attacks another agent through the leaf, ATTEMPTS times per attack.
const ATTEMPTS = Math.max(5, Number(process.env.BENCHFARM_PERMISSION_ATTEMPTS ?? 10));
const DOMAIN = 'hub';
const TOKEN = 'leaf-auth-test-token-0123456789';
const run = promisify(execFile);
const figure = (fields: Record<string, unknown>): void => console.log(`[figures] ${JSON.stringify({ promise: '13 NATS permissions behind a leaf node', ...fields })}`);
const json = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));

describe('promise 13 behind a NATS leaf node: an enrolled edge agent works through a secured leaf and is confined there', () => {
  let dir: string;
  let security: FarmSecurityFiles;
  let leafDir: string;
  let hub: NatsServerHandle;
  let edge: NatsServerHandle;
  const hubLog: string[] = [];
  const edgeLog: string[] = [];
  let coordinator: TestProcess;
  let client: CoordinatorClient;
  let admin: NatsConnection;
  let adminJsm: JetStreamManager;
  const agents: TestProcess[] = [];
  const savedToken = process.env.BENCHFARM_TOKEN;
  const enrollDir = (agentId: string): string => join(dir, 'enrolled', agentId);
  const credsOf = (agentId: string): Buffer => readFileSync(join(enrollDir(agentId), AGENT_ENROLLMENT_FILES.creds));
  const queuedFor = async (agentId: string): Promise<number> => {
    const info = await adminJsm.streams.info(JOB_STREAM, { subjects_filter: jobSubject(agentId) });
    return info.state.subjects?.[jobSubject(agentId)] ?? 0;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bf-leafauth-'));
    process.env.BENCHFARM_TOKEN = TOKEN;
    const [hubPort, leafPort, edgePort] = [await freePort(), await freePort(), await freePort()];
    security = await initFarmSecurity(join(dir, 'security'), { natsPort: hubPort, natsHost: '127.0.0.1' });
    // The hub: the generated auth file, JetStream under domain "hub", a leaf node listener.
    const hubConfig = join(security.dir, 'hub.conf');
    writeFileSync(hubConfig, ['server_name: hub-1', 'include "nats-auth.conf"', `jetstream { store_dir: ${JSON.stringify(join(dir, 'hub-js'))}, domain: ${DOMAIN} }`, `leafnodes { listen: "127.0.0.1:${leafPort}" }`, ''].join('\n'));
    hub = await startNatsServer({ port: hubPort, jetstream: false, args: ['-c', hubConfig, ...(process.env.BF_NATS_TRACE ? ['-DV'] : [])], log: (line) => hubLog.push(line) });

    // The edge site: what `benchfarm security leaf` writes, next to deploy/nats/leaf-secured/edge.conf
    // with only its listen address and hub URLs changed.
    leafDir = join(dir, 'edge-site');
    const leafCli = await run(join(repoRoot, 'bin/benchfarm'), ['security', 'leaf', '--dir', security.dir, '--site', 'edge-1', '--out', leafDir]);
    expect(leafCli.stdout).toContain(`wrote ${leafDir}`);
    const template = readFileSync(join(repoRoot, 'deploy/nats/leaf-secured/edge.conf'), 'utf8');
    const edgeConfig = template.replace(/^listen: .*$/m, `listen: 127.0.0.1:${edgePort}`).replace(/urls: \[[^\]]*\]/, `urls: [ "nats-leaf://127.0.0.1:${leafPort}" ]`);
    expect(edgeConfig).toContain(`nats-leaf://127.0.0.1:${leafPort}`);
    expect(edgeConfig).not.toContain('nats-1:7422');
    writeFileSync(join(leafDir, 'edge.conf'), edgeConfig);
    edge = await startNatsServer({ port: edgePort, jetstream: false, args: ['-c', join(leafDir, 'edge.conf'), ...(process.env.BF_NATS_TRACE ? ['-DV'] : [])], log: (line) => edgeLog.push(line) });
    // Connected once the hub's JetStream answers through the leaf (as the coordinator's user).
    await waitFor(
      'the leaf connected to the hub',
      async () => {
        const nc = await connect({ servers: edge.url, authenticator: credsAuthenticator(readFileSync(security.coordinatorCredsFile)), reconnect: false });
        try {
          return (await jetstreamManager(nc, { domain: DOMAIN })) ? true : undefined;
        } catch {
          return undefined;
        } finally {
          await nc.close();
        }
      },
      20_000,
      250,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}; leaf said:\n${edgeLog.slice(-30).join('\n')}`);
    });

    coordinator = await startCoordinatorProcess({
      natsUrl: hub.url,
      dir,
      grpcPort: await freePort(),
      httpPort: 0,
      env: {
        BENCHFARM_NATS_CREDS: security.coordinatorCredsFile,
        BENCHFARM_NATS_ACCOUNT_SIGNING_KEY: security.accountSigningKeyFile,
        BENCHFARM_API_TOKEN: TOKEN,
        BENCHFARM_PUBLIC_NATS_JS_DOMAIN: DOMAIN,
      },
    });
    client = new CoordinatorClient(String(coordinator.ready.httpUrl));
    admin = await connect({ servers: hub.url, authenticator: credsAuthenticator(readFileSync(security.coordinatorCredsFile)) });
    adminJsm = await jetstreamManager(admin);
  }, 120_000);

  afterAll(async () => {
    for (const a of agents) await a.stop(3_000);
    await coordinator?.stop();
    await admin?.close();
    await edge?.stop();
    await hub?.stop();
    if (savedToken === undefined) delete process.env.BENCHFARM_TOKEN;
    else process.env.BENCHFARM_TOKEN = savedToken;
    writeFileSync(join(dir, 'logs', 'nats-hub.log'), hubLog.join('\n'));
    writeFileSync(join(dir, 'logs', 'nats-edge.log'), edgeLog.join('\n'));
    if (!process.env.BENCHFARM_KEEP_FAULT_LOGS) rmSync(dir, { recursive: true, force: true });
    else console.log(`[leaf-auth] logs kept in ${dir}/logs`);
  }, 60_000);

  it('the leaf authenticates clients itself: none without creds, the leaf user\'s creds are not an agent\'s', async () => {
    await expect(connect({ servers: edge.url, reconnect: false, timeout: 5_000 })).rejects.toThrow(/Authorization/i);
    expect(parseCredsFile(readFileSync(join(leafDir, LEAF_SITE_FILES.creds), 'utf8')).name).toBe('leaf-edge-1');
    const check = await run(findNatsServer()!, ['-t', '-c', join(leafDir, 'edge.conf')]).catch((err: { stdout?: string; stderr?: string }) => err);
    expect(`${check.stdout ?? ''}${check.stderr ?? ''}`).toMatch(/is valid/);
  });

  it('enrolls two agents with the hub domain; one joins through the leaf with its own creds and completes a job', async () => {
    const [edgeBefore, hubBefore] = [edgeLog.length, hubLog.length];
    const codeA = await requestEnrollmentCode(client.baseUrl, 'edge-a', undefined, TOKEN);
    const codeB = await requestEnrollmentCode(client.baseUrl, 'edge-b', undefined, TOKEN);
    const cli = await run(join(repoRoot, 'bin/benchfarm'), ['agent', 'enroll', '--coordinator', client.baseUrl, '--id', 'edge-a', '--dir', enrollDir('edge-a')], { env: { ...process.env, BENCHFARM_TOKEN: '', BENCHFARM_ENROLLMENT_CODE: codeA.code } });
    expect(cli.stdout).toContain('enrolled as edge-a');
    await enrollAgent({ coordinatorUrl: client.baseUrl, code: codeB.code, agentId: 'edge-b', dir: enrollDir('edge-b') });
    for (const id of ['edge-a', 'edge-b']) {
      expect(JSON.parse(readFileSync(join(enrollDir(id), AGENT_ENROLLMENT_FILES.enrollment), 'utf8'))).toMatchObject({ agentId: id, natsJsDomain: DOMAIN });
      expect(enrolledAgentEnv(enrollDir(id)).BENCHFARM_NATS_JS_DOMAIN).toBe(DOMAIN);
    }
    // What `benchfarm agent --enrolled DIR --nats <the leaf>` runs.
    const env: Record<string, string> = { ...enrolledAgentEnv(enrollDir('edge-a')), BENCHFARM_NATS_URL: edge.url };
    agents.push(await startAgentProcess({ agentId: 'edge-a', natsUrl: edge.url, grpcAddress: env.BENCHFARM_GRPC_ADDRESS!, dir, env }));
    await waitFor('edge-a registered in the hub registry', async () => ((await client.listAgents()).some((a) => a.agentId === 'edge-a' && !a.stale) ? true : undefined), 60_000);
    const sweep = await createDerived(client, paddleOcrModelPath('cls'), { ...QUICK_SWEEP, targets: 'edge-a' });
    const done = await waitForSweep(client, sweep.id, 120_000);
    expect(done.jobs.map((j) => [j.agentId, j.state])).toEqual([['edge-a', 'done']]);
    expect(done.jobs[0]?.result?.count).toBeGreaterThanOrEqual(10);
    expect(readSweepLedger(join(dir, 'coordinator.db'), sweep.id)).toMatchObject({ open: 0, lost: 0, duplicated: 0, results: 1 });
    // Pull, ack, heartbeat put, model download through the leaf: not one permission the agent lacks.
    expect(edgeLog.slice(edgeBefore).filter((line) => /Violation/.test(line))).toEqual([]);
    expect(hubLog.slice(hubBefore).filter((line) => /Violation/.test(line))).toEqual([]);
  }, 180_000);

  it('why the domain user keeps the plain $JS.API entries: the hub checks the mapped subject, the leaf the one sent', async () => {
    // B's own nkey, signed once more with the domain entries alone.
    const credsB = parseCredsFile(credsOf('edge-b').toString());
    const full = agentPermissions('edge-b', { jsDomain: DOMAIN });
    const domainOnly = { pub: { allow: full.pub.allow.filter((s) => !s.startsWith('$JS.API.')) }, sub: full.sub };
    expect(domainOnly.pub.allow.length).toBeLessThan(full.pub.allow.length);
    const signingKey = parseAccountSigningKey(readFileSync(security.accountSigningKeyFile, 'utf8'));
    const domainOnlyCreds = formatCredsFile(await signUserJwt(signingKey, { name: 'edge-b', userPublicKey: credsB.userPublicKey, permissions: domainOnly }), credsB.seed);
    const openAs = async (url: string, creds: string | Buffer): Promise<string> => {
      const nc = await connect({ servers: url, authenticator: credsAuthenticator(typeof creds === 'string' ? new TextEncoder().encode(creds) : creds), inboxPrefix: agentInboxPrefix('edge-b'), reconnect: false });
      try {
        const farm = await openFarmStore(nc, { domain: DOMAIN });
        await agentConsumer(farm.js, 'edge-b');
        // Its own registry key, as the agent's heartbeat writes it (nats.js puts through the API prefix under a domain).
        await farm.agents.put('edge-b', new TextEncoder().encode('probe'));
        await farm.agents.delete('edge-b');
        return 'opened';
      } catch (err) {
        // A violation of the mapped subject names a subject the client did not send: nats.js cannot tie it to the request, which times out.
        return isNatsPermissionError(err) ? 'denied' : /timeout/i.test(String(err)) ? 'timeout' : `failed: ${String(err)}`;
      } finally {
        await nc.close();
      }
    };
    const hubBefore = hubLog.length;
    expect({
      leafDomainOnly: await openAs(edge.url, domainOnlyCreds),
      hubDomainOnly: await openAs(hub.url, domainOnlyCreds),
      leafEnrolled: await openAs(edge.url, credsOf('edge-b')),
      hubEnrolled: await openAs(hub.url, credsOf('edge-b')),
    }).toEqual({ leafDomainOnly: 'opened', hubDomainOnly: 'timeout', leafEnrolled: 'opened', hubEnrolled: 'opened' });
    // The hub denied the mapped plain subject, not the one the client sent.
    expect(hubLog.slice(hubBefore).filter((line) => /Publish Violation/.test(line)).join('\n')).toMatch(/Subject "\$JS\.API\.INFO"/);
  }, 30_000);

  it(`denies every one of agent A's attempts on agent B through the leaf (${ATTEMPTS} each) and leaves B's queue as it was`, async () => {
    const js = jetstream(admin);
    for (let i = 0; i < 2; i += 1) await js.publish(jobSubject('edge-b'), new TextEncoder().encode(`not-a-real-job-${i}`), { msgID: `edge-b-job-${i}` });
    const queuedBefore = await queuedFor('edge-b');
    const consumerBefore = await adminJsm.consumers.info(JOB_STREAM, agentConsumerName('edge-b'));
    expect(queuedBefore).toBe(2);

    const keyA = parseCredsFile(credsOf('edge-a').toString()).userPublicKey;
    const ncA = await connect({ servers: edge.url, authenticator: credsAuthenticator(credsOf('edge-a')), inboxPrefix: agentInboxPrefix('edge-a') });
    const jsA = jetstream(ncA, { domain: DOMAIN });
    const jsmA = await jetstreamManager(ncA, { domain: DOMAIN });
    const registryA = await new Kvm(jsA).open(AGENT_BUCKET);
    const registryEntryB = async (): Promise<number | undefined> => (await (await new Kvm(admin).open(AGENT_BUCKET)).get('edge-b'))?.revision;
    const registryBefore = await registryEntryB();
    const violationsBefore = edgeLog.filter((line) => line.includes(keyA) && /Violation/.test(line)).length;
    const subscribeDenied = async (subject: string): Promise<unknown> => {
      const sub = ncA.subscribe(subject);
      const closed = await Promise.race([sub.closed, sleep(5_000).then(() => 'still open')]);
      if (closed === 'still open') sub.unsubscribe();
      if (closed instanceof Error) throw closed;
      return closed;
    };
    const attacks: Record<string, (i: number) => Promise<unknown>> = {
      [`pull from B's consumer ($JS.${DOMAIN}.API)`]: () => ncA.request(`$JS.${DOMAIN}.API.CONSUMER.MSG.NEXT.${JOB_STREAM}.${agentConsumerName('edge-b')}`, json({ batch: 1, no_wait: true }), { timeout: 5_000 }),
      "pull from B's consumer ($JS.API)": () => ncA.request(`$JS.API.CONSUMER.MSG.NEXT.${JOB_STREAM}.${agentConsumerName('edge-b')}`, json({ batch: 1, no_wait: true }), { timeout: 5_000 }),
      'subscribe to _INBOX.>': () => subscribeDenied('_INBOX.>'),
      "subscribe to B's inbox prefix": () => subscribeDenied(`${agentInboxPrefix('edge-b')}.>`),
      "put B's heartbeat key": () => registryA.put('edge-b', new TextEncoder().encode('forged')),
      "create a consumer on B's job subject": (i) => jsmA.consumers.add(JOB_STREAM, { durable_name: `spy-${i}`, filter_subject: jobSubject('edge-b'), ack_policy: AckPolicy.Explicit }),
      'read a job message (STREAM.MSG.GET)': () => jsmA.streams.getMessage(JOB_STREAM, { last_by_subj: jobSubject('edge-b') }),
    };
    const { results, attempts, denied } = await tallyAttacks(attacks, ATTEMPTS, isNatsPermissionError, (line) => console.log(`[leaf-auth] ${line}`));
    await ncA.close();
    await sleep(500);
    // The leaf, where A is authenticated, enforces A's permissions: one violation line per attempt.
    const leafDenials = edgeLog.filter((line) => line.includes(keyA) && /Violation/.test(line)).length - violationsBefore;
    figure({ attemptsPerAttack: ATTEMPTS, attacks: Object.keys(results).length, attempts, denied, leafDenials, results });

    for (const [name, tally] of Object.entries(results)) expect({ name, ...tally }).toEqual({ name, attempts: ATTEMPTS, denied: ATTEMPTS });
    expect(leafDenials).toBe(attempts);
    expect(await queuedFor('edge-b')).toBe(queuedBefore);
    const consumerAfter = await adminJsm.consumers.info(JOB_STREAM, agentConsumerName('edge-b'));
    expect(consumerAfter.delivered.stream_seq).toBe(consumerBefore.delivered.stream_seq);
    expect(consumerAfter.num_pending).toBe(consumerBefore.num_pending);
    expect((await adminJsm.consumers.list(JOB_STREAM).next()).map((c) => c.name).sort()).toEqual([agentConsumerName('edge-a'), agentConsumerName('edge-b')]);
    // B's registry key is as it was: not one forged put.
    expect(await registryEntryB()).toBe(registryBefore);
  }, 120_000);
  it('revocation must reach the leaf: revoked on the hub only, the agent still joins through the leaf; with the copied auth file and a leaf reload it is refused', async () => {
    const keyA = parseCredsFile(credsOf('edge-a').toString()).userPublicKey;
    const tryJoin = async (url: string): Promise<string> => {
      try {
        const nc = await connect({ servers: url, authenticator: credsAuthenticator(credsOf('edge-a')), inboxPrefix: agentInboxPrefix('edge-a'), reconnect: false, timeout: 5_000 });
        await nc.close();
        return 'connected';
      } catch (err) {
        return /Authorization/i.test(String(err)) ? 'refused' : `failed: ${String(err)}`;
      }
    };
    const reload = async (server: NatsServerHandle, log: string[]): Promise<void> => {
      const from = log.length;
      server.process.kill('SIGHUP');
      await waitFor('config reloaded', () => (log.slice(from).some((line) => /Reloaded server configuration/.test(line)) ? true : undefined), 10_000);
    };
    await run(join(repoRoot, 'bin/benchfarm'), ['security', 'revoke', '--dir', security.dir, '--key', keyA]);
    await reload(hub, hubLog);
    const hubOnly = { hub: await tryJoin(hub.url), leaf: await tryJoin(edge.url) };
    writeFileSync(join(leafDir, LEAF_SITE_FILES.natsAuth), readFileSync(security.natsAuthFile));
    await reload(edge, edgeLog);
    const both = { hub: await tryJoin(hub.url), leaf: await tryJoin(edge.url) };
    expect({ hubOnly, both }).toEqual({ hubOnly: { hub: 'refused', leaf: 'connected' }, both: { hub: 'refused', leaf: 'refused' } });
    // The running edge agent is cut off by the leaf's reload; B (not revoked) still joins through the leaf.
    await waitFor('edge-a stale', async () => ((await client.listAgents()).find((a) => a.agentId === 'edge-a')?.stale !== false ? true : undefined), 20_000);
    const ncB = await connect({ servers: edge.url, authenticator: credsAuthenticator(credsOf('edge-b')), inboxPrefix: agentInboxPrefix('edge-b'), reconnect: false });
    await ncB.close();
  }, 60_000);
});
