import { Server, ServerCredentials, status, type ServerErrorResponse, type ServerReadableStream, type ServiceDefinition, type UntypedServiceImplementation, type sendUnaryData } from '@grpc/grpc-js';
import { Logger } from '@nestjs/common';
import { ResultsService as ResultsServiceDefinition, type ResultEvent, type ResultsServer, type UploadAck } from '@benchfarm/protocol';
import { DomainError, type DomainErrorCode, errorMessage } from '../common/domain-error';
import { EDGE_STATUS_OF_CODE } from '../common/edge-status';
import { AgentIdentityGuard, type GrpcServerTls } from '../security/agent-identity';
import { truncateUntrusted } from '../common/untrusted-text';
import { GRPC_DETAILS_MAX_CHARS, assertGrpcRequestBounds } from './grpc-bounds';
import type { ResultsService } from './results.service';

/** Largest gRPC message accepted (agents chunk raw samples well below it). */
export const GRPC_MAX_RECEIVE_MESSAGE_BYTES = 4 * 1024 * 1024;

/** The gRPC status of a domain error code (see {@link EDGE_STATUS_OF_CODE}). */
export function grpcStatusOf(code: DomainErrorCode): status {
  return EDGE_STATUS_OF_CODE[code].grpc;
}

/**
 * The gRPC error reply of a thrown value. Its status message is cut to
 * {@link GRPC_DETAILS_MAX_CHARS}: it travels in an HTTP/2 trailer, and one of ~100 KB (an
 * echoed 100k-character job id) never reached the client, which waited for its deadline.
 */
export function toServiceError(err: unknown): Partial<ServerErrorResponse> & { code: status } {
  const message = truncateUntrusted(err instanceof DomainError ? err.message : `internal error: ${errorMessage(err)}`, GRPC_DETAILS_MAX_CHARS);
  if (err instanceof DomainError) return { code: grpcStatusOf(err.code), details: message, name: err.name, message };
  return { code: status.INTERNAL, details: message, name: 'InternalError', message };
}

/**
 * The `benchfarm.v1.Results` handlers. Each event is checked as it arrives (a stream for an
 * unknown job or another agent's job is refused at its first event); the reply is sent only
 * after the commit, because the agent acks the NATS job only once it has it. With mTLS, the
 * first event's header must name the certificate's agent and a job assigned to it, checked
 * before the upload session sees the event (every later header must equal the first).
 */
export function resultsServer(service: ResultsService, guard = AgentIdentityGuard.off(), log = new Logger('ResultsGrpc')): ResultsServer {
  return {
    upload(call: ServerReadableStream<ResultEvent, UploadAck>, callback: sendUnaryData<UploadAck>): void {
      const session = service.openUpload();
      let answered = false;
      let identityChecked = false;
      const fail = (err: unknown): void => {
        if (answered) return;
        answered = true;
        if (!(err instanceof DomainError)) log.error(truncateUntrusted(`result upload failed: ${errorMessage(err)}`, GRPC_DETAILS_MAX_CHARS), err instanceof Error ? err.stack : undefined);
        else log.warn(truncateUntrusted(`result upload refused: ${err.message}`, GRPC_DETAILS_MAX_CHARS));
        callback(toServiceError(err));
      };
      // Events are handled one after the other, each after the previous one's database work:
      // the first event's checks must finish before the next event is looked at.
      let handled: Promise<void> = Promise.resolve();
      const inOrder = (step: () => Promise<void>): void => {
        handled = handled.then(step).catch(fail);
      };
      call.on('data', (event: ResultEvent) => {
        inOrder(async () => {
          if (answered) return;
          assertGrpcRequestBounds(event);
          if (!identityChecked && event.header) {
            guard.requireAgent(call, event.header.agentId, 'header.agent_id');
            await guard.requireJob(call, event.header.jobId, 'header.job_id');
            guard.requireLeaseToken(call, event.header.leaseToken, 'header.lease_token');
            identityChecked = true;
          }
          await session.accept(event);
        });
      });
      call.on('end', () => {
        inOrder(async () => {
          if (answered) return;
          const ack = await session.finish();
          answered = true;
          callback(null, ack);
        });
      });
      const abandon = (): void => {
        inOrder(() => {
          if (!answered) {
            answered = true;
            session.abort();
          }
          return Promise.resolve();
        });
      };
      call.on('cancelled', abandon);
      call.on('error', abandon);
    },
  };
}

/** A running gRPC server. */
export interface GrpcServerHandle {
  /** `host:port` agents dial. */
  readonly address: string;
  readonly port: number;
  /** Stops accepting calls, lets running ones finish for up to `graceMs`, then cuts them. */
  close(graceMs?: number): Promise<void>;
}

/** Another service served beside Results (e.g. Leases). */
export interface ExtraGrpcService {
  readonly definition: ServiceDefinition;
  readonly implementation: UntypedServiceImplementation;
}

/** How the gRPC server authenticates its callers. */
export interface GrpcSecurityOptions {
  /** Server certificate and key, and the client CA for mTLS; absent: plaintext. */
  readonly tls?: GrpcServerTls | undefined;
  /** The identity checks of the Results handlers (the extra services bring their own). */
  readonly guard?: AgentIdentityGuard | undefined;
}

/**
 * Starts the gRPC server of the results service, with keepalive on and a 4 MB receive limit,
 * over TLS when `security.tls` is given (client certificates required when it has a client CA).
 */
export async function startGrpcServer(service: ResultsService, host: string, port: number, extra: readonly ExtraGrpcService[] = [], security: GrpcSecurityOptions = {}): Promise<GrpcServerHandle> {
  const server = new Server({
    'grpc.max_receive_message_length': GRPC_MAX_RECEIVE_MESSAGE_BYTES,
    // Long uploads: ping idle connections so a dead agent's stream is noticed, and let
    // agents ping as often as every 5 s without being sent GOAWAY.
    'grpc.keepalive_time_ms': 20_000,
    'grpc.keepalive_timeout_ms': 10_000,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.http2.min_ping_interval_without_data_ms': 5_000,
  });
  server.addService(ResultsServiceDefinition, resultsServer(service, security.guard));
  for (const { definition, implementation } of extra) server.addService(definition, implementation);
  const hostPart = host.includes(':') ? `[${host}]` : host;
  const { tls } = security;
  const credentials = tls
    ? ServerCredentials.createSsl(tls.clientCaPem ?? null, [{ cert_chain: tls.certificatePem, private_key: tls.keyPem }], tls.clientCaPem !== undefined)
    : ServerCredentials.createInsecure();
  const boundPort = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${hostPart}:${port}`, credentials, (err, actual) => (err ? reject(err) : resolve(actual)));
  });
  return {
    address: `${hostPart}:${boundPort}`,
    port: boundPort,
    close: (graceMs = 5_000) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}
