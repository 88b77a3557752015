import type { JetStreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { Logger } from '@nestjs/common';
import { AGENT_BUCKET } from '@benchfarm/messaging';
import { AgentRecord } from '@benchfarm/protocol';
import { DomainError, DomainErrorCode, errorMessage } from '../common/domain-error';
import { truncateUntrusted } from '../common/untrusted-text';

/** Reads the agent registry. */
export abstract class AgentRegistry {
  /** Every agent entry present now (expired entries are gone), skipping entries that do not decode or do not validate. */
  abstract list(): Promise<AgentRecord[]>;
}

/** The latest instant a JavaScript Date holds (ms after the epoch); past it `toISOString()` throws a RangeError. */
const MAX_DATE_MS = 8.64e15;
const AGENT_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** Bounds of the free-text fields of a registry entry (an agent sends tens of characters). */
const RECORD_TEXT_MAX_CHARS = 1024;
const RECORD_LABELS_MAX = 64;

function timestampProblem(field: string, value: number): string | undefined {
  return Number.isSafeInteger(value) && value >= 0 && value <= MAX_DATE_MS ? undefined : `${field} ${value} is not a time in ms since the epoch (0 to ${MAX_DATE_MS})`;
}

function textProblem(field: string, value: string): string | undefined {
  return value.length <= RECORD_TEXT_MAX_CHARS ? undefined : `${field} is ${value.length} characters long; at most ${RECORD_TEXT_MAX_CHARS}`;
}

/**
 * Why a decoded registry entry cannot be shown or matched, or undefined when it can: its agent id
 * is not `[A-Za-z0-9_-]{1,64}` or not its key, a time is outside what a Date holds (one entry with
 * `startedAtUnixMs` 8.7e15 made every `GET /agents` a 500 until it expired), a number
 * is not finite, or a text field or the labels are oversized. Pure.
 */
export function agentRecordProblem(key: string, record: AgentRecord): string | undefined {
  if (!AGENT_ID.test(record.agentId)) return `agent_id ${JSON.stringify(truncateUntrusted(record.agentId, 80))} is not [A-Za-z0-9_-]{1,64}`;
  if (record.agentId !== key) return `agent_id ${record.agentId} is not its key`;
  const labels = Object.entries(record.labels);
  const c = record.capabilities;
  const h = record.health;
  const problems = [
    timestampProblem('started_at_unix_ms', record.startedAtUnixMs),
    timestampProblem('heartbeat_at_unix_ms', record.heartbeatAtUnixMs),
    h ? timestampProblem('health.ran_at_unix_ms', h.ranAtUnixMs) : undefined,
    h ? timestampProblem('health.next_attempt_at_unix_ms', h.nextAttemptAtUnixMs) : undefined,
    h && !(Number.isFinite(h.durationMs) && Number.isFinite(h.inferenceMs)) ? 'health.duration_ms / inference_ms is not a finite number' : undefined,
    textProblem('name', record.name),
    textProblem('agent_version', record.agentVersion),
    textProblem('current_job_id', record.currentJobId),
    labels.length > RECORD_LABELS_MAX ? `labels has ${labels.length} entries; at most ${RECORD_LABELS_MAX}` : undefined,
    ...labels.map(([k, v]) => textProblem(`labels[${JSON.stringify(truncateUntrusted(k, 40))}]`, `${k}${v}`)),
    c ? textProblem('capabilities.cpu_model', c.cpuModel) : undefined,
    c ? textProblem('capabilities.hostname', c.hostname) : undefined,
  ];
  return problems.find((p) => p !== undefined);
}

/** Options of {@link KvAgentRegistry}. */
export interface KvAgentRegistryOptions {
  /** Lists keys with one stream-info request (see {@link KvAgentRegistry}); absent: `kv.keys()`. */
  readonly jsm?: JetStreamManager | undefined;
  /** Where a skipped entry is reported, once per key and revision (default: a warning of the Nest logger). */
  readonly warn?: (line: string) => void;
}

/**
 * {@link AgentRegistry} on the NATS KV bucket agents write their `AgentRecord` to at every
 * heartbeat. On nats-server 2.9 an entry that expires by TTL vanishes without a watcher
 * event, so the registry is read (and staleness computed) on demand, never watched.
 */
export class KvAgentRegistry extends AgentRegistry {
  private readonly jsm: JetStreamManager | undefined;
  private readonly warn: (line: string) => void;
  /**
   * Skipped entries already reported: key -> revision. The registry is listed at every monitor
   * pass and every request, and an agent rewrites its entry at every heartbeat: one line per
   * revision, not per listing.
   */
  private readonly reported = new Map<string, number>();

  constructor(
    private readonly kv: KV,
    options: KvAgentRegistryOptions = {},
  ) {
    super();
    this.jsm = options.jsm;
    const log = new Logger('AgentRegistry');
    this.warn = options.warn ?? ((line) => log.warn(line));
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
      const skipped = new Set<string>();
      for (const key of [...keys].sort()) {
        const entry = await this.kv.get(key);
        if (!entry || entry.operation !== 'PUT' || entry.value.length === 0) continue;
        let record: AgentRecord | undefined;
        let problem: string | undefined;
        try {
          record = AgentRecord.decode(entry.value);
          problem = agentRecordProblem(key, record);
        } catch (err) {
          problem = `does not decode as an AgentRecord: ${errorMessage(err)}`;
        }
        if (record && problem === undefined) {
          records.push(record);
          continue;
        }
        skipped.add(key);
        this.report(key, entry.revision, problem ?? 'unreadable');
      }
      for (const key of this.reported.keys()) if (!skipped.has(key)) this.reported.delete(key);
      return records;
    } catch (err) {
      throw new DomainError(DomainErrorCode.MessagingUnavailable, `cannot read the agent registry: ${errorMessage(err)}`, { cause: err });
    }
  }

  private report(key: string, revision: number, problem: string): void {
    if (this.reported.get(key) === revision) return;
    this.reported.set(key, revision);
    this.warn(`agent registry entry ${truncateUntrusted(key)} (revision ${revision}) skipped: ${truncateUntrusted(problem)}`);
  }
}
