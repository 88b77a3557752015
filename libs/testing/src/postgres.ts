import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@benchfarm/messaging';
import pg from 'pg';

/** A private PostgreSQL server started by a test, with one database created for it. */
export interface PostgresServerHandle {
  /** `postgres://postgres@127.0.0.1:<port>/<database>` of the database created at start. */
  readonly url: string;
  readonly port: number;
  /** The temporary folder holding the cluster (`data/`) and the server's socket. */
  readonly dir: string;
  /** Creates another empty database on the same server and returns its URL. */
  createDatabase(): Promise<string>;
  /** Fast shutdown (SIGINT; SIGQUIT after 10 s), then removes the folder. */
  stop(): Promise<void>;
}

/** Options of {@link startPostgres}. */
export interface StartPostgresOptions {
  /** Folder holding initdb and postgres (default: `pg_config --bindir`, then the newest /usr/lib/postgresql/N/bin). */
  binDir?: string;
  /** How long to wait for the server to accept connections (default 30 s). */
  startTimeoutMs?: number;
  /** Forward the server's log lines here (default: kept only for error messages). */
  log?: (line: string) => void;
}

/** Thrown when PostgreSQL's server binaries are not installed. */
export class PostgresNotInstalledError extends Error {
  override name = 'PostgresNotInstalledError';
}

/** Thrown when initdb fails or the server does not come up in time. */
export class PostgresStartError extends Error {
  override name = 'PostgresStartError';
}

/**
 * The folder with PostgreSQL's `initdb` and `postgres`: `binDir`, `POSTGRES_BIN_DIR`,
 * `pg_config --bindir`, then the newest `/usr/lib/postgresql/<major>/bin` (Debian keeps the
 * server binaries there, off PATH).
 *
 * Thrown errors: {@link PostgresNotInstalledError} when none holds both binaries.
 */
export function findPostgresBinDir(binDir?: string): string {
  const candidates: string[] = [];
  if (binDir) candidates.push(binDir);
  if (process.env.POSTGRES_BIN_DIR) candidates.push(process.env.POSTGRES_BIN_DIR);
  try {
    candidates.push(execFileSync('pg_config', ['--bindir'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
  } catch {
    // pg_config is absent or is libpq's, which knows no server: the Debian layout below decides.
  }
  const debian = '/usr/lib/postgresql';
  if (existsSync(debian)) {
    const majors = readdirSync(debian)
      .filter((name) => /^\d+(\.\d+)?$/.test(name))
      .sort((a, b) => Number(b) - Number(a));
    for (const major of majors) candidates.push(join(debian, major, 'bin'));
  }
  const found = candidates.find((dir) => existsSync(join(dir, 'postgres')) && existsSync(join(dir, 'initdb')));
  if (found === undefined) {
    throw new PostgresNotInstalledError(
      `PostgreSQL server binaries (initdb, postgres) not found in ${candidates.length > 0 ? candidates.join(', ') : 'pg_config --bindir or /usr/lib/postgresql/*/bin'}: run scripts/setup.sh (it installs Debian's postgresql package)`,
    );
  }
  return found;
}

/**
 * Starts a private PostgreSQL server for a test: initdb into a fresh temporary folder (trust
 * authentication, superuser `postgres`, UTF8, C locale), `postgres` on a free loopback port with
 * durability off (fsync, synchronous_commit, full_page_writes), and one empty database. As root,
 * both run as the `postgres` OS user (they refuse to run as root).
 *
 * Thrown errors: {@link PostgresNotInstalledError} when PostgreSQL is not installed (run
 * scripts/setup.sh); {@link PostgresStartError} when initdb fails or the server does not accept
 * connections within `startTimeoutMs`.
 */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<PostgresServerHandle> {
  const binDir = findPostgresBinDir(options.binDir);
  const owner = process.getuid?.() === 0 ? postgresUser() : undefined;
  const dir = mkdtempSync(join(tmpdir(), 'benchfarm-pg-'));
  if (owner) chownSync(dir, owner.uid, owner.gid);
  const dataDir = join(dir, 'data');
  const tail: string[] = [];
  const remember = (line: string) => {
    tail.push(line);
    if (tail.length > 40) tail.shift();
    options.log?.(line);
  };
  try {
    await runToEnd(
      join(binDir, 'initdb'),
      ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions'],
      { cwd: dir, owner, log: remember },
    );
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new PostgresStartError(`initdb failed: ${(err as Error).message}\n${tail.join('\n')}`, { cause: err });
  }

  // freePort closes its probe before postgres binds, so another process can take the port in
  // between: a server that exits at once is retried on a new port.
  let lastError: unknown;
  for (let tries = 0; tries < 3; tries++) {
    const port = await freePort();
    const child = spawn(
      join(binDir, 'postgres'),
      [
        '-D', dataDir,
        '-p', String(port),
        '-k', dir,
        '-c', 'listen_addresses=127.0.0.1',
        '-c', 'fsync=off',
        '-c', 'synchronous_commit=off',
        '-c', 'full_page_writes=off',
        // Several coordinators (pool of 10 each) and test clients share one server.
        '-c', 'max_connections=200',
      ],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], uid: owner?.uid, gid: owner?.gid },
    );
    forwardLines(child, remember);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await waitForConnections(port, child, exited, options.startTimeoutMs ?? 30_000);
    } catch (err) {
      lastError = err;
      await stopServer(child, exited);
      continue;
    }
    const createDatabase = async () => {
      const name = `benchfarm_${randomBytes(6).toString('hex')}`;
      const admin = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE ${name}`);
      } finally {
        await admin.end();
      }
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    };
    let url: string;
    try {
      url = await createDatabase();
    } catch (err) {
      await stopServer(child, exited);
      rmSync(dir, { recursive: true, force: true });
      throw new PostgresStartError(`cannot create a database on the test server: ${(err as Error).message}`, { cause: err });
    }
    let stopped: Promise<void> | undefined;
    return {
      url,
      port,
      dir,
      createDatabase,
      stop: () =>
        (stopped ??= stopServer(child, exited).finally(() => {
          rmSync(dir, { recursive: true, force: true });
        })),
    };
  }
  rmSync(dir, { recursive: true, force: true });
  throw new PostgresStartError(`postgres did not start: ${(lastError as Error).message}\n${tail.join('\n')}`, { cause: lastError });
}

/** The `postgres` OS user's ids: initdb and postgres refuse to run as root. */
function postgresUser(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith('postgres:'));
  const fields = line?.split(':');
  const uid = Number(fields?.[2]);
  const gid = Number(fields?.[3]);
  if (!fields || !Number.isInteger(uid) || !Number.isInteger(gid)) {
    throw new PostgresNotInstalledError('running as root, but there is no postgres OS user to run initdb and postgres as: run scripts/setup.sh (Debian postgresql creates it)');
  }
  return { uid, gid };
}

function forwardLines(child: ChildProcess, log: (line: string) => void): void {
  for (const stream of [child.stdout, child.stderr]) {
    let partial = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) if (line) log(line);
    });
  }
}

function runToEnd(
  command: string,
  args: string[],
  options: { cwd: string; owner: { uid: number; gid: number } | undefined; log: (line: string) => void },
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'], uid: options.owner?.uid, gid: options.owner?.gid });
    forwardLines(child, options.log);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${command} exited with ${signal ?? `code ${code}`}`));
    });
  });
}

async function waitForConnections(port: number, child: ChildProcess, exited: Promise<number | null>, timeoutMs: number): Promise<void> {
  let exitCode: number | null | undefined;
  void exited.then((code) => {
    exitCode = code;
  });
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (exitCode !== undefined || child.exitCode !== null) throw new Error(`postgres exited (code ${exitCode ?? child.exitCode}) before accepting connections`);
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 2_000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      await client.end();
      return;
    } catch (err) {
      lastError = err;
      await client.end().catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error(`postgres on port ${port} did not accept connections within ${timeoutMs} ms (last: ${(lastError as Error | undefined)?.message ?? 'none'})`);
}

/**
 * SIGINT is PostgreSQL's fast shutdown (rolls back open transactions, closes connections);
 * SIGQUIT, the immediate one, follows if that takes over 10 s.
 */
async function stopServer(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGINT');
  const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 10_000).unref());
  if ((await Promise.race([exited, timer])) === 'timeout') {
    child.kill('SIGQUIT');
    await exited;
  }
}
