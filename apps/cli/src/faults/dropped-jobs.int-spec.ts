import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_BUCKET, JOB_STREAM, agentConsumerName, freePort, jobSubject, startNatsServer, type NatsServerHandle } from '@benchfarm/messaging';
import { paddleOcrModelPath } from '@benchfarm/onnx';
import type * as Protocol from '@benchfarm/protocol';
import type { BenchJob } from '@benchfarm/protocol';
import { CoordinatorClient, type SweepView } from '../client';
import { startAgentProcess, startCoordinatorProcess, waitFor, type TestProcess } from './harness';
import { createDerived } from '../testing/farm.fixture';

// A job message the agent drops must free its one ack-pending slot at once.
// nats-server 2.9.10 ignores `+TERM <reason>` (it matches `+TERM` exactly), so a message termed
// with a reason stayed pending until AckWait and came back MaxDeliver times: with the reference
// AckWait of 30 s that agent took nothing else for 30-90 s. This test runs the agent with the
// REFERENCE AckWait (not the fast one of the other fault tests), so every drop that is not
// really terminated costs 30 s and breaks the 10 s bounds below.
const ACK_WAIT_MS = 30_000;
/** Generous for 2 loaded cores (a drop takes milliseconds, a job start ~1 s), far below AckWait. */
const START_BOUND_MS = 10_000;
const MODEL = paddleOcrModelPath('cls');
const AGENT = 'drop-a';
/** FAKE: a registry entry only (no process), cloned from the real agent's entry so its health report verifies. */
const OTHER = 'drop-other';
const sweepOptions = (targets: string, minDurationMs = 200) => ({
  variants: 'fp32',
  targets,
  shapes: 'x:1x3x48x192',
  compare: 'none',
  warmupMinQueries: 2,
  warmupMinDurationMs: 50,
  minQueries: 10,
  minDurationMs,
  maxDurationMs: minDurationMs + 20_000,
});

describe('a dropped job message costs the agent well under AckWait (nats-server 2.9)', () => {
  let dir: string;
  let nats: NatsServerHandle;
  let coordinator: TestProcess;
  let agent: TestProcess;
  let client: CoordinatorClient;
  let nc: NatsConnection;
  let js: JetStreamClient;
  let jsm: JetStreamManager;
  let registry: KV;
  let fakeHeartbeat: NodeJS.Timeout | undefined;
  /** The generated messages, loaded lazily as the other fault tests load the protocol lib. */
  let protocol: typeof Protocol;

  const agentLines = (message: string): Array<Record<string, unknown>> => agent.lines().filter((l) => l.message === message);
  const startedAt = (jobId: string): Promise<number> =>
    waitFor(`job ${jobId} started on ${AGENT}`, () => {
      const line = agentLines('job started').find((l) => l.jobId === jobId);
      return line ? Date.parse(String(line.time)) : undefined;
    }, START_BOUND_MS + 5_000, 50);
  const settled = (sweepId: string): Promise<SweepView> =>
    waitFor(`sweep ${sweepId} settled`, async () => {
      const s = await client.getSweep(sweepId);
      return s.state === 'running' ? undefined : s;
    }, 90_000, 200);
  const storedJob = async (agentId: string): Promise<BenchJob> => {
    const stored = await jsm.streams.getMessage(JOB_STREAM, { last_by_subj: jobSubject(agentId) });
    if (!stored) throw new Error(`no job message stored for ${agentId}`);
    return protocol.BenchJob.decode(stored.data);
  };
  const cancel = async (sweepId: string): Promise<void> => {
    const res = await fetch(`${client.baseUrl}/sweeps/${sweepId}/cancel`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'test' }) });
    expect(res.status, await res.clone().text()).toBe(200);
  };
  // The sweep shows done once the coordinator committed the result; the agent's ack reaches the
  // server a moment later, so the consumer is read until nothing is pending.
  const consumerSettled = async (): Promise<void> => {
    const info = await waitFor('the agent consumer with nothing pending', async () => {
      const c = await jsm.consumers.info(JOB_STREAM, agentConsumerName(AGENT));
      return c.num_ack_pending === 0 && c.num_pending === 0 ? c : undefined;
    }, 10_000, 100);
    expect(info.num_redelivered).toBe(0);
  };
  const stillStored = async (seq: number): Promise<boolean> =>
    // nats.js answers null for a sequence the stream no longer holds (older versions threw).
    jsm.streams.getMessage(JOB_STREAM, { seq }).then(
      (stored) => stored !== null,
      () => false,
    );

  beforeAll(async () => {
    protocol = await import('@benchfarm/protocol');
    dir = mkdtempSync(join(tmpdir(), 'bf-dropped-'));
    nats = await startNatsServer({ storeDir: join(dir, 'nats') });
    // The fake registry entry is refreshed by this test every 300 ms; 15 s (the reference) keeps a
    // loaded machine's hiccup from making it stale.
    coordinator = await startCoordinatorProcess({ natsUrl: nats.url, dir, grpcPort: await freePort(), httpPort: 0, env: { BENCHFARM_AGENT_STALE_AFTER_MS: '15000' } });
    client = new CoordinatorClient(String(coordinator.ready.httpUrl));
    agent = await startAgentProcess({ agentId: AGENT, natsUrl: nats.url, grpcAddress: String(coordinator.ready.grpcAddress), dir, env: { BENCHFARM_ACK_WAIT_MS: String(ACK_WAIT_MS) } });
    nc = await connect({ servers: nats.url });
    js = jetstream(nc);
    jsm = await jetstreamManager(nc);
    registry = await new Kvm(js).open(AGENT_BUCKET);
    await waitFor(`${AGENT} registered and idle`, async () => ((await client.listAgents()).some((a) => a.agentId === AGENT && !a.stale && a.state === 'idle') ? true : undefined), 60_000);
    const { AgentRecord, AgentState } = protocol;
    const real = AgentRecord.decode((await registry.get(AGENT))!.value);
    const putFake = (): Promise<unknown> => registry.put(OTHER, AgentRecord.encode({ ...real, agentId: OTHER, name: OTHER, state: AgentState.AGENT_STATE_IDLE, currentJobId: '', heartbeatAtUnixMs: Date.now() }).finish());
    await putFake();
    fakeHeartbeat = setInterval(() => void putFake().catch(() => undefined), 300);
  }, 120_000);

  afterAll(async () => {
    clearInterval(fakeHeartbeat);
    await agent?.stop(5_000);
    await coordinator?.stop();
    await nc?.close();
    await nats?.stop();
    if (!process.env.BENCHFARM_KEEP_FAULT_LOGS) rmSync(dir, { recursive: true, force: true });
    else console.log(`[dropped-jobs] logs kept in ${dir}/logs`);
  }, 60_000);

  it('garbage, a mis-addressed job, a malformed id, a job of a cancelled sweep and a reassigned job are each dropped at once: the next real job starts within 10 s, nothing is redelivered', async () => {
    // A job of a cancelled sweep: its stored message as a late copy would bring it again.
    const cancelledSweep = await createDerived(client, MODEL, sweepOptions(OTHER));
    const cancelledJob = await storedJob(OTHER);
    expect(cancelledJob.sweepId).toBe(cancelledSweep.id);
    await cancel(cancelledSweep.id);
    // A job that is now another agent's (as after a move): still queued there.
    const otherSweep = await createDerived(client, MODEL, sweepOptions(OTHER));
    const othersJob = await storedJob(OTHER);
    expect(othersJob.sweepId).toBe(otherSweep.id);

    const junk: Array<{ kind: string; data: Uint8Array; expect: RegExp }> = [
      { kind: 'garbage (8 bytes)', data: new Uint8Array([0xff, 0xfe, 0x00, 0x13, 0x37, 0xde, 0xad, 0xbe]), expect: /not a BenchJob/ },
      { kind: 'addressed to another agent', data: protocol.BenchJob.encode(othersJob).finish(), expect: /another agent/ },
      { kind: 'malformed job id', data: protocol.BenchJob.encode({ ...othersJob, agentId: AGENT, jobId: 'no such/id!' }).finish(), expect: /invalid|not an id/i },
      { kind: 'job of a cancelled sweep', data: protocol.BenchJob.encode({ ...cancelledJob, agentId: AGENT }).finish(), expect: /FINISHED.*cancelled/ },
      { kind: 'reassigned job', data: protocol.BenchJob.encode({ ...othersJob, agentId: AGENT }).finish(), expect: /NOT_YOURS.*assigned to agent drop-other/ },
    ];
    const seqs: number[] = [];
    for (const [i, message] of junk.entries()) seqs.push((await js.publish(jobSubject(AGENT), message.data, { msgID: `junk-${i}-${Date.now()}` })).seq);

    const realSweep = await createDerived(client, MODEL, sweepOptions(AGENT));
    const answeredAt = Date.now();
    const realJob = realSweep.jobs[0]!.id;
    // From the moment the stream stored the real job (it stays stored until the agent acks it).
    const stored = await jsm.streams.getMessage(JOB_STREAM, { last_by_subj: jobSubject(AGENT) });
    const publishedAt = stored && protocol.BenchJob.decode(stored.data).jobId === realJob ? stored.time.getTime() : answeredAt;
    const started = await startedAt(realJob);
    const startMs = started - publishedAt;
    expect(startMs, 'the real job queued behind 5 dropped messages started late').toBeLessThan(START_BOUND_MS);
    const done = await settled(realSweep.id);
    expect(done.jobs[0]).toMatchObject({ state: 'done', attempts: 1 });

    // Each dropped message is gone from the stream (terminated: a work queue deletes it), was
    // delivered once, and the agent said why in its own log.
    for (const seq of seqs) expect(await stillStored(seq), `message ${seq} still in the stream`).toBe(false);
    const drops = agentLines('job message dropped');
    const heldMs: Record<string, number> = {};
    for (const [i, message] of junk.entries()) {
      const line = drops.find((l) => l.streamSeq === seqs[i]);
      expect(line, `drop of ${message.kind} (seq ${seqs[i]})`).toBeDefined();
      expect(String(line!.reason), message.kind).toMatch(message.expect);
      expect(line!.deliveryCount, message.kind).toBe(1);
      heldMs[message.kind] = Number(line!.heldMs);
      expect(heldMs[message.kind], `${message.kind} held the agent's slot`).toBeLessThan(START_BOUND_MS);
    }
    await consumerSettled();
    // Hostile input is not the device's fault: the agent stays healthy.
    expect(agentLines('no lease: the coordinator is unreachable; job returned to the queue')).toEqual([]);
    expect((await client.listAgents()).find((a) => a.agentId === AGENT)?.state).toBe('idle');
    console.log(`[figures] ${JSON.stringify({ promise: 'dropped message', startMs, ...Object.fromEntries(Object.entries(heldMs).map(([k, v]) => [`heldMs ${k}`, v])) })}`);
  }, 180_000);

  // The other term path: a lease lost while the job runs. On 2.9.10 this one was not blocked even
  // with the ignored term (the cancel deletes the message from the stream, which frees the slot;
  // seen: the old agent passed the bound); it guards the path and gives the figure.
  it('a running job whose sweep is cancelled: the next job starts within 10 s of the cancel', async () => {
    const long = await createDerived(client, MODEL, sweepOptions(AGENT, 60_000));
    const longJob = long.jobs[0]!.id;
    await startedAt(longJob);
    await cancel(long.id);
    const cancelledAt = Date.now();
    const next = await createDerived(client, MODEL, sweepOptions(AGENT));
    const started = await startedAt(next.jobs[0]!.id);
    const afterCancelMs = started - cancelledAt;
    expect(afterCancelMs).toBeLessThan(START_BOUND_MS);
    expect((await settled(next.id)).jobs[0]).toMatchObject({ state: 'done', attempts: 1 });
    expect(agentLines('job message dropped').some((l) => l.jobId === longJob && /CANCELLED/.test(String(l.reason)))).toBe(true);
    await consumerSettled();
    console.log(`[figures] ${JSON.stringify({ promise: 'cancelled running job', afterCancelMs })}`);
  }, 180_000);
});
