// REST authentication against a real coordinator (real nats-server, SQLite, HTTP).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServerHandle } from '@benchfarm/messaging';
import { startCoordinator, type RunningCoordinator } from './app';

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
