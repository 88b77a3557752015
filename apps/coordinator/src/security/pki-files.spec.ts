import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DomainErrorCode } from '../common/domain-error';
import { PkiFilesError, initPki, issueAgentFiles } from './pki-files';

const root = mkdtempSync(join(tmpdir(), 'bf-pki-files-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('PKI folders (benchfarm pki)', () => {
  it('init writes the CA and server pair (keys 0600), refuses to overwrite; issue-agent writes a key that matches its CA-signed certificate', async () => {
    const pki = join(root, 'pki');
    await initPki(pki, ['farm.lab']);
    expect(readdirSync(pki).sort()).toEqual(['ca.crt', 'ca.key', 'server.crt', 'server.key']);
    expect(statSync(join(pki, 'ca.key')).mode & 0o777).toBe(0o600);
    expect(statSync(join(pki, 'server.key')).mode & 0o777).toBe(0o600);
    const before = readFileSync(join(pki, 'ca.key'), 'utf8');
    await expect(initPki(pki, [])).rejects.toThrow(/refusing to overwrite/);
    expect(readFileSync(join(pki, 'ca.key'), 'utf8')).toBe(before);

    const out = join(root, 'agent-1');
    await issueAgentFiles(pki, 'agent-1', out);
    expect(readdirSync(out).sort()).toEqual(['agent.crt', 'agent.key', 'ca.crt']);
    expect(statSync(join(out, 'agent.key')).mode & 0o777).toBe(0o600);
    const ca = new X509Certificate(readFileSync(join(pki, 'ca.crt')));
    const cert = new X509Certificate(readFileSync(join(out, 'agent.crt')));
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey(readFileSync(join(out, 'agent.key'))))).toBe(true);
    expect(readFileSync(join(out, 'ca.crt'), 'utf8')).toBe(readFileSync(join(pki, 'ca.crt'), 'utf8'));
  });

  it('issue-agent refuses a bad id, a missing or broken CA, and writes nothing then', async () => {
    const pki = join(root, 'pki2');
    await initPki(pki, []);
    await expect(issueAgentFiles(pki, 'bad id', join(root, 'x1'))).rejects.toMatchObject({ code: DomainErrorCode.InvalidArgument, field: 'agentId' });
    await expect(issueAgentFiles(join(root, 'none'), 'a', join(root, 'x2'))).rejects.toThrow(PkiFilesError);
    writeFileSync(join(pki, 'ca.key'), readFileSync(join(pki, 'server.key')));
    await expect(issueAgentFiles(pki, 'a', join(root, 'x3'))).rejects.toThrow(/does not belong to the CA certificate/);
    expect(readdirSync(root).filter((n) => n.startsWith('x'))).toEqual([]);
  });
});
