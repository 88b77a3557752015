import type { KV } from '@nats-io/kv';
import { describe, expect, it } from 'vitest';
import { AgentRecord } from '@benchfarm/protocol';
import { KvAgentRegistry } from './agent-registry';

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
