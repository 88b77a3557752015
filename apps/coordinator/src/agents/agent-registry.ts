import type { JetStreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { AGENT_BUCKET } from '@benchfarm/messaging';
import { AgentRecord } from '@benchfarm/protocol';
import { DomainError, DomainErrorCode, errorMessage } from '../common/domain-error';

/** Reads the agent registry. */
export abstract class AgentRegistry {
  /** Every agent entry present now (expired entries are gone), skipping entries that do not decode. */
  abstract list(): Promise<AgentRecord[]>;
}

/**
 * {@link AgentRegistry} on the NATS KV bucket agents write their `AgentRecord` to at every
 * heartbeat. On nats-server 2.9 an entry that expires by TTL vanishes without a watcher
 * event, so the registry is read (and staleness computed) on demand, never watched.
 */
export class KvAgentRegistry extends AgentRegistry {
  constructor(
    private readonly kv: KV,
    private readonly onUndecodable: (key: string, err: unknown) => void = () => undefined,
    private readonly jsm?: JetStreamManager,
  ) {
    super();
  }

  /**
   * The registry's keys. With a JetStreamManager they come from one stream-info request (the
   * bucket stream's subjects), which has a deadline: kv.keys() iterates an ordered consumer
   * that was seen to hang for a minute when agents unregistered during the listing, and with
   * it the fleet monitor's pass.
   */
  private async keys(): Promise<Set<string>> {
    const keys = new Set<string>();
    if (this.jsm) {
      const prefix = `$KV.${AGENT_BUCKET}.`;
      const info = await this.jsm.streams.info(`KV_${AGENT_BUCKET}`, { subjects_filter: `${prefix}>` });
      for (const subject of Object.keys(info.state.subjects ?? {})) keys.add(subject.slice(prefix.length));
      return keys;
    }
    // keys() can name a key twice: an agent that heartbeats while the listing runs has its
    // new revision delivered too. A duplicate here became a second job for that agent.
    for await (const key of await this.kv.keys()) keys.add(key);
    return keys;
  }

  async list(): Promise<AgentRecord[]> {
    try {
      const keys = await this.keys();
      const records: AgentRecord[] = [];
      for (const key of [...keys].sort()) {
        const entry = await this.kv.get(key);
        if (!entry || entry.operation !== 'PUT' || entry.value.length === 0) continue;
        try {
          records.push(AgentRecord.decode(entry.value));
        } catch (err) {
          this.onUndecodable(key, err);
        }
      }
      return records;
    } catch (err) {
      throw new DomainError(DomainErrorCode.MessagingUnavailable, `cannot read the agent registry: ${errorMessage(err)}`, { cause: err });
    }
  }
}
