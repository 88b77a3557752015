import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServerHandle } from '@benchfarm/messaging';
import { repoRoot } from '@benchfarm/testing';

const MAIN = join(repoRoot, 'apps/coordinator/src/main.ts');
const TSX = join(repoRoot, 'node_modules/.bin/tsx');

describe('the coordinator process (main.ts)', () => {
  let nats: NatsServerHandle;
  let dir: string;

  beforeAll(async () => {
    nats = await startNatsServer();
    dir = mkdtempSync(join(tmpdir(), 'bf-coordinator-main-'));
  });
  afterAll(async () => {
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('prints one ready line on stdout, serves, and stops cleanly on SIGTERM', async () => {
    const child = spawn(TSX, [MAIN], {
      env: { ...process.env, BENCHFARM_NATS_URL: nats.url, BENCHFARM_HTTP_PORT: '0', BENCHFARM_GRPC_PORT: '0', BENCHFARM_DB: join(dir, 'c.db'), BENCHFARM_DATA_DIR: join(dir, 'data'), BENCHFARM_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const lines: string[] = [];
    const firstLine = new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).on('line', (line) => {
        lines.push(line);
        if (lines.length === 1) resolve(line);
      });
      child.once('exit', (code) => reject(new Error(`exited with ${code} before the ready line`)));
    });
    const ready = JSON.parse(await firstLine) as { event: string; httpUrl: string; grpcAddress: string };
    expect(ready).toMatchObject({ event: 'ready', httpUrl: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/), grpcAddress: expect.stringMatching(/^127\.0\.0\.1:\d+$/) });
    const health = await fetch(`${ready.httpUrl}/healthz`);
    expect(health.status).toBe(200);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(lines).toHaveLength(1);
  });

  it('exits with code 2 and names every bad variable', async () => {
    const child = spawn(TSX, [MAIN], { env: { ...process.env, BENCHFARM_HTTP_PORT: 'x', BENCHFARM_GRPC_PORT: '-5' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(2);
    expect(stderr).toContain('BENCHFARM_HTTP_PORT');
    expect(stderr).toContain('BENCHFARM_GRPC_PORT');
  });
});
