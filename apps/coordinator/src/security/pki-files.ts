import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FarmCa, FarmCaError } from './pki';

/** File names of a farm PKI folder (`benchfarm pki init`). */
export const PKI_FILES = { caCert: 'ca.crt', caKey: 'ca.key', serverCert: 'server.crt', serverKey: 'server.key' } as const;
/** File names of an agent's credentials folder (`benchfarm pki issue-agent`). */
export const AGENT_TLS_FILES = { cert: 'agent.crt', key: 'agent.key', caCert: 'ca.crt' } as const;

/** Thrown when PKI files cannot be written or read; names the file and the problem. */
export class PkiFilesError extends Error {
  override name = 'PkiFilesError';
}

/**
 * Writes files all-or-nothing: each goes to a temporary name first (keys 0600), and only once all
 * are written are they renamed into place, so a failure leaves no half-made folder behind.
 */
async function writeAll(dir: string, files: ReadonlyArray<{ name: string; text: string; secret: boolean }>): Promise<string[]> {
  const suffix = `.tmp-${randomBytes(4).toString('hex')}`;
  const written: string[] = [];
  try {
    for (const file of files) {
      const temp = join(dir, `${file.name}${suffix}`);
      written.push(temp);
      await writeFile(temp, file.text, { mode: file.secret ? 0o600 : 0o644, flag: 'wx' });
      if (file.secret) await chmod(temp, 0o600);
    }
    for (const file of files) await rename(join(dir, `${file.name}${suffix}`), join(dir, file.name));
  } catch (err) {
    await Promise.all(written.map((temp) => rm(temp, { force: true })));
    throw new PkiFilesError(`cannot write to ${dir}: ${(err as Error).message}`, { cause: err });
  }
  return files.map((f) => join(dir, f.name));
}

function refuseExisting(dir: string, names: readonly string[]): void {
  const existing = names.filter((name) => existsSync(join(dir, name)));
  if (existing.length > 0) throw new PkiFilesError(`${dir} already holds ${existing.join(', ')}; refusing to overwrite (remove them or choose another folder)`);
}

/**
 * Creates a farm PKI in `dir`: a new CA (ca.crt, ca.key 0600) and the coordinator's server
 * certificate (server.crt, server.key 0600) for `hosts` plus localhost and 127.0.0.1. Refuses a
 * folder that already holds any of them.
 */
export async function initPki(dir: string, hosts: readonly string[]): Promise<{ files: string[] }> {
  refuseExisting(dir, Object.values(PKI_FILES));
  const { ca, keyPem } = await FarmCa.create();
  const server = await ca.issueServerCertificate(hosts);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const files = await writeAll(dir, [
    { name: PKI_FILES.caCert, text: ca.certificatePem, secret: false },
    { name: PKI_FILES.caKey, text: keyPem, secret: true },
    { name: PKI_FILES.serverCert, text: server.certificatePem, secret: false },
    { name: PKI_FILES.serverKey, text: server.keyPem, secret: true },
  ]);
  return { files };
}

/** Loads the farm CA of a PKI folder. Thrown: {@link PkiFilesError} naming the file and the problem. */
export async function loadPkiCa(dir: string): Promise<FarmCa> {
  const read = async (name: string): Promise<string> => {
    try {
      return await readFile(join(dir, name), 'utf8');
    } catch (err) {
      throw new PkiFilesError(`cannot read ${join(dir, name)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message} (create the farm PKI with \`benchfarm pki init --dir ${dir}\`)`, { cause: err });
    }
  };
  const [certificatePem, keyPem] = [await read(PKI_FILES.caCert), await read(PKI_FILES.caKey)];
  try {
    return await FarmCa.load(certificatePem, keyPem);
  } catch (err) {
    if (err instanceof FarmCaError) throw new PkiFilesError(`${join(dir, PKI_FILES.caCert)} / ${PKI_FILES.caKey}: ${err.message}`, { cause: err });
    throw err;
  }
}

/**
 * Issues credentials for an agent that is not enrolled through REST: generates its ECDSA P-256
 * key here, has the farm CA of `caDir` sign its client certificate, and writes agent.key (0600),
 * agent.crt and ca.crt to `outDir` for the operator to copy to the device. Thrown: DomainError
 * `invalid_argument` for a bad agent id; {@link PkiFilesError} for unreadable or existing files.
 */
export async function issueAgentFiles(caDir: string, agentId: string, outDir: string, options: { validityDays?: number } = {}): Promise<{ files: string[] }> {
  const ca = await loadPkiCa(caDir);
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const certificatePem = await ca.issueAgentCertificate(agentId, publicKey.export({ format: 'pem', type: 'spki' }).toString(), options);
  refuseExisting(outDir, Object.values(AGENT_TLS_FILES));
  await mkdir(outDir, { recursive: true, mode: 0o700 });
  const files = await writeAll(outDir, [
    { name: AGENT_TLS_FILES.key, text: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), secret: true },
    { name: AGENT_TLS_FILES.cert, text: certificatePem, secret: false },
    { name: AGENT_TLS_FILES.caCert, text: ca.certificatePem, secret: false },
  ]);
  return { files };
}
