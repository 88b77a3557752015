import { Metadata, type ChannelCredentials } from '@grpc/grpc-js';
import { JOB_STREAM, agentConsumerName } from '@benchfarm/messaging';
import { LeasesClient, type AcquireLeaseResponse } from '@benchfarm/protocol';
import type { NatsConnection } from '@nats-io/transport-node';

/** A Leases client on its own subchannel pool (each client makes its own TLS handshake). */
export function leasesClient(address: string, creds: ChannelCredentials): LeasesClient {
  return new LeasesClient(address, creds, { 'grpc.use_local_subchannel_pool': 1 });
}

/** Calls Leases.Acquire; rejects with the gRPC error. */
export function acquireLease(client: LeasesClient, request: { jobId: string; sweepId: string; agentId: string; deliveryCount?: number }): Promise<AcquireLeaseResponse> {
  return new Promise((resolve, reject) =>
    client.acquire({ deliveryCount: 1, ...request }, new Metadata(), { deadline: Date.now() + 15_000 }, (err, res) => (err ? reject(err) : resolve(res))),
  );
}

/**
 * Publishes a hand-made MaxDeliver advisory, as nats-server would word it, for the message at
 * `streamSeq` on the agent's job consumer (the forged-advisory attack on job identity). Resolves after the
 * server has the message (flush); a publish the server refuses is reported only in its log.
 */
export async function publishForgedMaxDeliveries(nc: NatsConnection, agentId: string, streamSeq: number, deliveries = 3): Promise<void> {
  const consumer = agentConsumerName(agentId);
  const advisory = {
    type: 'io.nats.jetstream.advisory.v1.max_deliver',
    id: `forged-${streamSeq}-${Date.now()}`,
    timestamp: new Date().toISOString(),
    stream: JOB_STREAM,
    consumer,
    stream_seq: streamSeq,
    deliveries,
  };
  nc.publish(`$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${JOB_STREAM}.${consumer}`, new TextEncoder().encode(JSON.stringify(advisory)));
  await nc.flush();
}

/** Collects the coordinator's JSON log lines (JsonLogger's `write`) and waits on them. */
export class LogLines {
  readonly lines: Array<{ level: string; context?: string; message: string }> = [];

  /** The `write` function to give `new JsonLogger(level, write)`. */
  readonly write = (line: string): void => {
    for (const part of line.split('\n')) {
      if (part.trim() === '') continue;
      try {
        this.lines.push(JSON.parse(part) as { level: string; context?: string; message: string });
      } catch {
        this.lines.push({ level: 'raw', message: part });
      }
    }
  };

  /** Lines of one logger context. */
  of(context: string): Array<{ level: string; message: string }> {
    return this.lines.filter((l) => l.context === context);
  }

  /** Waits until the context has logged more than `count` lines; returns the new ones. */
  async next(context: string, count: number, timeoutMs = 15_000): Promise<Array<{ level: string; message: string }>> {
    const deadline = Date.now() + timeoutMs;
    while (this.of(context).length <= count) {
      if (Date.now() > deadline) throw new Error(`no new ${context} log line within ${timeoutMs} ms (had ${count})`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return this.of(context).slice(count);
  }
}
