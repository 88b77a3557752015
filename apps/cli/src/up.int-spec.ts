import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '@benchfarm/messaging';
import { repoRoot, upStateFile } from './processes';

/** Every descendant pid of a process (children, grandchildren, ...), from /proc via pgrep. */
function descendants(pid: number): number[] {
  let out = '';
  try {
    out = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' });
  } catch {
    return [];
  }
  const children = out.split('\n').filter(Boolean).map(Number);
  return children.flatMap((c) => [c, ...descendants(c)]);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('benchfarm up (real processes)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bf-up-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('starts nats-server, the coordinator and an agent, and Ctrl-C leaves nothing running', async () => {
    const [http, grpc, nats] = [await freePort(), await freePort(), await freePort()];
    const cli = spawn(join(repoRoot, 'bin/benchfarm'), ['--dir', dir, 'up', '--http-port', String(http), '--grpc-port', String(grpc), '--nats-port', String(nats)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not up in time:\n${lines.join('\n')}`)), 90_000);
      createInterface({ input: cli.stdout }).on('line', (line) => {
        lines.push(line);
        if (line.startsWith('Ctrl-C stops everything')) {
          clearTimeout(timer);
          resolve();
        }
      });
      cli.once('exit', (code) => reject(new Error(`benchfarm up exited with ${code}:\n${lines.join('\n')}`)));
    });
    expect(lines.join('\n')).toContain('no authentication');
    expect(existsSync(upStateFile(dir))).toBe(true);
    expect(existsSync(join(dir, 'nats'))).toBe(true);

    const health = await fetch(`http://127.0.0.1:${http}/healthz`);
    expect(health.status).toBe(200);
    const agents = (await (await fetch(`http://127.0.0.1:${http}/agents`)).json()) as { agentId: string }[];
    expect(agents.map((a) => a.agentId)).toContain('local');

    // bin/benchfarm execs node, so cli.pid is the CLI process; its descendants are the three services.
    const children = descendants(cli.pid!);
    expect(children.length).toBeGreaterThanOrEqual(3);
    const exited = new Promise<number | null>((r) => cli.once('exit', (code) => r(code)));
    cli.kill('SIGINT');
    expect(await exited).toBe(0);
    // Grandchildren (tsx's esbuild service) exit when their parent's pipes close: allow them a moment.
    const deadline = Date.now() + 5_000;
    while (children.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(children.filter(alive)).toEqual([]);
    expect(existsSync(upStateFile(dir))).toBe(false);
  }, 150_000);
});
