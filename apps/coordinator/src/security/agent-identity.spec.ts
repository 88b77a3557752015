import { describe, expect, it } from 'vitest';
import { DomainError, DomainErrorCode } from '../common/domain-error';
import { AgentIdentityGuard } from './agent-identity';

const callAs = (cn: string | undefined, san = cn === undefined ? undefined : `URI:spiffe://benchfarm/agent/${cn}`) => ({
  getAuthContext: () => (cn === undefined ? {} : { sslPeerCertificate: { subject: { CN: cn }, subjectaltname: san } as never }),
});
const jobs: Record<string, string> = { 'job-a': 'agent-a', 'job-b': 'agent-b' };
const guard = new AgentIdentityGuard(true, (jobId) => Promise.resolve(jobs[jobId]));
const refusal = (run: () => void): DomainError => {
  try {
    run();
  } catch (err) {
    if (err instanceof DomainError) return err;
    throw err;
  }
  throw new Error('not refused');
};
const refusalOf = async (run: () => Promise<void>): Promise<DomainError> => {
  try {
    await run();
  } catch (err) {
    if (err instanceof DomainError) return err;
    throw err;
  }
  throw new Error('not refused');
};

describe('AgentIdentityGuard (mTLS on)', () => {
  it('lets an agent act for itself and on its own or unknown jobs', async () => {
    expect(() => guard.requireAgent(callAs('agent-a'), 'agent-a', 'agent_id')).not.toThrow();
    await expect(guard.requireJob(callAs('agent-a'), 'job-a', 'job_id')).resolves.toBeUndefined();
    await expect(guard.requireJob(callAs('agent-a'), 'job-unknown', 'job_id')).resolves.toBeUndefined();
  });

  it("refuses another agent's id or job with permission_denied naming both agents and the field", async () => {
    const claimed = refusal(() => guard.requireAgent(callAs('agent-a'), 'agent-b', 'agent_id'));
    expect(claimed).toMatchObject({ code: DomainErrorCode.PermissionDenied, field: 'agent_id' });
    expect(claimed.message).toBe('the client certificate names agent agent-a but agent_id claims agent "agent-b"');
    const job = await refusalOf(() => guard.requireJob(callAs('agent-a'), 'job-b', 'header.job_id'));
    expect(job).toMatchObject({ code: DomainErrorCode.PermissionDenied, field: 'header.job_id' });
    expect(job.message).toMatch(/names agent agent-a but job job-b .* is assigned to agent agent-b/);
  });

  it('refuses a call without a certificate, or whose certificate names no agent or two', () => {
    expect(refusal(() => guard.requireAgent(callAs(undefined), 'agent-a', 'agent_id')).message).toMatch(/no verified client certificate/);
    expect(refusal(() => guard.requireAgent(callAs('agent-a', 'DNS:agent-a'), 'agent-a', 'agent_id')).code).toBe(DomainErrorCode.PermissionDenied);
    expect(refusal(() => guard.requireAgent(callAs('agent-a', 'URI:spiffe://benchfarm/agent/agent-a, URI:spiffe://benchfarm/agent/agent-b'), 'agent-a', 'agent_id')).code).toBe(
      DomainErrorCode.PermissionDenied,
    );
  });

  it('refuses an upload without a lease token with permission_denied naming the field', () => {
    expect(() => guard.requireLeaseToken(callAs('agent-a'), 'lease_0123', 'header.lease_token')).not.toThrow();
    const empty = refusal(() => guard.requireLeaseToken(callAs('agent-a'), '', 'header.lease_token'));
    expect(empty).toMatchObject({ code: DomainErrorCode.PermissionDenied, field: 'header.lease_token' });
    expect(empty.message).toMatch(/header\.lease_token is empty: with mTLS an upload must carry the lease its agent was granted/);
  });

  it('checks nothing when mTLS is off', async () => {
    const off = AgentIdentityGuard.off();
    expect(() => off.requireAgent(callAs(undefined), 'anyone', 'agent_id')).not.toThrow();
    await expect(off.requireJob(callAs(undefined), 'job-b', 'job_id')).resolves.toBeUndefined();
    expect(() => off.requireLeaseToken(callAs(undefined), '', 'header.lease_token')).not.toThrow();
  });
});
