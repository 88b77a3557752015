// Many connections reading one big model from the JetStream object store at once, each through
// fetchModel, as a lab's devices do when a sweep of a new model starts (docs/BENCHMARKS.md, "A
// fleet of a thousand agents", the bug found on the way: nats-server drops some connections as
// slow consumers and their reads used to hang for ever). A real nats-server with JetStream is
// started on a free loopback port; one connection stores a random object, then --connections
// connections (one NATS connection each, all in this process) fetch it into their own cache
// folder at the same moment.
//
//   npx tsx scripts/bench-model-fetch-stall.ts [--connections 50] [--size-mb 50] [--stall-ms 30000] [--retries 0] [--limit-s 170]
//
// Prints one line per connection (ok / stalled / failed / still running after --limit-s, with
// seconds and attempts), then the totals, how many "Slow Consumer" lines nats-server logged,
// the wall time and this process's peak RSS. --retries N: a transient ModelFetchError (a stall
// included) is tried again up to N times on the same connection, as the agent's retry does.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { ModelFetchError, ensureFarmStore, fetchModel, putModel, sha256File, startNatsServer } from '@benchfarm/messaging';

function positiveInt(name: string, raw: string, min: number): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new RangeError(`--${name} must be a whole number >= ${min}, got ${JSON.stringify(raw)}`);
  return value;
}

type Outcome = { state: 'running' | 'ok' | 'stalled' | 'failed'; attempts: number; seconds?: number; error?: string };

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      connections: { type: 'string', default: '50' },
      'size-mb': { type: 'string', default: '50' },
      'stall-ms': { type: 'string', default: '30000' },
      retries: { type: 'string', default: '0' },
      'limit-s': { type: 'string', default: '170' },
    },
  });
  const connections = positiveInt('connections', values.connections, 1);
  const sizeBytes = positiveInt('size-mb', values['size-mb'], 1) * 1024 * 1024;
  const stallTimeoutMs = positiveInt('stall-ms', values['stall-ms'], 1);
  const retries = positiveInt('retries', values.retries, 0);
  const limitMs = positiveInt('limit-s', values['limit-s'], 1) * 1000;

  let slowConsumerLines = 0;
  const server = await startNatsServer({ log: (line) => void (/slow consumer/i.test(line) && slowConsumerLines++) });
  const dir = mkdtempSync(join(tmpdir(), 'bf-fetch-stall-'));
  const clients: NatsConnection[] = [];
  let peakRss = process.memoryUsage.rss();
  const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 200);
  try {
    const admin = await connect({ servers: server.url });
    clients.push(admin);
    const src = join(dir, 'model.bin');
    writeFileSync(src, randomBytes(sizeBytes));
    const { sha256 } = await putModel((await ensureFarmStore(admin)).models, src);
    rmSync(src);
    const stores = [];
    for (let i = 0; i < connections; i++) {
      const nc = await connect({ servers: server.url, name: `fetch-${i}` });
      clients.push(nc);
      stores.push((await ensureFarmStore(nc)).models);
    }
    console.log(`nats-server ${server.url}; object ${sizeBytes} bytes (${sha256.slice(0, 12)}); ${connections} connections; stallTimeoutMs ${stallTimeoutMs}; retries ${retries}`);

    const outcomes: Outcome[] = stores.map(() => ({ state: 'running', attempts: 0 }));
    const started = performance.now();
    const all = Promise.all(
      stores.map(async (store, i) => {
        const o = outcomes[i]!;
        for (;;) {
          o.attempts += 1;
          try {
            const path = await fetchModel(store, sha256, join(dir, `cache-${i}`), '.bin', { stallTimeoutMs });
            if ((await sha256File(path)) !== sha256) throw new Error('cached file does not hash to the digest');
            o.state = 'ok';
          } catch (err) {
            const transient = err instanceof ModelFetchError && err.transient;
            if (transient && o.attempts <= retries) continue;
            o.state = transient && /stalled/.test((err as Error).message) ? 'stalled' : 'failed';
            o.error = (err as Error).message;
          }
          o.seconds = (performance.now() - started) / 1000;
          return;
        }
      }),
    );
    let limitTimer: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise<void>((resolve) => (limitTimer = setTimeout(resolve, limitMs)))]);
    clearTimeout(limitTimer);
    const wallS = (performance.now() - started) / 1000;

    outcomes.forEach((o, i) => {
      const when = o.seconds === undefined ? `> ${(limitMs / 1000).toFixed(0)} s` : `${o.seconds.toFixed(1)} s`;
      console.log(`conn ${String(i).padStart(3)}  ${o.state.padEnd(7)}  ${when.padStart(8)}  attempts ${o.attempts}${o.error ? `  ${o.error.replace(/[0-9a-f]{64}/g, (d) => d.slice(0, 12))}` : ''}`);
    });
    const count = (s: Outcome['state']): number => outcomes.filter((o) => o.state === s).length;
    const okSeconds = outcomes.filter((o) => o.state === 'ok').map((o) => o.seconds!).sort((a, b) => a - b);
    console.log(
      `ok ${count('ok')}, stalled ${count('stalled')}, failed ${count('failed')}, still running ${count('running')} of ${connections}; ` +
        `retried ${outcomes.filter((o) => o.attempts > 1).length}; ` +
        (okSeconds.length > 0 ? `ok after ${okSeconds[0]!.toFixed(1)}-${okSeconds[okSeconds.length - 1]!.toFixed(1)} s; ` : '') +
        `nats-server "Slow Consumer" lines ${slowConsumerLines}; wall ${wallS.toFixed(1)} s; peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB`,
    );
  } finally {
    clearInterval(rssTimer);
    await Promise.all(clients.map((nc) => nc.close().catch(() => undefined)));
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  // Reads still running at the limit are not waited for.
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
