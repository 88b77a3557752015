import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AGENT_ENROLLMENT_FILES, SecurityFilesError, enrollAgent, enrolledAgentEnv, initFarmSecurity } from './enrollment';

describe('security files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bf-secfiles-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('init writes owner-only files and refuses to overwrite them', async () => {
    const files = await initFarmSecurity(join(dir, 'farm'), { natsPort: 4333 });
    expect(statSync(files.dir).mode & 0o777).toBe(0o700);
    expect(readdirSync(files.dir).sort()).toEqual(['account-signing-key.json', 'coordinator.creds', 'nats-auth.conf', 'nats-server.conf', 'operator.nk']);
    for (const name of readdirSync(files.dir)) expect(statSync(join(files.dir, name)).mode & 0o777).toBe(0o600);
    await expect(initFarmSecurity(join(dir, 'farm'))).rejects.toThrow(SecurityFilesError);
  });

  it('enroll refuses a bad agent id and an existing enrollment before calling anyone', async () => {
    // Port 9 (discard): a request would fail as unreachable, not with these errors.
    await expect(enrollAgent({ coordinatorUrl: 'http://127.0.0.1:9', code: 'x', agentId: '../x', dir: join(dir, 'a') })).rejects.toThrow(/--id: agent id "..\/x" is invalid/);
    mkdirSync(join(dir, 'b'));
    writeFileSync(join(dir, 'b', AGENT_ENROLLMENT_FILES.creds), 'old');
    await expect(enrollAgent({ coordinatorUrl: 'http://127.0.0.1:9', code: 'x', agentId: 'pi-1', dir: join(dir, 'b') })).rejects.toThrow(/refusing to overwrite/);
  });

  it('reads an enrollment into the agent environment, TLS files only when all three exist', () => {
    const enrolled = join(dir, 'enrolled');
    mkdirSync(join(enrolled, 'tls'), { recursive: true });
    writeFileSync(join(enrolled, AGENT_ENROLLMENT_FILES.enrollment), JSON.stringify({ agentId: 'pi-1', natsUrl: 'nats://farm:4222', grpcAddress: 'farm:50051' }));
    writeFileSync(join(enrolled, AGENT_ENROLLMENT_FILES.creds), 'creds');
    expect(enrolledAgentEnv(enrolled)).toEqual({ BENCHFARM_AGENT_ID: 'pi-1', BENCHFARM_NATS_URL: 'nats://farm:4222', BENCHFARM_GRPC_ADDRESS: 'farm:50051', BENCHFARM_NATS_CREDS: join(enrolled, 'agent.creds') });
    for (const name of [AGENT_ENROLLMENT_FILES.tlsCa, AGENT_ENROLLMENT_FILES.tlsCertificate, AGENT_ENROLLMENT_FILES.tlsKey]) writeFileSync(join(enrolled, name), 'pem');
    expect(enrolledAgentEnv(enrolled)).toMatchObject({ BENCHFARM_GRPC_TLS_CA: join(enrolled, 'tls/ca.crt'), BENCHFARM_GRPC_TLS_CERT: join(enrolled, 'tls/agent.crt'), BENCHFARM_GRPC_TLS_KEY: join(enrolled, 'tls/agent.key') });
    writeFileSync(join(enrolled, AGENT_ENROLLMENT_FILES.enrollment), JSON.stringify({ agentId: 'pi-1' }));
    expect(() => enrolledAgentEnv(enrolled)).toThrow(/has no "natsUrl"/);
    expect(() => enrolledAgentEnv(join(dir, 'none'))).toThrow(/run `benchfarm agent enroll` first/);
  });
});
