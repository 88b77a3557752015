import { describe, expect, it } from 'vitest';
import { compileAgentOptions } from './agent-options';
import { AgentConfigError } from './config';

const issuesOf = (env: NodeJS.ProcessEnv): string[] => {
  try {
    compileAgentOptions(env);
    return [];
  } catch (err) {
    if (err instanceof AgentConfigError) return err.issues;
    throw err;
  }
};

describe('compileAgentOptions: every setting, read once', () => {
  it('defaults every part from an almost empty environment, and freezes the result', () => {
    const options = compileAgentOptions({ BENCHFARM_AGENT_ID: 'a1' });
    expect(options.agent.agentId).toBe('a1');
    expect(options.agent.grpcAddresses).toEqual(['127.0.0.1:50051']);
    expect(options.health).toEqual({ timeoutMs: 60_000, retryMinMs: 5_000, retryMaxMs: 300_000 });
    expect(options.sensors).toMatchObject({ sysfsRoot: '/', sampling: true, idleBaselineMs: 2_000 });
    expect(options.probeProviders).toBe(true);
    expect(Object.isFrozen(options)).toBe(true);
    expect(Object.isFrozen(options.agent)).toBe(true);
    expect(Object.isFrozen(options.agent.labels)).toBe(true);
    expect(Object.isFrozen(options.agent.grpcAddresses)).toBe(true);
    expect(Object.isFrozen(options.health)).toBe(true);
    expect(Object.isFrozen(options.sensors)).toBe(true);
    expect(() => {
      (options.agent as { heartbeatIntervalMs: number }).heartbeatIntervalMs = 1;
    }).toThrow(TypeError);
  });

  it('takes the health, sensor and probe settings with the agent settings', () => {
    const options = compileAgentOptions({ BENCHFARM_AGENT_ID: 'a1', BENCHFARM_HEALTH_TIMEOUT_MS: '2000', BENCHFARM_SENSORS: 'off', BENCHFARM_PROBE_EPS: 'off', BENCHFARM_SYSFS_ROOT: '/tmp/fake' });
    expect(options.health.timeoutMs).toBe(2_000);
    expect(options.sensors.sampling).toBe(false);
    expect(options.sensors.sysfsRoot).toBe('/tmp/fake');
    expect(options.probeProviders).toBe(false);
  });

  it('keeps a snapshot of the environment: a later change of process.env changes nothing', () => {
    const env: NodeJS.ProcessEnv = { BENCHFARM_AGENT_ID: 'a1', BENCHFARM_PROBE_EPS: 'on' };
    const options = compileAgentOptions(env);
    env.BENCHFARM_PROBE_EPS = 'off';
    expect(options.env.BENCHFARM_PROBE_EPS).toBe('on');
    expect(options.probeProviders).toBe(true);
  });

  it('reports every bad key of every part at once, each naming its field', () => {
    expect(
      issuesOf({
        BENCHFARM_AGENT_ID: 'a1',
        BENCHFARM_NATS_URL: 'http://x:4222',
        BENCHFARM_HEARTBEAT_MS: 'often',
        BENCHFARM_HEALTH_TIMEOUT_MS: 'soon',
        BENCHFARM_SENSORS: 'maybe',
        BENCHFARM_PROBE_EPS: 'yes',
      }),
    ).toEqual([
      'natsUrl: must be a URL like nats://host:4222, or several comma-separated',
      expect.stringMatching(/^heartbeatIntervalMs: /),
      'BENCHFARM_HEALTH_TIMEOUT_MS: "soon" must be a whole number of milliseconds from 1000 to 600000',
      expect.stringMatching(/^BENCHFARM_SENSORS: /),
      'BENCHFARM_PROBE_EPS: "yes" must be on or off',
    ]);
  });
});
