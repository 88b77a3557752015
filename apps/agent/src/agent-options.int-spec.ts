// The agent process (main.ts) with a bad setting, and a TCP listener where its NATS server would
// be: it exits naming the field, and nothing ever connected to the listener.
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '@benchfarm/testing';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

describe('agent process with a bad setting', () => {
  let listener: Server | undefined;
  afterEach(async () => {
    await new Promise<void>((done) => (listener ? listener.close(() => done()) : done()));
  });

  it('exits naming every bad field before it opens any connection', async () => {
    const port = await freePort();
    let connections = 0;
    listener = createServer((socket) => {
      connections += 1;
      socket.destroy();
    });
    await new Promise<void>((done) => listener!.listen(port, '127.0.0.1', () => done()));
    const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'apps/agent/src/main.ts')], {
      cwd: repoRoot,
      env: { ...process.env, BENCHFARM_NATS_URL: `nats://127.0.0.1:${port}`, BENCHFARM_GRPC_ADDRESS: `127.0.0.1:${port}`, BENCHFARM_AGENT_ID: 'bad-options', BENCHFARM_HEALTH_RETRY_MS: '-1', BENCHFARM_IDLE_BASELINE_MS: 'x' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const code = await new Promise<number | null>((done) => child.on('close', (c) => done(c)));
    expect(code).toBe(1);
    expect(stderr).toMatch(/invalid agent configuration:/);
    expect(stderr).toMatch(/BENCHFARM_HEALTH_RETRY_MS: "-1"/);
    expect(stderr).toMatch(/BENCHFARM_IDLE_BASELINE_MS/);
    expect(stdout).toBe('');
    expect(connections).toBe(0);
  }, 60_000);
});
