import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createUserKeyPair, formatAccountSigningKey, formatCredsFile, generateFarmSecurity, parseAccountSigningKey, signUserJwt, agentPermissions } from '@benchfarm/messaging';
import { AgentConfigError, loadAgentConfig } from './config';

describe('agent NATS creds (BENCHFARM_NATS_CREDS)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bf-agent-creds-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const credsFor = async (agentId: string): Promise<string> => {
    const key = parseAccountSigningKey(formatAccountSigningKey(await generateFarmSecurity()));
    const pair = createUserKeyPair();
    const path = join(dir, `${agentId}.creds`);
    writeFileSync(path, formatCredsFile(await signUserJwt(key, { name: agentId, userPublicKey: pair.publicKey, permissions: agentPermissions(agentId) }), pair.seed));
    return path;
  };
  const issues = (input: Parameters<typeof loadAgentConfig>[0]): string[] => {
    try {
      loadAgentConfig(input);
      return [];
    } catch (err) {
      if (err instanceof AgentConfigError) return err.issues;
      throw err;
    }
  };

  it('accepts creds enrolled for this agent id', async () => {
    const path = await credsFor('pi-1');
    expect(loadAgentConfig({ agentId: 'pi-1', natsCredsFile: path }).natsCredsFile).toBe(path);
  });

  it.each<[string, (path: string) => string, RegExp]>([
    ['another agent id', (path) => path, /enrolled for agent "pi-1", not "pi-2"/],
    ['a missing file', () => join(dir, 'nope.creds'), /cannot read .*ENOENT/],
    ['a file that is not creds', () => {
      writeFileSync(join(dir, 'junk.creds'), 'hello');
      return join(dir, 'junk.creds');
    }, /no "BEGIN NATS USER JWT" block/],
  ])('refuses %s, naming natsCredsFile', async (_what, pathOf, message) => {
    const found = issues({ agentId: 'pi-2', natsCredsFile: pathOf(await credsFor('pi-1')) });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^natsCredsFile: /);
    expect(found[0]).toMatch(message);
  });
});
