import { readFileSync } from 'node:fs';
import type { JetStreamManager } from '@nats-io/jetstream';
import { agentPermissions, ensureAgentConsumer, parseAccountSigningKey, signUserJwt, type AccountSigningKey } from '@benchfarm/messaging';

/** The NATS side of enrolling an agent. */
export abstract class AgentProvisioner {
  /** False when the coordinator has no account signing key: it enrolls nobody. */
  abstract readonly enabled: boolean;
  /** Signs a NATS user named `agentId` for `natsPublicKey` with the agent's permissions (JetStream API under `jsDomain` when given). */
  abstract signAgentUser(agentId: string, natsPublicKey: string, jsDomain?: string): Promise<string>;
  /** Creates the agent's durable job consumer (the agent's user may not). Idempotent. */
  abstract ensureConsumer(agentId: string): Promise<void>;
}

/** {@link AgentProvisioner} on the coordinator's JetStream and the farm account signing key. */
export class NatsAgentProvisioner extends AgentProvisioner {
  readonly enabled: boolean;

  constructor(
    private readonly jsm: JetStreamManager,
    private readonly signingKey: AccountSigningKey | undefined,
    private readonly consumerSettings: { ackWaitMs: number },
  ) {
    super();
    this.enabled = signingKey !== undefined;
  }

  /** Reads the signing key file (already checked by the configuration at start-up). */
  static fromFiles(jsm: JetStreamManager, signingKeyFile: string | undefined, consumerSettings: { ackWaitMs: number }): NatsAgentProvisioner {
    const key = signingKeyFile === undefined ? undefined : parseAccountSigningKey(readFileSync(signingKeyFile, 'utf8'));
    return new NatsAgentProvisioner(jsm, key, consumerSettings);
  }

  async signAgentUser(agentId: string, natsPublicKey: string, jsDomain?: string): Promise<string> {
    if (!this.signingKey) throw new Error('no account signing key');
    return signUserJwt(this.signingKey, { name: agentId, userPublicKey: natsPublicKey, permissions: agentPermissions(agentId, { jsDomain }) });
  }

  async ensureConsumer(agentId: string): Promise<void> {
    await ensureAgentConsumer(this.jsm, agentId, this.consumerSettings);
  }
}
