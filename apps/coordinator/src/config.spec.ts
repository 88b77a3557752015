import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config';

describe('loadConfig', () => {
  it('applies defaults when nothing is set', () => {
    const config = loadConfig({}, {});
    expect(config).toMatchObject({ natsUrl: 'nats://127.0.0.1:4222', httpHost: '127.0.0.1', httpPort: 8080, grpcPort: 50051, agentStaleAfterMs: 15_000 });
    expect(config.dbPath.startsWith('/')).toBe(true);
  });

  it('reads environment variables and lets code override them', () => {
    const config = loadConfig({ grpcPort: 0 }, { BENCHFARM_NATS_URL: 'nats://10.0.0.1:4222', BENCHFARM_HTTP_PORT: '0', BENCHFARM_GRPC_PORT: '7000', BENCHFARM_DB: '/tmp/x.db' });
    expect(config).toMatchObject({ natsUrl: 'nats://10.0.0.1:4222', httpPort: 0, grpcPort: 0, dbPath: '/tmp/x.db' });
  });

  it('reports every bad key at once, with its variable', () => {
    let error: unknown;
    try {
      loadConfig({ httpPort: 'eighty' }, { BENCHFARM_GRPC_PORT: '70000', BENCHFARM_NATS_URL: 'http://x', BENCHFARM_MAX_MODEL_BYTES: '-1' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const keys = (error as ConfigError).issues.map((i) => i.key).sort();
    expect(keys).toEqual(['grpcPort', 'httpPort', 'maxModelBytes', 'natsUrl']);
    expect((error as ConfigError).message).toContain('BENCHFARM_GRPC_PORT');
  });

  it('refuses unknown settings given in code', () => {
    expect(() => loadConfig({ bogus: 1 } as never, {})).toThrow(/bogus/);
  });

  it('reads the NATS replicas (default 1) and refuses even or out-of-range counts, naming the variable', () => {
    expect(loadConfig({}, {}).natsReplicas).toBe(1);
    expect(loadConfig({}, { BENCHFARM_NATS_REPLICAS: '3' }).natsReplicas).toBe(3);
    for (const [value, problem] of [['2', 'must be 1, 3 or 5'], ['7', 'must be <= 5'], ['0', 'must be >= 1'], ['three', 'must be an integer']] as const) {
      expect(() => loadConfig({}, { BENCHFARM_NATS_REPLICAS: value })).toThrow(`natsReplicas (BENCHFARM_NATS_REPLICAS): ${problem}`);
    }
  });

  describe('binding beyond loopback', () => {
    const issuesOf = (env: NodeJS.ProcessEnv): { key: string; message: string }[] => {
      try {
        loadConfig({}, env);
        return [];
      } catch (err) {
        return (err as ConfigError).issues.map((i) => ({ key: i.key, message: i.message }));
      }
    };

    it('refuses a non-loopback REST or gRPC bind without authentication, naming each host', () => {
      const issues = issuesOf({ BENCHFARM_HTTP_HOST: '0.0.0.0', BENCHFARM_GRPC_HOST: '192.168.1.10' });
      expect(issues.map((i) => i.key).sort()).toEqual(['grpcHost', 'httpHost']);
      expect(issues.find((i) => i.key === 'httpHost')?.message).toMatch(/BENCHFARM_API_TOKEN/);
    });

    it('accepts REST beyond loopback with an API token, but not gRPC (no TLS yet)', () => {
      const token = 'a-long-enough-token-123';
      expect(issuesOf({ BENCHFARM_HTTP_HOST: '0.0.0.0', BENCHFARM_API_TOKEN: token })).toEqual([]);
      expect(issuesOf({ BENCHFARM_GRPC_HOST: '0.0.0.0', BENCHFARM_API_TOKEN: token }).map((i) => i.key)).toEqual(['grpcHost']);
    });

    it('accepts anything when explicitly allowed, and loopback names always', () => {
      expect(issuesOf({ BENCHFARM_HTTP_HOST: '0.0.0.0', BENCHFARM_GRPC_HOST: '0.0.0.0', BENCHFARM_ALLOW_INSECURE_BIND: 'true' })).toEqual([]);
      expect(issuesOf({ BENCHFARM_HTTP_HOST: 'localhost', BENCHFARM_GRPC_HOST: '127.0.0.2' })).toEqual([]);
      expect(issuesOf({ BENCHFARM_HTTP_HOST: '::1' })).toEqual([]);
    });

    it('refuses a short token and a non-boolean allowance, naming them', () => {
      expect(issuesOf({ BENCHFARM_API_TOKEN: 'short', BENCHFARM_ALLOW_INSECURE_BIND: 'yes' }).map((i) => i.key).sort()).toEqual(['allowInsecureBind', 'apiToken']);
    });
  });
});
