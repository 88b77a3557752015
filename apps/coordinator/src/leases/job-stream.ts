import type { JetStreamManager } from '@nats-io/jetstream';
import { JOB_STREAM } from '@benchfarm/messaging';

/** Direct access to stored job messages: read one by sequence, delete one. */
export abstract class JobStream {
  /** The payload stored at `seq`, or undefined when the stream no longer holds it. */
  abstract get(seq: number): Promise<Uint8Array | undefined>;
  /** Deletes the message at `seq`; false when it was already gone. */
  abstract delete(seq: number): Promise<boolean>;
}

/** {@link JobStream} on the JetStream job stream. */
export class JetStreamJobStream extends JobStream {
  constructor(private readonly jsm: JetStreamManager) {
    super();
  }

  async get(seq: number): Promise<Uint8Array | undefined> {
    try {
      const stored = await this.jsm.streams.getMessage(JOB_STREAM, { seq });
      return stored?.data ?? undefined;
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
}
