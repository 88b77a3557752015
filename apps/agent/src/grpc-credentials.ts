import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { credentials, type ChannelCredentials } from '@grpc/grpc-js';

/**
 * The gRPC TLS settings of an agent (AgentConfig's fields of the same names). Spelled out here
 * rather than picked from AgentConfig: config.ts calls {@link grpcTlsIssues} to check them, and
 * a type import back would close an import cycle.
 */
export interface AgentGrpcTls {
  /** CA certificate the coordinator's gRPC server certificate must chain to; set: gRPC over TLS. */
  readonly grpcTlsCaFile?: string | undefined;
  /** The agent's client certificate for mTLS, with {@link grpcTlsKeyFile}. */
  readonly grpcTlsCertFile?: string | undefined;
  /** The key of {@link grpcTlsCertFile}. */
  readonly grpcTlsKeyFile?: string | undefined;
}

/** The environment variable of each gRPC TLS setting (fixed: `benchfarm agent --enrolled DIR` sets them). */
export const GRPC_TLS_ENV_VARS = {
  grpcTlsCaFile: 'BENCHFARM_GRPC_TLS_CA',
  grpcTlsCertFile: 'BENCHFARM_GRPC_TLS_CERT',
  grpcTlsKeyFile: 'BENCHFARM_GRPC_TLS_KEY',
} as const;

/** The SAN URI prefix of agent certificates issued by the farm CA (the coordinator's pki.ts). */
const AGENT_URI_PREFIX = 'spiffe://benchfarm/agent/';

function read(field: keyof AgentGrpcTls, path: string, issues: string[]): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    issues.push(`${field} (${GRPC_TLS_ENV_VARS[field]}): cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    return undefined;
  }
}

function certificate(field: keyof AgentGrpcTls, path: string, issues: string[]): X509Certificate | undefined {
  const pem = read(field, path, issues);
  if (pem === undefined) return undefined;
  try {
    return new X509Certificate(pem);
  } catch (err) {
    issues.push(`${field} (${GRPC_TLS_ENV_VARS[field]}): ${path} is not a PEM X.509 certificate: ${(err as Error).message}`);
    return undefined;
  }
}

/**
 * Checks the gRPC TLS files at start-up rather than at the first handshake: the client
 * certificate and key come together, every file is readable and parses, the key is the
 * certificate's, and the CA file holds a CA certificate. Returns one line per problem, naming
 * the setting and its variable (empty when all is well or TLS is off).
 */
export function grpcTlsIssues(tls: AgentGrpcTls & { agentId?: string | undefined }): string[] {
  const issues: string[] = [];
  const { grpcTlsCaFile: caFile, grpcTlsCertFile: certFile, grpcTlsKeyFile: keyFile } = tls;
  if ((certFile === undefined) !== (keyFile === undefined)) {
    const [given, missing] = certFile === undefined ? (['grpcTlsKeyFile', 'grpcTlsCertFile'] as const) : (['grpcTlsCertFile', 'grpcTlsKeyFile'] as const);
    issues.push(`${missing} (${GRPC_TLS_ENV_VARS[missing]}): ${GRPC_TLS_ENV_VARS[given]} is set but ${GRPC_TLS_ENV_VARS[missing]} is not; a client certificate needs its key (set both, or neither)`);
  }
  if (caFile !== undefined) {
    const ca = certificate('grpcTlsCaFile', caFile, issues);
    if (ca && !ca.ca) issues.push(`grpcTlsCaFile (${GRPC_TLS_ENV_VARS.grpcTlsCaFile}): ${caFile} is not a CA certificate (basicConstraints CA:FALSE)`);
  }
  const cert = certFile === undefined ? undefined : certificate('grpcTlsCertFile', certFile, issues);
  const named = cert?.subjectAltName?.split(/,\s*/).filter((n) => n.startsWith(`URI:${AGENT_URI_PREFIX}`)).map((n) => n.slice(`URI:${AGENT_URI_PREFIX}`.length));
  // The coordinator refuses every call that acts for another agent than the certificate names.
  if (named && tls.agentId !== undefined && named.length > 0 && !named.includes(tls.agentId)) {
    issues.push(`grpcTlsCertFile (${GRPC_TLS_ENV_VARS.grpcTlsCertFile}): ${certFile} is agent ${named.join(', ')}'s certificate, but this agent's id is ${tls.agentId}; run it with that id`);
  }
  if (keyFile !== undefined) {
    const pem = read('grpcTlsKeyFile', keyFile, issues);
    let key: KeyObject | undefined;
    try {
      key = pem === undefined ? undefined : createPrivateKey(pem);
    } catch (err) {
      issues.push(`grpcTlsKeyFile (${GRPC_TLS_ENV_VARS.grpcTlsKeyFile}): ${keyFile} is not a PEM private key: ${(err as Error).message}`);
    }
    if (key && cert && !cert.checkPrivateKey(key)) issues.push(`grpcTlsKeyFile (${GRPC_TLS_ENV_VARS.grpcTlsKeyFile}): ${keyFile} is not the key of the certificate in ${GRPC_TLS_ENV_VARS.grpcTlsCertFile}`);
  }
  return issues;
}

/**
 * The channel credentials of the agent's gRPC clients: plaintext when no TLS file is set;
 * otherwise TLS that accepts only a server certificate from `grpcTlsCaFile` (the system roots
 * when it is absent) and, with `grpcTlsCertFile`/`grpcTlsKeyFile`, presents the agent's client
 * certificate (mTLS). The files were checked by loadAgentConfig; this reads them again.
 */
export function agentChannelCredentials(tls: AgentGrpcTls): ChannelCredentials {
  const { grpcTlsCaFile: caFile, grpcTlsCertFile: certFile, grpcTlsKeyFile: keyFile } = tls;
  if (caFile === undefined && certFile === undefined && keyFile === undefined) return credentials.createInsecure();
  return credentials.createSsl(
    caFile === undefined ? null : readFileSync(caFile),
    keyFile === undefined ? null : readFileSync(keyFile),
    certFile === undefined ? null : readFileSync(certFile),
  );
}
