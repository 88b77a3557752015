import { SensorConfigError, sensorsConfigFromEnv, type SensorsConfig } from '@benchfarm/sensors';
import { AgentConfigError, agentConfigFromEnv, type AgentConfig } from './config';
import { healthCheckSettingsFromEnv, type HealthCheckSettings } from './health-check';

/**
 * Everything the agent is told, compiled once from its environment before it opens any
 * connection, and frozen: the connection settings, the health check's, the sensors', and whether
 * the execution providers are probed. Nothing after start-up reads the environment for settings.
 */
export interface AgentOptions {
  readonly agent: AgentConfig;
  readonly health: HealthCheckSettings;
  readonly sensors: SensorsConfig;
  /** Probe the execution providers by running a tiny model in a child process (`BENCHFARM_PROBE_EPS`: on, the default, or off). */
  readonly probeProviders: boolean;
  /** The environment the agent's helper processes (sensor commands, the provider probe) get, as it was when the options were compiled. */
  readonly env: Readonly<NodeJS.ProcessEnv>;
}

/**
 * Reads and validates every setting of the agent from BENCHFARM_* variables (the `benchfarm
 * agent` command sets them from its flags). Thrown: {@link AgentConfigError} listing every bad
 * key at once, each naming its field (the agent's own settings, the health check's, the sensors'
 * and BENCHFARM_PROBE_EPS together), before anything connects.
 */
export function compileAgentOptions(env: NodeJS.ProcessEnv = process.env): AgentOptions {
  const issues: string[] = [];
  const collect = <T>(read: () => T): T | undefined => {
    try {
      return read();
    } catch (err) {
      if (err instanceof AgentConfigError || err instanceof SensorConfigError) {
        issues.push(...err.issues);
        return undefined;
      }
      throw err;
    }
  };
  const agent = collect(() => agentConfigFromEnv(env));
  const health = collect(() => healthCheckSettingsFromEnv(env));
  const sensors = collect(() => sensorsConfigFromEnv(env));
  const probe = env.BENCHFARM_PROBE_EPS;
  if (probe !== undefined && probe !== '' && probe !== 'on' && probe !== 'off') issues.push(`BENCHFARM_PROBE_EPS: ${JSON.stringify(probe.slice(0, 100))} must be on or off`);
  if (issues.length > 0 || !agent || !health || !sensors) throw new AgentConfigError(issues);
  return deepFreeze({ agent, health, sensors, probeProviders: probe !== 'off', env: { ...env } });
}

/** Freezes an options object and everything it holds (plain objects and arrays). */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value as Record<string, unknown>)) deepFreeze(inner);
  }
  return value;
}
