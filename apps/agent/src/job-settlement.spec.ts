import { describe, expect, it } from 'vitest';
import { UploadOutcome } from '@benchfarm/protocol';
import { NAK_COORDINATOR_UNREACHABLE_MS, NAK_RETRYABLE_ERROR_MS, NAK_UPLOAD_FAILED_MS, settlementOf, type JobOutcome, type Settlement } from './job-settlement';

describe('settlementOf: job outcome -> ack / nak / term', () => {
  const table: Array<[string, JobOutcome, Settlement]> = [
    ['success: result committed', { kind: 'uploaded', outcome: UploadOutcome.UPLOAD_OUTCOME_COMMITTED, jobFinal: true }, { action: 'ack' }],
    ['success: result was already stored', { kind: 'uploaded', outcome: UploadOutcome.UPLOAD_OUTCOME_DUPLICATE, jobFinal: true }, { action: 'ack' }],
    ['committed, not marked final', { kind: 'uploaded', outcome: UploadOutcome.UPLOAD_OUTCOME_COMMITTED, jobFinal: false }, { action: 'ack' }],
    ['permanent error: recorded, job final', { kind: 'uploaded', outcome: UploadOutcome.UPLOAD_OUTCOME_ERROR_RECORDED, jobFinal: true }, { action: 'ack' }],
    ['retriable error: recorded, tried again', { kind: 'uploaded', outcome: UploadOutcome.UPLOAD_OUTCOME_ERROR_RECORDED, jobFinal: false }, { action: 'nak', delayMs: NAK_RETRYABLE_ERROR_MS }],
    ['unspecified upload outcome, not final', { kind: 'uploaded', outcome: UploadOutcome.UPLOAD_OUTCOME_UNSPECIFIED, jobFinal: false }, { action: 'nak', delayMs: NAK_RETRYABLE_ERROR_MS }],
    ['undecodable message', { kind: 'undecodable', reason: 'bad wire type' }, { action: 'term', reason: 'not a BenchJob: bad wire type' }],
    ['job not for this agent', { kind: 'invalid', reason: 'addressed to another agent (b)' }, { action: 'term', reason: 'job not valid for this agent: addressed to another agent (b)' }],
    ['lease refused', { kind: 'leaseRefused', reason: 'LEASE_DECISION_FINISHED: done' }, { action: 'term', reason: 'no lease: LEASE_DECISION_FINISHED: done' }],
    ['coordinator unreachable', { kind: 'coordinatorUnreachable', shuttingDown: false }, { action: 'nak', delayMs: NAK_COORDINATOR_UNREACHABLE_MS }],
    ['coordinator unreachable while shutting down', { kind: 'coordinatorUnreachable', shuttingDown: true }, { action: 'nak', delayMs: 0 }],
    ['lease lost mid-job (cancelled / superseded)', { kind: 'leaseLost', reason: 'lease LEASE_STATUS_CANCELLED: x' }, { action: 'term', reason: 'job stopped: lease LEASE_STATUS_CANCELLED: x' }],
    ['shutdown mid-job', { kind: 'shutdown' }, { action: 'nak', delayMs: 0 }],
    ['result refused for good', { kind: 'resultRefused', reason: 'INVALID_ARGUMENT' }, { action: 'term', reason: 'the coordinator refused the result: INVALID_ARGUMENT' }],
    ['result could not be delivered', { kind: 'uploadFailed' }, { action: 'nak', delayMs: NAK_UPLOAD_FAILED_MS }],
  ];

  it.each(table)('%s', (_name, outcome, settlement) => {
    expect(settlementOf(outcome)).toEqual(settlement);
  });

  it('covers every kind of outcome', () => {
    const kinds: Array<JobOutcome['kind']> = ['undecodable', 'invalid', 'leaseRefused', 'coordinatorUnreachable', 'leaseLost', 'shutdown', 'uploaded', 'resultRefused', 'uploadFailed'];
    expect(new Set(table.map(([, o]) => o.kind))).toEqual(new Set(kinds));
  });

  it('gives back after a delay the jobs that are nobody\'s fault yet, at once on shutdown', () => {
    expect([NAK_COORDINATOR_UNREACHABLE_MS, NAK_RETRYABLE_ERROR_MS, NAK_UPLOAD_FAILED_MS]).toEqual([1_000, 2_000, 5_000]);
  });
});
