import { describe, expect, it } from 'vitest';
import { AgentConfigError, agentConfigFromEnv } from './config';

describe('agent NATS settings', () => {
  it('takes several comma-separated server URLs (a NATS cluster) and a JetStream domain', () => {
    const config = agentConfigFromEnv({ BENCHFARM_NATS_URL: 'nats://10.0.0.1:4222, nats://10.0.0.2:4222,tls://10.0.0.3:4222', BENCHFARM_NATS_JS_DOMAIN: 'hub', BENCHFARM_AGENT_ID: 'a1' });
    expect(config.natsUrl.split(',').map((u) => u.trim())).toEqual(['nats://10.0.0.1:4222', 'nats://10.0.0.2:4222', 'tls://10.0.0.3:4222']);
    expect(config.natsJsDomain).toBe('hub');
    expect(agentConfigFromEnv({ BENCHFARM_AGENT_ID: 'a1' }).natsJsDomain).toBeUndefined();
  });

  it('refuses a list with one bad URL and a bad domain, naming both fields', () => {
    let error: unknown;
    try {
      agentConfigFromEnv({ BENCHFARM_NATS_URL: 'nats://10.0.0.1:4222,http://10.0.0.2:4222', BENCHFARM_NATS_JS_DOMAIN: 'hub.one', BENCHFARM_AGENT_ID: 'a1' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(AgentConfigError);
    expect((error as AgentConfigError).issues).toEqual([
      'natsUrl: must be a URL like nats://host:4222, or several comma-separated',
      'natsJsDomain: a JetStream domain uses A-Z a-z 0-9 _ -',
    ]);
    expect(() => agentConfigFromEnv({ BENCHFARM_NATS_URL: 'nats://a:1,,nats://b:2', BENCHFARM_AGENT_ID: 'a1' })).toThrow(/natsUrl/);
  });
});

describe('agent suite stall bound', () => {
  it('defaults to 10 minutes, takes BENCHFARM_SUITE_STALL_TIMEOUT_MS, and refuses a bound under 1 s naming the field', () => {
    expect(agentConfigFromEnv({ BENCHFARM_AGENT_ID: 'a1' }).suiteStallTimeoutMs).toBe(600_000);
    expect(agentConfigFromEnv({ BENCHFARM_AGENT_ID: 'a1', BENCHFARM_SUITE_STALL_TIMEOUT_MS: '120000' }).suiteStallTimeoutMs).toBe(120_000);
    expect(() => agentConfigFromEnv({ BENCHFARM_AGENT_ID: 'a1', BENCHFARM_SUITE_STALL_TIMEOUT_MS: '10' })).toThrow(/suiteStallTimeoutMs: .*1000/);
  });
});

describe('agent coordinator addresses', () => {
  it('takes one host:port, or several comma-separated in failover order', () => {
    expect(agentConfigFromEnv({ BENCHFARM_AGENT_ID: 'a1' }).grpcAddresses).toEqual(['127.0.0.1:50051']);
    const two = agentConfigFromEnv({ BENCHFARM_AGENT_ID: 'a1', BENCHFARM_GRPC_ADDRESS: 'coord-a.lab:50051, coord-b.lab:50051' });
    expect(two.grpcAddresses).toEqual(['coord-a.lab:50051', 'coord-b.lab:50051']);
    expect(two.grpcAddress).toBe('coord-a.lab:50051, coord-b.lab:50051');
  });

  it('refuses a list with a bad entry or a repeated address, naming the field and the entry', () => {
    expect(() => agentConfigFromEnv({ BENCHFARM_AGENT_ID: 'a1', BENCHFARM_GRPC_ADDRESS: 'coord-a:50051,coord-b' })).toThrow('grpcAddress: must be host:port, or several comma-separated (not "coord-b")');
    expect(() => agentConfigFromEnv({ BENCHFARM_AGENT_ID: 'a1', BENCHFARM_GRPC_ADDRESS: 'coord-a:50051,,coord-b:1' })).toThrow('(not "")');
    expect(() => agentConfigFromEnv({ BENCHFARM_AGENT_ID: 'a1', BENCHFARM_GRPC_ADDRESS: 'coord-a:50051, coord-a:50051' })).toThrow('grpcAddress: names an address twice');
  });
});

describe('agent labels', () => {
  it('reports a bad label together with the other bad keys', () => {
    let error: unknown;
    try {
      agentConfigFromEnv({ BENCHFARM_AGENT_ID: 'a1', BENCHFARM_AGENT_LABELS: 'gpu', BENCHFARM_HEARTBEAT_MS: '5' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(AgentConfigError);
    expect((error as AgentConfigError).issues).toEqual(['labels: "gpu" is not key=value', expect.stringMatching(/^heartbeatIntervalMs: /)]);
  });
});
