import { generateKeyPairSync } from 'node:crypto';
import { decode } from '@nats-io/jwt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createUserKeyPair, formatAccountSigningKey, generateFarmSecurity, parseAccountSigningKey, signUserJwt, agentPermissions, type AccountSigningKey } from '@benchfarm/messaging';
import { Clock } from '../common/clock';
import { DomainError, DomainErrorCode } from '../common/domain-error';
import { loadConfig } from '../config';
import { STORE_KINDS, testStores } from '../testing/stores';
import type { SqlDatabase } from '../storage/sql';
import type { AgentCertificateIssuer } from '../security/agent-certificates';
import { AgentProvisioner } from './agent-provisioner';
import { SqlEnrollmentRepository } from './enrollment.repository';
import { EnrollmentService } from './enrollment.service';

class FixedClock extends Clock {
  constructor(public now: number) {
    super();
  }
  nowMs(): number {
    return this.now;
  }
}

/** Signs for real; the JetStream side effect is recorded (the int-spec runs it against nats-server). */
class RecordingProvisioner extends AgentProvisioner {
  readonly consumers: string[] = [];
  failNext = false;
  constructor(
    private readonly key: AccountSigningKey | undefined,
  ) {
    super();
  }
  get enabled(): boolean {
    return this.key !== undefined;
  }
  signAgentUser(agentId: string, natsPublicKey: string, jsDomain?: string): Promise<string> {
    return signUserJwt(this.key!, { name: agentId, userPublicKey: natsPublicKey, permissions: agentPermissions(agentId, { jsDomain }) });
  }
  async ensureConsumer(agentId: string): Promise<void> {
    if (this.failNext) {
      this.failNext = false;
      throw new Error('nats down');
    }
    this.consumers.push(agentId);
  }
}

const refusal = async (p: Promise<unknown> | (() => unknown)): Promise<DomainError> => {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    if (err instanceof DomainError) return err;
    throw err;
  }
  throw new Error('expected a DomainError');
};

describe.each(STORE_KINDS)('EnrollmentService (real %s)', (kind) => {
  const stores = testStores(kind);
  let db: SqlDatabase;
  let clock: FixedClock;
  let nats: RecordingProvisioner;
  let service: EnrollmentService;
  let issued: Array<[string, string]>;
  const config = loadConfig({ natsUrl: 'nats://10.0.0.1:4222', publicGrpcAddress: 'farm.lab:50051' }, {});
  const tlsKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const issuer: AgentCertificateIssuer = {
    async issue(agentId, publicKeyPem) {
      issued.push([agentId, publicKeyPem]);
      return { certificatePem: `CERT ${agentId}`, caCertificatePem: 'CA' };
    },
  };

  beforeEach(async () => {
    db = await stores.open();
    clock = new FixedClock(1_800_000_000_000);
    const material = await generateFarmSecurity();
    nats = new RecordingProvisioner(parseAccountSigningKey(formatAccountSigningKey(material)));
    issued = [];
    service = new EnrollmentService(new SqlEnrollmentRepository(db), nats, clock, config, issuer);
  });
  afterEach(() => db.close());

  const rows = (): Promise<Array<{ agent_id: string; used_at_ms: number | null; code_sha256: string }>> => db.all('SELECT agent_id, used_at_ms, code_sha256 FROM enrollment_codes ORDER BY created_at_ms, code_sha256');

  it('issues a random code stored only as its SHA-256, and enrolls the agent once with it', async () => {
    const { code, expiresAtUnixMs } = await service.createCode({ agentId: 'pi-1' });
    expect(code.length).toBeGreaterThanOrEqual(43);
    expect(expiresAtUnixMs).toBe(clock.now + 3600_000);
    expect(JSON.stringify(await rows())).not.toContain(code);
    const keys = createUserKeyPair();
    const view = await service.enroll({ agentId: 'pi-1', code, natsPublicKey: keys.publicKey, tlsPublicKeyPem: tlsKey });
    expect(view).toMatchObject({ agentId: 'pi-1', natsUrl: 'nats://10.0.0.1:4222', grpcAddress: 'farm.lab:50051', tls: { certificatePem: 'CERT pi-1', caCertificatePem: 'CA' } });
    const claims = decode<{ pub: { allow: string[] }; sub: { allow: string[] } }>(view.natsUserJwt);
    expect(claims.sub).toBe(keys.publicKey);
    expect(claims.name).toBe('pi-1');
    expect(claims.nats.sub?.allow).toEqual(['_INBOX_pi-1.>']);
    expect(nats.consumers).toEqual(['pi-1']);
    expect((await rows())[0]?.used_at_ms).toBe(clock.now);
    const again = await refusal(service.enroll({ agentId: 'pi-1', code, natsPublicKey: createUserKeyPair().publicKey }));
    expect(again).toMatchObject({ code: DomainErrorCode.EnrollmentCodeUsed, field: 'code' });
    expect(nats.consumers).toEqual(['pi-1']);
  });

  it('refuses an unknown and an expired code, writing nothing', async () => {
    const unknown = await refusal(service.enroll({ agentId: 'pi-1', code: 'A'.repeat(43), natsPublicKey: createUserKeyPair().publicKey }));
    expect(unknown).toMatchObject({ code: DomainErrorCode.EnrollmentCodeInvalid, field: 'code' });
    const { code } = await service.createCode({ agentId: 'pi-1', ttlSeconds: 60 });
    clock.now += 60_000;
    const expired = await refusal(service.enroll({ agentId: 'pi-1', code, natsPublicKey: createUserKeyPair().publicKey }));
    expect(expired).toMatchObject({ code: DomainErrorCode.EnrollmentCodeInvalid, field: 'code' });
    expect(expired.message).toMatch(/expired/);
    expect((await rows())[0]?.used_at_ms).toBeNull();
    expect(nats.consumers).toEqual([]);
  });

  it.each<[string, Record<string, unknown>, DomainErrorCode, string]>([
    ['another agent id', { agentId: 'pi-2' }, DomainErrorCode.EnrollmentCodeInvalid, 'agentId'],
    ['a traversal-like agent id', { agentId: '../../etc' }, DomainErrorCode.InvalidArgument, 'agentId'],
    ['a wildcard agent id', { agentId: 'pi-1.>' }, DomainErrorCode.InvalidArgument, 'agentId'],
    ['no agent id', { agentId: undefined }, DomainErrorCode.InvalidArgument, 'agentId'],
    ['an account key as NATS key', { natsPublicKey: 'ABJHLOVMPA4CI6R5KLNGOB4GSLNIY7IOUPAJC4YFNDLQVIOBYQGUWVLA' }, DomainErrorCode.InvalidArgument, 'natsPublicKey'],
    ['a seed as NATS key', { natsPublicKey: 'SUAM3VZ3ZVGXZT5GMBD2UZK5R5VSMPLJUO4YAZCKZLRDHA5GVZTUJB6WNE' }, DomainErrorCode.InvalidArgument, 'natsPublicKey'],
    ['a TLS key that is not PEM', { tlsPublicKeyPem: 'not a key' }, DomainErrorCode.InvalidArgument, 'tlsPublicKeyPem'],
    ['a malformed code', { code: 'short' }, DomainErrorCode.InvalidArgument, 'code'],
  ])('refuses %s, names the field, and leaves the code usable', async (_what, change, code, field) => {
    const issuedCode = (await service.createCode({ agentId: 'pi-1' })).code;
    const body = { agentId: 'pi-1', code: issuedCode, natsPublicKey: createUserKeyPair().publicKey, ...change };
    const err = await refusal(service.enroll(body));
    expect(err).toMatchObject({ code, field });
    expect((await rows())[0]?.used_at_ms).toBeNull();
    expect(nats.consumers).toEqual([]);
    expect(issued).toEqual([]);
    await service.enroll({ agentId: 'pi-1', code: issuedCode, natsPublicKey: createUserKeyPair().publicKey });
    expect(nats.consumers).toEqual(['pi-1']);
  });

  it('gives the code back when the consumer cannot be created', async () => {
    const { code } = await service.createCode({ agentId: 'pi-1' });
    nats.failNext = true;
    const err = await refusal(service.enroll({ agentId: 'pi-1', code, natsPublicKey: createUserKeyPair().publicKey }));
    expect(err.code).toBe(DomainErrorCode.MessagingUnavailable);
    expect((await rows())[0]?.used_at_ms).toBeNull();
    await service.enroll({ agentId: 'pi-1', code, natsPublicKey: createUserKeyPair().publicKey });
  });

  it('lets only one of two concurrent enrollments with one code through', async () => {
    const { code } = await service.createCode({ agentId: 'pi-1' });
    const outcomes = await Promise.allSettled([0, 1].map(() => service.enroll({ agentId: 'pi-1', code, natsPublicKey: createUserKeyPair().publicKey })));
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    expect((outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult).reason).toMatchObject({ code: DomainErrorCode.EnrollmentCodeUsed });
  });

  it.each<[Record<string, unknown>, string]>([
    [{ agentId: 'a/b' }, 'agentId'],
    [{ agentId: 'pi-1', ttlSeconds: 0 }, 'ttlSeconds'],
    [{ agentId: 'pi-1', ttlSeconds: 1.5 }, 'ttlSeconds'],
    [{ agentId: 'pi-1', ttlSeconds: '60' }, 'ttlSeconds'],
    [{ agentId: 'pi-1', ttlSeconds: 8 * 24 * 3600 }, 'ttlSeconds'],
  ])('refuses to issue a code for %j', async (body, field) => {
    expect(await refusal(() => service.createCode(body))).toMatchObject({ code: DomainErrorCode.InvalidArgument, field });
    expect(await rows()).toEqual([]);
  });

  it('ensures the job consumer of every enrolled agent at start-up (not of agents with an unused code), surviving a failure', async () => {
    for (const agentId of ['pi-2', 'pi-1']) {
      const { code } = await service.createCode({ agentId });
      await service.enroll({ agentId, code, natsPublicKey: createUserKeyPair().publicKey });
    }
    await service.createCode({ agentId: 'pi-3' });
    nats.consumers.length = 0;
    await service.onApplicationBootstrap();
    expect(nats.consumers).toEqual(['pi-1', 'pi-2']);
    nats.consumers.length = 0;
    nats.failNext = true;
    await service.onApplicationBootstrap();
    expect(nats.consumers).toEqual(['pi-2']);
  });

  it('says enrollment is off without a signing key', async () => {
    const off = new EnrollmentService(new SqlEnrollmentRepository(db), new RecordingProvisioner(undefined), clock, config, null);
    expect(await refusal(() => off.createCode({ agentId: 'pi-1' }))).toMatchObject({ code: DomainErrorCode.EnrollmentDisabled });
    expect((await refusal(off.enroll({ agentId: 'pi-1' }))).message).toMatch(/BENCHFARM_NATS_ACCOUNT_SIGNING_KEY/);
  });

  it('with BENCHFARM_PUBLIC_NATS_JS_DOMAIN signs JetStream API permissions under the domain and returns it', async () => {
    const edge = new EnrollmentService(new SqlEnrollmentRepository(db), nats, clock, loadConfig({ publicNatsJsDomain: 'hub' }, {}), null);
    const { code } = await edge.createCode({ agentId: 'pi-1' });
    const view = await edge.enroll({ agentId: 'pi-1', code, natsPublicKey: createUserKeyPair().publicKey });
    expect(view.natsJsDomain).toBe('hub');
    const allow = decode<{ pub: { allow: string[] } }>(view.natsUserJwt).nats.pub?.allow ?? [];
    expect(allow).toEqual(agentPermissions('pi-1', { jsDomain: 'hub' }).pub.allow);
    expect(allow).toContain('$JS.hub.API.CONSUMER.MSG.NEXT.BENCH_JOBS.agent-pi-1');
    // Without the setting: no domain in the view, plain $JS.API.
    const plainCode = (await service.createCode({ agentId: 'pi-2' })).code;
    const plain = await service.enroll({ agentId: 'pi-2', code: plainCode, natsPublicKey: createUserKeyPair().publicKey });
    expect(plain.natsJsDomain).toBeUndefined();
    expect(decode<{ pub: { allow: string[] } }>(plain.natsUserJwt).nats.pub?.allow).toContain('$JS.API.CONSUMER.MSG.NEXT.BENCH_JOBS.agent-pi-2');
  });

  it('returns no certificate without an issuer, and the own gRPC address without a public one', async () => {
    const plain = new EnrollmentService(new SqlEnrollmentRepository(db), nats, clock, loadConfig({}, {}), null);
    plain.setOwnGrpcAddress('127.0.0.1:4321');
    const { code } = await plain.createCode({ agentId: 'pi-1' });
    const view = await plain.enroll({ agentId: 'pi-1', code, natsPublicKey: createUserKeyPair().publicKey, tlsPublicKeyPem: tlsKey });
    expect(view.tls).toBeUndefined();
    expect(view.grpcAddress).toBe('127.0.0.1:4321');
    expect(view.natsUrl).toBe('nats://127.0.0.1:4222');
  });
});
