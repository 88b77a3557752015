import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { JOB_ACK_WAIT_MS, assertAgentId } from '@benchfarm/messaging';
import { splitGrpcAddresses } from './coordinator-channels';
import { grpcTlsIssues } from './grpc-credentials';
import { natsCredsIssues } from './nats-connect';

/** Thrown when the agent's configuration is invalid; lists every bad key at once. */
export class AgentConfigError extends Error {
  override name = 'AgentConfigError';
  constructor(readonly issues: string[]) {
    super(`invalid agent configuration:\n  - ${issues.join('\n  - ')}`);
  }
}

/** The agent's settings, validated and defaulted once at start-up. */
export interface AgentConfig {
  /** NATS server URL(s), comma-separated: the agent connects to any and fails over to the others. */
  readonly natsUrl: string;
  /**
   * JetStream domain of the farm's streams (`BENCHFARM_NATS_JS_DOMAIN`), for an agent on a leaf
   * node that runs its own JetStream (deploy/nats/leaf); absent: the local JetStream API.
   */
  readonly natsJsDomain?: string | undefined;
  /**
   * host:port of the coordinator's gRPC services (`BENCHFARM_GRPC_ADDRESS`), or several
   * comma-separated: every coordinator of a farm that runs two (one leads, one stands by); the
   * agent calls the first and moves to the next when one is unreachable.
   */
  readonly grpcAddress: string;
  /** {@link grpcAddress} split into its addresses (one, or several in failover order). */
  readonly grpcAddresses: readonly string[];
  readonly agentId: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Where verified model files are cached, named by digest. */
  readonly cacheDir: string;
  readonly heartbeatIntervalMs: number;
  readonly workingIntervalMs: number;
  /** How long one pull waits for a job before it asks again. */
  readonly pullExpiresMs: number;
  /** AckWait of the agent's consumer when the agent creates it (`BENCHFARM_ACK_WAIT_MS`, default 30 s). */
  readonly ackWaitMs: number;
  /** How long the agent keeps asking an unreachable coordinator for a lease before it returns the job (`BENCHFARM_LEASE_ACQUIRE_TIMEOUT_MS`). */
  readonly leaseAcquireTimeoutMs: number;
  /**
   * A suite process silent for this long is killed as hung and the job fails with CHILD_CRASHED,
   * which also re-runs the health check (`BENCHFARM_SUITE_STALL_TIMEOUT_MS`, default 10 min: the
   * suite reports about every second while it measures; session creation of a large model on a
   * small device is the longest silent step).
   */
  readonly suiteStallTimeoutMs: number;
  /** CA certificate the coordinator's gRPC server certificate must chain to (`BENCHFARM_GRPC_TLS_CA`); set: gRPC over TLS. */
  readonly grpcTlsCaFile?: string | undefined;
  /** The agent's client certificate for mTLS (`BENCHFARM_GRPC_TLS_CERT`), with {@link grpcTlsKeyFile}. */
  readonly grpcTlsCertFile?: string | undefined;
  /** The key of {@link grpcTlsCertFile} (`BENCHFARM_GRPC_TLS_KEY`), 0600. */
  readonly grpcTlsKeyFile?: string | undefined;
  /**
   * NATS creds file this agent was enrolled with (`BENCHFARM_NATS_CREDS`, from `benchfarm agent
   * enroll`): its user may only use this agent's own subjects, so the agent opens the farm's
   * streams instead of creating them. Absent: no NATS authentication (the embedded default).
   */
  readonly natsCredsFile?: string | undefined;
}

const labelPattern = /^[A-Za-z0-9_.-]{1,63}$/;
/** host:port: a host name, IPv4 or [IPv6] literal without spaces, slashes or commas, and a port. */
const GRPC_ADDRESS = /^[^\s/,]+:\d{1,5}$/;

const schema = z.object({
  natsUrl: z.string().refine((value) => value.split(',').every((url) => /^(nats|tls|ws|wss):\/\/[^\s,]+$/.test(url.trim())), 'must be a URL like nats://host:4222, or several comma-separated'),
  natsJsDomain: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'a JetStream domain uses A-Z a-z 0-9 _ -').optional(),
  grpcAddress: z.string().superRefine((value, ctx) => {
    const addresses = splitGrpcAddresses(value);
    const bad = addresses.filter((a) => !GRPC_ADDRESS.test(a));
    if (bad.length > 0) ctx.addIssue({ code: 'custom', message: `must be host:port, or several comma-separated (not ${bad.map((b) => JSON.stringify(b.slice(0, 100))).join(', ')})` });
    else if (new Set(addresses).size !== addresses.length) ctx.addIssue({ code: 'custom', message: 'names an address twice' });
  }),
  agentId: z.string().superRefine((value, ctx) => {
    try {
      assertAgentId(value);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
  }),
  name: z.string().min(1).max(128),
  labels: z.record(z.string().regex(labelPattern, 'label keys use A-Z a-z 0-9 _ . -'), z.string().max(256)),
  cacheDir: z.string().min(1),
  heartbeatIntervalMs: z.number().int().min(100).max(60_000),
  workingIntervalMs: z.number().int().min(100).max(60_000),
  pullExpiresMs: z.number().int().min(1_000).max(60_000),
  ackWaitMs: z.number().int().min(500).max(3_600_000),
  leaseAcquireTimeoutMs: z.number().int().min(100).max(3_600_000),
  suiteStallTimeoutMs: z.number().int().min(1_000).max(86_400_000),
  grpcTlsCaFile: z.string().min(1).optional(),
  grpcTlsCertFile: z.string().min(1).optional(),
  grpcTlsKeyFile: z.string().min(1).optional(),
  natsCredsFile: z.string().min(1).optional(),
});

/** An agent id derived from the host name, made safe for subjects and KV keys. */
export function defaultAgentId(): string {
  const cleaned = hostname().replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 64);
  return cleaned.length > 0 ? cleaned : 'agent';
}

/** Parses `k=v,k2=v2` into labels; throws AgentConfigError naming the bad entry. */
export function parseLabels(text: string | undefined): Record<string, string> {
  const labels: Record<string, string> = {};
  if (!text) return labels;
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new AgentConfigError([`labels: ${JSON.stringify(part)} is not key=value`]);
    labels[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return labels;
}

/** Validates and defaults agent settings; every problem is reported at once. */
export function loadAgentConfig(input: Partial<AgentConfig>): AgentConfig {
  const agentId = input.agentId ?? defaultAgentId();
  const candidate = {
    natsUrl: input.natsUrl ?? 'nats://127.0.0.1:4222',
    natsJsDomain: input.natsJsDomain,
    grpcAddress: input.grpcAddress ?? '127.0.0.1:50051',
    agentId,
    name: input.name ?? agentId,
    labels: input.labels ?? {},
    cacheDir: resolve(input.cacheDir ?? join('.benchfarm', 'agents', agentId.replace(/[^A-Za-z0-9_-]/g, '_'), 'models')),
    heartbeatIntervalMs: input.heartbeatIntervalMs ?? 5_000,
    workingIntervalMs: input.workingIntervalMs ?? 10_000,
    pullExpiresMs: input.pullExpiresMs ?? 5_000,
    ackWaitMs: input.ackWaitMs ?? JOB_ACK_WAIT_MS,
    leaseAcquireTimeoutMs: input.leaseAcquireTimeoutMs ?? 60_000,
    suiteStallTimeoutMs: input.suiteStallTimeoutMs ?? 600_000,
    grpcTlsCaFile: input.grpcTlsCaFile === undefined ? undefined : resolve(input.grpcTlsCaFile),
    grpcTlsCertFile: input.grpcTlsCertFile === undefined ? undefined : resolve(input.grpcTlsCertFile),
    grpcTlsKeyFile: input.grpcTlsKeyFile === undefined ? undefined : resolve(input.grpcTlsKeyFile),
    natsCredsFile: input.natsCredsFile === undefined ? undefined : resolve(input.natsCredsFile),
  };
  const parsed = schema.safeParse(candidate);
  const tlsIssues = [...grpcTlsIssues(candidate), ...natsCredsIssues(candidate)];
  if (!parsed.success || tlsIssues.length > 0) {
    throw new AgentConfigError([...(parsed.success ? [] : parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)), ...tlsIssues]);
  }
  return { ...parsed.data, grpcAddresses: splitGrpcAddresses(parsed.data.grpcAddress) };
}

/** Reads agent settings from BENCHFARM_* environment variables; every bad key (labels included) is reported at once. */
export function agentConfigFromEnv(env: NodeJS.ProcessEnv = process.env): AgentConfig {
  const num = (key: string): number | undefined => (env[key] === undefined ? undefined : Number(env[key]));
  const issues: string[] = [];
  const collect = <T>(read: () => T): T | undefined => {
    try {
      return read();
    } catch (err) {
      if (!(err instanceof AgentConfigError)) throw err;
      issues.push(...err.issues);
      return undefined;
    }
  };
  const labels = collect(() => parseLabels(env.BENCHFARM_AGENT_LABELS)) ?? {};
  const config = collect(() =>
    loadAgentConfig({
      natsUrl: env.BENCHFARM_NATS_URL,
      natsJsDomain: env.BENCHFARM_NATS_JS_DOMAIN || undefined,
      grpcAddress: env.BENCHFARM_GRPC_ADDRESS,
      agentId: env.BENCHFARM_AGENT_ID,
      name: env.BENCHFARM_AGENT_NAME,
      labels,
      cacheDir: env.BENCHFARM_AGENT_CACHE,
      heartbeatIntervalMs: num('BENCHFARM_HEARTBEAT_MS'),
      workingIntervalMs: num('BENCHFARM_WORKING_MS'),
      pullExpiresMs: num('BENCHFARM_PULL_EXPIRES_MS'),
      ackWaitMs: num('BENCHFARM_ACK_WAIT_MS'),
      leaseAcquireTimeoutMs: num('BENCHFARM_LEASE_ACQUIRE_TIMEOUT_MS'),
      suiteStallTimeoutMs: num('BENCHFARM_SUITE_STALL_TIMEOUT_MS'),
      grpcTlsCaFile: env.BENCHFARM_GRPC_TLS_CA || undefined,
      grpcTlsCertFile: env.BENCHFARM_GRPC_TLS_CERT || undefined,
      grpcTlsKeyFile: env.BENCHFARM_GRPC_TLS_KEY || undefined,
      natsCredsFile: env.BENCHFARM_NATS_CREDS || undefined,
    }),
  );
  if (issues.length > 0 || !config) throw new AgentConfigError(issues);
  return config;
}
