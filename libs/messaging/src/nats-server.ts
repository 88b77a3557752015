import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A nats-server child process with JetStream on, listening on a loopback port. Used by the
 * embedded default (`benchfarm up`) and by every test that needs a real server.
 */
export interface NatsServerHandle {
  readonly url: string;
  readonly port: number;
  readonly storeDir: string;
  readonly process: ChildProcess;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s) and, unless kept, removes its store. */
  stop(options?: { keepStore?: boolean }): Promise<void>;
}

/** Thrown when nats-server is missing or does not come up in time. */
export class NatsServerStartError extends Error {
  override name = 'NatsServerStartError';
}

export interface StartNatsOptions {
  /** Where JetStream keeps its data; a fresh temporary folder when omitted. */
  storeDir?: string;
  /** Port to listen on; a free ephemeral port when omitted. */
  port?: number;
  /** Path of the nats-server binary (default: `nats-server` on PATH, then /usr/sbin). */
  binary?: string;
  /** Extra server flags. */
  args?: string[];
  /** Run JetStream (default true); false for a plain server such as an edge leaf node. */
  jetstream?: boolean;
  /**
   * Run from this config file alone (`-c file` plus `args`): it sets listen address, JetStream
   * and store, so no `-a -p -js -sd` flags are added (given with a config, those flags make
   * nats-server refuse every config reload). `port` must then name the port the file sets.
   */
  configFile?: string;
  startTimeoutMs?: number;
  /** Forward the server's log lines here (default: dropped). */
  log?: (line: string) => void;
}

/** Finds a free TCP port on 127.0.0.1 by binding port 0 and closing it again. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      if (address === null || typeof address === 'string') {
        srv.close();
        reject(new Error('freePort: no port assigned'));
        return;
      }
      const { port } = address;
      srv.close(() => resolve(port));
    });
  });
}

/** Locates the nats-server binary, or returns undefined when it is not installed. */
export function findNatsServer(): string | undefined {
  const candidates = [process.env.NATS_SERVER_BIN, '/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'];
  for (const dir of (process.env.PATH ?? '').split(':')) if (dir) candidates.push(join(dir, 'nats-server'));
  for (const candidate of candidates) {
    if (candidate && existsExecutable(candidate)) return candidate;
  }
  return undefined;
}

function existsExecutable(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * Starts a real nats-server with JetStream on a free loopback port and waits until
 * it reports that it is ready for connections.
 */
export async function startNatsServer(options: StartNatsOptions = {}): Promise<NatsServerHandle> {
  const binary = options.binary ?? findNatsServer();
  if (!binary) throw new NatsServerStartError('nats-server is not installed (Debian: apt-get install -y nats-server)');
  if (options.configFile !== undefined && options.port === undefined) throw new NatsServerStartError('startNatsServer: with configFile, give the port the file listens on');
  const port = options.port ?? (await freePort());
  const ownStore = options.storeDir === undefined && options.configFile === undefined;
  const storeDir = options.storeDir ?? (options.configFile === undefined ? mkdtempSync(join(tmpdir(), 'benchfarm-nats-')) : '');
  const args =
    options.configFile !== undefined
      ? ['-c', options.configFile, ...(options.args ?? [])]
      : ['-a', '127.0.0.1', '-p', String(port), ...(options.jetstream === false ? [] : ['-js', '-sd', storeDir]), ...(options.args ?? [])];
  const child = await spawnNatsServerUntilReady(binary, args, { label: 'nats-server', timeoutMs: options.startTimeoutMs ?? 10_000, log: options.log });

  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });

  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    process: child,
    async stop(stopOptions = {}) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      if (ownStore && !stopOptions.keepStore) rmSync(storeDir, { recursive: true, force: true });
    },
  };
}

/**
 * Spawns nats-server with `args` and resolves with the process once it logs that it is ready
 * for connections. Thrown: {@link NatsServerStartError} when it exits first or is not ready
 * within `timeoutMs` (then it is killed), with the end of its output. Shared by the single-server
 * and the cluster launchers.
 */
export async function spawnNatsServerUntilReady(binary: string, args: string[], options: { label: string; timeoutMs: number; log?: ((line: string) => void) | undefined }): Promise<ChildProcess> {
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new NatsServerStartError(`${options.label} did not become ready within ${options.timeoutMs} ms:\n${buffer.slice(-2000)}`));
    }, options.timeoutMs);
    const onData = (chunk: Buffer): void => {
      const text = chunk.toString();
      // Only the start-up banner matters here; a server logging with -DV must not grow this.
      if (buffer.length < 100_000) buffer += text;
      for (const line of text.split('\n')) if (line) options.log?.(line);
      if (buffer.includes('Server is ready')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new NatsServerStartError(`${options.label} exited early (code ${code}, signal ${signal}):\n${buffer.slice(-2000)}`));
    });
  });
  return child;
}
