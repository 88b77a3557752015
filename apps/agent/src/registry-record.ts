import type { KV } from '@nats-io/kv';
import { AgentRecord } from '@benchfarm/protocol';

/**
 * Writes an agent's registry entry (the heartbeat): the record stamped with the time of this
 * write, under its agent id. The real agent and the simulated one write the same record, so the
 * coordinator reads both alike.
 *
 * Thrown errors: the KV put's error (NATS unreachable, permission denied).
 */
export async function putAgentRecord(agents: KV, record: Omit<AgentRecord, 'heartbeatAtUnixMs'>): Promise<void> {
  const stamped: AgentRecord = { ...record, heartbeatAtUnixMs: Date.now() };
  await agents.put(record.agentId, AgentRecord.encode(stamped).finish());
}
