import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCredsFile } from '@benchfarm/messaging';
import { AGENT_ENROLLMENT_FILES, LEAF_SITE_FILES, SecurityFilesError, enrollAgent, enrolledAgentEnv, initFarmSecurity, initLeafSite } from './enrollment';

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
  it('sets BENCHFARM_NATS_JS_DOMAIN from an enrollment that carries natsJsDomain, and refuses one that is not a domain', () => {
    const enrolled = join(dir, 'enrolled-edge');
    mkdirSync(enrolled, { recursive: true });
    writeFileSync(join(enrolled, AGENT_ENROLLMENT_FILES.creds), 'creds');
    const record = { agentId: 'pi-1', natsUrl: 'nats://farm:4222', grpcAddress: 'farm:50051' };
    writeFileSync(join(enrolled, AGENT_ENROLLMENT_FILES.enrollment), JSON.stringify({ ...record, natsJsDomain: 'hub' }));
    expect(enrolledAgentEnv(enrolled).BENCHFARM_NATS_JS_DOMAIN).toBe('hub');
    writeFileSync(join(enrolled, AGENT_ENROLLMENT_FILES.enrollment), JSON.stringify({ ...record, natsJsDomain: 'hub.>' }));
    expect(() => enrolledAgentEnv(enrolled)).toThrow(/"natsJsDomain" must be a JetStream domain/);
  });

  it('security leaf writes the site files owner-only (creds of user leaf-<site> in the farm account), and refuses a bad site or an existing folder', async () => {
    const farm = await initFarmSecurity(join(dir, 'farm-leaf'));
    const leaf = await initLeafSite(farm.dir, join(dir, 'site'), { site: 'edge-1' });
    expect(readdirSync(leaf.dir).sort()).toEqual([LEAF_SITE_FILES.creds, LEAF_SITE_FILES.site, LEAF_SITE_FILES.natsAuth].sort());
    for (const name of readdirSync(leaf.dir)) expect(statSync(join(leaf.dir, name)).mode & 0o777).toBe(0o600);
    const creds = parseCredsFile(readFileSync(leaf.credsFile, 'utf8'));
    expect(creds).toMatchObject({ name: 'leaf-edge-1', userPublicKey: leaf.userPublicKey, account: parseCredsFile(readFileSync(farm.coordinatorCredsFile, 'utf8')).account });
    expect(readFileSync(leaf.natsAuthFile, 'utf8')).toBe(readFileSync(farm.natsAuthFile, 'utf8'));
    expect(readFileSync(leaf.siteFile, 'utf8')).toContain(`BENCHFARM_FARM_ACCOUNT: "${creds.account}"`);
    expect(readFileSync(leaf.siteFile, 'utf8')).toContain(`BENCHFARM_LEAF_CREDS: ${JSON.stringify(leaf.credsFile)}`);
    await expect(initLeafSite(farm.dir, join(dir, 'site'), { site: 'edge-1' })).rejects.toThrow(/refusing to overwrite/);
    await expect(initLeafSite(farm.dir, join(dir, 'site-2'), { site: 'edge.>' })).rejects.toThrow(/--site: "edge\.>" is not a site name/);
    await expect(initLeafSite(join(dir, 'nowhere'), join(dir, 'site-3'), { site: 'edge-3' })).rejects.toThrow(/cannot read .*account-signing-key\.json/);
    expect(readdirSync(dir)).not.toContain('site-2');
    expect(readdirSync(dir)).not.toContain('site-3');
  });
});
