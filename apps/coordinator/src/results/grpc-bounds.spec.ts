import { describe, expect, it } from 'vitest';
import { ResultEvent, Summary } from '@benchfarm/protocol';
import { DomainError } from '../common/domain-error';
import { truncateUntrusted } from '../common/untrusted-text';
import { assertGrpcRequestBounds } from './grpc-bounds';

function refusal(message: object): { field: string | undefined; message: string } | undefined {
  try {
    assertGrpcRequestBounds(message);
  } catch (err) {
    if (err instanceof DomainError) return { field: err.field, message: err.message };
    throw err;
  }
  return undefined;
}

const header = { jobId: 'job_1', sweepId: 'sweep_1', agentId: 'agent-1', attempt: 1, uploadId: 'job_1.1.u', leaseToken: 'lease_1', resumeFromEvent: 0 };

describe('assertGrpcRequestBounds', () => {
  it.each<[string, object, string | undefined]>([
    ['a lease request of normal size', { jobId: 'job_1', sweepId: 'sweep_1', agentId: 'agent-1', deliveryCount: 1 }, undefined],
    ['a job id of 129 characters', { jobId: 'j'.repeat(129), agentId: 'a', leaseToken: 't' }, 'job_id'],
    ['an agent id of 65 characters', { jobId: 'j', agentId: 'a'.repeat(65), leaseToken: 't' }, 'agent_id'],
    ['an upload id of 257 characters', { jobId: 'j', uploadId: 'u'.repeat(257), leaseToken: 't' }, 'upload_id'],
    ['a lease token of 129 characters', { jobId: 'j', agentId: 'a', leaseToken: 't'.repeat(129) }, 'lease_token'],
    ['a header job id of 100k characters', ResultEvent.fromPartial({ header: { ...header, jobId: 'j'.repeat(100_000) } }), 'header.job_id'],
    ['an error message of 65537 characters, through the oneof', ResultEvent.fromPartial({ header, event: { $case: 'error', value: { message: 'e'.repeat(65_537) } } }), 'error.message'],
    ['10001 percentiles', ResultEvent.fromPartial({ header, event: { $case: 'summary', value: Summary.fromPartial({ percentiles: Array.from({ length: 10_001 }, () => ({ quantile: 0.5 })) }) } }), 'summary.percentiles'],
    ['a free-text field deep in a summary', ResultEvent.fromPartial({ header, event: { $case: 'summary', value: Summary.fromPartial({ unmeasured: [{ field: 'x', reason: 'r'.repeat(70_000) }] }) } }), 'summary.unmeasured[0].reason'],
    ['a samples chunk of 500k doubles', ResultEvent.fromPartial({ header, event: { $case: 'samples', value: { offset: 0, latencyMs: new Array<number>(500_000).fill(1) } } }), undefined],
  ])('%s -> %s', (_case, message, field) => expect(refusal(message)?.field).toBe(field));

  it('names the bound and the length', () => {
    expect(refusal({ jobId: 'j'.repeat(100_000) })?.message).toBe('job_id is 100000 characters long; at most 128');
  });
});

describe('truncateUntrusted', () => {
  it('keeps a short string and cuts a long one, saying how much was left out', () => {
    expect(truncateUntrusted('job_1')).toBe('job_1');
    expect(truncateUntrusted('x'.repeat(250), 200)).toBe(`${'x'.repeat(200)}... (50 more characters)`);
  });
});
