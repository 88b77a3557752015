import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { NatsServerStartError, findNatsServer, freePort, spawnNatsServerUntilReady } from '@benchfarm/messaging';

/** One server of a {@link NatsClusterHandle}; its ports and store survive a kill and a restart. */
export interface ClusterServerHandle {
  /** `server_name`, also the JetStream peer name in stream and consumer cluster info. */
  readonly name: string;
  readonly url: string;
  readonly port: number;
  readonly clusterPort: number;
  /** HTTP monitoring port (`/healthz`, `/jsz`, `/varz`). */
  readonly monitorPort: number;
  readonly storeDir: string;
  readonly configFile: string;
  /** The current process (a new one after each {@link restart}). */
  readonly process: ChildProcess;
  /** Whether the current process is still running. */
  readonly running: boolean;
  /** Sends `signal` (default SIGKILL, an abrupt crash) and resolves once the process exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the server again on the same ports, config and store (a crashed machine coming back). */
  restart(): Promise<void>;
  /**
   * Resolves once `/healthz` answers 200: on nats-server 2.9 that means the server is current with
   * the JetStream meta group and with every stream and consumer it holds a replica of.
   */
  waitHealthy(timeoutMs?: number): Promise<void>;
}

/** A JetStream cluster of real nats-server processes on loopback. */
export interface NatsClusterHandle {
  readonly name: string;
  readonly servers: readonly ClusterServerHandle[];
  /** Every server's client URL. */
  readonly urls: readonly string[];
  /** The client URLs comma-separated, as BENCHFARM_NATS_URL takes them. */
  readonly url: string;
  /** The server (by name) leading the JetStream meta group, asked of a running server; undefined during an election. */
  metaLeader(): Promise<string | undefined>;
  /** The server (by name) leading `stream`'s raft group, asked of a running server's `/jsz`; undefined during an election. */
  streamLeader(stream: string): Promise<string | undefined>;
  /**
   * The leader of every stream and consumer raft group, keyed `stream` and `stream/consumer`
   * (undefined during an election), as the first running server that answers sees them.
   */
  groupLeaders(): Promise<Record<string, string | undefined>>;
  /** The server (by name) a client connection named `connectionName` is attached to, if any. */
  connectedServer(connectionName: string): Promise<string | undefined>;
  /** Stops every server (SIGTERM, then SIGKILL after 5 s) and removes the stores unless kept. */
  stop(options?: { keepStore?: boolean }): Promise<void>;
}

export interface StartNatsClusterOptions {
  /** Number of servers (default 3; JetStream needs at least 3 for R3 to survive a loss). */
  size?: number;
  /** Folder for configs and stores; a fresh temporary folder when omitted (removed on stop). */
  dir?: string;
  /** Cluster name (default `benchfarm`). */
  clusterName?: string;
  /** JetStream domain of the cluster (for hubs that leaf nodes reach by domain). */
  jsDomain?: string;
  /** Extra top-level config text added to every server's file (leafnodes, accounts...). */
  extraConfig?: (server: { name: string; index: number }) => string;
  binary?: string;
  startTimeoutMs?: number;
  /** Forward each server's log lines here (default: dropped). */
  log?: (server: string, line: string) => void;
}

interface JszStreamDetail {
  name: string;
  cluster?: { leader?: string };
  consumer_detail?: Array<{ name: string; cluster?: { leader?: string } }>;
}
interface Jsz {
  meta_cluster?: { leader?: string; cluster_size?: number };
  account_details?: Array<{ stream_detail?: JszStreamDetail[] }>;
}

async function fetchJson<T>(url: string, timeoutMs = 1_000): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

/** nats-server config file text for one cluster member (exported for the config tests in deploy/). */
export function clusterServerConfig(server: { name: string; port: number; clusterPort: number; monitorPort: number; storeDir: string; clusterName: string; routes: number[]; jsDomain?: string | undefined; extra?: string }): string {
  return [
    `server_name: ${server.name}`,
    `listen: 127.0.0.1:${server.port}`,
    `http: 127.0.0.1:${server.monitorPort}`,
    'jetstream {',
    `  store_dir: ${JSON.stringify(server.storeDir)}`,
    ...(server.jsDomain ? [`  domain: ${server.jsDomain}`] : []),
    '}',
    'cluster {',
    `  name: ${server.clusterName}`,
    `  listen: 127.0.0.1:${server.clusterPort}`,
    `  routes: [${server.routes.map((p) => `nats-route://127.0.0.1:${p}`).join(', ')}]`,
    '}',
    server.extra ?? '',
    '',
  ].join('\n');
}

/**
 * Starts `size` real nats-server processes on loopback forming one JetStream cluster (each with
 * its own store, client, route and monitoring port, routes to the others) and waits until
 * every server is up and the JetStream meta group has a leader. Tests use it to run the farm
 * against a cluster and to kill and restart single servers.
 */
export async function startNatsCluster(options: StartNatsClusterOptions = {}): Promise<NatsClusterHandle> {
  // Free ports are found by binding and closing port 0 (freePort), so another process may take
  // one of the 3 x size ports before the server binds it: try again with fresh ports.
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await startNatsClusterOnce(options);
    } catch (err) {
      if (attempt >= 3 || !(err instanceof NatsServerStartError) || !/address already in use/.test(err.message)) throw err;
    }
  }
}

async function startNatsClusterOnce(options: StartNatsClusterOptions): Promise<NatsClusterHandle> {
  const binary = options.binary ?? findNatsServer();
  if (!binary) throw new NatsServerStartError('nats-server is not installed (Debian: apt-get install -y nats-server)');
  const size = options.size ?? 3;
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`startNatsCluster: size must be a positive integer, got ${size}`);
  const clusterName = options.clusterName ?? 'benchfarm';
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'benchfarm-nats-cluster-'));
  const timeoutMs = options.startTimeoutMs ?? 20_000;
  // 3 x size distinct ports: freePort may hand out a port it gave a moment ago.
  const taken = new Set<number>();
  const distinctPort = async (): Promise<number> => {
    for (;;) {
      const port = await freePort();
      if (taken.has(port)) continue;
      taken.add(port);
      return port;
    }
  };
  const ports: Array<{ port: number; clusterPort: number; monitorPort: number }> = [];
  for (let i = 0; i < size; i += 1) ports.push({ port: await distinctPort(), clusterPort: await distinctPort(), monitorPort: await distinctPort() });

  const servers = ports.map((p, index) => {
    const name = `n${index + 1}`;
    const storeDir = join(dir, name, 'store');
    mkdirSync(storeDir, { recursive: true });
    const configFile = join(dir, name, 'nats.conf');
    writeFileSync(
      configFile,
      clusterServerConfig({
        name,
        ...p,
        storeDir,
        clusterName,
        routes: ports.filter((_, j) => j !== index).map((q) => q.clusterPort),
        jsDomain: options.jsDomain,
        extra: options.extraConfig?.({ name, index }) ?? '',
      }),
    );
    let child: ChildProcess | undefined;
    // The server's last lines, so that a server that dies after its banner says why.
    const tail: string[] = [];
    const logLine = (line: string): void => {
      tail.push(line);
      if (tail.length > 20) tail.shift();
      options.log?.(name, line);
    };
    const exitedOf = (c: ChildProcess): Promise<void> =>
      new Promise((resolve) => (c.exitCode !== null || c.signalCode !== null ? resolve() : c.once('exit', () => resolve())));
    const launch = async (): Promise<void> => {
      child = await spawnNatsServerUntilReady(binary, ['-c', configFile], { label: `cluster server ${name}`, timeoutMs, log: logLine });
    };
    const handle: ClusterServerHandle & { launch(): Promise<void> } = {
      name,
      url: `nats://127.0.0.1:${p.port}`,
      ...p,
      storeDir,
      configFile,
      get process() {
        if (!child) throw new Error(`cluster server ${name} was never started`);
        return child;
      },
      get running() {
        return child !== undefined && child.exitCode === null && child.signalCode === null;
      },
      launch,
      async kill(signal = 'SIGKILL') {
        if (!child || !handle.running) return;
        const c = child;
        c.kill(signal);
        await exitedOf(c);
      },
      async restart() {
        if (handle.running) throw new Error(`cluster server ${name} is still running; kill it first`);
        await launch();
      },
      async waitHealthy(healthTimeoutMs = 30_000) {
        const deadline = Date.now() + healthTimeoutMs;
        let last = '';
        for (;;) {
          if (!handle.running) {
            // Dead (a port taken after its banner, a crash): waiting for it would only time out.
            const c = child;
            throw new NatsServerStartError(`cluster server ${name} exited (code ${c?.exitCode ?? null}, signal ${c?.signalCode ?? null}) before it was healthy:\n${tail.join('\n')}`);
          }
          try {
            const res = await fetch(`http://127.0.0.1:${p.monitorPort}/healthz`, { signal: AbortSignal.timeout(1_000) });
            if (res.ok) return;
            last = `HTTP ${res.status} ${await res.text()}`;
          } catch (err) {
            last = (err as Error).message;
          }
          if (Date.now() > deadline) throw new NatsServerStartError(`cluster server ${name} not healthy within ${healthTimeoutMs} ms: ${last}\n${tail.slice(-5).join('\n')}`);
          await sleep(100);
        }
      },
    };
    return handle;
  });

  const askRunning = async <T>(path: string, pick: (jsz: Jsz) => T | undefined): Promise<T | undefined> => {
    for (const s of servers) {
      if (!s.running) continue;
      try {
        const value = pick(await fetchJson<Jsz>(`http://127.0.0.1:${s.monitorPort}${path}`));
        if (value !== undefined) return value;
      } catch {
        // that server is starting or going; ask the next one
      }
    }
    return undefined;
  };
  const cluster: NatsClusterHandle = {
    name: clusterName,
    servers,
    urls: servers.map((s) => s.url),
    url: servers.map((s) => s.url).join(','),
    metaLeader: () => askRunning('/jsz', (jsz) => jsz.meta_cluster?.leader || undefined),
    streamLeader: (stream) =>
      askRunning('/jsz?accounts=true&streams=true', (jsz) => {
        for (const account of jsz.account_details ?? []) {
          const leader = account.stream_detail?.find((d) => d.name === stream)?.cluster?.leader;
          if (leader) return leader;
        }
        return undefined;
      }),
    groupLeaders: async () =>
      (await askRunning('/jsz?accounts=true&streams=true&consumers=true', (jsz) => {
        const leaders: Record<string, string | undefined> = {};
        for (const account of jsz.account_details ?? []) {
          for (const stream of account.stream_detail ?? []) {
            leaders[stream.name] = stream.cluster?.leader || undefined;
            for (const consumer of stream.consumer_detail ?? []) leaders[`${stream.name}/${consumer.name}`] = consumer.cluster?.leader || undefined;
          }
        }
        return leaders;
      })) ?? {},
    async connectedServer(connectionName) {
      for (const s of servers) {
        if (!s.running) continue;
        try {
          const connz = await fetchJson<{ connections?: Array<{ name?: string }> }>(`http://127.0.0.1:${s.monitorPort}/connz?limit=4096`);
          if (connz.connections?.some((c) => c.name === connectionName)) return s.name;
        } catch {
          // starting or going: not this one
        }
      }
      return undefined;
    },
    async stop(stopOptions = {}) {
      for (const s of servers) {
        if (!s.running) continue;
        const timer = setTimeout(() => void s.kill('SIGKILL'), 5_000);
        await s.kill('SIGTERM');
        clearTimeout(timer);
      }
      if (ownDir && !stopOptions.keepStore) rmSync(dir, { recursive: true, force: true });
    },
  };

  try {
    await Promise.all(servers.map((s) => s.launch()));
    const deadline = Date.now() + timeoutMs;
    while ((await cluster.metaLeader()) === undefined) {
      if (Date.now() > deadline) throw new NatsServerStartError(`the JetStream meta group of cluster ${clusterName} elected no leader within ${timeoutMs} ms`);
      await sleep(100);
    }
    for (const s of servers) await s.waitHealthy(Math.max(1_000, deadline - Date.now()));
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}
