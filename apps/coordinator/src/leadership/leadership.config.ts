import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

/** Settings of leader election between coordinators that share one database and one NATS. */
export interface LeadershipConfig {
  /**
   * Leader election on (`BENCHFARM_HA=true`): the process waits as a standby until it holds the
   * leader lease in NATS KV, then starts the coordinator. Off (the default): one coordinator
   * starts at once, as without the setting.
   */
  readonly enabled: boolean;
  /**
   * How long the lease lives without a renewal (`BENCHFARM_HA_LEASE_TTL_MS`, default 6000): a
   * standby takes over at most this long after the leader stopped renewing. Every coordinator of
   * a farm must use the same value (it is the KV bucket's max age).
   */
  readonly leaseTtlMs: number;
  /** How often a standby reads the lease (`BENCHFARM_HA_POLL_MS`, default 500): NATS 2.9 sends no event when a KV key expires. */
  readonly pollIntervalMs: number;
  /** This process's name in the lease (`BENCHFARM_HA_INSTANCE_ID`, default `<host>-<pid>-<random>`); unique per process. */
  readonly instanceId: string;
}

/** The environment variable of each leadership setting. */
export const LEADERSHIP_ENV_VARS: { readonly [K in keyof LeadershipConfig]: string } = {
  enabled: 'BENCHFARM_HA',
  leaseTtlMs: 'BENCHFARM_HA_LEASE_TTL_MS',
  pollIntervalMs: 'BENCHFARM_HA_POLL_MS',
  instanceId: 'BENCHFARM_HA_INSTANCE_ID',
};

/** Default lease TTL: a takeover within about 6 s, and a NATS outage shorter than ~5 s does not depose the leader. */
export const DEFAULT_LEADER_LEASE_TTL_MS = 6_000;
/** Default standby poll interval. */
export const DEFAULT_LEADER_POLL_MS = 500;

/** Thrown when a leadership setting is invalid; lists every bad variable at once. */
export class LeadershipConfigError extends Error {
  override name = 'LeadershipConfigError';
  constructor(readonly issues: readonly string[]) {
    super(`invalid leader election configuration:\n  - ${issues.join('\n  - ')}`);
  }
}

const INSTANCE_ID = /^[A-Za-z0-9_.-]{1,128}$/;

/** A default instance id: host, pid and a random suffix, so a restarted process never reuses its predecessor's. */
export function defaultInstanceId(): string {
  const host = hostname().replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 64) || 'host';
  return `${host}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/**
 * Reads the leadership settings from `BENCHFARM_HA*` variables, validated and defaulted.
 *
 * Thrown errors: {@link LeadershipConfigError} naming every bad variable and its problem.
 */
export function loadLeadershipConfig(env: NodeJS.ProcessEnv = process.env): LeadershipConfig {
  const issues: string[] = [];
  const raw = (key: keyof LeadershipConfig): string | undefined => {
    const value = env[LEADERSHIP_ENV_VARS[key]]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };
  const integer = (key: keyof LeadershipConfig, fallback: number, min: number, max: number): number => {
    const text = raw(key);
    if (text === undefined) return fallback;
    if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
      issues.push(`${LEADERSHIP_ENV_VARS[key]}: ${JSON.stringify(text.slice(0, 40))} must be an integer from ${min} to ${max}`);
      return fallback;
    }
    return Number(text);
  };

  const enabledText = raw('enabled');
  let enabled = false;
  if (enabledText !== undefined) {
    if (['1', 'true'].includes(enabledText.toLowerCase())) enabled = true;
    else if (!['0', 'false'].includes(enabledText.toLowerCase())) issues.push(`${LEADERSHIP_ENV_VARS.enabled}: ${JSON.stringify(enabledText.slice(0, 40))} must be true, false, 1 or 0`);
  }
  // Below 1.5 s a renewal (every third of the TTL) has under 500 ms to reach NATS and back.
  const leaseTtlMs = integer('leaseTtlMs', DEFAULT_LEADER_LEASE_TTL_MS, 1_500, 600_000);
  const pollIntervalMs = integer('pollIntervalMs', DEFAULT_LEADER_POLL_MS, 50, 60_000);
  if (pollIntervalMs >= leaseTtlMs) issues.push(`${LEADERSHIP_ENV_VARS.pollIntervalMs}: ${pollIntervalMs} must be below ${LEADERSHIP_ENV_VARS.leaseTtlMs} (${leaseTtlMs})`);
  const instanceId = raw('instanceId') ?? defaultInstanceId();
  if (!INSTANCE_ID.test(instanceId)) issues.push(`${LEADERSHIP_ENV_VARS.instanceId}: ${JSON.stringify(instanceId.slice(0, 140))} must be 1-128 characters of A-Z a-z 0-9 _ . -`);
  if (issues.length > 0) throw new LeadershipConfigError(issues);
  return { enabled, leaseTtlMs, pollIntervalMs, instanceId };
}
