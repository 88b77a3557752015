import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { DEFAULT_FARM_LIMITS, JOB_ACK_WAIT_MS, JOB_MAX_DELIVER, parseAccountSigningKey, parseCredsFile } from '@benchfarm/messaging';
import { LOG_LEVELS, type CoordinatorLogLevel } from './common/json-logger';

/** The validated, defaulted settings of one coordinator. */
export interface CoordinatorConfig {
  /** NATS server URL(s), comma-separated (`BENCHFARM_NATS_URL`). */
  readonly natsUrl: string;
  /**
   * Replicas of the job stream, agent registry and model bucket (`BENCHFARM_NATS_REPLICAS`: 1,
   * 3 or 5; default 1). 3 on a 3-server NATS cluster: losing one server loses nothing.
   */
  readonly natsReplicas: number;
  /** Interface the REST API listens on (`BENCHFARM_HTTP_HOST`, default 127.0.0.1). */
  readonly httpHost: string;
  /** Port of the REST API; 0 picks a free one (`BENCHFARM_HTTP_PORT`, default 8080). */
  readonly httpPort: number;
  /** Interface the gRPC results service listens on (`BENCHFARM_GRPC_HOST`, default 127.0.0.1). */
  readonly grpcHost: string;
  /** Port of the gRPC results service; 0 picks a free one (`BENCHFARM_GRPC_PORT`, default 50051). */
  readonly grpcPort: number;
  /** SQLite file of sweeps, jobs and results (`BENCHFARM_DB`), absolute; unused when {@link databaseUrl} is set. */
  readonly dbPath: string;
  /**
   * PostgreSQL server of sweeps, jobs and results (`BENCHFARM_DATABASE_URL`,
   * `postgres://user:password@host:port/database`): several coordinators share it. Absent: the
   * SQLite file {@link dbPath}. Holds the password: never log it (the store's description omits it).
   */
  readonly databaseUrl?: string | undefined;
  /** Folder for uploads and variant working files (`BENCHFARM_DATA_DIR`), absolute. */
  readonly dataDir: string;
  /** Largest model file accepted, in bytes (`BENCHFARM_MAX_MODEL_BYTES`, default 1 GiB). */
  readonly maxModelBytes: number;
  /** Largest image of a dataset accepted, in bytes (`BENCHFARM_MAX_DATASET_IMAGE_BYTES`, default 50 MiB). */
  readonly maxDatasetImageBytes: number;
  /** Largest dataset accepted (images and labels together), in bytes (`BENCHFARM_MAX_DATASET_BYTES`, default 10 GiB). */
  readonly maxDatasetBytes: number;
  /** Most images a dataset may have (`BENCHFARM_MAX_DATASET_IMAGES`, default 50000). */
  readonly maxDatasetImages: number;
  /** Largest labels (COCO JSON) file of a dataset, in bytes (`BENCHFARM_MAX_DATASET_LABELS_BYTES`, default 256 MiB; the coordinator parses it whole). */
  readonly maxDatasetLabelsBytes: number;
  /** A dataset upload left without activity this long is dropped with its bytes (`BENCHFARM_DATASET_UPLOAD_TTL_MS`, default 24 h). */
  readonly datasetUploadTtlMs: number;
  /** Largest JSON request body, in bytes (`BENCHFARM_MAX_JSON_BODY_BYTES`, default 16 MiB): a dataset manifest lists every image. */
  readonly maxJsonBodyBytes: number;
  /**
   * Most elements one model input tensor may have, batch included (`BENCHFARM_MAX_INPUT_ELEMENTS`,
   * default 67108864: 256 MiB of float32). Agents generate every input in memory.
   */
  readonly maxInputElements: number;
  /** Most variants one sweep may derive or bring, own variants included (`BENCHFARM_MAX_VARIANTS_PER_SWEEP`, default 32). */
  readonly maxVariantsPerSweep: number;
  /** Most jobs one sweep may queue, comparison jobs included (`BENCHFARM_MAX_JOBS_PER_SWEEP`, default 1000). */
  readonly maxJobsPerSweep: number;
  /**
   * A queued job no agent took within this long is deleted by NATS and failed here as expired
   * (`BENCHFARM_JOB_MAX_AGE_MS`, default 7 days: the longest agent outage its jobs survive).
   */
  readonly jobMaxAgeMs: number;
  /** Most jobs queued for one agent; a sweep that would queue more fails to publish them (`BENCHFARM_JOB_QUEUE_MAX_PER_AGENT`, default 50000). */
  readonly jobQueueMaxPerAgent: number;
  /** Most bytes of queued jobs, all agents together (`BENCHFARM_JOB_STREAM_MAX_BYTES`, default 1 GiB). */
  readonly jobStreamMaxBytes: number;
  /**
   * Most bytes of the model bucket: models, variants, dataset images (`BENCHFARM_MODEL_STORE_MAX_BYTES`);
   * a put beyond is refused. Default 0: none of its own, nats-server's JetStream storage limit is
   * its limit (a stream's max_bytes is reserved out of that storage when it is set).
   */
  readonly modelStoreMaxBytes: number;
  /** An agent whose last heartbeat is older than this is reported stale (`BENCHFARM_AGENT_STALE_AFTER_MS`). */
  readonly agentStaleAfterMs: number;
  /**
   * An attempt whose lease was not renewed for this long loses it (`BENCHFARM_LEASE_TTL_MS`,
   * default AckWait, 30 s); tests shorten it together with the agents' AckWait.
   */
  readonly leaseTtlMs: number;
  /** How often leases and agent heartbeats are checked (`BENCHFARM_MONITOR_INTERVAL_MS`, default 5 s). */
  readonly monitorIntervalMs: number;
  /** Attempts a job gets before it fails for good (`BENCHFARM_MAX_ATTEMPTS`, default MaxDeliver, 3). */
  readonly maxAttempts: number;
  /** Least severe log level written to stderr (`BENCHFARM_LOG_LEVEL`: error, warn, info, debug; default info). */
  readonly logLevel: CoordinatorLogLevel;
  /**
   * Bearer token every REST request must carry, except GET /healthz and GET /metrics
   * (`BENCHFARM_API_TOKEN`, at least 16 characters); absent: no REST authentication.
   */
  readonly apiToken?: string | undefined;
  /**
   * Allows binding REST or gRPC to a non-loopback interface without authentication
   * (`BENCHFARM_ALLOW_INSECURE_BIND=true`): for a private container network, never for a lab LAN.
   */
  readonly allowInsecureBind: boolean;
  /**
   * PEM certificate (chain) of the gRPC server (`BENCHFARM_GRPC_TLS_CERT`); with
   * {@link grpcTlsKeyFile}, gRPC is served over TLS. Absent: plaintext gRPC (loopback only).
   */
  readonly grpcTlsCertFile?: string | undefined;
  /** PEM private key of the gRPC server certificate (`BENCHFARM_GRPC_TLS_KEY`), 0600. */
  readonly grpcTlsKeyFile?: string | undefined;
  /**
   * PEM CA certificate(s) agents' client certificates must chain to (`BENCHFARM_GRPC_TLS_CLIENT_CA`):
   * when set, mTLS is required and every gRPC call must act for the agent its certificate names.
   */
  readonly grpcTlsClientCaFile?: string | undefined;
  /**
   * Farm CA certificate (`BENCHFARM_PKI_CA_CERT`) and key (`BENCHFARM_PKI_CA_KEY`, 0600) the
   * coordinator signs enrolled agents' client certificates with; both or neither, and only with gRPC TLS.
   */
  readonly pkiCaCertFile?: string | undefined;
  /** See {@link pkiCaCertFile}. */
  readonly pkiCaKeyFile?: string | undefined;
  /** NATS creds file the coordinator connects with (`BENCHFARM_NATS_CREDS`, from `benchfarm security init`); absent: no NATS authentication. */
  readonly natsCredsFile?: string | undefined;
  /**
   * The farm account's signing key file (`BENCHFARM_NATS_ACCOUNT_SIGNING_KEY`, 0600): enables
   * enrollment, which signs each agent a NATS user with its own permissions. Needs {@link natsCredsFile}.
   */
  readonly natsAccountSigningKeyFile?: string | undefined;
  /** NATS URL(s) enrolled agents should dial (`BENCHFARM_PUBLIC_NATS_URL`, default {@link natsUrl}). */
  readonly publicNatsUrl?: string | undefined;
  /** gRPC host:port enrolled agents should dial (`BENCHFARM_PUBLIC_GRPC_ADDRESS`, default the coordinator's own). */
  readonly publicGrpcAddress?: string | undefined;
  /**
   * JetStream domain of the hub (`BENCHFARM_PUBLIC_NATS_JS_DOMAIN`, the `jetstream { domain }` of
   * its servers): enrolled agents get their JetStream API permissions under `$JS.<domain>.API`
   * and are told to use it, so they work behind a leaf node as well as on the hub. Absent: plain `$JS.API`.
   */
  readonly publicNatsJsDomain?: string | undefined;
}

/** Settings given in code; each one overrides its environment variable. */
export type CoordinatorConfigInput = { [K in keyof CoordinatorConfig]?: CoordinatorConfig[K] | string };

/** The environment variable of each setting. */
export const CONFIG_ENV_VARS: { readonly [K in keyof CoordinatorConfig]: string } = {
  natsUrl: 'BENCHFARM_NATS_URL',
  natsReplicas: 'BENCHFARM_NATS_REPLICAS',
  httpHost: 'BENCHFARM_HTTP_HOST',
  httpPort: 'BENCHFARM_HTTP_PORT',
  grpcHost: 'BENCHFARM_GRPC_HOST',
  grpcPort: 'BENCHFARM_GRPC_PORT',
  dbPath: 'BENCHFARM_DB',
  databaseUrl: 'BENCHFARM_DATABASE_URL',
  dataDir: 'BENCHFARM_DATA_DIR',
  maxModelBytes: 'BENCHFARM_MAX_MODEL_BYTES',
  maxDatasetImageBytes: 'BENCHFARM_MAX_DATASET_IMAGE_BYTES',
  maxDatasetBytes: 'BENCHFARM_MAX_DATASET_BYTES',
  maxDatasetImages: 'BENCHFARM_MAX_DATASET_IMAGES',
  maxDatasetLabelsBytes: 'BENCHFARM_MAX_DATASET_LABELS_BYTES',
  datasetUploadTtlMs: 'BENCHFARM_DATASET_UPLOAD_TTL_MS',
  maxJsonBodyBytes: 'BENCHFARM_MAX_JSON_BODY_BYTES',
  maxInputElements: 'BENCHFARM_MAX_INPUT_ELEMENTS',
  maxVariantsPerSweep: 'BENCHFARM_MAX_VARIANTS_PER_SWEEP',
  maxJobsPerSweep: 'BENCHFARM_MAX_JOBS_PER_SWEEP',
  jobMaxAgeMs: 'BENCHFARM_JOB_MAX_AGE_MS',
  jobQueueMaxPerAgent: 'BENCHFARM_JOB_QUEUE_MAX_PER_AGENT',
  jobStreamMaxBytes: 'BENCHFARM_JOB_STREAM_MAX_BYTES',
  modelStoreMaxBytes: 'BENCHFARM_MODEL_STORE_MAX_BYTES',
  agentStaleAfterMs: 'BENCHFARM_AGENT_STALE_AFTER_MS',
  logLevel: 'BENCHFARM_LOG_LEVEL',
  leaseTtlMs: 'BENCHFARM_LEASE_TTL_MS',
  monitorIntervalMs: 'BENCHFARM_MONITOR_INTERVAL_MS',
  maxAttempts: 'BENCHFARM_MAX_ATTEMPTS',
  apiToken: 'BENCHFARM_API_TOKEN',
  allowInsecureBind: 'BENCHFARM_ALLOW_INSECURE_BIND',
  grpcTlsCertFile: 'BENCHFARM_GRPC_TLS_CERT',
  grpcTlsKeyFile: 'BENCHFARM_GRPC_TLS_KEY',
  grpcTlsClientCaFile: 'BENCHFARM_GRPC_TLS_CLIENT_CA',
  pkiCaCertFile: 'BENCHFARM_PKI_CA_CERT',
  pkiCaKeyFile: 'BENCHFARM_PKI_CA_KEY',
  natsCredsFile: 'BENCHFARM_NATS_CREDS',
  natsAccountSigningKeyFile: 'BENCHFARM_NATS_ACCOUNT_SIGNING_KEY',
  publicNatsUrl: 'BENCHFARM_PUBLIC_NATS_URL',
  publicGrpcAddress: 'BENCHFARM_PUBLIC_GRPC_ADDRESS',
  publicNatsJsDomain: 'BENCHFARM_PUBLIC_NATS_JS_DOMAIN',
};

/** Thrown when the configuration is invalid; lists every bad setting at once. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly issues: ReadonlyArray<{ key: string; envVar: string; message: string }>) {
    super(`invalid coordinator configuration:\n${issues.map((i) => `  - ${i.key} (${i.envVar}): ${i.message}`).join('\n')}`);
  }
}

const blankToUndefined = (value: unknown): unknown => (typeof value === 'string' && value.trim() === '' ? undefined : typeof value === 'string' ? value.trim() : value);

const integer = (min: number, max: number, fallback: number) =>
  z.preprocess(
    (value) => {
      const v = blankToUndefined(value);
      return typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v;
    },
    z
      .number({ error: 'must be an integer' })
      .int('must be an integer')
      .min(min, `must be >= ${min}`)
      .max(max, `must be <= ${max}`)
      .default(fallback),
  );

const text = (fallback: string) => z.preprocess(blankToUndefined, z.string({ error: 'must be a string' }).min(1).default(fallback));

const natsUrl = z.preprocess(
  blankToUndefined,
  z
    .string({ error: 'must be a string' })
    .default('nats://127.0.0.1:4222')
    .refine((value) => value.split(',').every((url) => /^(nats|tls|ws|wss):\/\/[^\s]+$/.test(url.trim()) || /^[^\s:/]+:\d+$/.test(url.trim())), {
      message: 'must be nats://host:port (comma-separated for several servers)',
    }),
);

// The message never repeats the value: a database URL carries the password.
const databaseUrl = z.preprocess(
  blankToUndefined,
  z
    .string({ error: 'must be a string' })
    .refine((value) => /^postgres(ql)?:\/\/[^\s]+$/.test(value) && URL.canParse(value), { message: 'must be a postgres:// or postgresql:// URL (postgres://user:password@host:port/database)' })
    .optional(),
);

const optionalFile = z.preprocess(blankToUndefined, z.string({ error: 'must be a file path' }).optional());

const schema = z.object({
  natsUrl,
  // A raft group of an even size survives no more losses than one server smaller: odd sizes only.
  natsReplicas: integer(1, 5, 1).refine((n) => n % 2 === 1, { message: 'must be 1, 3 or 5' }),
  httpHost: text('127.0.0.1'),
  httpPort: integer(0, 65535, 8080),
  grpcHost: text('127.0.0.1'),
  grpcPort: integer(0, 65535, 50051),
  dbPath: text('.benchfarm/coordinator.db'),
  databaseUrl,
  dataDir: text('.benchfarm/coordinator'),
  maxModelBytes: integer(1, Number.MAX_SAFE_INTEGER, 1024 * 1024 * 1024),
  maxDatasetImageBytes: integer(1, Number.MAX_SAFE_INTEGER, 50 * 1024 * 1024),
  maxDatasetBytes: integer(1, Number.MAX_SAFE_INTEGER, 10 * 1024 * 1024 * 1024),
  maxDatasetImages: integer(1, 10_000_000, 50_000),
  maxDatasetLabelsBytes: integer(1, Number.MAX_SAFE_INTEGER, 256 * 1024 * 1024),
  datasetUploadTtlMs: integer(1_000, 30 * 24 * 3600 * 1000, 24 * 3600 * 1000),
  maxJsonBodyBytes: integer(1024, 1024 * 1024 * 1024, 16 * 1024 * 1024),
  maxInputElements: integer(1, Number.MAX_SAFE_INTEGER, 64 * 1024 * 1024),
  maxVariantsPerSweep: integer(1, 10_000, 32),
  maxJobsPerSweep: integer(1, 1_000_000, 1_000),
  // Stream limits (libs/messaging resolveFarmLimits has the same ranges).
  jobMaxAgeMs: integer(1_000, 3_650 * 24 * 3600 * 1000, DEFAULT_FARM_LIMITS.jobMaxAgeMs),
  jobQueueMaxPerAgent: integer(1, 100_000_000, DEFAULT_FARM_LIMITS.jobQueueMaxPerAgent),
  jobStreamMaxBytes: integer(1024 * 1024, 2 ** 50, DEFAULT_FARM_LIMITS.jobStreamMaxBytes),
  modelStoreMaxBytes: integer(0, 2 ** 50, DEFAULT_FARM_LIMITS.modelStoreMaxBytes).refine((n) => n === 0 || n >= 1024 * 1024, { message: 'must be 0 (no limit of its own) or >= 1048576' }),
  agentStaleAfterMs: integer(1, 24 * 3600 * 1000, 15_000),
  leaseTtlMs: integer(100, 3600 * 1000, JOB_ACK_WAIT_MS),
  monitorIntervalMs: integer(50, 600 * 1000, 5_000),
  maxAttempts: integer(1, 100, JOB_MAX_DELIVER),
  logLevel: z.preprocess(blankToUndefined, z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }).default('info')),
  apiToken: z.preprocess(blankToUndefined, z.string({ error: 'must be a string' }).min(16, 'must be at least 16 characters').optional()),
  allowInsecureBind: z.preprocess(
    (value) => {
      const v = blankToUndefined(value);
      if (v === 'true' || v === '1') return true;
      if (v === 'false' || v === '0') return false;
      return v;
    },
    z.boolean({ error: 'must be true or false' }).default(false),
  ),
  grpcTlsCertFile: optionalFile,
  grpcTlsKeyFile: optionalFile,
  grpcTlsClientCaFile: optionalFile,
  pkiCaCertFile: optionalFile,
  pkiCaKeyFile: optionalFile,
  natsCredsFile: optionalFile,
  natsAccountSigningKeyFile: optionalFile,
  publicNatsUrl: z.preprocess(
    blankToUndefined,
    z
      .string({ error: 'must be a string' })
      .refine((value) => value.split(',').every((url) => /^(nats|tls|ws|wss):\/\/[^\s,]+$/.test(url.trim())), { message: 'must be nats://host:port (comma-separated for several servers)' })
      .optional(),
  ),
  publicGrpcAddress: z.preprocess(blankToUndefined, z.string({ error: 'must be a string' }).regex(/^[^\s/]+:\d{1,5}$/, 'must be host:port').optional()),
  publicNatsJsDomain: z.preprocess(
    blankToUndefined,
    z.string({ error: 'must be a string' }).regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be a JetStream domain: 1-64 characters of A-Z a-z 0-9 _ - (one subject token)').optional(),
  ),
});

/** Whether a listen address only accepts connections from this machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
}

/**
 * The rule of RELIABILITY.md: nothing listens beyond loopback without authentication unless
 * explicitly allowed. REST is authenticated by the API token, gRPC by mTLS (client certificates
 * checked against BENCHFARM_GRPC_TLS_CLIENT_CA); server-only TLS authenticates no caller.
 */
function insecureBindIssues(config: z.infer<typeof schema>): { key: string; envVar: string; message: string }[] {
  if (config.allowInsecureBind) return [];
  const issues: { key: string; envVar: string; message: string }[] = [];
  if (!isLoopbackHost(config.httpHost) && config.apiToken === undefined) {
    issues.push({ key: 'httpHost', envVar: CONFIG_ENV_VARS.httpHost, message: `${config.httpHost} is not a loopback address and no API token is set: set ${CONFIG_ENV_VARS.apiToken}, bind 127.0.0.1, or set ${CONFIG_ENV_VARS.allowInsecureBind}=true` });
  }
  if (!isLoopbackHost(config.grpcHost) && !(config.grpcTlsCertFile !== undefined && config.grpcTlsKeyFile !== undefined && config.grpcTlsClientCaFile !== undefined)) {
    issues.push({
      key: 'grpcHost',
      envVar: CONFIG_ENV_VARS.grpcHost,
      message: `${config.grpcHost} is not a loopback address and gRPC callers are not authenticated: turn on mTLS (${CONFIG_ENV_VARS.grpcTlsCertFile}, ${CONFIG_ENV_VARS.grpcTlsKeyFile} and ${CONFIG_ENV_VARS.grpcTlsClientCaFile}), bind 127.0.0.1, or set ${CONFIG_ENV_VARS.allowInsecureBind}=true`,
    });
  }
  return issues;
}

type ConfigIssue = { key: string; envVar: string; message: string };

const envVarOf = (key: keyof CoordinatorConfig): string => CONFIG_ENV_VARS[key] ?? '-';

/** Reads a PEM file; undefined (and an issue) when it cannot be read. */
function readPem(key: keyof CoordinatorConfig, path: string, issues: ConfigIssue[]): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    issues.push({ key, envVar: envVarOf(key), message: `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
    return undefined;
  }
}

/** Parses a PEM certificate; undefined (and an issue) when it does not parse or, for a CA, is not one. */
function parseCertificate(key: keyof CoordinatorConfig, path: string, issues: ConfigIssue[], mustBeCa: boolean): X509Certificate | undefined {
  const pem = readPem(key, path, issues);
  if (pem === undefined) return undefined;
  try {
    const certificate = new X509Certificate(pem);
    if (mustBeCa && !certificate.ca) {
      issues.push({ key, envVar: envVarOf(key), message: `${path} is not a CA certificate (basicConstraints CA:FALSE)` });
      return undefined;
    }
    return certificate;
  } catch (err) {
    issues.push({ key, envVar: envVarOf(key), message: `${path} is not a PEM X.509 certificate: ${(err as Error).message}` });
    return undefined;
  }
}

/** Parses a PEM private key and checks it belongs to `certificate`; issues name the key's variable. */
function checkKeyPair(key: keyof CoordinatorConfig, path: string, certificate: X509Certificate | undefined, certKey: keyof CoordinatorConfig, issues: ConfigIssue[]): void {
  const pem = readPem(key, path, issues);
  if (pem === undefined) return;
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch (err) {
    issues.push({ key, envVar: envVarOf(key), message: `${path} is not a PEM private key: ${(err as Error).message}` });
    return;
  }
  if (certificate && !certificate.checkPrivateKey(privateKey)) {
    issues.push({ key, envVar: envVarOf(key), message: `${path} is not the key of the certificate in ${CONFIG_ENV_VARS[certKey]}` });
  }
}

/**
 * gRPC TLS and farm CA files: pairs given together, every file readable and parseable at start-up
 * (not at the first handshake), each key the key of its certificate.
 */
function tlsFileIssues(config: z.infer<typeof schema>): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const pair = (certKey: 'grpcTlsCertFile' | 'pkiCaCertFile', keyKey: 'grpcTlsKeyFile' | 'pkiCaKeyFile', mustBeCa: boolean): void => {
    const certPath = config[certKey];
    const keyPath = config[keyKey];
    if ((certPath === undefined) !== (keyPath === undefined)) {
      const [given, missing] = certPath === undefined ? [keyKey, certKey] : [certKey, keyKey];
      issues.push({ key: missing, envVar: envVarOf(missing), message: `${CONFIG_ENV_VARS[given]} is set but ${CONFIG_ENV_VARS[missing]} is not: set both ${CONFIG_ENV_VARS[certKey]} and ${CONFIG_ENV_VARS[keyKey]}, or neither` });
    }
    const certificate = certPath === undefined ? undefined : parseCertificate(certKey, certPath, issues, mustBeCa);
    if (keyPath !== undefined) checkKeyPair(keyKey, keyPath, certificate, certKey, issues);
  };
  pair('grpcTlsCertFile', 'grpcTlsKeyFile', false);
  pair('pkiCaCertFile', 'pkiCaKeyFile', true);
  const tlsOn = config.grpcTlsCertFile !== undefined && config.grpcTlsKeyFile !== undefined;
  if (config.grpcTlsClientCaFile !== undefined) {
    parseCertificate('grpcTlsClientCaFile', config.grpcTlsClientCaFile, issues, true);
    if (!tlsOn) issues.push({ key: 'grpcTlsClientCaFile', envVar: envVarOf('grpcTlsClientCaFile'), message: `mTLS needs gRPC TLS: set ${CONFIG_ENV_VARS.grpcTlsCertFile} and ${CONFIG_ENV_VARS.grpcTlsKeyFile} too` });
  }
  if ((config.pkiCaCertFile !== undefined || config.pkiCaKeyFile !== undefined) && !tlsOn) {
    const key = config.pkiCaKeyFile !== undefined ? 'pkiCaKeyFile' : 'pkiCaCertFile';
    issues.push({ key, envVar: envVarOf(key), message: `agent certificates are useless without gRPC TLS: set ${CONFIG_ENV_VARS.grpcTlsCertFile} and ${CONFIG_ENV_VARS.grpcTlsKeyFile} too` });
  }
  return issues;
}

/**
 * NATS creds and the account signing key, read and parsed at start-up: the creds file must hold a
 * JWT and its own seed; the signing key needs the creds (the coordinator creates each agent's
 * consumer at enrollment) and must sign for the account the coordinator's own user is in.
 */
function natsAuthFileIssues(config: z.infer<typeof schema>): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const read = (key: 'natsCredsFile' | 'natsAccountSigningKeyFile', path: string | undefined): string | undefined => (path === undefined ? undefined : readPem(key, path, issues));
  const credsText = read('natsCredsFile', config.natsCredsFile);
  const keyText = read('natsAccountSigningKeyFile', config.natsAccountSigningKeyFile);
  let credsAccount: string | undefined;
  if (credsText !== undefined) {
    try {
      credsAccount = parseCredsFile(credsText).account;
    } catch (err) {
      issues.push({ key: 'natsCredsFile', envVar: envVarOf('natsCredsFile'), message: `${config.natsCredsFile}: ${(err as Error).message}` });
    }
  }
  if (config.natsAccountSigningKeyFile !== undefined && config.natsCredsFile === undefined) {
    issues.push({ key: 'natsAccountSigningKeyFile', envVar: envVarOf('natsAccountSigningKeyFile'), message: `enrollment needs the coordinator's own NATS creds: set ${CONFIG_ENV_VARS.natsCredsFile} too` });
  }
  if (keyText !== undefined) {
    try {
      const key = parseAccountSigningKey(keyText);
      if (credsAccount !== undefined && key.account !== credsAccount) {
        issues.push({ key: 'natsAccountSigningKeyFile', envVar: envVarOf('natsAccountSigningKeyFile'), message: `signs for account ${key.account}, but the coordinator's creds are in account ${credsAccount}: use files from the same \`benchfarm security init\`` });
      }
    } catch (err) {
      issues.push({ key: 'natsAccountSigningKeyFile', envVar: envVarOf('natsAccountSigningKeyFile'), message: `${config.natsAccountSigningKeyFile}: ${(err as Error).message}` });
    }
  }
  return issues;
}

/**
 * Reads the coordinator's settings from environment variables (see {@link CONFIG_ENV_VARS}),
 * overridden by `overrides`, validates them once and reports every bad setting together
 * in one {@link ConfigError}. Paths are resolved against the working directory.
 */
export function loadConfig(overrides: CoordinatorConfigInput = {}, env: NodeJS.ProcessEnv = process.env): CoordinatorConfig {
  const raw: Record<string, unknown> = {};
  for (const [key, envVar] of Object.entries(CONFIG_ENV_VARS)) {
    const fromCode = (overrides as Record<string, unknown>)[key];
    raw[key] = fromCode !== undefined ? fromCode : env[envVar];
  }
  const unknownKeys = Object.keys(overrides).filter((key) => !(key in CONFIG_ENV_VARS));
  const parsed = schema.safeParse(raw);
  const issues = unknownKeys.map((key) => ({ key, envVar: '-', message: 'unknown setting' }));
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const key = String(issue.path[0] ?? '?');
      issues.push({ key, envVar: CONFIG_ENV_VARS[key as keyof CoordinatorConfig] ?? '-', message: issue.message });
    }
  }
  if (parsed.success) issues.push(...insecureBindIssues(parsed.data), ...tlsFileIssues(parsed.data), ...natsAuthFileIssues(parsed.data));
  if (issues.length > 0 || !parsed.success) throw new ConfigError(issues);
  const config = parsed.data;
  const absolute = (path: string | undefined): string | undefined => (path === undefined ? undefined : resolve(path));
  return {
    ...config,
    dbPath: resolve(config.dbPath),
    dataDir: resolve(config.dataDir),
    grpcTlsCertFile: absolute(config.grpcTlsCertFile),
    grpcTlsKeyFile: absolute(config.grpcTlsKeyFile),
    grpcTlsClientCaFile: absolute(config.grpcTlsClientCaFile),
    pkiCaCertFile: absolute(config.pkiCaCertFile),
    pkiCaKeyFile: absolute(config.pkiCaKeyFile),
  };
}
