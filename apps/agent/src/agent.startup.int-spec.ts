// The agent's start-up against a real nats-server (started per file on a free port): every
// resource opened pushes its closer, so a throw in a later step closes what was opened, last
// first; close() closes the same stack. The gRPC channels point at a port nobody listens on
// (start-up makes no gRPC call; grpc-js connects lazily).
import { connectivityState } from '@grpc/grpc-js';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JOB_STREAM, agentConsumerName, ensureFarmStore, freePort, startNatsServer, type FarmStore, type NatsServerHandle } from '@benchfarm/messaging';
import { AgentRecord, AgentState } from '@benchfarm/protocol';
import { startAgent, type AgentIo } from './agent';
import type { AgentLog } from './agent-log';
import { compileAgentOptions } from './agent-options';
import { CoordinatorChannels } from './coordinator-channels';
import { DeviceReach } from './device-reach';
import { agentChannelCredentials } from './grpc-credentials';
import { connectAgentNats } from './nats-connect';

/** Keeps hold of what start-up opened, through the real openers. */
function recordingIo(overrides: Partial<AgentIo> = {}): { io: Partial<AgentIo>; opened: { nc?: NatsConnection; channels?: CoordinatorChannels; reachClosed: boolean; order: string[] } } {
  const opened: { nc?: NatsConnection; channels?: CoordinatorChannels; reachClosed: boolean; order: string[] } = { reachClosed: false, order: [] };
  const io: Partial<AgentIo> = {
    connectNats: async (config) => {
      const result = await connectAgentNats(config);
      opened.nc = result.nc;
      opened.order.push('nats');
      void result.nc.closed().then(() => opened.order.push('nats closed'));
      return result;
    },
    openChannels: (config, log) => {
      const channels = new CoordinatorChannels(config.grpcAddresses, agentChannelCredentials(config), {}, log);
      opened.channels = channels;
      opened.order.push('channels');
      return channels;
    },
    ...overrides,
  };
  return { io, opened };
}

/** Whether every gRPC channel of `channels` was shut down. */
function channelsShutDown(channels: CoordinatorChannels): boolean {
  return [channels.leases.current(), channels.results.current()].every((client) => client.getChannel().getConnectivityState(false) === connectivityState.SHUTDOWN);
}

describe('agent start-up closers (real nats-server)', () => {
  let server: NatsServerHandle;
  let observer: NatsConnection;
  let farm: FarmStore;
  let grpcPort: number;
  const lines: string[] = [];
  const log: AgentLog = (level, message, fields) => lines.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`);

  beforeAll(async () => {
    server = await startNatsServer();
    observer = await connect({ servers: server.url });
    farm = await ensureFarmStore(observer);
    grpcPort = await freePort();
  }, 60_000);
  afterAll(async () => {
    await observer?.close();
    await server?.stop();
  });

  const optionsFor = (agentId: string) => compileAgentOptions({ BENCHFARM_AGENT_ID: agentId, BENCHFARM_NATS_URL: server.url, BENCHFARM_GRPC_ADDRESS: `127.0.0.1:${grpcPort}`, BENCHFARM_PROBE_EPS: 'off', BENCHFARM_SENSORS: 'off', BENCHFARM_HEARTBEAT_MS: '200' });

  it('a throw in DeviceReach.open closes the gRPC channels and the NATS connection, last opened first, and rethrows', async () => {
    const { io, opened } = recordingIo({
      openDeviceReach: async () => {
        throw new Error('sensor detection exploded');
      },
    });
    await expect(startAgent(optionsFor('closers-a'), log, io)).rejects.toThrow('sensor detection exploded');
    expect(opened.nc?.isClosed()).toBe(true);
    expect(opened.channels && channelsShutDown(opened.channels)).toBe(true);
    await opened.nc?.closed();
    expect(opened.order).toEqual(['nats', 'channels', 'nats closed']);
    // Nothing was registered.
    expect(await farm.agents.get('closers-a')).toBeNull();
  }, 30_000);

  it('a throw in the step right after the NATS connect (the consumer) closes the connection', async () => {
    const { io, opened } = recordingIo({
      connectNats: async (config) => {
        const result = await connectAgentNats(config);
        opened.nc = result.nc;
        // The farm's streams without this agent's consumer: agentConsumer() throws.
        await result.farm.jsm.consumers.delete(JOB_STREAM, agentConsumerName(config.agentId)).catch(() => undefined);
        return result;
      },
    });
    await expect(startAgent(optionsFor('closers-b'), log, io)).rejects.toThrow();
    expect(opened.nc?.isClosed()).toBe(true);
    expect(opened.channels).toBeUndefined();
  }, 30_000);

  it('starts (registry CHECKING then IDLE after the health check), and close() closes the whole stack', async () => {
    let reachClosed = false;
    const { io, opened } = recordingIo({
      openDeviceReach: async (capabilities, l, options) => {
        const reach = await DeviceReach.open(capabilities, l, options);
        const close = reach.close.bind(reach);
        reach.close = async () => {
          reachClosed = true;
          await close();
        };
        return reach;
      },
    });
    const agent = await startAgent(optionsFor('closers-c'), log, io);
    const entry = await farm.agents.get('closers-c');
    expect(entry).not.toBeNull();
    const record = AgentRecord.decode(entry!.value);
    // The first health check ran before startAgent resolved: passed (IDLE) or failed (UNHEALTHY), never still CHECKING.
    expect([AgentState.AGENT_STATE_IDLE, AgentState.AGENT_STATE_UNHEALTHY]).toContain(record.state);
    await agent.close();
    expect(reachClosed).toBe(true);
    expect(opened.nc?.isClosed()).toBe(true);
    expect(opened.channels && channelsShutDown(opened.channels)).toBe(true);
    const after = await farm.agents.get('closers-c');
    expect(after === null || after.operation !== 'PUT').toBe(true);
    // A second close is a no-op.
    await agent.close();
  }, 120_000);
  it('drain() shows DRAINING, stops pulling, removes the entry and closes the stack', async () => {
    const { io, opened } = recordingIo();
    const agent = await startAgent(optionsFor('closers-d'), log, io);
    const states: AgentState[] = [];
    const watch = await farm.agents.watch({ key: 'closers-d' });
    const watching = (async () => {
      for await (const e of watch) if (e.operation === 'PUT') states.push(AgentRecord.decode(e.value).state);
    })();
    await agent.drain();
    await agent.done;
    expect(opened.nc?.isClosed()).toBe(true);
    expect(opened.channels && channelsShutDown(opened.channels)).toBe(true);
    const after = await farm.agents.get('closers-d');
    expect(after === null || after.operation !== 'PUT').toBe(true);
    watch.stop();
    await watching;
    expect(states).toContain(AgentState.AGENT_STATE_DRAINING);
  }, 120_000);
});
