import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Metadata, Server, ServerCredentials, status, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LeaseStatus, LeasesClient, LeasesService, type LeasesServer } from '@benchfarm/protocol';
import { agentChannelCredentials, type AgentGrpcTls } from './grpc-credentials';

// The agent's channel credentials against a real grpc-js TLS server on loopback: it talks to a
// server whose certificate chains to its CA and refuses one from another CA. Fixtures: openssl CLI.
let dir: string;
let server: Server;
let address: string;
const file = (name: string): string => join(dir, name);
const openssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bf-agent-tls-int-'));
  for (const ca of ['farm', 'rogue']) openssl('req', '-x509', ...ec, '-keyout', `${ca}-ca.key`, '-out', `${ca}-ca.crt`, '-subj', `/CN=${ca} CA`, '-days', '2', '-addext', 'basicConstraints=critical,CA:TRUE');
  openssl('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  execFileSync('sh', ['-c', 'printf "subjectAltName=IP:127.0.0.1,DNS:localhost\\nextendedKeyUsage=serverAuth\\n" > server.ext'], { cwd: dir });
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'farm-ca.crt', '-CAkey', 'farm-ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '1', '-extfile', 'server.ext');
  server = new Server();
  const impl: LeasesServer = {
    acquire: (_call, cb) => cb({ code: status.UNIMPLEMENTED }),
    renew: (_call, cb) => cb(null, { status: LeaseStatus.LEASE_STATUS_ACTIVE, reason: 'tls ok' }),
    uploadStatus: (_call, cb) => cb({ code: status.UNIMPLEMENTED }),
  };
  server.addService(LeasesService, impl);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createSsl(null, [{ cert_chain: readFileSync(file('server.crt')), private_key: readFileSync(file('server.key')) }], false), (err, p) => (err ? reject(err) : resolve(p))),
  );
  address = `127.0.0.1:${port}`;
});
afterAll(() => {
  server?.forceShutdown();
  rmSync(dir, { recursive: true, force: true });
});

const renewWith = (tls: AgentGrpcTls): Promise<{ code: status; reason: string; details: string }> => {
  const client = new LeasesClient(address, agentChannelCredentials(tls), { 'grpc.use_local_subchannel_pool': 1 });
  return new Promise((resolve) => {
    client.renew({ jobId: 'j', agentId: 'a', leaseToken: 't' }, new Metadata(), { deadline: Date.now() + 10_000 }, (err, res) => {
      client.close();
      resolve(err ? { code: (err as ServiceError).code, reason: '', details: (err as ServiceError).details } : { code: status.OK, reason: res.reason, details: '' });
    });
  });
};

describe('agent gRPC channel credentials against a real TLS server', () => {
  it("talks to a server whose certificate chains to the agent's CA", async () => {
    expect(await renewWith({ grpcTlsCaFile: file('farm-ca.crt') })).toMatchObject({ code: status.OK, reason: 'tls ok' });
  });

  it('refuses a server whose certificate is not from its CA, every time', async () => {
    const outcomes = [];
    for (let i = 0; i < 5; i += 1) outcomes.push(await renewWith({ grpcTlsCaFile: file('rogue-ca.crt') }));
    expect(outcomes.map((o) => o.code)).toEqual(Array(5).fill(status.UNAVAILABLE));
    expect(outcomes[0]?.details).toMatch(/certificate/);
  });

  it('refuses a TLS server when it is configured for plaintext (no TLS files)', async () => {
    expect((await renewWith({})).code).toBe(status.UNAVAILABLE);
  });
});
