import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { FarmOpenError, agentConsumer, agentConsumerName, agentInboxPrefix, ensureAgentConsumer, ensureFarmStore, openFarmStore, parseCredsFile, type FarmStore } from '@benchfarm/messaging';

/**
 * The NATS settings of an agent (AgentConfig's fields of the same names). Spelled out here rather
 * than taken from AgentConfig: config.ts calls {@link natsCredsIssues} to check them, and a type
 * import back would close an import cycle.
 */
export interface AgentNatsSettings {
  /** NATS server URL(s), comma-separated. */
  readonly natsUrl: string;
  /** JetStream domain of the farm's streams; absent: the local JetStream API. */
  readonly natsJsDomain?: string | undefined;
  readonly agentId: string;
  /** AckWait of the agent's consumer when the agent creates it. */
  readonly ackWaitMs: number;
  /** NATS creds file this agent was enrolled with; absent: no NATS authentication. */
  readonly natsCredsFile?: string | undefined;
}

/**
 * Problems with the NATS creds file, for the configuration check at start-up: unreadable, not a
 * creds file, or enrolled under another agent id (the user's permissions name its agent id, so
 * such an agent could not pull a single job).
 */
export function natsCredsIssues(config: { natsCredsFile?: string | undefined; agentId: string }): string[] {
  if (config.natsCredsFile === undefined) return [];
  let content: string;
  try {
    content = readFileSync(config.natsCredsFile, 'utf8');
  } catch (err) {
    return [`natsCredsFile: cannot read ${config.natsCredsFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`];
  }
  try {
    const creds = parseCredsFile(content);
    if (creds.name !== config.agentId) return [`natsCredsFile: ${config.natsCredsFile} was enrolled for agent ${JSON.stringify(creds.name)}, not ${JSON.stringify(config.agentId)}`];
  } catch (err) {
    return [`natsCredsFile: ${config.natsCredsFile}: ${(err as Error).message}`];
  }
  return [];
}

/**
 * Connects the agent to NATS and opens the farm's streams. With enrolled creds the agent's user
 * may not create anything: it uses its own inbox prefix (the only subjects it may subscribe to)
 * and opens the buckets and its consumer, which the coordinator created (the consumer at
 * enrollment). Without creds (embedded default, loopback) it creates what is missing, as before.
 */
export async function connectAgentNats(config: AgentNatsSettings): Promise<{ nc: NatsConnection; farm: FarmStore }> {
  const servers = config.natsUrl.split(',').map((url) => url.trim());
  // Agents outlive network outages and coordinator restarts: never stop reconnecting.
  const common = { servers, maxReconnectAttempts: -1, reconnectTimeWait: 1_000, name: `benchfarm-agent-${config.agentId}` };
  if (config.natsCredsFile === undefined) {
    const nc = await connect(common);
    try {
      const farm = await ensureFarmStore(nc, { domain: config.natsJsDomain });
      await ensureAgentConsumer(farm.jsm, config.agentId, { ackWaitMs: config.ackWaitMs });
      return { nc, farm };
    } catch (err) {
      // Not handed to the caller yet, so not on its closer stack: closed here.
      await nc.close();
      throw err;
    }
  }
  const nc = await connect({ ...common, authenticator: credsAuthenticator(readFileSync(config.natsCredsFile)), inboxPrefix: agentInboxPrefix(config.agentId) });
  try {
    const farm = await openFarmStore(nc, { domain: config.natsJsDomain });
    // The user may not create its consumer: say so plainly when it is missing.
    await agentConsumer(farm.js, config.agentId).catch((err: unknown) => {
      throw new FarmOpenError(`cannot open this agent's job consumer ${agentConsumerName(config.agentId)} (the coordinator creates it at enrollment; enroll this agent again if the farm's JetStream was reset): ${(err as Error).message}`, { cause: err });
    });
    return { nc, farm };
  } catch (err) {
    await nc.close();
    throw err;
  }
}
