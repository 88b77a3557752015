// connectAgentNats against a real nats-server without JetStream (started for this file on a free
// port, with its monitoring port): the farm's streams cannot be opened, the call throws, and the
// connection it had opened is closed (the server's /connz counts none left).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startNatsServer, type NatsServerHandle } from '@benchfarm/messaging';
import { compileAgentOptions } from './agent-options';
import { connectAgentNats } from './nats-connect';

describe('connectAgentNats closes its connection when the farm cannot be opened', () => {
  let server: NatsServerHandle;
  let monitorPort: number;
  beforeAll(async () => {
    monitorPort = await freePort();
    server = await startNatsServer({ jetstream: false, args: ['-m', String(monitorPort)] });
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });

  const connections = async (): Promise<number> => ((await (await fetch(`http://127.0.0.1:${monitorPort}/connz`)).json()) as { num_connections: number }).num_connections;

  it('throws, and leaves no connection open on the server', async () => {
    const { agent } = compileAgentOptions({ BENCHFARM_AGENT_ID: 'no-js', BENCHFARM_NATS_URL: server.url });
    await expect(connectAgentNats(agent)).rejects.toThrow();
    const deadline = Date.now() + 5_000;
    let open = await connections();
    while (open > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      open = await connections();
    }
    expect(open).toBe(0);
  }, 30_000);
});
