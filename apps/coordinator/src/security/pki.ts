// @peculiar/x509 reads decorator metadata of its ASN.1 schemas: reflect-metadata must be loaded
// before it (the coordinator loads it in app.ts; this keeps the PKI tool and tests independent).
import 'reflect-metadata';
import { X509Certificate as NodeX509Certificate, createPrivateKey, createPublicKey, randomBytes, webcrypto, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';
import { assertAgentId } from '@benchfarm/messaging';
import { DomainError, DomainErrorCode } from '../common/domain-error';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
type EcdsaParams = webcrypto.EcdsaParams;
/** The crypto of Node, as the WebCrypto provider @peculiar/x509 expects. */
const crypto = webcrypto as unknown as NonNullable<Parameters<typeof x509.X509CertificateGenerator.create>[1]>;
const subtle = webcrypto.subtle;

const DAY_MS = 24 * 3600 * 1000;
/** Validity of the farm CA. */
export const CA_VALIDITY_DAYS = 3650;
/** Validity of the coordinator's server certificate. */
export const SERVER_CERT_VALIDITY_DAYS = 825;
/** Default validity of an agent's client certificate; re-enroll or re-issue before it ends. */
export const AGENT_CERT_VALIDITY_DAYS = 365;
/** Longest validity an agent certificate may be given. */
export const MAX_AGENT_CERT_VALIDITY_DAYS = 825;
/** Issued certificates start this much in the past, so a device whose clock lags a little accepts them. */
const BACKDATE_MS = 5 * 60_000;

/** The SAN URI naming an agent in its client certificate. */
export function agentIdentityUri(agentId: string): string {
  return `spiffe://benchfarm/agent/${agentId}`;
}

/** A key pair and its certificate, both PEM. */
export interface KeyAndCertificate {
  /** PKCS#8 PEM private key: keep it 0600. */
  readonly keyPem: string;
  readonly certificatePem: string;
}

/** Thrown when a CA certificate or key cannot be used to issue certificates; says which and why. */
export class FarmCaError extends Error {
  override name = 'FarmCaError';
}

const EC_CURVES: Record<string, 'P-256' | 'P-384'> = { prime256v1: 'P-256', secp384r1: 'P-384' };

/** The farm CA, loaded once and used to sign server and agent certificates. */
export class FarmCa {
  private constructor(
    /** The CA certificate, PEM (agents and the coordinator trust it). */
    readonly certificatePem: string,
    private readonly certificate: x509.X509Certificate,
    private readonly signingKey: CryptoKey,
    private readonly signingAlgorithm: EcdsaParams,
  ) {}

  /** Creates a new farm CA: an ECDSA P-256 key and a self-signed CA certificate. */
  static async create(options: { commonName?: string; validityDays?: number; now?: Date } = {}): Promise<{ ca: FarmCa; keyPem: string }> {
    const now = options.now ?? new Date();
    const keys = (await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
    const signingAlgorithm = { name: 'ECDSA', hash: 'SHA-256' };
    const certificate = await x509.X509CertificateGenerator.createSelfSigned(
      {
        serialNumber: serialNumber(),
        name: [{ CN: [options.commonName ?? 'benchfarm farm CA'] }, { O: ['benchfarm'] }],
        notBefore: new Date(now.getTime() - BACKDATE_MS),
        notAfter: new Date(now.getTime() + (options.validityDays ?? CA_VALIDITY_DAYS) * DAY_MS),
        keys,
        signingAlgorithm,
        extensions: [
          new x509.BasicConstraintsExtension(true, 0, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
          await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
        ],
      },
      crypto,
    );
    const pkcs8 = Buffer.from(await subtle.exportKey('pkcs8', keys.privateKey));
    const keyPem = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }).export({ format: 'pem', type: 'pkcs8' }).toString();
    return { ca: new FarmCa(withNewline(certificate.toString('pem')), certificate, keys.privateKey, signingAlgorithm), keyPem };
  }

  /**
   * Loads a CA from its certificate and key (PEM). Thrown: {@link FarmCaError} when the
   * certificate does not parse or is not a CA, the key does not parse, is not ECDSA P-256/P-384,
   * or does not belong to the certificate.
   */
  static async load(certificatePem: string, keyPem: string): Promise<FarmCa> {
    let nodeCert: NodeX509Certificate;
    try {
      nodeCert = new NodeX509Certificate(certificatePem);
    } catch (err) {
      throw new FarmCaError(`the CA certificate is not a PEM X.509 certificate: ${(err as Error).message}`, { cause: err });
    }
    if (!nodeCert.ca) throw new FarmCaError(`the CA certificate (${nodeCert.subject.replace(/\n/g, ', ')}) is not a CA certificate (basicConstraints CA:FALSE)`);
    let key: KeyObject;
    try {
      key = createPrivateKey(keyPem);
    } catch (err) {
      throw new FarmCaError(`the CA key is not a PEM private key: ${(err as Error).message}`, { cause: err });
    }
    const curve = key.asymmetricKeyType === 'ec' ? EC_CURVES[key.asymmetricKeyDetails?.namedCurve ?? ''] : undefined;
    if (!curve) throw new FarmCaError(`the CA key is ${key.asymmetricKeyType ?? 'unknown'}${key.asymmetricKeyDetails?.namedCurve ? ` ${key.asymmetricKeyDetails.namedCurve}` : ''}; the farm CA signs with ECDSA P-256 or P-384`);
    if (!nodeCert.checkPrivateKey(key)) throw new FarmCaError('the CA key does not belong to the CA certificate');
    const signingKey = await subtle.importKey('pkcs8', key.export({ format: 'der', type: 'pkcs8' }), { name: 'ECDSA', namedCurve: curve }, false, ['sign']);
    const signingAlgorithm = { name: 'ECDSA', hash: curve === 'P-256' ? 'SHA-256' : 'SHA-384' };
    return new FarmCa(withNewline(nodeCert.toString()), new x509.X509Certificate(nodeCert.raw), signingKey, signingAlgorithm);
  }

  /**
   * Issues the coordinator's server certificate (serverAuth) with a fresh ECDSA P-256 key. Its
   * SANs are `hosts` (DNS names or IP addresses) plus, always, localhost and 127.0.0.1.
   * Thrown: {@link DomainError} `invalid_argument` (field `hosts`) for a name that is neither.
   */
  async issueServerCertificate(hosts: readonly string[], options: { validityDays?: number; now?: Date } = {}): Promise<KeyAndCertificate> {
    const names = [...new Set(['localhost', '127.0.0.1', ...hosts.map((h) => h.trim().replace(/^\[|\]$/g, '').toLowerCase())])];
    for (const name of names) {
      if (isIP(name) === 0 && !/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/.test(name)) {
        throw new DomainError(DomainErrorCode.InvalidArgument, `host ${JSON.stringify(name)} is neither a DNS name nor an IP address`, { field: 'hosts' });
      }
    }
    const keys = (await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
    const hostNames = names.filter((n) => n !== '127.0.0.1' && n !== 'localhost');
    const certificatePem = await this.sign({
      subject: [{ CN: [hostNames[0] ?? 'localhost'] }, { O: ['benchfarm'] }],
      publicKey: keys.publicKey,
      validityDays: options.validityDays ?? SERVER_CERT_VALIDITY_DAYS,
      now: options.now,
      extendedKeyUsage: x509.ExtendedKeyUsage.serverAuth,
      keyUsage: x509.KeyUsageFlags.digitalSignature,
      altNames: names.map((value) => ({ type: isIP(value) === 0 ? 'dns' : 'ip', value })),
    });
    const pkcs8 = Buffer.from(await subtle.exportKey('pkcs8', keys.privateKey));
    const keyPem = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }).export({ format: 'pem', type: 'pkcs8' }).toString();
    return { keyPem, certificatePem };
  }

  /**
   * Issues an agent's client certificate (clientAuth) over the agent's own public key (SPKI PEM;
   * the private key never leaves the agent): subject CN=`agentId`, SAN URI
   * {@link agentIdentityUri}. Thrown: {@link DomainError} `invalid_argument` naming `agentId`
   * (not an agent id), `publicKeyPem` (not a public key, or not ECDSA P-256/P-384 or RSA >= 2048)
   * or `validityDays`.
   */
  async issueAgentCertificate(agentId: string, publicKeyPem: string, options: { validityDays?: number; now?: Date } = {}): Promise<string> {
    try {
      assertAgentId(agentId);
    } catch (err) {
      throw new DomainError(DomainErrorCode.InvalidArgument, `agentId: ${(err as Error).message}`, { field: 'agentId', cause: err });
    }
    const validityDays = options.validityDays ?? AGENT_CERT_VALIDITY_DAYS;
    if (!Number.isInteger(validityDays) || validityDays < 1 || validityDays > MAX_AGENT_CERT_VALIDITY_DAYS) {
      throw new DomainError(DomainErrorCode.InvalidArgument, `validityDays is ${validityDays}; it must be an integer from 1 to ${MAX_AGENT_CERT_VALIDITY_DAYS}`, { field: 'validityDays' });
    }
    const spki = agentPublicKey(publicKeyPem);
    return this.sign({
      subject: [{ CN: [agentId] }, { O: ['benchfarm'] }, { OU: ['agent'] }],
      publicKey: spki.der,
      validityDays,
      now: options.now,
      extendedKeyUsage: x509.ExtendedKeyUsage.clientAuth,
      keyUsage: spki.rsa ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment : x509.KeyUsageFlags.digitalSignature,
      altNames: [{ type: 'url', value: agentIdentityUri(agentId) }],
    });
  }

  private async sign(request: {
    subject: x509.JsonName;
    publicKey: CryptoKey | Uint8Array;
    validityDays: number;
    now: Date | undefined;
    extendedKeyUsage: x509.ExtendedKeyUsage;
    keyUsage: number;
    altNames: Array<{ type: 'dns' | 'ip' | 'url'; value: string }>;
  }): Promise<string> {
    const now = request.now ?? new Date();
    const notAfter = Math.min(now.getTime() + request.validityDays * DAY_MS, this.certificate.notAfter.getTime());
    const publicKey = request.publicKey instanceof Uint8Array ? new x509.PublicKey(request.publicKey) : request.publicKey;
    const certificate = await x509.X509CertificateGenerator.create(
      {
        serialNumber: serialNumber(),
        subject: request.subject,
        issuer: this.certificate.subject,
        notBefore: new Date(now.getTime() - BACKDATE_MS),
        notAfter: new Date(notAfter),
        publicKey,
        signingKey: this.signingKey,
        signingAlgorithm: this.signingAlgorithm,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(request.keyUsage, true),
          new x509.ExtendedKeyUsageExtension([request.extendedKeyUsage], false),
          new x509.SubjectAlternativeNameExtension(request.altNames, false),
          await x509.SubjectKeyIdentifierExtension.create(publicKey, false, crypto),
          await x509.AuthorityKeyIdentifierExtension.create(this.certificate, false, crypto),
        ],
      },
      crypto,
    );
    return withNewline(certificate.toString('pem'));
  }
}

/** PEM text ends with a newline, whichever library wrote it. */
function withNewline(pem: string): string {
  return pem.endsWith('\n') ? pem : `${pem}\n`;
}

/** A positive, random 128-bit serial number (hex). */
function serialNumber(): string {
  const bytes = randomBytes(16);
  // The leading byte keeps the DER integer positive and 16 bytes long.
  bytes.writeUInt8((bytes.readUInt8(0) & 0x7f) | 0x01, 0);
  return bytes.toString('hex');
}

function agentPublicKey(publicKeyPem: string): { der: Uint8Array; rsa: boolean } {
  const refuse = (problem: string, cause?: unknown): DomainError => new DomainError(DomainErrorCode.InvalidArgument, `publicKeyPem ${problem}`, { field: 'publicKeyPem', cause });
  if (typeof publicKeyPem !== 'string' || !publicKeyPem.includes('-----BEGIN PUBLIC KEY-----')) throw refuse('is not a PEM SPKI public key (-----BEGIN PUBLIC KEY-----)');
  let key: KeyObject;
  try {
    key = createPublicKey(publicKeyPem);
  } catch (err) {
    throw refuse(`does not parse: ${(err as Error).message}`, err);
  }
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  if (type === 'ec' && EC_CURVES[details.namedCurve ?? '']) return { der: new Uint8Array(key.export({ format: 'der', type: 'spki' })), rsa: false };
  if (type === 'rsa' && (details.modulusLength ?? 0) >= 2048) return { der: new Uint8Array(key.export({ format: 'der', type: 'spki' })), rsa: true };
  throw refuse(`is a ${type ?? 'unknown'}${details.namedCurve ? ` ${details.namedCurve}` : ''}${details.modulusLength ? ` ${details.modulusLength}-bit` : ''} key; agent keys are ECDSA P-256/P-384 or RSA of at least 2048 bits`);
}

/**
 * The agent id a verified client certificate names: the id of its SAN URI
 * `spiffe://benchfarm/agent/<id>` (exactly one such URI), which must agree with its subject CN.
 * Returns a reason instead when the certificate names no agent or names it inconsistently.
 */
export function agentIdOfCertificate(certificate: { subject?: { CN?: string | string[] } | undefined; subjectaltname?: string | undefined }): { agentId: string } | { problem: string } {
  const prefix = agentIdentityUri('');
  const uris = (certificate.subjectaltname ?? '')
    .split(/,\s*/)
    .filter((entry) => entry.startsWith('URI:'))
    .map((entry) => entry.slice(4));
  const agentUris = uris.filter((uri) => uri.startsWith(prefix));
  const cn = Array.isArray(certificate.subject?.CN) ? certificate.subject.CN.join(',') : certificate.subject?.CN;
  if (agentUris.length !== 1) return { problem: `the client certificate (CN=${cn ?? '?'}) carries ${agentUris.length} ${prefix}<id> URIs; it must carry exactly one` };
  const uri = agentUris[0] ?? '';
  const agentId = uri.slice(prefix.length);
  try {
    assertAgentId(agentId);
  } catch {
    return { problem: `the client certificate names ${JSON.stringify(agentId)}, which is not an agent id` };
  }
  if (cn !== agentId) return { problem: `the client certificate's CN ${JSON.stringify(cn ?? '')} differs from its agent URI ${uri}` };
  return { agentId };
}
