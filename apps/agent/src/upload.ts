import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { status, type ClientWritableStream, type ServiceError } from '@grpc/grpc-js';
import type { ResultEvent, ResultsClient, UploadAck, UploadHeader } from '@benchfarm/protocol';
import { clientOf, type CoordinatorTarget } from './coordinator-channels';

/** Thrown when a result could not be delivered to the coordinator after every retry. */
export class UploadFailedError extends Error {
  override name = 'UploadFailedError';
}

/**
 * Thrown when the coordinator refused the upload itself (INVALID_ARGUMENT, NOT_FOUND, ...):
 * sending the same events again cannot succeed.
 */
export class UploadRejectedError extends Error {
  override name = 'UploadRejectedError';
  constructor(
    message: string,
    readonly code: status,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** gRPC codes after which the same upload may succeed on a new stream. */
const RETRYABLE = new Set<status>([status.UNAVAILABLE, status.DEADLINE_EXCEEDED, status.CANCELLED, status.UNKNOWN, status.INTERNAL, status.RESOURCE_EXHAUSTED, status.ABORTED]);

type EventBody = NonNullable<ResultEvent['event']>;

interface OpenStream {
  readonly stream: ClientWritableStream<ResultEvent>;
  readonly response: Promise<UploadAck>;
}

/**
 * Asks the coordinator how many events of this upload it holds (Leases.UploadStatus); 0 when
 * it holds none (e.g. it restarted).
 */
export type UploadStatusProbe = (header: UploadHeader) => Promise<number>;

/** How often {@link JobUpload.finish} sends the upload again, and how long it waits in between. */
export interface UploadRetries {
  /** Tries after the first. */
  attempts: number;
  /** Wait before the first retry; doubled after each. */
  backoffMs: number;
  /** Longest wait between two tries (default: no bound). */
  maxBackoffMs?: number;
}

/**
 * One job attempt's result upload. Events stream to the coordinator live while the job
 * runs and are also kept, so that when the stream breaks (coordinator restarted, network
 * blip, another coordinator taking over) the upload continues on a new stream under the same
 * upload id, from the event the coordinator reports it holds (all of it when it holds none);
 * the coordinator commits a job's result once, so a repeat is harmless. `client` is one
 * coordinator's client, or the agent's coordinator channels, which move each new stream to the
 * next coordinator address after an unreachable one.
 */
export class JobUpload {
  private readonly events: ResultEvent[] = [];
  /** Where the last re-sent stream started (0: from the beginning); for logs and tests. */
  resumedFromEvent = 0;
  private current: OpenStream | undefined;
  private broken = false;

  constructor(
    private readonly client: CoordinatorTarget<ResultsClient>,
    readonly header: UploadHeader,
    private readonly retries: UploadRetries = { attempts: 5, backoffMs: 500 },
    private readonly probe?: UploadStatusProbe,
  ) {
    this.current = this.open();
  }

  /** Adds an event; waits when the stream's buffer is full (write() returned false). */
  async send(event: EventBody): Promise<void> {
    const message: ResultEvent = { header: this.header, event };
    this.events.push(message);
    if (this.broken || !this.current) return;
    await this.write(this.current, message);
  }

  /** Ends the upload and returns the coordinator's answer, re-sending on a new stream when needed. */
  async finish(): Promise<UploadAck> {
    let lastError: unknown;
    for (let attempt = 0; attempt <= this.retries.attempts; attempt += 1) {
      if (attempt > 0 || this.broken || !this.current) {
        if (attempt > 0) await sleep(Math.min(this.retries.backoffMs * 2 ** (attempt - 1), this.retries.maxBackoffMs ?? Number.POSITIVE_INFINITY));
        this.current?.stream.cancel();
        const held = this.probe ? await this.probe(this.header).catch(() => 0) : 0;
        const from = held > 0 && held <= this.events.length ? held : 0;
        this.resumedFromEvent = from;
        this.current = this.open();
        this.broken = false;
        for (const message of this.events.slice(from)) {
          if (this.broken) break;
          await this.write(this.current, { ...message, header: { ...this.header, resumeFromEvent: from } });
        }
      }
      const { stream, response } = this.current;
      stream.end();
      try {
        return await response;
      } catch (err) {
        const code = (err as Partial<ServiceError>).code;
        if (code !== undefined && !RETRYABLE.has(code)) {
          throw new UploadRejectedError(`the coordinator refused result upload ${this.header.uploadId}: ${(err as Error).message}`, code, { cause: err });
        }
        lastError = err;
        this.broken = true;
      }
    }
    throw new UploadFailedError(`result upload ${this.header.uploadId} failed after ${this.retries.attempts + 1} tries: ${(lastError as Error)?.message}`, { cause: lastError });
  }

  /** Drops the upload without a result (the job will be redelivered). */
  cancel(): void {
    this.current?.stream.cancel();
    this.current = undefined;
  }

  private open(): OpenStream {
    const { client, failed } = clientOf(this.client);
    let stream!: ClientWritableStream<ResultEvent>;
    const response = new Promise<UploadAck>((resolve, reject) => {
      stream = client.upload((err, ack) => (err ? reject(err) : resolve(ack)));
    });
    // The failure is read in finish(); until then it only marks the stream as broken (and, with
    // several coordinators, sends the next stream to the next one when this one is unreachable).
    response.catch((err: unknown) => {
      this.broken = true;
      failed(err);
    });
    stream.on('error', (err) => {
      this.broken = true;
      failed(err);
    });
    return { stream, response };
  }

  private async write(open: OpenStream, message: ResultEvent): Promise<void> {
    if (open.stream.write(message)) return;
    await Promise.race([once(open.stream, 'drain'), open.response.then(() => undefined, () => undefined)]);
  }
}
