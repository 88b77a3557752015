import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatAccountSigningKey, generateFarmSecurity } from '@benchfarm/messaging';
import { ConfigError, loadConfig } from '../config';

describe('coordinator NATS auth settings', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bf-coord-nats-'));
  const path = (name: string): string => join(dir, name);
  beforeAll(async () => {
    const farm = await generateFarmSecurity();
    const other = await generateFarmSecurity();
    writeFileSync(path('coordinator.creds'), farm.coordinatorCreds);
    writeFileSync(path('signing.json'), formatAccountSigningKey(farm));
    writeFileSync(path('other-signing.json'), formatAccountSigningKey(other));
    writeFileSync(path('junk'), 'junk');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const issues = (input: Record<string, string>): Array<{ key: string; envVar: string; message: string }> => {
    try {
      loadConfig(input, {});
      return [];
    } catch (err) {
      if (err instanceof ConfigError) return [...err.issues];
      throw err;
    }
  };

  it('accepts creds with the signing key of the same account, and public addresses', () => {
    const config = loadConfig({ natsCredsFile: path('coordinator.creds'), natsAccountSigningKeyFile: path('signing.json'), publicNatsUrl: 'nats://farm.lab:4222', publicGrpcAddress: 'farm.lab:50051' }, {});
    expect(config).toMatchObject({ natsCredsFile: path('coordinator.creds'), publicNatsUrl: 'nats://farm.lab:4222', publicGrpcAddress: 'farm.lab:50051' });
  });

  it.each<[string, Record<string, string>, string, string, RegExp]>([
    ['a signing key of another account', { natsCredsFile: 'coordinator.creds', natsAccountSigningKeyFile: 'other-signing.json' }, 'natsAccountSigningKeyFile', 'BENCHFARM_NATS_ACCOUNT_SIGNING_KEY', /signs for account .* but the coordinator's creds are in account/],
    ['a signing key without creds', { natsAccountSigningKeyFile: 'signing.json' }, 'natsAccountSigningKeyFile', 'BENCHFARM_NATS_ACCOUNT_SIGNING_KEY', /set BENCHFARM_NATS_CREDS too/],
    ['creds that are not creds', { natsCredsFile: 'junk' }, 'natsCredsFile', 'BENCHFARM_NATS_CREDS', /no "BEGIN NATS USER JWT" block/],
    ['missing creds', { natsCredsFile: 'missing' }, 'natsCredsFile', 'BENCHFARM_NATS_CREDS', /ENOENT/],
    ['a signing key that is not JSON', { natsCredsFile: 'coordinator.creds', natsAccountSigningKeyFile: 'junk' }, 'natsAccountSigningKeyFile', 'BENCHFARM_NATS_ACCOUNT_SIGNING_KEY', /not JSON/],
  ])('refuses %s, naming the setting', (_what, files, key, envVar, message) => {
    const input = Object.fromEntries(Object.entries(files).map(([k, v]) => [k, path(v)]));
    const found = issues(input);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ key, envVar });
    expect(found[0]?.message).toMatch(message);
  });

  it('takes the hub JetStream domain from BENCHFARM_PUBLIC_NATS_JS_DOMAIN; blank is none', () => {
    expect(loadConfig({}, { BENCHFARM_PUBLIC_NATS_JS_DOMAIN: 'hub' }).publicNatsJsDomain).toBe('hub');
    expect(loadConfig({}, { BENCHFARM_PUBLIC_NATS_JS_DOMAIN: ' ' }).publicNatsJsDomain).toBeUndefined();
    expect(issues({ publicNatsJsDomain: '$JS.hub' })[0]?.message).toMatch(/JetStream domain: 1-64 characters/);
  });

  it.each<[Record<string, string>, string]>([
    [{ publicNatsUrl: 'http://farm:4222' }, 'publicNatsUrl'],
    [{ publicGrpcAddress: 'farm.lab' }, 'publicGrpcAddress'],
    [{ publicNatsJsDomain: 'hub.>' }, 'publicNatsJsDomain'],
    [{ publicNatsJsDomain: 'a b' }, 'publicNatsJsDomain'],
    [{ publicNatsJsDomain: 'x'.repeat(65) }, 'publicNatsJsDomain'],
  ])('refuses %j', (input, key) => {
    expect(issues(input).map((i) => i.key)).toEqual([key]);
  });
});
