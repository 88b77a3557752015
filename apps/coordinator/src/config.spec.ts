import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config';
import { FarmCa } from './security/pki';

/** A farm CA and a server certificate on disk, plus a second CA, made once for the TLS tests. */
let files: Promise<Record<'caCert' | 'caKey' | 'serverCert' | 'serverKey' | 'otherCaKey' | 'garbage', string>> | undefined;
const tlsFiles = (): NonNullable<typeof files> =>
  (files ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bf-config-tls-'));
    const { ca, keyPem } = await FarmCa.create();
    const server = await ca.issueServerCertificate([]);
    const other = await FarmCa.create();
    const write = (name: string, text: string): string => {
      writeFileSync(join(dir, name), text, { mode: 0o600 });
      return join(dir, name);
    };
    return {
      caCert: write('ca.crt', ca.certificatePem),
      caKey: write('ca.key', keyPem),
      serverCert: write('server.crt', server.certificatePem),
      serverKey: write('server.key', server.keyPem),
      otherCaKey: write('other-ca.key', other.keyPem),
      garbage: write('garbage.pem', 'not a pem\n'),
    };
  })());

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

  it('reads a PostgreSQL URL (absent by default) and refuses any other scheme without repeating the value', () => {
    expect(loadConfig({}, {}).databaseUrl).toBeUndefined();
    expect(loadConfig({}, { BENCHFARM_DATABASE_URL: 'postgres://bf:pw@127.0.0.1:5432/benchfarm' }).databaseUrl).toBe('postgres://bf:pw@127.0.0.1:5432/benchfarm');
    expect(loadConfig({}, { BENCHFARM_DATABASE_URL: 'postgresql://db.lab/benchfarm' }).databaseUrl).toBe('postgresql://db.lab/benchfarm');
    for (const value of ['mysql://bf:s3cret@db/benchfarm', 'bf:s3cret@db/benchfarm', 'postgres://bf:s3cret@db host/x']) {
      let error: unknown;
      try {
        loadConfig({}, { BENCHFARM_DATABASE_URL: value });
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).message).toContain('databaseUrl (BENCHFARM_DATABASE_URL): must be a postgres:// or postgresql:// URL');
      expect((error as ConfigError).message).not.toContain('s3cret');
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

    it('accepts REST beyond loopback with an API token, but not gRPC (the token does not cover gRPC)', () => {
      const token = 'a-long-enough-token-123';
      expect(issuesOf({ BENCHFARM_HTTP_HOST: '0.0.0.0', BENCHFARM_API_TOKEN: token })).toEqual([]);
      expect(issuesOf({ BENCHFARM_GRPC_HOST: '0.0.0.0', BENCHFARM_API_TOKEN: token }).map((i) => i.key)).toEqual(['grpcHost']);
    });

    it('accepts gRPC beyond loopback with mTLS, but not with server-only TLS', async () => {
      const files = await tlsFiles();
      const tls = { BENCHFARM_GRPC_HOST: '0.0.0.0', BENCHFARM_GRPC_TLS_CERT: files.serverCert, BENCHFARM_GRPC_TLS_KEY: files.serverKey };
      expect(issuesOf(tls).map((i) => i.key)).toEqual(['grpcHost']);
      expect(issuesOf(tls)[0]?.message).toMatch(/BENCHFARM_GRPC_TLS_CLIENT_CA/);
      expect(issuesOf({ ...tls, BENCHFARM_GRPC_TLS_CLIENT_CA: files.caCert })).toEqual([]);
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

  describe('gRPC TLS and farm CA files', () => {
    const issuesOf = (env: NodeJS.ProcessEnv): { key: string; envVar: string; message: string }[] => {
      try {
        loadConfig({}, env);
        return [];
      } catch (err) {
        return [...(err as ConfigError).issues];
      }
    };

    it('accepts a valid server pair, client CA and farm CA, and resolves the paths', async () => {
      const f = await tlsFiles();
      const config = loadConfig({}, { BENCHFARM_GRPC_TLS_CERT: f.serverCert, BENCHFARM_GRPC_TLS_KEY: f.serverKey, BENCHFARM_GRPC_TLS_CLIENT_CA: f.caCert, BENCHFARM_PKI_CA_CERT: f.caCert, BENCHFARM_PKI_CA_KEY: f.caKey });
      expect(config).toMatchObject({ grpcTlsCertFile: f.serverCert, grpcTlsKeyFile: f.serverKey, grpcTlsClientCaFile: f.caCert, pkiCaCertFile: f.caCert, pkiCaKeyFile: f.caKey });
    });

    it('refuses a certificate without its key (and the reverse), naming both variables', async () => {
      const f = await tlsFiles();
      const [certOnly] = issuesOf({ BENCHFARM_GRPC_TLS_CERT: f.serverCert });
      expect(certOnly).toMatchObject({ key: 'grpcTlsKeyFile', envVar: 'BENCHFARM_GRPC_TLS_KEY' });
      expect(certOnly?.message).toMatch(/BENCHFARM_GRPC_TLS_CERT is set but BENCHFARM_GRPC_TLS_KEY is not/);
      const keyOnly = issuesOf({ BENCHFARM_GRPC_TLS_KEY: f.serverKey });
      expect(keyOnly.map((i) => i.envVar)).toEqual(['BENCHFARM_GRPC_TLS_CERT']);
      expect(issuesOf({ BENCHFARM_GRPC_TLS_CERT: f.serverCert, BENCHFARM_GRPC_TLS_KEY: f.serverKey, BENCHFARM_PKI_CA_KEY: f.caKey }).map((i) => i.envVar)).toEqual(['BENCHFARM_PKI_CA_CERT']);
    });

    it('reports every missing, unparseable or mismatched file at once, naming its variable', async () => {
      const f = await tlsFiles();
      const issues = issuesOf({
        BENCHFARM_GRPC_TLS_CERT: f.garbage,
        BENCHFARM_GRPC_TLS_KEY: join(tmpdir(), 'no-such-dir-bf', 'server.key'),
        BENCHFARM_GRPC_TLS_CLIENT_CA: f.serverCert,
        BENCHFARM_PKI_CA_CERT: f.caCert,
        BENCHFARM_PKI_CA_KEY: f.otherCaKey,
      });
      const byVar = Object.fromEntries(issues.map((i) => [i.envVar, i.message]));
      expect(Object.keys(byVar).sort()).toEqual(['BENCHFARM_GRPC_TLS_CERT', 'BENCHFARM_GRPC_TLS_CLIENT_CA', 'BENCHFARM_GRPC_TLS_KEY', 'BENCHFARM_PKI_CA_KEY']);
      expect(byVar.BENCHFARM_GRPC_TLS_CERT).toMatch(/is not a PEM X.509 certificate/);
      expect(byVar.BENCHFARM_GRPC_TLS_KEY).toMatch(/cannot read .*ENOENT/);
      expect(byVar.BENCHFARM_GRPC_TLS_CLIENT_CA).toMatch(/is not a CA certificate/);
      expect(byVar.BENCHFARM_PKI_CA_KEY).toMatch(/is not the key of the certificate in BENCHFARM_PKI_CA_CERT/);
      expect(issuesOf({ BENCHFARM_GRPC_TLS_CERT: f.serverCert, BENCHFARM_GRPC_TLS_KEY: f.caKey })[0]?.message).toMatch(/not the key of the certificate in BENCHFARM_GRPC_TLS_CERT/);
    });

    it('refuses mTLS or a farm CA without gRPC TLS', async () => {
      const f = await tlsFiles();
      expect(issuesOf({ BENCHFARM_GRPC_TLS_CLIENT_CA: f.caCert }).map((i) => i.envVar)).toEqual(['BENCHFARM_GRPC_TLS_CLIENT_CA']);
      expect(issuesOf({ BENCHFARM_PKI_CA_CERT: f.caCert, BENCHFARM_PKI_CA_KEY: f.caKey }).map((i) => i.envVar)).toEqual(['BENCHFARM_PKI_CA_KEY']);
    });
  });
});
