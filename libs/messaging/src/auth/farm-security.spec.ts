import { decode } from '@nats-io/jwt';
import { describe, expect, it } from 'vitest';
import { agentPermissions } from './permissions';
import {
  NatsCredentialsError,
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
} from './farm-security';

describe('farm security material', () => {
  it('generates an operator, the system account, a JetStream-enabled farm account with a signing key, and coordinator creds', async () => {
    const m = await generateFarmSecurity();
    const op = decode<{ system_account: string }>(m.operatorJwt);
    expect(op.nats.system_account).toBe(m.systemAccountPublicKey);
    const account = decode<{ signing_keys: string[]; limits: Record<string, unknown> }>(m.accountJwt);
    expect(account.sub).toBe(m.accountPublicKey);
    expect(account.iss).toBe(op.sub);
    expect(account.nats.limits).toMatchObject({ conn: -1, subs: -1, disk_storage: -1, streams: -1, consumer: -1 });
    const signing = parseAccountSigningKey(formatAccountSigningKey(m));
    expect(account.nats.signing_keys).toHaveLength(1);
    expect(signing.account).toBe(m.accountPublicKey);
    const creds = parseCredsFile(m.coordinatorCreds);
    expect(creds.name).toBe('coordinator');
    expect(creds.account).toBe(m.accountPublicKey);
    const user = decode<{ pub?: unknown; sub?: unknown }>(creds.jwt);
    // signed by the signing key, not the account key; no restrictions
    expect(account.nats.signing_keys).toContain(user.iss);
    expect(user.nats.pub).toBeUndefined();
  });

  it('writes an includable auth config in operator mode with a preloaded MEMORY resolver, and a server config including it', async () => {
    const m = await generateFarmSecurity();
    const auth = natsAuthConfig(m);
    expect(auth).toContain(`operator: "${m.operatorJwt}"`);
    expect(auth).toContain(`system_account: ${m.systemAccountPublicKey}`);
    expect(auth).toContain('resolver: MEMORY');
    expect(auth).toContain(`${m.accountPublicKey}: "${m.accountJwt}"`);
    expect(auth).toContain(`${m.systemAccountPublicKey}: "${m.systemAccountJwt}"`);
    const conf = natsServerConfig({ port: 4333, storeDir: '/var/lib/x y', authFile: 'nats-auth.conf' });
    expect(conf).toContain('port: 4333');
    expect(conf).toContain('include "nats-auth.conf"');
    expect(conf).toContain('jetstream: { store_dir: "/var/lib/x y" }');
  });

  it('signs an agent user with its permissions for a public key only', async () => {
    const m = await generateFarmSecurity();
    const key = parseAccountSigningKey(formatAccountSigningKey(m));
    const pair = createUserKeyPair();
    const jwt = await signUserJwt(key, { name: 'pi-1', userPublicKey: pair.publicKey, permissions: agentPermissions('pi-1') });
    const claims = decode<{ issuer_account: string; pub: { allow: string[] }; sub: { allow: string[] } }>(jwt);
    expect(claims.sub).toBe(pair.publicKey);
    expect(claims.name).toBe('pi-1');
    expect(claims.nats.issuer_account).toBe(m.accountPublicKey);
    expect(claims.nats.pub?.allow).toEqual(agentPermissions('pi-1').pub.allow);
    expect(claims.nats.sub?.allow).toEqual(['_INBOX_pi-1.>']);
    const parsed = parseCredsFile(formatCredsFile(jwt, pair.seed));
    expect(parsed.userPublicKey).toBe(pair.publicKey);
  });

  it.each([
    ['empty', ''],
    ['an account key', 'ABJHLOVMPA4CI6R5KLNGOB4GSLNIY7IOUPAJC4YFNDLQVIOBYQGUWVLA'],
    ['a seed', 'SUAM3VZ3ZVGXZT5GMBD2UZK5R5VSMPLJUO4YAZCKZLRDHA5GVZTUJB6WNE'],
    ['a truncated user key', 'UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF'],
    ['a user key with a bad checksum', 'UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNFA'],
  ])('refuses %s as the user public key', async (_what, userPublicKey) => {
    const m = await generateFarmSecurity();
    await expect(signUserJwt(parseAccountSigningKey(formatAccountSigningKey(m)), { name: 'x', userPublicKey })).rejects.toThrow(/natsPublicKey/);
  });

  it('refuses to sign an empty allow-list (NATS reads it as everything)', async () => {
    const key = parseAccountSigningKey(formatAccountSigningKey(await generateFarmSecurity()));
    await expect(signUserJwt(key, { name: 'x', userPublicKey: createUserKeyPair().publicKey, permissions: { pub: { allow: ['a'] }, sub: { allow: [] } } })).rejects.toThrow(/empty allow-list/);
  });

  it.each([
    ['not JSON', 'nope', /not JSON/],
    ['no account', '{"signingSeed":"SAx"}', /"account"/],
    ['a user key as account', '{"account":"UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNFA","signingSeed":"SA"}', /"account"/],
  ])('refuses a signing key file that is %s', (_what, content, message) => {
    expect(() => parseAccountSigningKey(content)).toThrow(message);
  });

  it('revokes users by re-signing the farm account in the auth config with the operator key', async () => {
    const m = await generateFarmSecurity();
    const auth = natsAuthConfig(m);
    const [a, b] = [createUserKeyPair().publicKey, createUserKeyPair().publicKey];
    const once = await revokeUsersInAuthConfig(auth, m.operatorSeed, [a], 1_800_000_000);
    const twice = await revokeUsersInAuthConfig(once, m.operatorSeed, [b], 1_800_000_100);
    const jwtOf = (text: string): string => new RegExp(`${m.accountPublicKey}: "([^"]+)"`).exec(text)?.[1] ?? '';
    const claims = decode<{ revocations: Record<string, number>; signing_keys: string[]; limits: Record<string, unknown> }>(jwtOf(twice));
    expect(claims.nats.revocations).toEqual({ [a]: 1_800_000_000, [b]: 1_800_000_100 });
    expect(claims.nats.signing_keys).toEqual(decode<{ signing_keys: string[] }>(m.accountJwt).nats.signing_keys);
    expect(claims.nats.limits).toMatchObject({ disk_storage: -1, conn: -1 });
    expect(claims.iss).toBe(decode(m.operatorJwt).sub);
    // Only the farm account's line changed.
    expect(twice.replace(jwtOf(twice), '')).toBe(auth.replace(m.accountJwt, ''));
    await expect(revokeUsersInAuthConfig(auth, (await generateFarmSecurity()).operatorSeed, [a])).rejects.toThrow(/did not sign/);
    await expect(revokeUsersInAuthConfig(auth, m.operatorSeed, [m.accountPublicKey])).rejects.toThrow(/not a NATS user public key/);
    await expect(revokeUsersInAuthConfig('port: 4222', m.operatorSeed, [a])).rejects.toThrow(/no BENCHFARM account/);
  });

  it('refuses creds whose seed is not the JWT user', async () => {
    const m = await generateFarmSecurity();
    const { jwt } = parseCredsFile(m.coordinatorCreds);
    expect(() => parseCredsFile(formatCredsFile(jwt, createUserKeyPair().seed))).toThrow(/does not belong/);
    expect(() => parseCredsFile('garbage')).toThrow(NatsCredentialsError);
  });
});
