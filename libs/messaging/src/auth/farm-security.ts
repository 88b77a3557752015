import { createAccount, createOperator, createUser, decode, encodeAccount, encodeOperator, encodeUser, fromPublic, fromSeed, type Account, type KeyPair } from '@nats-io/jwt';
import type { NatsUserPermissions } from './permissions';

/** Name of the account every benchfarm client (coordinator and agents) lives in. */
export const FARM_ACCOUNT_NAME = 'BENCHFARM';
/** Name of the NATS user the coordinator connects as. */
export const COORDINATOR_USER_NAME = 'coordinator';

/** Thrown when a creds file, a signing-key file or a public key is malformed; names the problem. */
export class NatsCredentialsError extends Error {
  override name = 'NatsCredentialsError';
}

/**
 * Everything `benchfarm security init` generates: an operator, the system account, the farm
 * account (JetStream enabled, unlimited within the server's own limits) with a signing key,
 * and the coordinator's user. The secrets kept: the signing seed and the coordinator's creds (on
 * the coordinator), and the operator seed (re-signs the account JWT to revoke a user; keep it
 * with the server's config, or offline). The account's own seed is not kept: its signing key
 * signs users.
 */
export interface FarmSecurityMaterial {
  readonly operatorJwt: string;
  /** The operator's seed (SO...): signs account JWTs, needed to revoke users. */
  readonly operatorSeed: string;
  readonly systemAccountPublicKey: string;
  readonly systemAccountJwt: string;
  readonly accountPublicKey: string;
  readonly accountJwt: string;
  /** The account signing key (seed) the coordinator signs agent users with. */
  readonly accountSigningSeed: string;
  /** Standard NATS creds file of the coordinator's user (full access within the farm account). */
  readonly coordinatorCreds: string;
}

/** The account signing key file the coordinator reads (`BENCHFARM_NATS_ACCOUNT_SIGNING_KEY`). */
export interface AccountSigningKey {
  /** Public key of the farm account (A...): the `issuer_account` of every user it signs. */
  readonly account: string;
  /** Seed of the account's signing key (SA...). */
  readonly signingSeed: string;
}

const UNLIMITED_ACCOUNT = {
  subs: -1,
  data: -1,
  payload: -1,
  imports: -1,
  exports: -1,
  wildcards: true,
  conn: -1,
  leaf: -1,
  // JetStream is enabled for an account only when its JWT carries JetStream limits.
  mem_storage: -1,
  disk_storage: -1,
  streams: -1,
  consumer: -1,
};

const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

/** Generates fresh operator, accounts, signing key and coordinator user (see {@link FarmSecurityMaterial}). */
export async function generateFarmSecurity(): Promise<FarmSecurityMaterial> {
  const operator = createOperator();
  const system = createAccount();
  const account = createAccount();
  const signing = createAccount();
  const operatorJwt = await encodeOperator('benchfarm', operator, { system_account: system.getPublicKey() });
  const systemAccountJwt = await encodeAccount('SYS', system, {}, { signer: operator });
  const accountJwt = await encodeAccount(FARM_ACCOUNT_NAME, account, { signing_keys: [signing.getPublicKey()], limits: UNLIMITED_ACCOUNT }, { signer: operator });
  const signingKey: AccountSigningKey = { account: account.getPublicKey(), signingSeed: text(signing.getSeed()) };
  const coordinator = createUser();
  const coordinatorJwt = await signUserJwt(signingKey, { name: COORDINATOR_USER_NAME, userPublicKey: coordinator.getPublicKey() });
  return {
    operatorJwt,
    operatorSeed: text(operator.getSeed()),
    systemAccountPublicKey: system.getPublicKey(),
    systemAccountJwt,
    accountPublicKey: account.getPublicKey(),
    accountJwt,
    accountSigningSeed: signingKey.signingSeed,
    coordinatorCreds: formatCredsFile(coordinatorJwt, text(coordinator.getSeed())),
  };
}

/**
 * The authentication part of a secured farm's nats-server configuration: operator mode with a
 * MEMORY resolver preloaded with the two accounts, so users signed later with the account
 * signing key are accepted without a restart or a reload. A file of its own, so that it can be
 * included into any server configuration (a cluster node, a test server started with flags).
 */
export function natsAuthConfig(material: FarmSecurityMaterial): string {
  const quote = (value: string): string => JSON.stringify(value);
  return [
    '# benchfarm NATS authentication (operator mode), written by `benchfarm security init`.',
    `operator: ${quote(material.operatorJwt)}`,
    `system_account: ${material.systemAccountPublicKey}`,
    '# Accounts are preloaded; users are signed by the farm account signing key and need no entry here.',
    'resolver: MEMORY',
    'resolver_preload: {',
    `  ${material.systemAccountPublicKey}: ${quote(material.systemAccountJwt)}`,
    `  ${material.accountPublicKey}: ${quote(material.accountJwt)}`,
    '}',
    '',
  ].join('\n');
}

/**
 * A complete nats-server configuration of a secured farm: listen address, the authentication
 * file of {@link natsAuthConfig} (`authFile`, relative to this file's folder: nats-server 2.9 resolves even an absolute include path against it) and
 * JetStream. `storeDir` should be absolute (the server resolves it against its own working directory).
 */
export function natsServerConfig(options: { host?: string; port?: number; storeDir: string; authFile: string }): string {
  const quote = (value: string): string => JSON.stringify(value);
  return [
    '# benchfarm secured nats-server, written by `benchfarm security init`.',
    `host: ${quote(options.host ?? '0.0.0.0')}`,
    `port: ${options.port ?? 4222}`,
    `include ${quote(options.authFile)}`,
    `jetstream: { store_dir: ${quote(options.storeDir)} }`,
    '',
  ].join('\n');
}

/** The account signing-key file's JSON text. */
export function formatAccountSigningKey(material: FarmSecurityMaterial): string {
  const key: AccountSigningKey = { account: material.accountPublicKey, signingSeed: material.accountSigningSeed };
  return `${JSON.stringify(key, null, 2)}\n`;
}

/**
 * Parses the account signing-key file.
 *
 * Thrown errors: NatsCredentialsError naming the field that is missing or not a key of the right kind.
 */
export function parseAccountSigningKey(content: string): AccountSigningKey {
  let raw: unknown;
  try {
    raw = JSON.parse(content);
  } catch (err) {
    throw new NatsCredentialsError(`the account signing key file is not JSON: ${(err as Error).message}`, { cause: err });
  }
  const { account, signingSeed } = (raw ?? {}) as Partial<Record<keyof AccountSigningKey, unknown>>;
  if (typeof account !== 'string' || !isPublicKey(account, 'A')) throw new NatsCredentialsError('account signing key file: "account" must be an account public key (A...)');
  if (typeof signingSeed !== 'string' || !signingSeed.startsWith('SA')) throw new NatsCredentialsError('account signing key file: "signingSeed" must be an account seed (SA...)');
  try {
    fromSeed(new TextEncoder().encode(signingSeed));
  } catch (err) {
    throw new NatsCredentialsError('account signing key file: "signingSeed" is not a valid seed', { cause: err });
  }
  return { account, signingSeed };
}

/** Whether `value` is a valid nkey public key of the given kind (`U` user, `A` account, `O` operator). */
export function isPublicKey(value: string, kind: 'U' | 'A' | 'O'): boolean {
  if (!value.startsWith(kind) || value.length !== 56) return false;
  try {
    fromPublic(value);
    return true;
  } catch {
    return false;
  }
}

/**
 * Signs a user JWT in the farm account with the account signing key. Without `permissions` the
 * user may publish and subscribe anything within the account (the coordinator).
 *
 * Thrown errors: NatsCredentialsError when `userPublicKey` is not a user public key (U...), or
 * a permission allow-list is empty (NATS would read it as "everything").
 */
export async function signUserJwt(key: AccountSigningKey, user: { name: string; userPublicKey: string; permissions?: NatsUserPermissions }): Promise<string> {
  if (!isPublicKey(user.userPublicKey, 'U')) throw new NatsCredentialsError(`natsPublicKey: not a NATS user public key (56 characters starting with U)`);
  // To NATS an empty allow-list means "allow everything": never sign one by accident.
  if (user.permissions && (user.permissions.pub.allow.length === 0 || user.permissions.sub.allow.length === 0)) throw new NatsCredentialsError('permissions: an empty allow-list would allow everything');
  const signer: KeyPair = fromSeed(new TextEncoder().encode(key.signingSeed));
  const claims = user.permissions
    ? { issuer_account: key.account, pub: { allow: [...user.permissions.pub.allow] }, sub: { allow: [...user.permissions.sub.allow] } }
    : { issuer_account: key.account };
  return encodeUser(user.name, user.userPublicKey, signer, claims);
}

/** A standard NATS creds file (the format `nsc` writes and `credsAuthenticator` reads). */
export function formatCredsFile(jwt: string, seed: string): string {
  return [
    '-----BEGIN NATS USER JWT-----',
    jwt,
    '------END NATS USER JWT------',
    '',
    '************************* IMPORTANT *************************',
    'NKEY Seed printed below can be used to sign and prove identity.',
    'NKEYs are sensitive and should be treated as secrets.',
    '',
    '-----BEGIN USER NKEY SEED-----',
    seed,
    '------END USER NKEY SEED------',
    '',
    '*************************************************************',
    '',
  ].join('\n');
}

/** What a creds file holds. */
export interface ParsedCreds {
  readonly jwt: string;
  readonly seed: string;
  /** The user's name (`name` claim) and public key (`sub`). */
  readonly name: string;
  readonly userPublicKey: string;
  /** The account the user belongs to (`issuer_account`, or the issuer when signed by the account itself). */
  readonly account: string;
}

/**
 * Parses a creds file and checks that its seed belongs to the user its JWT names.
 *
 * Thrown errors: NatsCredentialsError saying which part is missing or inconsistent.
 */
export function parseCredsFile(content: string): ParsedCreds {
  const jwt = /-{3,}BEGIN NATS USER JWT-{3,}\s*\n\s*(\S+)\s*\n/.exec(content)?.[1];
  const seed = /-{3,}BEGIN USER NKEY SEED-{3,}\s*\n\s*(\S+)\s*\n/.exec(content)?.[1];
  if (!jwt) throw new NatsCredentialsError('creds file: no "BEGIN NATS USER JWT" block');
  if (!seed) throw new NatsCredentialsError('creds file: no "BEGIN USER NKEY SEED" block');
  let claims: ReturnType<typeof decode<{ issuer_account?: string }>>;
  try {
    claims = decode<{ issuer_account?: string }>(jwt);
  } catch (err) {
    throw new NatsCredentialsError('creds file: the JWT cannot be decoded', { cause: err });
  }
  let publicKey: string;
  try {
    publicKey = fromSeed(new TextEncoder().encode(seed)).getPublicKey();
  } catch (err) {
    throw new NatsCredentialsError('creds file: the seed is not a valid nkey seed', { cause: err });
  }
  if (publicKey !== claims.sub) throw new NatsCredentialsError(`creds file: the seed (${publicKey}) does not belong to the JWT's user (${claims.sub})`);
  return { jwt, seed, name: claims.name, userPublicKey: claims.sub, account: claims.nats.issuer_account ?? claims.iss };
}

/** A new user nkey pair, made where it will be used (the seed never travels). */
export function createUserKeyPair(): { publicKey: string; seed: string } {
  const pair = createUser();
  return { publicKey: pair.getPublicKey(), seed: text(pair.getSeed()) };
}

/**
 * Revokes NATS users of the farm account: re-signs the account JWT found in `authConfig` (the
 * text of {@link natsAuthConfig}) with the operator key, adding each user public key to its
 * `revocations` (every JWT of that user issued up to `atUnixSeconds` is refused), and returns the
 * new config text. nats-server applies it on a config reload (SIGHUP, `nats-server --signal
 * reload`): connections of revoked users are closed and refused from then on.
 *
 * Thrown errors: NatsCredentialsError when a key is not a user public key, the config holds no
 * farm account, or the operator seed is not the operator that signed it.
 */
export async function revokeUsersInAuthConfig(authConfig: string, operatorSeed: string, userPublicKeys: readonly string[], atUnixSeconds = Math.floor(Date.now() / 1000)): Promise<string> {
  for (const key of userPublicKeys) if (!isPublicKey(key, 'U')) throw new NatsCredentialsError(`not a NATS user public key (56 characters starting with U): ${JSON.stringify(key)}`);
  let operator: KeyPair;
  try {
    operator = fromSeed(new TextEncoder().encode(operatorSeed.trim()));
  } catch (err) {
    throw new NatsCredentialsError('the operator seed is not a valid seed', { cause: err });
  }
  const preload = /^([ \t]*)(A[A-Z2-7]{55}): "([^"]+)"$/gm;
  let found: { line: string; indent: string; account: string; jwt: string } | undefined;
  for (const match of authConfig.matchAll(preload)) {
    const [line, indent = '', account = '', jwt = ''] = match;
    try {
      if (decode(jwt).name === FARM_ACCOUNT_NAME) found = { line, indent, account, jwt };
    } catch {
      // not a JWT: not ours
    }
  }
  if (!found) throw new NatsCredentialsError(`the auth config holds no ${FARM_ACCOUNT_NAME} account JWT (is it the nats-auth.conf of \`benchfarm security init\`?)`);
  const claims = decode<Account>(found.jwt);
  if (claims.iss !== operator.getPublicKey()) throw new NatsCredentialsError(`the operator seed (${operator.getPublicKey()}) did not sign the ${FARM_ACCOUNT_NAME} account (issuer ${claims.iss})`);
  const revocations: Record<string, number> = { ...(claims.nats.revocations ?? {}) };
  for (const key of userPublicKeys) revocations[key] = atUnixSeconds;
  const jwt = await encodeAccount(claims.name, found.account, { ...claims.nats, revocations }, { signer: operator });
  return authConfig.replace(found.line, `${found.indent}${found.account}: "${jwt}"`);
}
