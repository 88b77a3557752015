import { describe, expect, it } from 'vitest';
import { InvalidAgentIdError } from '../topology';
import { InvalidJsDomainError, agentInboxPrefix, agentPermissions, assertJsDomain } from './permissions';

/** NATS subject matching (`*` one token, `>` the rest), as the server applies an allow-list. */
function matches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length || (p[i] !== '*' && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}
const allowed = (list: readonly string[], subject: string): boolean => list.some((pattern) => matches(pattern, subject));

describe('agentPermissions', () => {
  const perms = agentPermissions('pi-1');
  it.each([
    ['$JS.API.INFO', true],
    ['$JS.API.CONSUMER.INFO.BENCH_JOBS.agent-pi-1', true],
    ['$JS.API.CONSUMER.MSG.NEXT.BENCH_JOBS.agent-pi-1', true],
    ['$JS.ACK.BENCH_JOBS.agent-pi-1.1.5.5.1700000000000000000.0', true],
    ['$KV.benchfarm-agents.pi-1', true],
    ['$JS.API.STREAM.INFO.KV_benchfarm-agents', true],
    ['$JS.API.STREAM.INFO.OBJ_benchfarm-models', true],
    ['$JS.API.STREAM.MSG.GET.OBJ_benchfarm-models', true],
    ['$JS.API.DIRECT.GET.OBJ_benchfarm-models', true],
    ['$JS.API.CONSUMER.CREATE.OBJ_benchfarm-models.oc_x_1.$O.benchfarm-models.C.nuid123', false],
    ['$JS.FC.OBJ_benchfarm-models.oc_x_1.abcd', false],
    // another agent's consumer, acks and registry entry
    ['$JS.API.CONSUMER.MSG.NEXT.BENCH_JOBS.agent-pi-2', false],
    ['$JS.API.CONSUMER.INFO.BENCH_JOBS.agent-pi-2', false],
    ['$JS.ACK.BENCH_JOBS.agent-pi-2.1.5.5.1700000000000000000.0', false],
    ['$KV.benchfarm-agents.pi-2', false],
    // a prefix of the agent id is another agent
    ['$JS.API.CONSUMER.MSG.NEXT.BENCH_JOBS.agent-pi-10', false],
    ['$KV.benchfarm-agents.pi-10', false],
    // jobs, the job stream's messages, creating or deleting anything
    ['bench.jobs.pi-2', false],
    ['bench.jobs.pi-1', false],
    ['$JS.API.STREAM.MSG.GET.BENCH_JOBS', false],
    ['$JS.API.DIRECT.GET.BENCH_JOBS', false],
    ['$JS.API.STREAM.INFO.BENCH_JOBS', false],
    ['$JS.API.STREAM.CREATE.EVIL', false],
    ['$JS.API.STREAM.DELETE.BENCH_JOBS', false],
    ['$JS.API.STREAM.PURGE.BENCH_JOBS', false],
    ['$JS.API.CONSUMER.CREATE.BENCH_JOBS', false],
    ['$JS.API.CONSUMER.CREATE.BENCH_JOBS.spy.bench.jobs.pi-2', false],
    ['$JS.API.CONSUMER.DURABLE.CREATE.BENCH_JOBS.spy', false],
    ['$JS.API.CONSUMER.DELETE.BENCH_JOBS.agent-pi-2', false],
    ['$JS.API.CONSUMER.CREATE.OBJ_benchfarm-models', false],
    ['$JS.API.CONSUMER.CREATE.OBJ_benchfarm-models.spy.$O.benchfarm-models.>', false],
    ['$O.benchfarm-models.C.nuid123', false],
    ['$JS.API.STREAM.PURGE.OBJ_benchfarm-models', false],
  ])('publish %s -> %s', (subject, expected) => {
    expect(allowed(perms.pub.allow, subject)).toBe(expected);
  });

  it.each([
    ['_INBOX_pi-1.abc.1', true],
    ['_INBOX_pi-1.>', true],
    ['_INBOX_pi-2.abc.1', false],
    ['_INBOX.abc', false],
    ['_INBOX.>', false],
    ['bench.jobs.pi-2', false],
    ['$KV.benchfarm-agents.>', false],
    ['>', false],
  ])('subscribe %s -> %s', (subject, expected) => {
    expect(allowed(perms.sub.allow, subject)).toBe(expected);
  });

  it('uses the agent inbox prefix for subscriptions', () => {
    expect(agentInboxPrefix('pi-1')).toBe('_INBOX_pi-1');
    expect(perms.sub.allow).toEqual(['_INBOX_pi-1.>']);
  });

  it.each(['', '../x', 'a.b', 'a*', 'a>', 'a b', 'x'.repeat(65)])('refuses the agent id %j', (agentId) => {
    expect(() => agentPermissions(agentId)).toThrow(InvalidAgentIdError);
    expect(() => agentInboxPrefix(agentId)).toThrow(InvalidAgentIdError);
  });
});

describe('agentPermissions with a JetStream domain (an agent behind a leaf node)', () => {
  const perms = agentPermissions('pi-1', { jsDomain: 'hub' });

  it('without a domain grants exactly the plain set, as before', () => {
    expect(agentPermissions('pi-1').pub.allow).toEqual([
      '$JS.API.INFO',
      '$JS.API.CONSUMER.INFO.BENCH_JOBS.agent-pi-1',
      '$JS.API.CONSUMER.MSG.NEXT.BENCH_JOBS.agent-pi-1',
      '$JS.ACK.BENCH_JOBS.agent-pi-1.>',
      '$KV.benchfarm-agents.pi-1',
      '$JS.API.STREAM.INFO.KV_benchfarm-agents',
      '$JS.API.STREAM.INFO.OBJ_benchfarm-models',
      '$JS.API.STREAM.MSG.GET.OBJ_benchfarm-models',
      '$JS.API.DIRECT.GET.OBJ_benchfarm-models',
    ]);
  });

  it('adds each JetStream API entry under the domain, and the registry put through the API prefix; nothing else', () => {
    const plain = agentPermissions('pi-1').pub.allow;
    const added = perms.pub.allow.filter((s) => !plain.includes(s));
    expect(plain.every((s) => perms.pub.allow.includes(s))).toBe(true);
    expect(added.sort()).toEqual(
      [...plain.filter((s) => s.startsWith('$JS.API.')).map((s) => s.replace('$JS.API.', '$JS.hub.API.')), '$JS.hub.API.$KV.benchfarm-agents.pi-1'].sort(),
    );
    expect(perms.sub).toEqual(agentPermissions('pi-1').sub);
  });

  it.each([
    ['$JS.hub.API.INFO', true],
    ['$JS.API.INFO', true],
    ['$JS.hub.API.CONSUMER.INFO.BENCH_JOBS.agent-pi-1', true],
    ['$JS.hub.API.CONSUMER.MSG.NEXT.BENCH_JOBS.agent-pi-1', true],
    ['$JS.hub.API.$KV.benchfarm-agents.pi-1', true],
    ['$KV.benchfarm-agents.pi-1', true],
    ['$JS.ACK.BENCH_JOBS.agent-pi-1.1.5.5.1700000000000000000.0', true],
    ['$JS.hub.API.STREAM.INFO.KV_benchfarm-agents', true],
    ['$JS.hub.API.STREAM.INFO.OBJ_benchfarm-models', true],
    ['$JS.hub.API.STREAM.MSG.GET.OBJ_benchfarm-models', true],
    ['$JS.hub.API.DIRECT.GET.OBJ_benchfarm-models', true],
    ['$JS.hub.API.CONSUMER.CREATE.OBJ_benchfarm-models.oc_x_1.$O.benchfarm-models.C.nuid123', false],
    ['$JS.FC.OBJ_benchfarm-models.oc_x_1.abcd', false],
    // another agent, under the domain as well
    ['$JS.hub.API.CONSUMER.MSG.NEXT.BENCH_JOBS.agent-pi-2', false],
    ['$JS.hub.API.CONSUMER.INFO.BENCH_JOBS.agent-pi-2', false],
    ['$JS.hub.API.CONSUMER.MSG.NEXT.BENCH_JOBS.agent-pi-10', false],
    ['$JS.hub.API.$KV.benchfarm-agents.pi-2', false],
    ['$JS.API.$KV.benchfarm-agents.pi-1', false],
    // another domain (the leaf's own JetStream) and anything that creates, deletes or reads jobs
    ['$JS.edge.API.INFO', false],
    ['$JS.edge.API.CONSUMER.MSG.NEXT.BENCH_JOBS.agent-pi-1', false],
    ['$JS.hub.API.STREAM.CREATE.EVIL', false],
    ['$JS.hub.API.STREAM.DELETE.BENCH_JOBS', false],
    ['$JS.hub.API.STREAM.MSG.GET.BENCH_JOBS', false],
    ['$JS.hub.API.DIRECT.GET.BENCH_JOBS', false],
    ['$JS.hub.API.CONSUMER.CREATE.BENCH_JOBS.spy.bench.jobs.pi-2', false],
    ['$JS.hub.API.CONSUMER.DURABLE.CREATE.BENCH_JOBS.spy', false],
    ['$JS.hub.API.CONSUMER.DELETE.BENCH_JOBS.agent-pi-2', false],
    ['$JS.hub.API.CONSUMER.CREATE.OBJ_benchfarm-models.spy.$O.benchfarm-models.>', false],
    ['bench.jobs.pi-2', false],
  ])('publish %s -> %s', (subject, expected) => {
    expect(allowed(perms.pub.allow, subject)).toBe(expected);
  });

  it.each(['', 'a.b', '*', '>', 'hub.>', 'a b', '$JS', 'x'.repeat(65)])('refuses the domain %j, naming it', (jsDomain) => {
    expect(() => agentPermissions('pi-1', { jsDomain })).toThrow(InvalidJsDomainError);
    expect(() => assertJsDomain(jsDomain)).toThrow(`invalid JetStream domain ${JSON.stringify(jsDomain)}`);
  });

  it('accepts a domain of letters, digits, _ and -', () => {
    expect(assertJsDomain('hub_1-eu')).toBe('hub_1-eu');
    expect(agentPermissions('pi-1', { jsDomain: undefined })).toEqual(agentPermissions('pi-1'));
  });
});
