import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, startTcpProxy, type NatsServerHandle, type TcpProxy } from '@benchfarm/testing';
import type { SqlDatabase, SqlExecutor } from '../storage/sql';
import { fencedDatabase } from './fenced-database';
import { LeaderElection, LeadershipLostError } from './leader-election';
import { LEADER_BUCKET, LEADER_KEY, LeaderBucketMismatchError, LeaderLease, fenceMarginMs, openLeaderBucket, parseLeaderRecord, type LeaderRecord } from './leader-lease';

// The leader lease on a real nats-server 2.9 with JetStream: expiry by the bucket's max age (no
// KV event on 2.9, so standbys poll), create/update on the last revision, and the fence of a
// leader cut off from NATS (through a pausable TCP proxy). The shortest TTL the settings allow
// (1.5 s) keeps each case to seconds.
const TTL_MS = 1_500;
const POLL_MS = 100;

interface Contender {
  readonly lease: LeaderLease;
  readonly election: LeaderElection;
  readonly lost: Array<{ reason: string; atMs: number }>;
  readonly standby: Array<string | undefined>;
}

describe('leader lease in NATS KV (real nats-server)', () => {
  let nats: NatsServerHandle;
  const connections: NatsConnection[] = [];
  const elections: LeaderElection[] = [];
  let key = 0;

  const connection = async (url = nats.url): Promise<NatsConnection> => {
    const nc = await connect({ servers: url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    connections.push(nc);
    return nc;
  };
  const contender = async (instanceId: string, nc?: NatsConnection): Promise<Contender> => {
    const kv = await openLeaderBucket(nc ?? (await connection()), { ttlMs: TTL_MS, replicas: 1 });
    const lease = new LeaderLease(kv, instanceId, TTL_MS);
    const lost: Contender['lost'] = [];
    const standby: Contender['standby'] = [];
    const election = new LeaderElection(lease, { pollIntervalMs: POLL_MS }, { lost: (reason) => lost.push({ reason, atMs: Date.now() }), standby: (h) => standby.push(h?.record?.instanceId) });
    elections.push(election);
    return { lease, election, lost, standby };
  };
  /** A free lease for the next case: the previous case's holder released, or its entry gone. */
  const clearLease = async (): Promise<void> => {
    const kv = await openLeaderBucket(await connection(), { ttlMs: TTL_MS, replicas: 1 });
    await kv.purge(LEADER_KEY);
    key += 1;
  };

  beforeAll(async () => {
    nats = await startNatsServer();
    await openLeaderBucket(await connection(), { ttlMs: TTL_MS, replicas: 1 });
  });

  afterAll(async () => {
    for (const e of elections) await e.stop({ release: false });
    for (const nc of connections) await nc.close().catch(() => undefined);
    await nats?.stop();
  });

  it('one instance leads, the other stands by; after the leader stops renewing (a crash) the standby takes over once the lease lapsed, within TTL + poll', async () => {
    await clearLease();
    const a = await contender(`a${key}`);
    const b = await contender(`b${key}`);
    const leading = await a.election.waitUntilLeader();
    expect(leading).toMatchObject({ instanceId: `a${key}`, state: 'starting' });
    const waiting = b.election.waitUntilLeader();
    // Renewals keep A leading across several TTLs.
    await new Promise((r) => setTimeout(r, TTL_MS * 2.5));
    expect(a.election.isLeader).toBe(true);
    expect(b.election.isLeader).toBe(false);
    expect(b.standby).toEqual([`a${key}`]);
    // The crash: renewals stop, nothing is released.
    await a.election.stop({ release: false });
    const lastWriteSentAtMs = a.lease.confirmedAtMs;
    const record = await waiting;
    const takenAtMs = Date.now();
    expect(record.instanceId).toBe(`b${key}`);
    // Never before the lease could lapse on the server (written no earlier than it was sent) ...
    expect(takenAtMs - lastWriteSentAtMs).toBeGreaterThanOrEqual(TTL_MS);
    // ... and within the TTL, one poll and the server's expiry timer (slack for 2 loaded cores).
    expect(takenAtMs - lastWriteSentAtMs).toBeLessThanOrEqual(TTL_MS + POLL_MS + 1_000);
    expect(b.standby.at(-1)).toBeUndefined();
    console.log(`[leader-lease] takeover ${takenAtMs - lastWriteSentAtMs} ms after the last renewal was sent (TTL ${TTL_MS} ms, poll ${POLL_MS} ms)`);
  }, 20_000);

  it('a leader cut off from NATS stops (fence) before the standby can take the lease', async () => {
    await clearLease();
    const proxy: TcpProxy = await startTcpProxy({ host: '127.0.0.1', port: nats.port });
    try {
      const a = await contender(`cut${key}`, await connection(`nats://${proxy.address}`));
      const b = await contender(`peer${key}`);
      await a.election.waitUntilLeader();
      const waiting = b.election.waitUntilLeader();
      await new Promise((r) => setTimeout(r, TTL_MS));
      proxy.pause();
      const pausedAtMs = Date.now();
      await waiting;
      const takenAtMs = Date.now();
      expect(a.lost).toHaveLength(1);
      const lost = a.lost[0]!;
      expect(lost.reason).toMatch(/no renewal of the leader lease was confirmed by NATS for \d+ ms \(lease TTL 1500 ms\)/);
      // The fence fell before the standby held the lease, by about the fence margin.
      expect(lost.atMs).toBeLessThan(takenAtMs);
      expect(lost.atMs).toBeLessThanOrEqual(a.lease.confirmedAtMs + TTL_MS - fenceMarginMs(TTL_MS) + 250 + 100);
      expect(a.election.isLeader).toBe(false);
      console.log(`[leader-lease] partitioned leader fenced ${lost.atMs - pausedAtMs} ms after the cut, ${takenAtMs - lost.atMs} ms before the standby took over`);
    } finally {
      proxy.resume();
      await proxy.close();
    }
  }, 20_000);

  it('a renewal refused because another instance wrote the lease ends leadership, naming that instance', async () => {
    await clearLease();
    const a = await contender(`held${key}`);
    await a.election.waitUntilLeader();
    const kv: KV = await new Kvm(await connection()).open(LEADER_BUCKET);
    const intruder: LeaderRecord = { instanceId: `intruder${key}`, host: 'elsewhere', pid: 1, state: 'serving', grpcAddress: '10.0.0.9:50051', sinceUnixMs: Date.now(), renewedAtUnixMs: Date.now() };
    await kv.put(LEADER_KEY, JSON.stringify(intruder));
    const deadline = Date.now() + TTL_MS;
    while (a.lost.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(a.lost.map((l) => l.reason)).toEqual([`the lease is held by intruder${key} (host elsewhere, pid 1, serving, gRPC 10.0.0.9:50051)`]);
    expect(a.election.isLeader).toBe(false);
  }, 10_000);

  it("a renewal whose answer was lost (the revision moved, the entry names this instance) keeps the lease and the next renewal goes on from it", async () => {
    await clearLease();
    const kv: KV = await new Kvm(await connection()).open(LEADER_BUCKET);
    const lease = new LeaderLease(await openLeaderBucket(await connection(), { ttlMs: TTL_MS, replicas: 1 }), `self${key}`, TTL_MS);
    expect(await lease.tryAcquire()).toBe(true);
    const entry = await kv.get(LEADER_KEY);
    const mine = parseLeaderRecord(entry!.value)!;
    // What a renewal sent by this instance, written by the server, answer lost, leaves behind.
    const landed = { ...mine, renewedAtUnixMs: Date.now() };
    await kv.update(LEADER_KEY, JSON.stringify(landed), entry!.revision);
    expect(await lease.renew()).toEqual({ held: true });
    expect(lease.confirmedAtMs).toBe(landed.renewedAtUnixMs);
    expect(await lease.renew({ state: 'serving', httpUrl: 'http://127.0.0.1:1' })).toEqual({ held: true });
    expect(parseLeaderRecord((await kv.get(LEADER_KEY))!.value)).toMatchObject({ instanceId: `self${key}`, state: 'serving', httpUrl: 'http://127.0.0.1:1' });
    expect(await lease.release()).toBe(true);
  }, 10_000);

  it('a clean stop gives the lease up: the standby takes over within a poll, not a TTL', async () => {
    await clearLease();
    const a = await contender(`clean${key}`);
    const b = await contender(`next${key}`);
    await a.election.waitUntilLeader();
    const waiting = b.election.waitUntilLeader();
    await new Promise((r) => setTimeout(r, POLL_MS * 3));
    const stoppedAtMs = Date.now();
    await a.election.stop({ release: true });
    await waiting;
    const handoverMs = Date.now() - stoppedAtMs;
    expect(handoverMs).toBeLessThan(TTL_MS);
    expect(a.lost).toEqual([]);
    console.log(`[leader-lease] clean handover in ${handoverMs} ms (poll ${POLL_MS} ms)`);
  }, 10_000);

  it('a leader whose clock passed its fence before its timers ran (a paused process) issues no statement: the first one is refused and leadership ends', async () => {
    await clearLease();
    // FAKE store (labelled): records the statements that reach it; the lease and NATS are real.
    const issued: string[] = [];
    const executor: SqlExecutor = {
      dialect: 'sqlite',
      get: async (sql) => void issued.push(sql),
      all: async (sql) => (issued.push(sql), []),
      run: async (sql) => (issued.push(sql), { changes: 1 }),
    };
    const store: SqlDatabase = { ...executor, description: 'fake', transaction: (fn) => fn(executor), close: async () => undefined };
    let skewMs = 0;
    const now = (): number => Date.now() + skewMs;
    const lease = new LeaderLease(await openLeaderBucket(await connection(), { ttlMs: TTL_MS, replicas: 1 }), `paused${key}`, TTL_MS, now);
    const lost: string[] = [];
    const election = new LeaderElection(lease, { pollIntervalMs: POLL_MS }, { lost: (reason) => lost.push(reason) }, now);
    elections.push(election);
    await election.waitUntilLeader();
    const fenced = fencedDatabase(store, () => election.assertLeading());
    await fenced.run('UPDATE before');
    await fenced.transaction(async (tx) => tx.get('SELECT inside'));
    // The clock jumps as it does for a process resumed after a pause longer than the TTL.
    skewMs = TTL_MS;
    await expect(fenced.run('UPDATE after')).rejects.toThrow(LeadershipLostError);
    await expect(fenced.transaction(async (tx) => tx.run('UPDATE in a transaction after'))).rejects.toThrow(/this coordinator no longer leads: the fence passed \d+ ms ago/);
    expect(issued).toEqual(['UPDATE before', 'SELECT inside']);
    expect(lost).toHaveLength(1);
    expect(lost[0]).toMatch(/was this process paused\?/);
  }, 10_000);

  it('refuses a leader bucket made with another TTL, naming the variable', async () => {
    const nc = await connection();
    await expect(openLeaderBucket(nc, { ttlMs: TTL_MS * 2, replicas: 1 })).rejects.toThrow(LeaderBucketMismatchError);
    await expect(openLeaderBucket(nc, { ttlMs: TTL_MS * 2, replicas: 1 })).rejects.toThrow(/has a lease TTL of 1500 ms but BENCHFARM_HA_LEASE_TTL_MS is 3000/);
  });
});
