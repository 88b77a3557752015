import { type ServerUnaryCall, type sendUnaryData } from '@grpc/grpc-js';
import { Logger } from '@nestjs/common';
import {
  LeaseDecision,
  LeaseStatus,
  type AcquireLeaseRequest,
  type AcquireLeaseResponse,
  type LeasesServer,
  type RenewLeaseRequest,
  type RenewLeaseResponse,
  type UploadStatusRequest,
  type UploadStatusResponse,
} from '@benchfarm/protocol';
import { DomainError, DomainErrorCode, errorMessage } from '../common/domain-error';
import { AgentIdentityGuard } from '../security/agent-identity';
import { assertGrpcRequestBounds, GRPC_DETAILS_MAX_CHARS } from '../results/grpc-bounds';
import { toServiceError } from '../results/results.grpc';
import { truncateUntrusted } from '../common/untrusted-text';
import type { ResultsService } from '../results/results.service';
import type { LeaseService } from './lease.service';

function answer<T>(callback: sendUnaryData<T>, log: Logger, work: () => Promise<T>): void {
  work().then(
    (value) => callback(null, value),
    (err: unknown) => {
      if (err instanceof DomainError) {
        if (err.code === DomainErrorCode.PermissionDenied) log.warn(truncateUntrusted(`lease call refused: ${err.message}`, GRPC_DETAILS_MAX_CHARS));
      } else {
        log.error(truncateUntrusted(`lease call failed: ${errorMessage(err)}`, GRPC_DETAILS_MAX_CHARS));
      }
      callback(toServiceError(err));
    },
  );
}

/**
 * The `benchfarm.v1.Leases` handlers: acquire and renew per-attempt leases, and report upload
 * progress. With mTLS, acquire and renew must name the certificate's agent, and upload status is
 * told only about a job assigned to it (checked before the lease service runs: nothing changes).
 */
export function leasesServer(leases: LeaseService, results: ResultsService, guard = AgentIdentityGuard.off(), log = new Logger('LeasesGrpc')): LeasesServer {
  return {
    acquire(call: ServerUnaryCall<AcquireLeaseRequest, AcquireLeaseResponse>, callback: sendUnaryData<AcquireLeaseResponse>): void {
      answer(callback, log, async () => {
        assertGrpcRequestBounds(call.request);
        guard.requireAgent(call, call.request.agentId, 'agent_id');
        const grant = await leases.acquire(call.request);
        switch (grant.decision) {
          case 'granted':
            return { decision: LeaseDecision.LEASE_DECISION_GRANTED, leaseToken: grant.token, attempt: grant.attempt, reason: '', leaseTtlMs: leases.leaseTtlMs };
          case 'finished':
            return { decision: LeaseDecision.LEASE_DECISION_FINISHED, leaseToken: '', attempt: 0, reason: grant.reason, leaseTtlMs: leases.leaseTtlMs };
          case 'not_yours':
            return { decision: LeaseDecision.LEASE_DECISION_NOT_YOURS, leaseToken: '', attempt: 0, reason: grant.reason, leaseTtlMs: leases.leaseTtlMs };
        }
      });
    },
    renew(call: ServerUnaryCall<RenewLeaseRequest, RenewLeaseResponse>, callback: sendUnaryData<RenewLeaseResponse>): void {
      answer(callback, log, async () => {
        assertGrpcRequestBounds(call.request);
        guard.requireAgent(call, call.request.agentId, 'agent_id');
        const renewal = await leases.renew(call.request);
        switch (renewal.status) {
          case 'active':
            return { status: LeaseStatus.LEASE_STATUS_ACTIVE, reason: '' };
          case 'cancelled':
            return { status: LeaseStatus.LEASE_STATUS_CANCELLED, reason: renewal.reason };
          case 'superseded':
            return { status: LeaseStatus.LEASE_STATUS_SUPERSEDED, reason: renewal.reason };
          case 'unknown':
            return { status: LeaseStatus.LEASE_STATUS_UNKNOWN, reason: renewal.reason };
        }
      });
    },
    uploadStatus(call: ServerUnaryCall<UploadStatusRequest, UploadStatusResponse>, callback: sendUnaryData<UploadStatusResponse>): void {
      answer(callback, log, async () => {
        assertGrpcRequestBounds(call.request);
        await guard.requireJob(call, call.request.jobId, 'job_id');
        return results.uploadStatus(call.request.jobId, call.request.uploadId);
      });
    },
  };
}
