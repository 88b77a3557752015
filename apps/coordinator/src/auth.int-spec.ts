// REST authentication against a real coordinator (real nats-server, SQLite, HTTP).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServerHandle } from '@benchfarm/messaging';
import { startCoordinator, type RunningCoordinator } from './app';
import { Metadata, credentials, status as grpcStatus, type ChannelCredentials } from '@grpc/grpc-js';
import { LeasesClient } from '@benchfarm/protocol';
import { initPki, issueAgentFiles } from './security/pki-files';

const TOKEN = 'test-token-0123456789abcdef';

describe('REST behind an API token (BENCHFARM_API_TOKEN)', () => {
  let nats: NatsServerHandle;
  let dir: string;
  let coordinator: RunningCoordinator;

  beforeAll(async () => {
    nats = await startNatsServer();
    dir = mkdtempSync(join(tmpdir(), 'bf-auth-'));
    coordinator = await startCoordinator({ natsUrl: nats.url, httpPort: 0, grpcPort: 0, dbPath: join(dir, 'c.db'), dataDir: join(dir, 'data'), logLevel: 'error', apiToken: TOKEN });
  });
  afterAll(async () => {
    await coordinator?.close();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const get = (path: string, token?: string): Promise<Response> =>
    fetch(`${coordinator.httpUrl}${path}`, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });

  it('refuses requests without the token, or with a wrong one, with 401 naming the header', async () => {
    for (const path of ['/sweeps', '/agents', '/openapi.json']) {
      const response = await get(path);
      expect(response.status, path).toBe(401);
      expect(await response.json()).toMatchObject({ statusCode: 401, code: 'unauthorized', field: 'authorization' });
    }
    expect((await get('/sweeps', 'not-the-token')).status).toBe(401);
    const post = await fetch(`${coordinator.httpUrl}/sweeps`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"modelPath":"/etc/passwd"}' });
    expect(post.status).toBe(401);
  });

  it('answers with the token, and leaves /healthz and /metrics open for probes and scrapers', async () => {
    expect((await get('/sweeps', TOKEN)).status).toBe(200);
    expect((await get('/agents', TOKEN)).status).toBe(200);
    expect((await get('/healthz')).status).toBe(200);
    const metrics = await get('/metrics');
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('benchfarm_results_total');
  });
});

describe('gRPC beyond loopback only with mTLS (BENCHFARM_GRPC_TLS_CERT/KEY/CLIENT_CA)', () => {
  let nats: NatsServerHandle;
  let dir: string;

  beforeAll(async () => {
    nats = await startNatsServer();
    dir = mkdtempSync(join(tmpdir(), 'bf-auth-grpc-'));
  });
  afterAll(async () => {
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses to start on 0.0.0.0 with server-only TLS, starts there with mTLS and serves only TLS clients with a farm certificate', async () => {
    const pki = join(dir, 'pki');
    await initPki(pki, []);
    const base = { natsUrl: nats.url, httpPort: 0, grpcHost: '0.0.0.0', grpcPort: 0, dbPath: join(dir, 'c.db'), dataDir: join(dir, 'data'), logLevel: 'error' as const };
    const tls = { grpcTlsCertFile: join(pki, 'server.crt'), grpcTlsKeyFile: join(pki, 'server.key') };
    await expect(startCoordinator({ ...base, ...tls })).rejects.toThrow(/grpcHost \(BENCHFARM_GRPC_HOST\): 0\.0\.0\.0 is not a loopback address/);
    const coordinator = await startCoordinator({ ...base, ...tls, grpcTlsClientCaFile: join(pki, 'ca.crt') });
    try {
      const port = coordinator.grpcAddress.split(':').pop();
      const status = (creds: ChannelCredentials): Promise<number> => {
        const client = new LeasesClient(`127.0.0.1:${port}`, creds, { 'grpc.use_local_subchannel_pool': 1 });
        return new Promise<number>((resolve) =>
          client.uploadStatus({ jobId: 'job_x', uploadId: 'u', leaseToken: '' }, new Metadata(), { deadline: Date.now() + 10_000 }, (err) => {
            client.close();
            resolve(err ? (err.code as number) : 0);
          }),
        );
      };
      expect(await status(credentials.createInsecure())).toBe(grpcStatus.UNAVAILABLE);
      expect(await status(credentials.createSsl(readFileSync(join(pki, 'ca.crt'))))).toBe(grpcStatus.UNAVAILABLE);
      await issueAgentFiles(pki, 'a-1', join(dir, 'a-1'));
      const agentCreds = credentials.createSsl(readFileSync(join(pki, 'ca.crt')), readFileSync(join(dir, 'a-1', 'agent.key')), readFileSync(join(dir, 'a-1', 'agent.crt')));
      expect(await status(agentCreds)).toBe(grpcStatus.OK);
    } finally {
      await coordinator.close();
    }
  });
});
