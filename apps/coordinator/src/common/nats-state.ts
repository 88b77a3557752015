import type { NatsConnection } from '@nats-io/transport-node';

/** The NATS connection's state as the health check reports it. */
export type NatsConnectionStatus = 'connected' | 'reconnecting' | 'closed';

/** Follows a NATS connection's status events (nats.js has no synchronous "is reconnecting"). */
export class NatsConnectionState {
  private disconnected = false;

  constructor(private readonly nc: NatsConnection) {
    const watch = async (): Promise<void> => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect' || s.type === 'reconnecting') this.disconnected = true;
        else if (s.type === 'reconnect') this.disconnected = false;
      }
    };
    // The iterator ends when the connection closes; it does not fail.
    watch().catch(() => undefined);
  }

  /** The connection's state now. */
  get status(): NatsConnectionStatus {
    if (this.nc.isClosed()) return 'closed';
    return this.disconnected ? 'reconnecting' : 'connected';
  }
}
