// A worker process of a simulated fleet: runs many simulated agents, driven over IPC by
// `benchfarm simulate-fleet` (the messages of @benchfarm/fleet). Started with the tsx loader and
// an IPC channel; it exits when told to stop or when its driver goes away.
import { mkdirSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Channel } from '@grpc/grpc-js';
import type { FetchAnswer, FleetCommand, FleetEvent, FleetWorkerSpec } from '@benchfarm/fleet';
import type { AgentLog } from '../agent-log';
import { SimulatedModelCache } from './model-cache';
import { openSharedChannel, openSharedNats, startSimulatedAgent, type SharedNats, type SimulatedAgent } from './simulated-agent';

/** Errors kept verbatim for the driver; beyond that they are only counted. */
const ERRORS_KEPT = 20;
/** Wait before a failed start is tried again: 1 s doubling to 5 s (the agent unit's RestartSec). */
const RESTART_MIN_MS = 1_000;
const RESTART_MAX_MS = 5_000;

const agents = new Map<string, SimulatedAgent>();
const warnings: Record<string, number> = {};
const errors: string[] = [];
let spec: FleetWorkerSpec | undefined;
let cache: SimulatedModelCache | undefined;
let sharedNats: SharedNats | undefined;
let sharedChannel: Channel | undefined;
let stopping = false;

/** Sends an event; resolves once it was handed to the channel (a driver that went away ends this process through 'disconnect'). */
function send(event: FleetEvent): Promise<void> {
  return new Promise((resolve) => {
    if (!process.connected || !process.send) resolve();
    else process.send(event, undefined, undefined, () => resolve());
  });
}

const log: AgentLog = (level, message, fields) => {
  if (level === 'info') return;
  warnings[message] = (warnings[message] ?? 0) + 1;
  if (level === 'error' && errors.length < ERRORS_KEPT) errors.push(`${message} ${JSON.stringify(fields ?? {})}`);
};

/** Starts one agent, trying again (as a restarted agent process would) until the deadline. */
async function startOne(s: FleetWorkerSpec, modelCache: SimulatedModelCache, entry: FleetWorkerSpec['agents'][number]): Promise<void> {
  let attempts = 0;
  let waitMs = RESTART_MIN_MS;
  for (;;) {
    attempts += 1;
    try {
      const agent = await startSimulatedAgent({
        config: {
          agentId: entry.agentId,
          name: entry.name,
          labels: entry.labels,
          natsUrl: s.natsUrl,
          grpcAddress: s.grpcAddress,
          cacheDir: s.cacheDir,
          ...(s.heartbeatIntervalMs === undefined ? {} : { heartbeatIntervalMs: s.heartbeatIntervalMs }),
          ...(s.ackWaitMs === undefined ? {} : { ackWaitMs: s.ackWaitMs }),
        },
        cache: modelCache,
        ...(sharedNats ? { sharedNats } : {}),
        ...(sharedChannel ? { sharedChannel } : {}),
        jobMs: s.jobMs,
        healthCheckMs: s.healthCheckMs,
        log,
        onJob: (record) => void send({ type: 'job', record }),
      });
      if (stopping) {
        await agent.close();
        return;
      }
      agents.set(entry.agentId, agent);
      await send({ type: 'agent', agentId: entry.agentId, registeredAtMs: agent.registeredAtMs, idleAtMs: agent.idleAtMs, startAttempts: attempts });
      return;
    } catch (err) {
      log('warn', 'simulated agent failed to start; trying again', { agentId: entry.agentId, error: String(err) });
      if (stopping || Date.now() + waitMs > s.startDeadlineMs) {
        await send({ type: 'agent-failed', agentId: entry.agentId, error: String(err), startAttempts: attempts });
        return;
      }
      await sleep(waitMs);
      waitMs = Math.min(waitMs * 2, RESTART_MAX_MS);
    }
  }
}

async function start(s: FleetWorkerSpec): Promise<void> {
  spec = s;
  mkdirSync(s.cacheDir, { recursive: true });
  const modelCache = new SimulatedModelCache(s.cacheDir, s.modelCache);
  cache = modelCache;
  if (s.grpcChannels === 'process') sharedChannel = openSharedChannel({ grpcAddress: s.grpcAddress });
  if (s.natsConnections === 'process') {
    let waitMs = RESTART_MIN_MS;
    for (;;) {
      try {
        sharedNats = await openSharedNats(s.natsUrl, `benchfarm-simulated-fleet-${s.workerIndex}`);
        break;
      } catch (err) {
        log('warn', 'shared NATS connection failed; trying again', { error: String(err) });
        if (Date.now() + waitMs > s.startDeadlineMs) {
          for (const entry of s.agents) await send({ type: 'agent-failed', agentId: entry.agentId, error: `shared NATS connection: ${String(err)}`, startAttempts: 0 });
          return;
        }
        await sleep(waitMs);
        waitMs = Math.min(waitMs * 2, RESTART_MAX_MS);
      }
    }
  }
  // Every agent at once: the registration storm of a fleet powered on together.
  await Promise.all(s.agents.map((entry) => startOne(s, modelCache, entry)));
}

async function fetchFor(requestId: number, digest: string, agentIds: string[], timeoutMs: number): Promise<void> {
  const answers = await Promise.all(
    agentIds.map(async (agentId): Promise<FetchAnswer> => {
      const agent = agents.get(agentId);
      if (!agent) return { agentId, error: 'no such running agent in this worker' };
      // The object store's read has no deadline of its own: a stalled one would hold the answer for ever.
      const timer = new AbortController();
      try {
        const { ms, sizeBytes, hit } = await Promise.race([
          agent.fetchModel(digest),
          sleep(timeoutMs, undefined, { signal: timer.signal }).then(() => {
            throw new Error(`the read had not finished after ${timeoutMs} ms (stalled)`);
          }),
        ]);
        return { agentId, ms, sizeBytes, hit };
      } catch (err) {
        return { agentId, error: String(err) };
      } finally {
        timer.abort();
      }
    }),
  );
  await send({ type: 'fetched', requestId, answers });
}

async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await Promise.all([...agents.values()].map((a) => a.close().catch((err: unknown) => log('warn', 'close failed', { agentId: a.agentId, error: String(err) }))));
  await sharedNats?.nc.close().catch(() => undefined);
  sharedChannel?.close();
  if (spec) rmSync(spec.cacheDir, { recursive: true, force: true });
  await send({ type: 'stopped' });
}

function handle(command: FleetCommand): Promise<void> {
  switch (command.type) {
    case 'start':
      return start(command.spec);
    case 'fetch':
      return fetchFor(command.requestId, command.digest, command.agentIds, command.timeoutMs);
    case 'discard':
      return (cache?.discard(command.digest) ?? Promise.resolve()).then(() => send({ type: 'discarded', requestId: command.requestId }));
    case 'stats':
      return send({ type: 'stats', requestId: command.requestId, cache: cache?.stats() ?? { requests: 0, hits: 0, storeReads: 0, bytesFetched: 0, failures: 0 }, warnings: { ...warnings }, errors: [...errors] });
    case 'stop':
      return stop().then(() => process.disconnect());
  }
}

process.on('message', (message: FleetCommand) => {
  handle(message).catch((err: unknown) => {
    log('error', `worker command ${message.type} failed`, { error: String(err) });
  });
});
// The driver went away (killed, or done): close the agents so the registry does not keep them.
process.on('disconnect', () => {
  stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
void send({ type: 'loaded', pid: process.pid });
