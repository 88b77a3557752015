// Pure logic: the verdict on an advisory given the server's state (the states themselves were
// read from nats-server 2.9.10; max-deliver.int-spec.ts runs them against a real server).
import { describe, expect, it } from 'vitest';
import { agentOfJobSubject, parseMaxDeliveriesAdvisory, verifyMaxDeliveries, type MaxDeliveriesAdvisory } from './max-deliver.watcher';
import type { JobConsumerState, StoredJobMessage } from './job-stream';

const message: StoredJobMessage = { seq: 7, subject: 'bench.jobs.a-1', data: new Uint8Array() };
const advisory: MaxDeliveriesAdvisory = { stream: 'BENCH_JOBS', consumer: 'agent-a-1', streamSeq: 7, deliveries: 3 };
/** The consumer right after message 7 went past MaxDeliver with nothing after it. */
const dead: JobConsumerState = { name: 'agent-a-1', filterSubject: 'bench.jobs.a-1', maxDeliver: 3, maxAckPending: 1, deliveredStreamSeq: 7, numAckPending: 0 };

const reason = (verdict: ReturnType<typeof verifyMaxDeliveries>): string => (verdict.genuine ? 'genuine' : verdict.reason);

describe('verifyMaxDeliveries', () => {
  it('accepts what the server publishes: the message past MaxDeliver, alone or with the next one already delivered', () => {
    expect(verifyMaxDeliveries(advisory, message, dead)).toEqual({ genuine: true });
    expect(verifyMaxDeliveries(advisory, message, { ...dead, deliveredStreamSeq: 9, numAckPending: 1 })).toEqual({ genuine: true });
  });

  it('refuses an advisory the server state contradicts, saying why', () => {
    expect(reason(verifyMaxDeliveries(advisory, message, { ...dead, deliveredStreamSeq: 6 }))).toMatch(/message 7 was never delivered \(consumer agent-a-1 has delivered up to stream sequence 6\)/);
    expect(reason(verifyMaxDeliveries(advisory, message, { ...dead, numAckPending: 1 }))).toMatch(/message 7 is still pending on consumer agent-a-1/);
    // With more than one message in flight allowed, "pending" cannot be told apart: refused.
    expect(reason(verifyMaxDeliveries(advisory, message, { ...dead, maxAckPending: 4, deliveredStreamSeq: 9, numAckPending: 1 }))).toMatch(/still pending/);
    expect(reason(verifyMaxDeliveries({ ...advisory, deliveries: 1 }, message, dead))).toMatch(/claims 1 deliveries but the MaxDeliver of consumer agent-a-1 is 3/);
    expect(reason(verifyMaxDeliveries(advisory, message, { ...dead, maxDeliver: -1 }))).toMatch(/has no MaxDeliver/);
    expect(reason(verifyMaxDeliveries({ ...advisory, consumer: 'agent-b' }, message, dead))).toMatch(/names consumer "agent-b" but message 7 is for agent-a-1/);
    expect(reason(verifyMaxDeliveries({ ...advisory, stream: 'OTHER' }, message, dead))).toMatch(/names stream "OTHER"/);
    expect(reason(verifyMaxDeliveries(advisory, message, undefined))).toMatch(/consumer agent-a-1 does not exist/);
    expect(reason(verifyMaxDeliveries(advisory, message, { ...dead, filterSubject: 'bench.jobs.>' }))).toMatch(/reads bench\.jobs\.>, not bench\.jobs\.a-1/);
    expect(reason(verifyMaxDeliveries(advisory, { ...message, subject: '$KV.benchfarm-agents.a-1' }, dead))).toMatch(/not an agent's job subject/);
  });

  it('reads the agent from a job subject only', () => {
    expect(agentOfJobSubject('bench.jobs.a-1')).toBe('a-1');
    expect(agentOfJobSubject('bench.jobs.a.b')).toBeUndefined();
    expect(agentOfJobSubject('bench.jobsx.a')).toBeUndefined();
  });

  it('parses only advisories with positive integer sequence and delivery count', () => {
    const parse = (value: unknown) => parseMaxDeliveriesAdvisory(new TextEncoder().encode(JSON.stringify(value)));
    expect(parse({ stream: 'BENCH_JOBS', consumer: 'agent-a', stream_seq: 7, deliveries: 3 })).toEqual({ stream: 'BENCH_JOBS', consumer: 'agent-a', streamSeq: 7, deliveries: 3 });
    for (const bad of [{ stream_seq: 0 }, { stream_seq: 1.5 }, { stream_seq: 1e300 }, { deliveries: -1 }, { stream_seq: '7' }]) {
      expect(parse({ stream: 'BENCH_JOBS', consumer: 'agent-a', stream_seq: 7, deliveries: 3, ...bad }), JSON.stringify(bad)).toBeUndefined();
    }
    expect(parseMaxDeliveriesAdvisory(new TextEncoder().encode('not json'))).toBeUndefined();
  });
});
