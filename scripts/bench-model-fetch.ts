// How fast one agent reads a model out of the JetStream object store, three ways:
//   direct:   fetchModel as agents run it: direct gets (`DIRECT.GET`, `next_by_subj`, raw bytes),
//             MODEL_CHUNK_WINDOW in flight, no consumer;
//   leader:   fetchModel where direct gets are not available (its fallback): the stream leader's
//             `STREAM.MSG.GET` (JSON, base64 data);
//   consumer: nats.js's own ObjectStore.get() (an ephemeral ordered push consumer), which
//             fetchModel used until nats-server 2.9 was seen placing that consumer on a dead
//             cluster peer (docs/RELIABILITY.md).
// A real nats-server with JetStream on a free loopback port; one object of random bytes; each
// round reads it once each way into a fresh file, the order rotating every round, and checks the
// SHA-256 of what was written.
//
//   npx tsx scripts/bench-model-fetch.ts [--size-mb 40] [--rounds 6]
//
// Prints every round's seconds per read, then each path's median seconds and MiB/s and its
// median ratio to the consumer read of the same round (> 1: slower than the consumer).
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import type { ObjectStore } from '@nats-io/obj';
import { connect } from '@nats-io/transport-node';
import { MODEL_CHUNK_WINDOW, ensureFarmStore, fetchModel, putModel, sha256File, startNatsServer } from '@benchfarm/messaging';
import { median } from '@benchfarm/numerics';

function positiveInt(name: string, raw: string): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`--${name} must be a whole number >= 1, got ${JSON.stringify(raw)}`);
  return value;
}

/** The old path: nats.js's get() (an ordered consumer), written to `path` and hashed. */
async function readWithConsumer(store: ObjectStore, name: string, path: string): Promise<string> {
  const result = await store.get(name);
  if (!result) throw new Error(`object ${name} not found`);
  const hash = createHash('sha256');
  const out = createWriteStream(path);
  const reader = result.data.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    hash.update(value);
    if (!out.write(value)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  if (!(await result.error)) return hash.digest('hex');
  throw await result.error;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { 'size-mb': { type: 'string', default: '40' }, rounds: { type: 'string', default: '6' } } });
  const sizeBytes = positiveInt('size-mb', values['size-mb']) * 1024 * 1024;
  const rounds = positiveInt('rounds', values.rounds);
  const server = await startNatsServer();
  const dir = mkdtempSync(join(tmpdir(), 'bf-fetch-bench-'));
  const nc = await connect({ servers: server.url });
  try {
    const store = (await ensureFarmStore(nc)).models;
    const src = join(dir, 'model.bin');
    writeFileSync(src, randomBytes(sizeBytes));
    const { sha256 } = await putModel(store, src);
    rmSync(src);
    const info = await store.info(sha256);
    console.log(`nats-server ${server.url} (loopback); object ${sizeBytes} bytes in ${info?.chunks} chunks; ${rounds} rounds, order rotating`);
    // The same store without direct gets: fetchModel falls back to the leader's message gets.
    const raw = store as unknown as { stream: string; jsm: { streams: unknown } };
    const leaderOnly = { info: (name: string) => store.info(name), stream: raw.stream, jsm: { streams: raw.jsm.streams } } as unknown as ObjectStore;
    const PATHS = ['direct', 'leader', 'consumer'] as const;
    type Path = (typeof PATHS)[number];
    const seconds: Record<Path, number[]> = { direct: [], leader: [], consumer: [] };
    const ratios: Record<Path, number[]> = { direct: [], leader: [], consumer: [] };
    for (let round = 0; round < rounds; round++) {
      const order = PATHS.map((_, i) => PATHS[(i + round) % PATHS.length]!);
      const took: Partial<Record<Path, number>> = {};
      for (const path of order) {
        const target = join(dir, `round-${round}-${path}`);
        mkdirSync(target);
        const started = performance.now();
        // Each hashes the bytes as they arrive; fetchModel refuses a mismatch itself.
        const written = path === 'consumer' ? join(target, 'model.bin') : await fetchModel(path === 'direct' ? store : leaderOnly, sha256, target, '.bin');
        const digest = path === 'consumer' ? await readWithConsumer(store, sha256, written) : sha256;
        took[path] = (performance.now() - started) / 1000;
        if ((await sha256File(written)) !== sha256 || digest !== sha256) throw new Error(`${path} read of round ${round} does not hash to ${sha256}`);
        rmSync(target, { recursive: true, force: true });
      }
      for (const path of PATHS) {
        seconds[path].push(took[path]!);
        ratios[path].push(took[path]! / took.consumer!);
      }
      console.log(`round ${round + 1} (${order.join(', ')}): ${PATHS.map((p) => `${p} ${took[p]!.toFixed(3)} s`).join(', ')}`);
    }
    const mibps = (s: number): string => (sizeBytes / 2 ** 20 / s).toFixed(0);
    for (const path of PATHS) {
      const m = median(seconds[path]);
      console.log(`median ${path}${path === 'consumer' ? '' : ` (${MODEL_CHUNK_WINDOW} in flight)`}: ${m.toFixed(3)} s = ${mibps(m)} MiB/s; median ratio to the consumer read ${median(ratios[path]).toFixed(2)}`);
    }
  } finally {
    await nc.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
