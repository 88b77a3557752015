import { X509Certificate, createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DomainError, DomainErrorCode } from '../common/domain-error';
import { AGENT_CERT_VALIDITY_DAYS, FarmCa, FarmCaError, agentIdOfCertificate, agentIdentityUri } from './pki';

const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';

const agentKey = (): { publicKeyPem: string; privateKeyPem: string } => {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(), privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString() };
};

describe('farm PKI', () => {
  it('creates a self-signed CA whose key is a PKCS#8 ECDSA P-256 key and that reloads', async () => {
    const { ca, keyPem } = await FarmCa.create();
    const cert = new X509Certificate(ca.certificatePem);
    expect(cert.ca).toBe(true);
    expect(cert.checkIssued(cert)).toBe(true);
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(keyPem).toContain('-----BEGIN PRIVATE KEY-----');
    expect(createPrivateKey(keyPem).asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(cert.checkPrivateKey(createPrivateKey(keyPem))).toBe(true);
    const reloaded = await FarmCa.load(ca.certificatePem, keyPem);
    const issued = new X509Certificate(await reloaded.issueAgentCertificate('a-1', agentKey().publicKeyPem));
    expect(issued.checkIssued(cert)).toBe(true);
    expect(issued.verify(cert.publicKey)).toBe(true);
  });

  it('issues an agent certificate over the agent public key: CN and SPIFFE URI name the agent, clientAuth only, bounded validity', async () => {
    const { ca } = await FarmCa.create();
    const caCert = new X509Certificate(ca.certificatePem);
    const key = agentKey();
    const now = new Date('2026-01-01T00:00:00Z');
    const cert = new X509Certificate(await ca.issueAgentCertificate('jetson_07', key.publicKeyPem, { now }));
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.subject).toContain('CN=jetson_07');
    expect(cert.subjectAltName).toBe(`URI:${agentIdentityUri('jetson_07')}`);
    expect(cert.keyUsage).toEqual([CLIENT_AUTH]);
    expect(cert.checkPrivateKey(createPrivateKey(key.privateKeyPem))).toBe(true);
    expect(cert.publicKey.export({ format: 'pem', type: 'spki' })).toBe(createPublicKey(key.publicKeyPem).export({ format: 'pem', type: 'spki' }));
    const days = (Date.parse(cert.validTo) - now.getTime()) / 86_400_000;
    expect(days).toBeCloseTo(AGENT_CERT_VALIDITY_DAYS, 0);
    expect(Date.parse(cert.validFrom)).toBeLessThanOrEqual(now.getTime());
  });

  it('issues a server certificate for the given hosts plus localhost and 127.0.0.1, serverAuth only', async () => {
    const { ca } = await FarmCa.create();
    const caCert = new X509Certificate(ca.certificatePem);
    const server = await ca.issueServerCertificate(['farm.lab', '10.0.0.5']);
    const cert = new X509Certificate(server.certificatePem);
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.keyUsage).toEqual([SERVER_AUTH]);
    expect(cert.subjectAltName?.split(', ').sort()).toEqual(['DNS:farm.lab', 'DNS:localhost', 'IP Address:10.0.0.5', 'IP Address:127.0.0.1'].sort());
    expect(cert.checkHost('farm.lab')).toBe('farm.lab');
    expect(cert.checkIP('10.0.0.5')).toBe('10.0.0.5');
    expect(cert.checkPrivateKey(createPrivateKey(server.keyPem))).toBe(true);
  });

  it.each([
    ['an agent id with a slash', 'a/b', agentKey().publicKeyPem, 'agentId'],
    ['an empty agent id', '', agentKey().publicKeyPem, 'agentId'],
    ['an agent id with a dot (NATS subject token)', 'a.b', agentKey().publicKeyPem, 'agentId'],
    ['a private key instead of a public key', 'a1', agentKey().privateKeyPem, 'publicKeyPem'],
    ['garbage PEM', 'a1', '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n', 'publicKeyPem'],
    ['a 1024-bit RSA key', 'a1', generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'pem', type: 'spki' }).toString(), 'publicKeyPem'],
  ])('refuses %s, naming the field', async (_what, agentId, publicKeyPem, field) => {
    const { ca } = await FarmCa.create();
    const err = await ca.issueAgentCertificate(agentId, publicKeyPem).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DomainError);
    expect(err).toMatchObject({ code: DomainErrorCode.InvalidArgument, field });
    expect((err as Error).message).toContain(field);
  });

  it('refuses a server host that is neither a DNS name nor an IP', async () => {
    const { ca } = await FarmCa.create();
    await expect(ca.issueServerCertificate(['bad host!'])).rejects.toMatchObject({ code: DomainErrorCode.InvalidArgument, field: 'hosts' });
  });

  it('refuses to load a key that does not belong to the CA certificate, or a leaf as CA', async () => {
    const one = await FarmCa.create();
    const two = await FarmCa.create();
    await expect(FarmCa.load(one.ca.certificatePem, two.keyPem)).rejects.toThrow(FarmCaError);
    await expect(FarmCa.load(one.ca.certificatePem, two.keyPem)).rejects.toThrow(/does not belong/);
    const leaf = await one.ca.issueAgentCertificate('x', agentKey().publicKeyPem);
    await expect(FarmCa.load(leaf, one.keyPem)).rejects.toThrow(/not a CA certificate/);
    await expect(FarmCa.load('nope', one.keyPem)).rejects.toThrow(/not a PEM X.509 certificate/);
  });

  it('reads the agent id of a peer certificate from its SPIFFE URI and CN, refusing inconsistent ones', () => {
    expect(agentIdOfCertificate({ subject: { CN: 'a1' }, subjectaltname: 'URI:spiffe://benchfarm/agent/a1' })).toEqual({ agentId: 'a1' });
    expect(agentIdOfCertificate({ subject: { CN: 'a1' }, subjectaltname: 'DNS:a1' })).toHaveProperty('problem');
    expect(agentIdOfCertificate({ subject: { CN: 'a2' }, subjectaltname: 'URI:spiffe://benchfarm/agent/a1' })).toHaveProperty('problem');
    expect(agentIdOfCertificate({ subject: { CN: 'a1' }, subjectaltname: 'URI:spiffe://benchfarm/agent/a1, URI:spiffe://benchfarm/agent/a2' })).toHaveProperty('problem');
    expect(agentIdOfCertificate({ subject: { CN: 'a.b' }, subjectaltname: 'URI:spiffe://benchfarm/agent/a.b' })).toHaveProperty('problem');
  });
});
