import { JetStreamApiCodes, JetStreamApiError, type ConsumerInfo, type JetStreamManager } from '@nats-io/jetstream';
import { JOB_STREAM } from '@benchfarm/messaging';

/** A message the job stream holds. */
export interface StoredJobMessage {
  readonly seq: number;
  readonly subject: string;
  readonly data: Uint8Array;
}

/** What the server reports of an agent's job consumer, as far as MaxDeliver checks need it. */
export interface JobConsumerState {
  readonly name: string;
  /** The subject the consumer reads (`bench.jobs.<agentId>`). */
  readonly filterSubject: string | undefined;
  /** Its MaxDeliver setting; 0 or less: unlimited. */
  readonly maxDeliver: number;
  /** Its MaxAckPending setting (1 for every agent consumer: one job at a time). */
  readonly maxAckPending: number;
  /** The highest stream sequence it has delivered. */
  readonly deliveredStreamSeq: number;
  /** Messages delivered and neither acked nor past MaxDeliver yet (in flight or due again). */
  readonly numAckPending: number;
}

/** Direct access to stored job messages and their consumers: read, delete, look up. */
export abstract class JobStream {
  /** The message stored at `seq`, or undefined when the stream no longer holds it. */
  abstract get(seq: number): Promise<StoredJobMessage | undefined>;
  /** Deletes the message at `seq`; false when it was already gone. */
  abstract delete(seq: number): Promise<boolean>;
  /** The server's view of a consumer of the job stream, or undefined when there is none. */
  abstract consumer(name: string): Promise<JobConsumerState | undefined>;
  /** Every consumer of the job stream, by name (a paged listing: a few requests for a thousand agents). */
  abstract consumers(): Promise<Map<string, JobConsumerState>>;
}

function consumerState(info: ConsumerInfo): JobConsumerState {
  return {
    name: info.name,
    filterSubject: info.config.filter_subject,
    maxDeliver: info.config.max_deliver ?? -1,
    maxAckPending: info.config.max_ack_pending ?? -1,
    deliveredStreamSeq: info.delivered.stream_seq,
    numAckPending: info.num_ack_pending,
  };
}

/** {@link JobStream} on the JetStream job stream. */
export class JetStreamJobStream extends JobStream {
  constructor(private readonly jsm: JetStreamManager) {
    super();
  }

  async get(seq: number): Promise<StoredJobMessage | undefined> {
    try {
      const stored = await this.jsm.streams.getMessage(JOB_STREAM, { seq });
      return stored ? { seq: stored.seq, subject: stored.subject, data: stored.data } : undefined;
    } catch {
      // "no message found": acked (work queue) or deleted already.
      return undefined;
    }
  }

  async delete(seq: number): Promise<boolean> {
    try {
      return await this.jsm.streams.deleteMessage(JOB_STREAM, seq, false);
    } catch {
      return false;
    }
  }

  async consumer(name: string): Promise<JobConsumerState | undefined> {
    let info;
    try {
      info = await this.jsm.consumers.info(JOB_STREAM, name);
    } catch (err) {
      // Only "consumer not found" means there is none; anything else (timeout, no JetStream) is
      // not an answer and must not be read as one.
      if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound) return undefined;
      throw err;
    }
    return consumerState(info);
  }

  async consumers(): Promise<Map<string, JobConsumerState>> {
    const all = new Map<string, JobConsumerState>();
    for await (const info of this.jsm.consumers.list(JOB_STREAM)) all.set(info.name, consumerState(info));
    return all;
  }
}
