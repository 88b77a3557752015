// Files of a secured farm: what `benchfarm security init` writes for the NATS server and the
// coordinator, and what `benchfarm agent enroll` writes on an agent's machine.
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  FARM_ACCOUNT_NAME,
  InvalidAgentIdError,
  NatsCredentialsError,
  assertAgentId,
  createUserKeyPair,
  formatAccountSigningKey,
  formatCredsFile,
  generateFarmSecurity,
  natsAuthConfig,
  natsServerConfig,
  parseAccountSigningKey,
  parseCredsFile,
  revokeUsersInAuthConfig,
  signUserJwt,
} from '@benchfarm/messaging';
import type { CreateEnrollmentCodeRequest, EnrollRequest, EnrollmentView } from '@benchfarm/contract';
import { CoordinatorClient } from './client';

/** Thrown when security files cannot be written or read, or enrollment input is bad; names the problem. */
export class SecurityFilesError extends Error {
  override name = 'SecurityFilesError';
}

/** Names of the files `benchfarm security init` writes into its folder. */
export const FARM_SECURITY_FILES = {
  natsConfig: 'nats-server.conf',
  natsAuth: 'nats-auth.conf',
  coordinatorCreds: 'coordinator.creds',
  accountSigningKey: 'account-signing-key.json',
  operatorSeed: 'operator.nk',
} as const;

/** A JetStream domain: one subject token (as the agent's BENCHFARM_NATS_JS_DOMAIN and the coordinator check it). */
const JS_DOMAIN = /^[A-Za-z0-9_-]{1,64}$/;

/** Names of the files `benchfarm agent enroll` writes into its folder. */
export const AGENT_ENROLLMENT_FILES = {
  creds: 'agent.creds',
  enrollment: 'enrollment.json',
  tlsKey: join('tls', 'agent.key'),
  tlsCertificate: join('tls', 'agent.crt'),
  tlsCa: join('tls', 'ca.crt'),
} as const;

/** Writes files as owner-only (0600) into an owner-only folder (0700); every file or none. */
function writeSecretFiles(dir: string, files: ReadonlyArray<readonly [string, string]>): void {
  const existing = files.map(([name]) => join(dir, name)).filter((path) => existsSync(path));
  if (existing.length > 0) throw new SecurityFilesError(`refusing to overwrite ${existing.join(', ')}: remove them or choose another --dir`);
  const written: string[] = [];
  try {
    for (const folder of new Set([dir, ...files.map(([name]) => join(dir, name, '..'))])) {
      mkdirSync(folder, { recursive: true, mode: 0o700 });
      chmodSync(folder, 0o700);
    }
    for (const [name, content] of files) {
      const path = join(dir, name);
      writeFileSync(path, content, { mode: 0o600, flag: 'wx' });
      written.push(path);
    }
  } catch (err) {
    for (const path of written) rmSync(path, { force: true });
    if (err instanceof SecurityFilesError) throw err;
    throw new SecurityFilesError(`cannot write into ${dir}: ${(err as Error).message}`, { cause: err });
  }
}

/** What `benchfarm security init` wrote. */
export interface FarmSecurityFiles {
  readonly dir: string;
  readonly natsConfigFile: string;
  /** The authentication part alone (operator, accounts), included by the config; include it into other server configs too. */
  readonly natsAuthFile: string;
  readonly coordinatorCredsFile: string;
  readonly accountSigningKeyFile: string;
  readonly storeDir: string;
}

/**
 * Generates a secured farm's NATS material (operator, accounts, signing key, coordinator user)
 * and writes the nats-server config, the coordinator's creds and the account signing key.
 *
 * Thrown errors: SecurityFilesError when a file exists already or the folder is not writable.
 */
export async function initFarmSecurity(dirArg: string, options: { natsPort?: number; natsHost?: string } = {}): Promise<FarmSecurityFiles> {
  const dir = resolve(dirArg);
  const material = await generateFarmSecurity();
  const storeDir = join(dir, 'jetstream');
  writeSecretFiles(dir, [
    [FARM_SECURITY_FILES.natsConfig, natsServerConfig({ port: options.natsPort ?? 4222, host: options.natsHost ?? '0.0.0.0', storeDir, authFile: FARM_SECURITY_FILES.natsAuth })],
    [FARM_SECURITY_FILES.natsAuth, natsAuthConfig(material)],
    [FARM_SECURITY_FILES.coordinatorCreds, material.coordinatorCreds],
    [FARM_SECURITY_FILES.accountSigningKey, formatAccountSigningKey(material)],
    [FARM_SECURITY_FILES.operatorSeed, `${material.operatorSeed}\n`],
  ]);
  return {
    dir,
    natsConfigFile: join(dir, FARM_SECURITY_FILES.natsConfig),
    natsAuthFile: join(dir, FARM_SECURITY_FILES.natsAuth),
    coordinatorCredsFile: join(dir, FARM_SECURITY_FILES.coordinatorCreds),
    accountSigningKeyFile: join(dir, FARM_SECURITY_FILES.accountSigningKey),
    storeDir,
  };
}

/**
 * Revokes NATS users (by user public key) in the farm's `nats-auth.conf`, re-signed with the
 * operator seed of the same folder; the file is replaced atomically (0600). nats-server applies
 * it on a config reload.
 *
 * Thrown errors: SecurityFilesError naming the file or key at fault.
 */
export async function revokeFarmUsers(dirArg: string, userPublicKeys: readonly string[]): Promise<{ authFile: string }> {
  const dir = resolve(dirArg);
  const authFile = join(dir, FARM_SECURITY_FILES.natsAuth);
  const read = (name: string): string => {
    try {
      return readFileSync(join(dir, name), 'utf8');
    } catch (err) {
      throw new SecurityFilesError(`cannot read ${join(dir, name)} (the folder of \`benchfarm security init\`): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
    }
  };
  let updated: string;
  try {
    updated = await revokeUsersInAuthConfig(read(FARM_SECURITY_FILES.natsAuth), read(FARM_SECURITY_FILES.operatorSeed), userPublicKeys);
  } catch (err) {
    if (err instanceof NatsCredentialsError) throw new SecurityFilesError(err.message, { cause: err });
    throw err;
  }
  const temp = `${authFile}.${process.pid}.tmp`;
  writeFileSync(temp, updated, { mode: 0o600 });
  renameSync(temp, authFile);
  return { authFile };
}

/** Names of the files `benchfarm security leaf` writes for a secured edge site's leaf node. */
export const LEAF_SITE_FILES = {
  creds: 'leaf.creds',
  natsAuth: FARM_SECURITY_FILES.natsAuth,
  site: 'leaf-site.conf',
} as const;

/** What `benchfarm security leaf` wrote. */
export interface LeafSiteFiles {
  readonly dir: string;
  readonly credsFile: string;
  readonly natsAuthFile: string;
  /**
   * Defines `BENCHFARM_FARM_ACCOUNT` (the farm account's public key), which the leaf binds its
   * remote to, and `BENCHFARM_LEAF_CREDS` (leaf.creds, absolute: nats-server resolves a remote's
   * credentials against its working directory, not the config's folder).
   */
  readonly siteFile: string;
  /** The NATS user public key of the leaf's connection to the hub (revoke it to cut the site off). */
  readonly userPublicKey: string;
}

/**
 * Writes what a secured edge site's leaf node needs next to its config
 * (deploy/nats/leaf-secured/edge.conf): a copy of the farm's nats-auth.conf (operator and
 * accounts, so that the leaf authenticates the site's agents locally, with the permissions in
 * their own JWTs), a NATS user `leaf-<site>` in the farm account signed with the account signing
 * key, whose creds its leafnode remote authenticates to the hub with, and leaf-site.conf.
 *
 * Thrown errors: SecurityFilesError naming the file or value at fault (bad site name, files exist).
 */
export async function initLeafSite(securityDirArg: string, outDirArg: string, options: { site: string }): Promise<LeafSiteFiles> {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(options.site)) throw new SecurityFilesError(`--site: ${JSON.stringify(options.site)} is not a site name of 1-64 characters A-Z a-z 0-9 _ -`);
  const securityDir = resolve(securityDirArg);
  const dir = resolve(outDirArg);
  const read = (name: string): string => {
    try {
      return readFileSync(join(securityDir, name), 'utf8');
    } catch (err) {
      throw new SecurityFilesError(`cannot read ${join(securityDir, name)} (the folder of \`benchfarm security init\`): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
    }
  };
  let key;
  try {
    key = parseAccountSigningKey(read(FARM_SECURITY_FILES.accountSigningKey));
  } catch (err) {
    if (err instanceof NatsCredentialsError) throw new SecurityFilesError(err.message, { cause: err });
    throw err;
  }
  const authConfig = read(FARM_SECURITY_FILES.natsAuth);
  const user = createUserKeyPair();
  const jwt = await signUserJwt(key, { name: `leaf-${options.site}`, userPublicKey: user.publicKey });
  writeSecretFiles(dir, [
    [LEAF_SITE_FILES.creds, formatCredsFile(jwt, user.seed)],
    [LEAF_SITE_FILES.natsAuth, authConfig],
    [
      LEAF_SITE_FILES.site,
      [
        `# Edge site ${options.site}, written by \`benchfarm security leaf\`; included by edge.conf.`,
        `# The farm account (${FARM_ACCOUNT_NAME}): the leaf binds its remote to it.`,
        `BENCHFARM_FARM_ACCOUNT: "${key.account}"`,
        '# The leaf user\'s creds (absolute: nats-server reads a remote\'s credentials from its working directory). Moved the folder? Change this.',
        `BENCHFARM_LEAF_CREDS: ${JSON.stringify(join(dir, LEAF_SITE_FILES.creds))}`,
        '',
      ].join('\n'),
    ],
  ]);
  return { dir, credsFile: join(dir, LEAF_SITE_FILES.creds), natsAuthFile: join(dir, LEAF_SITE_FILES.natsAuth), siteFile: join(dir, LEAF_SITE_FILES.site), userPublicKey: user.publicKey };
}

/** An enrollment code as the coordinator issued it. */
export interface EnrollmentCode {
  agentId: string;
  code: string;
  expiresAt: string;
}

/** Asks the coordinator (admin, with BENCHFARM_TOKEN) for a one-time enrollment code for `agentId`. */
export function requestEnrollmentCode(coordinatorUrl: string, agentId: string, ttlSeconds?: number, token = process.env.BENCHFARM_TOKEN): Promise<EnrollmentCode> {
  const body: CreateEnrollmentCodeRequest = { agentId, ...(ttlSeconds === undefined ? {} : { ttlSeconds }) };
  return new CoordinatorClient(coordinatorUrl, token).postJson('/v1/enrollments', body);
}

/** What enrollment.json holds. */
export interface EnrollmentRecord {
  agentId: string;
  natsUrl: string;
  grpcAddress: string;
  /** JetStream domain of the hub (BENCHFARM_NATS_JS_DOMAIN), when the coordinator gave one. */
  natsJsDomain?: string;
  coordinator: string;
  enrolledAt: string;
}

/** What `benchfarm agent enroll` wrote. */
export interface AgentEnrollment {
  readonly dir: string;
  readonly record: EnrollmentRecord;
  /** True when the coordinator issued a gRPC client certificate (tls/ written). */
  readonly tls: boolean;
}

/**
 * Enrolls this machine as agent `agentId`: makes its NATS nkey and an EC P-256 TLS key here (the
 * private halves never leave it), sends the public keys with the code to `POST /v1/enroll`, and
 * writes agent.creds, enrollment.json and, when the coordinator has a farm CA, tls/. Nothing is
 * written when the coordinator refuses.
 *
 * Thrown errors: SecurityFilesError (bad agent id, files exist), CoordinatorRequestError (the
 * coordinator refused: its message names the field), CoordinatorUnreachableError.
 */
export async function enrollAgent(options: { coordinatorUrl: string; code: string; agentId: string; dir: string }): Promise<AgentEnrollment> {
  try {
    assertAgentId(options.agentId);
  } catch (err) {
    if (err instanceof InvalidAgentIdError) throw new SecurityFilesError(`--id: ${err.message}`, { cause: err });
    throw err;
  }
  const dir = resolve(options.dir);
  const clash = Object.values(AGENT_ENROLLMENT_FILES).map((name) => join(dir, name)).filter((path) => existsSync(path));
  if (clash.length > 0) throw new SecurityFilesError(`refusing to overwrite ${clash.join(', ')}: this folder holds an enrollment already; use another --dir`);
  const nkey = createUserKeyPair();
  const tlsKeys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const body: EnrollRequest = {
    agentId: options.agentId,
    code: options.code,
    natsPublicKey: nkey.publicKey,
    tlsPublicKeyPem: tlsKeys.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
  const response = await new CoordinatorClient(options.coordinatorUrl).postJson<EnrollmentView>('/v1/enroll', body);
  const creds = formatCredsFile(response.natsUserJwt, nkey.seed);
  // The coordinator must have signed our key for our id; anything else would not work anyway.
  const parsed = parseCredsFile(creds);
  if (parsed.name !== options.agentId || response.agentId !== options.agentId) throw new SecurityFilesError(`the coordinator enrolled ${JSON.stringify(parsed.name)}, not ${JSON.stringify(options.agentId)}`);
  if (response.natsJsDomain !== undefined && (typeof response.natsJsDomain !== 'string' || !JS_DOMAIN.test(response.natsJsDomain))) {
    throw new SecurityFilesError(`the coordinator gave natsJsDomain ${JSON.stringify(response.natsJsDomain)}, which is not a JetStream domain (1-64 characters of A-Z a-z 0-9 _ -)`);
  }
  const record: EnrollmentRecord = {
    agentId: options.agentId,
    natsUrl: response.natsUrl,
    grpcAddress: response.grpcAddress,
    ...(response.natsJsDomain === undefined ? {} : { natsJsDomain: response.natsJsDomain }),
    coordinator: options.coordinatorUrl,
    enrolledAt: new Date().toISOString(),
  };
  const files: Array<[string, string]> = [
    [AGENT_ENROLLMENT_FILES.creds, creds],
    [AGENT_ENROLLMENT_FILES.enrollment, `${JSON.stringify(record, null, 2)}\n`],
  ];
  if (response.tls) {
    files.push(
      [AGENT_ENROLLMENT_FILES.tlsKey, tlsKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()],
      [AGENT_ENROLLMENT_FILES.tlsCertificate, response.tls.certificatePem],
      [AGENT_ENROLLMENT_FILES.tlsCa, response.tls.caCertificatePem],
    );
  }
  writeSecretFiles(dir, files);
  return { dir, record, tls: response.tls !== undefined };
}

/**
 * The environment that runs the agent daemon as the agent enrolled in `dir`: its id, the
 * addresses the coordinator gave, its NATS creds and, when issued, its gRPC TLS files.
 *
 * Thrown errors: SecurityFilesError naming the file that is missing or malformed.
 */
export function enrolledAgentEnv(dirArg: string): Record<string, string> {
  const dir = resolve(dirArg);
  const recordFile = join(dir, AGENT_ENROLLMENT_FILES.enrollment);
  let record: Partial<EnrollmentRecord>;
  try {
    record = JSON.parse(readFileSync(recordFile, 'utf8')) as Partial<EnrollmentRecord>;
  } catch (err) {
    throw new SecurityFilesError(`--enrolled: cannot read ${recordFile} (run \`benchfarm agent enroll\` first): ${(err as Error).message}`, { cause: err });
  }
  for (const key of ['agentId', 'natsUrl', 'grpcAddress'] as const) {
    if (typeof record[key] !== 'string' || record[key] === '') throw new SecurityFilesError(`--enrolled: ${recordFile} has no "${key}"`);
  }
  const credsFile = join(dir, AGENT_ENROLLMENT_FILES.creds);
  if (!existsSync(credsFile)) throw new SecurityFilesError(`--enrolled: ${credsFile} is missing`);
  const { agentId, natsUrl, grpcAddress, natsJsDomain } = record as EnrollmentRecord;
  if (natsJsDomain !== undefined && (typeof natsJsDomain !== 'string' || !JS_DOMAIN.test(natsJsDomain))) throw new SecurityFilesError(`--enrolled: ${recordFile}: "natsJsDomain" must be a JetStream domain (1-64 characters of A-Z a-z 0-9 _ -)`);
  const env: Record<string, string> = { BENCHFARM_AGENT_ID: agentId, BENCHFARM_NATS_URL: natsUrl, BENCHFARM_GRPC_ADDRESS: grpcAddress, BENCHFARM_NATS_CREDS: credsFile };
  // An agent behind a leaf node reaches the hub's JetStream under its domain (its permissions are granted there).
  if (natsJsDomain !== undefined) env.BENCHFARM_NATS_JS_DOMAIN = natsJsDomain;
  const [ca, certificate, key] = [AGENT_ENROLLMENT_FILES.tlsCa, AGENT_ENROLLMENT_FILES.tlsCertificate, AGENT_ENROLLMENT_FILES.tlsKey].map((name) => join(dir, name)) as [string, string, string];
  if ([ca, certificate, key].every((path) => existsSync(path))) Object.assign(env, { BENCHFARM_GRPC_TLS_CA: ca, BENCHFARM_GRPC_TLS_CERT: certificate, BENCHFARM_GRPC_TLS_KEY: key });
  return env;
}
