import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentConfigError, agentConfigFromEnv } from './config';
import { agentChannelCredentials, grpcTlsIssues } from './grpc-credentials';

// Fixtures made with the openssl CLI (test only): a CA, a leaf it signed, and a stray key.
let dir: string;
const file = (name: string): string => join(dir, name);
const openssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'bf-agent-tls-'));
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=test CA', '-days', '2', '-addext', 'basicConstraints=critical,CA:TRUE');
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'agent.key', '-out', 'agent.csr', '-subj', '/CN=a1');
  writeFileSync(file('agent.ext'), 'subjectAltName=URI:spiffe://benchfarm/agent/a1\n');
  openssl('x509', '-req', '-in', 'agent.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'agent.crt', '-days', '1', '-extfile', 'agent.ext');
  openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'other.key');
  writeFileSync(file('garbage.pem'), 'not pem\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('agent gRPC TLS settings', () => {
  it('reads BENCHFARM_GRPC_TLS_CA/CERT/KEY, resolves them and builds TLS credentials', () => {
    const config = agentConfigFromEnv({ BENCHFARM_AGENT_ID: 'a1', BENCHFARM_GRPC_TLS_CA: file('ca.crt'), BENCHFARM_GRPC_TLS_CERT: file('agent.crt'), BENCHFARM_GRPC_TLS_KEY: file('agent.key') });
    expect(config).toMatchObject({ grpcTlsCaFile: file('ca.crt'), grpcTlsCertFile: file('agent.crt'), grpcTlsKeyFile: file('agent.key') });
    expect(agentChannelCredentials(config)._isSecure()).toBe(true);
    expect(agentChannelCredentials(agentConfigFromEnv({ BENCHFARM_AGENT_ID: 'a1' }))._isSecure()).toBe(false);
  });

  it("refuses another agent's certificate at start-up, naming both ids", () => {
    expect(() => agentConfigFromEnv({ BENCHFARM_AGENT_ID: 'a2', BENCHFARM_GRPC_TLS_CERT: file('agent.crt'), BENCHFARM_GRPC_TLS_KEY: file('agent.key') })).toThrow(
      /grpcTlsCertFile \(BENCHFARM_GRPC_TLS_CERT\): .* is agent a1's certificate, but this agent's id is a2/,
    );
  });

  it('refuses a certificate without its key, and a key without its certificate, naming both variables', () => {
    expect(() => agentConfigFromEnv({ BENCHFARM_AGENT_ID: 'a1', BENCHFARM_GRPC_TLS_CERT: file('agent.crt') })).toThrow(AgentConfigError);
    expect(grpcTlsIssues({ grpcTlsCertFile: file('agent.crt') })).toEqual([
      'grpcTlsKeyFile (BENCHFARM_GRPC_TLS_KEY): BENCHFARM_GRPC_TLS_CERT is set but BENCHFARM_GRPC_TLS_KEY is not; a client certificate needs its key (set both, or neither)',
    ]);
    expect(grpcTlsIssues({ grpcTlsKeyFile: file('agent.key') })[0]).toMatch(/^grpcTlsCertFile \(BENCHFARM_GRPC_TLS_CERT\): BENCHFARM_GRPC_TLS_KEY is set but BENCHFARM_GRPC_TLS_CERT is not/);
  });

  it('reports every unreadable, unparseable or mismatched file at start-up, with the other settings problems', () => {
    let error: AgentConfigError | undefined;
    try {
      agentConfigFromEnv({ BENCHFARM_AGENT_ID: 'a/1', BENCHFARM_GRPC_TLS_CA: file('agent.crt'), BENCHFARM_GRPC_TLS_CERT: file('garbage.pem'), BENCHFARM_GRPC_TLS_KEY: file('missing.key') });
    } catch (err) {
      error = err as AgentConfigError;
    }
    expect(error?.issues.map((i) => i.split(':')[0])).toEqual(['agentId', 'grpcTlsCaFile (BENCHFARM_GRPC_TLS_CA)', 'grpcTlsCertFile (BENCHFARM_GRPC_TLS_CERT)', 'grpcTlsKeyFile (BENCHFARM_GRPC_TLS_KEY)']);
    expect(error?.issues[1]).toMatch(/is not a CA certificate/);
    expect(error?.issues[2]).toMatch(/is not a PEM X.509 certificate/);
    expect(error?.issues[3]).toMatch(/cannot read .*ENOENT/);
    expect(grpcTlsIssues({ grpcTlsCertFile: file('agent.crt'), grpcTlsKeyFile: file('other.key') })).toEqual([
      `grpcTlsKeyFile (BENCHFARM_GRPC_TLS_KEY): ${file('other.key')} is not the key of the certificate in BENCHFARM_GRPC_TLS_CERT`,
    ]);
  });
});
