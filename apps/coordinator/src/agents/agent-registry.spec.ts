import type { KV } from '@nats-io/kv';
import { describe, expect, it } from 'vitest';
import { AgentRecord } from '@benchfarm/protocol';
import { fakeAgentRecord, passingHealthReport } from '../testing/fake-agent';
import { KvAgentRegistry, agentRecordProblem } from './agent-registry';

const record = (agentId: string): Uint8Array => AgentRecord.encode(AgentRecord.fromPartial({ agentId, name: agentId })).finish();

describe('KvAgentRegistry.list', () => {
  it('lists an agent once when the key listing names it twice (a heartbeat during the listing)', async () => {
    const values = new Map([
      ['b', record('b')],
      ['a', record('a')],
    ]);
    const kv = {
      keys: async () =>
        (async function* () {
          yield* ['a', 'b', 'a'];
        })(),
      get: async (key: string) => ({ operation: 'PUT', value: values.get(key)! }),
    } as unknown as KV;
    const agents = await new KvAgentRegistry(kv).list();
    expect(agents.map((a) => a.agentId)).toEqual(['a', 'b']);
  });
});

describe('agentRecordProblem', () => {
  const good = (extra: Partial<AgentRecord> = {}): AgentRecord => fakeAgentRecord('agent-1', extra);
  it.each<[string, AgentRecord, string | undefined]>([
    ['a fresh agent', good(), undefined],
    ['startedAtUnixMs 8.7e15 (past what a Date holds)', good({ startedAtUnixMs: 8.7e15 }), 'started_at_unix_ms'],
    ['a negative heartbeat time', good({ heartbeatAtUnixMs: -1 }), 'heartbeat_at_unix_ms'],
    ['a health check time past what a Date holds', good({ health: { ...passingHealthReport(), ranAtUnixMs: 9e15 } }), 'health.ran_at_unix_ms'],
    ['an agent id that is not one', good({ agentId: 'agent 1' }), 'agent_id'],
    ['an agent id that is not its key', good({ agentId: 'agent-2' }), 'is not its key'],
    ['a 10k-character name', good({ name: 'n'.repeat(10_000) }), 'name is 10000 characters'],
    ['65 labels', good({ labels: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v'])) }), 'labels has 65 entries'],
  ])('%s -> %s', (_case, record, problem) => {
    const found = agentRecordProblem('agent-1', record);
    if (problem === undefined) expect(found).toBeUndefined();
    else expect(found).toContain(problem);
  });
});

describe('KvAgentRegistry skipping bad entries', () => {
  // FAKE KV (pure logic: which entries are kept and how often a skipped one is reported); the
  // same skip against a real nats-server is in hostile-input.int-spec.ts.
  const kvOf = (entries: Map<string, { revision: number; value: Uint8Array }>): KV =>
    ({
      keys: async () =>
        (async function* () {
          yield* [...entries.keys()];
        })(),
      get: async (key: string) => ({ operation: 'PUT', ...entries.get(key)! }),
    }) as unknown as KV;

  it('lists the good entries and reports a bad one once per revision', async () => {
    const entries = new Map([
      ['good', { revision: 1, value: AgentRecord.encode(fakeAgentRecord('good')).finish() }],
      ['bad', { revision: 2, value: AgentRecord.encode(fakeAgentRecord('bad', { startedAtUnixMs: 8.7e15 })).finish() }],
    ]);
    const lines: string[] = [];
    const registry = new KvAgentRegistry(kvOf(entries), { warn: (line) => lines.push(line) });
    for (let i = 0; i < 3; i++) expect((await registry.list()).map((a) => a.agentId)).toEqual(['good']);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^agent registry entry bad \(revision 2\) skipped: started_at_unix_ms 8700000000000000/);
    entries.set('bad', { revision: 3, value: entries.get('bad')!.value });
    await registry.list();
    expect(lines).toHaveLength(2);
  });
});
