import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy on a loopback port in front of one target, for partition tests. While paused
 * nothing crosses it in either direction and new connections are held unanswered, as in a
 * network partition: connections are not reset, bytes wait (as TCP retransmission would
 * deliver them) and flow again on {@link resume}.
 */
export interface TcpProxy {
  /** The port the proxy listens on (127.0.0.1). */
  readonly port: number;
  /** `127.0.0.1:<port>`. */
  readonly address: string;
  /** Whether the proxy is partitioned now. */
  readonly paused: boolean;
  /** Starts the partition. */
  pause(): void;
  /** Heals it: held connections are made and held bytes flow. */
  resume(): void;
  /** Destroys every connection and stops listening. */
  close(): Promise<void>;
}

/** Thrown when the proxy cannot listen. */
export class TcpProxyError extends Error {
  override name = 'TcpProxyError';
}

/** One direction of a proxied connection. */
interface Link {
  hold(): void;
  flow(): void;
}

/** Starts a {@link TcpProxy} to `target` on a free loopback port. */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let paused = false;
  const sockets = new Set<Socket>();
  /** Client sockets accepted while paused, connected upstream on resume. */
  const held: Socket[] = [];
  const links: Link[] = [];

  const track = (s: Socket): void => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    // A peer that goes away ends its pair; the proxy itself never throws over it.
    s.on('error', () => undefined);
  };
  // Forwarding by hand (not pipe(), whose backpressure handling may resume a paused socket).
  const forward = (from: Socket, to: Socket): Link => {
    const pending: Buffer[] = [];
    from.on('data', (chunk: Buffer) => {
      if (paused) {
        pending.push(chunk);
        from.pause();
        return;
      }
      if (!to.write(chunk)) {
        from.pause();
        to.once('drain', () => {
          if (!paused) from.resume();
        });
      }
    });
    from.once('end', () => to.end());
    return {
      hold: () => from.pause(),
      flow: () => {
        for (const chunk of pending.splice(0)) to.write(chunk);
        from.resume();
      },
    };
  };
  const join = (client: Socket): void => {
    const upstream = connect(target.port, target.host);
    track(upstream);
    links.push(forward(client, upstream), forward(upstream, client));
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  };

  const server: Server = createServer((client) => {
    track(client);
    if (paused) {
      client.pause();
      held.push(client);
    } else join(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new TcpProxyError(`the proxy to ${target.host}:${target.port} cannot listen: ${err.message}`, { cause: err })));
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new TcpProxyError('the proxy has no TCP port');

  return {
    port: address.port,
    address: `127.0.0.1:${address.port}`,
    get paused() {
      return paused;
    },
    pause() {
      paused = true;
      for (const link of links) link.hold();
    },
    resume() {
      paused = false;
      for (const link of links) link.flow();
      for (const client of held.splice(0)) {
        if (!client.destroyed) {
          join(client);
          client.resume();
        }
      }
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
