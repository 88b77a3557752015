import { hostname } from 'node:os';
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { LEADERSHIP_ENV_VARS } from './leadership.config';

/** The KV bucket holding the leader lease; its max age is the lease TTL. */
export const LEADER_BUCKET = 'benchfarm_leader';
/** The one key of {@link LEADER_BUCKET}. */
export const LEADER_KEY = 'coordinator';
/** Largest leader record accepted when reading one (anyone allowed to write the bucket could write anything). */
const MAX_RECORD_BYTES = 4096;

/** Who leads: the value of the leader lease, JSON. */
export interface LeaderRecord {
  readonly instanceId: string;
  readonly host: string;
  readonly pid: number;
  /** `starting` from the moment the lease is taken; `serving` once REST and gRPC listen. */
  readonly state: 'starting' | 'serving';
  /** Base URL of the leader's REST API, once serving. */
  readonly httpUrl?: string | undefined;
  /** The leader's bound gRPC address (host:port), once serving. */
  readonly grpcAddress?: string | undefined;
  /** When this instance took the lease (its own clock, Unix ms). */
  readonly sinceUnixMs: number;
  /** When the renewal that wrote this record was sent (its own clock, Unix ms). */
  readonly renewedAtUnixMs: number;
}

/** The lease as read from the bucket. */
export interface LeaseHolder {
  /** The record, or undefined when the value is not a leader record (written by something else). */
  readonly record: LeaderRecord | undefined;
  /** KV revision of the entry. */
  readonly revision: number;
}

/** Thrown when the leader bucket exists with another TTL than this coordinator's. */
export class LeaderBucketMismatchError extends Error {
  override name = 'LeaderBucketMismatchError';
}

/** The answer of one renewal. */
export type RenewOutcome = { held: true } | { held: false; reason: string };

/** Parses a leader record; undefined when the bytes are not one. Pure. */
export function parseLeaderRecord(bytes: Uint8Array): LeaderRecord | undefined {
  if (bytes.length === 0 || bytes.length > MAX_RECORD_BYTES) return undefined;
  try {
    const json = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
    const { instanceId, host, pid, state, httpUrl, grpcAddress, sinceUnixMs, renewedAtUnixMs } = json;
    if (typeof instanceId !== 'string' || typeof host !== 'string' || !Number.isSafeInteger(pid)) return undefined;
    if (state !== 'starting' && state !== 'serving') return undefined;
    if (!Number.isSafeInteger(sinceUnixMs) || !Number.isSafeInteger(renewedAtUnixMs)) return undefined;
    if ((httpUrl !== undefined && typeof httpUrl !== 'string') || (grpcAddress !== undefined && typeof grpcAddress !== 'string')) return undefined;
    return { instanceId, host, pid: pid as number, state, httpUrl, grpcAddress, sinceUnixMs: sinceUnixMs as number, renewedAtUnixMs: renewedAtUnixMs as number };
  } catch {
    return undefined;
  }
}

/** One line naming a holder, for logs and reasons. Pure. */
export function describeHolder(holder: LeaseHolder | undefined): string {
  if (!holder) return 'nobody';
  const r = holder.record;
  if (!r) return `an entry that is not a leader record (revision ${holder.revision})`;
  return `${r.instanceId} (host ${r.host}, pid ${r.pid}, ${r.state}${r.grpcAddress ? `, gRPC ${r.grpcAddress}` : ''})`;
}

/**
 * The local time after which a leader that last had a renewal confirmed, sent at `sentAtMs`,
 * must no longer act: the server wrote that renewal no earlier than it was sent, so the entry
 * lives at least until `sentAtMs + ttlMs` on the server; stopping `margin` earlier leaves room
 * for the time a stop takes and for clock rate differences. Pure.
 */
export function fenceAt(sentAtMs: number, ttlMs: number): number {
  return sentAtMs + ttlMs - fenceMarginMs(ttlMs);
}

/** How long before the lease can lapse a leader without a confirmed renewal stops: a sixth of the TTL, at most 1 s. Pure. */
export function fenceMarginMs(ttlMs: number): number {
  return Math.min(1_000, Math.floor(ttlMs / 6));
}

function isWrongLastSequence(err: unknown): boolean {
  if (err instanceof JetStreamApiError) return err.code === JetStreamApiCodes.StreamWrongLastSequence || err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown;
  return /wrong last sequence/i.test((err as Error)?.message ?? '');
}

/**
 * Creates the leader bucket (history 1, max age = the lease TTL) or opens it.
 *
 * Thrown errors: {@link LeaderBucketMismatchError} when it exists with another max age (two
 * coordinators configured with different TTLs); NATS errors as they come.
 */
export async function openLeaderBucket(nc: NatsConnection, options: { ttlMs: number; replicas: number }): Promise<KV> {
  const kv = await new Kvm(nc).create(LEADER_BUCKET, { history: 1, ttl: options.ttlMs, replicas: options.replicas });
  const status = await kv.status();
  if (status.ttl !== options.ttlMs) {
    throw new LeaderBucketMismatchError(
      `the leader bucket ${LEADER_BUCKET} has a lease TTL of ${status.ttl} ms but ${LEADERSHIP_ENV_VARS.leaseTtlMs} is ${options.ttlMs}: every coordinator of a farm must use the same value (to change it, stop all coordinators and delete the bucket: nats kv del ${LEADER_BUCKET})`,
    );
  }
  return kv;
}

/**
 * The leader lease of one coordinator process: a single KV key whose entry expires with the
 * bucket's max age unless renewed. Taken with create (refused when the key is there), renewed
 * with update on the last revision (refused when anyone else wrote it since, or when it expired).
 * Not safe for concurrent calls: {@link LeaderElection} runs one call at a time.
 */
export class LeaderLease {
  private revision = 0;
  private confirmedSentAtMs = Number.NEGATIVE_INFINITY;
  private current: LeaderRecord | undefined;

  constructor(
    private readonly kv: KV,
    private readonly instanceId: string,
    readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The record this instance last wrote, while it holds the lease. */
  get record(): LeaderRecord | undefined {
    return this.current;
  }

  /** Local time after which this instance must not act as leader (see {@link fenceAt}); -Infinity before it took the lease. */
  get fenceAtMs(): number {
    return fenceAt(this.confirmedSentAtMs, this.ttlMs);
  }

  /** When the last confirmed write of the lease was sent (local clock). */
  get confirmedAtMs(): number {
    return this.confirmedSentAtMs;
  }

  /** Who holds the lease now; undefined when nobody (never taken, expired, released). Thrown: NATS errors. */
  async holder(): Promise<LeaseHolder | undefined> {
    const entry = await this.kv.get(LEADER_KEY);
    if (!entry || entry.operation !== 'PUT') return undefined;
    return { record: parseLeaderRecord(entry.value), revision: entry.revision };
  }

  /**
   * Takes the lease when nobody holds it. Resolves true when this instance holds it now, false
   * when someone else does. Thrown: NATS errors (unreachable, timeout).
   */
  async tryAcquire(): Promise<boolean> {
    const sentAtMs = this.now();
    const record: LeaderRecord = { instanceId: this.instanceId, host: hostname(), pid: process.pid, state: 'starting', sinceUnixMs: sentAtMs, renewedAtUnixMs: sentAtMs };
    try {
      this.revision = await this.kv.create(LEADER_KEY, encode(record));
    } catch (err) {
      if (isWrongLastSequence(err)) return false;
      throw err;
    }
    this.current = record;
    this.confirmedSentAtMs = sentAtMs;
    return true;
  }

  /**
   * Writes the record again on the revision this instance last wrote, with `patch` applied.
   * Resolves `{ held: false, reason }` when the lease is gone (expired, taken by another
   * instance, released by hand): this instance no longer leads. Thrown: NATS errors (the
   * caller tries again until {@link fenceAtMs}).
   */
  async renew(patch: Partial<Pick<LeaderRecord, 'state' | 'httpUrl' | 'grpcAddress'>> = {}, timeoutMs?: number): Promise<RenewOutcome> {
    const base = this.current;
    if (!base) return { held: false, reason: 'this instance never held the lease' };
    const sentAtMs = this.now();
    const next: LeaderRecord = { ...base, ...patch, renewedAtUnixMs: sentAtMs };
    try {
      this.revision = await this.kv.update(LEADER_KEY, encode(next), this.revision, timeoutMs);
      this.current = next;
      this.confirmedSentAtMs = sentAtMs;
      return { held: true };
    } catch (err) {
      if (!isWrongLastSequence(err)) throw err;
    }
    // Refused: someone else wrote the key, or it expired, or an earlier renewal of ours was
    // written but its answer was lost (timeout) so the revision moved under us. Only the last
    // case names this instance, which alone writes its id.
    const holder = await this.holder();
    if (holder?.record?.instanceId === this.instanceId) {
      this.revision = holder.revision;
      this.current = holder.record;
      this.confirmedSentAtMs = holder.record.renewedAtUnixMs;
      return { held: true };
    }
    this.current = undefined;
    return holder
      ? { held: false, reason: `the lease is held by ${describeHolder(holder)}` }
      : { held: false, reason: `the lease expired before this renewal reached NATS (last confirmed renewal ${sentAtMs - this.confirmedSentAtMs} ms ago, TTL ${this.ttlMs} ms)` };
  }

  /** Gives the lease up (a clean stop), so a standby takes over without waiting for the TTL. Best effort: resolves false when it was not ours any more. */
  async release(): Promise<boolean> {
    if (!this.current) return false;
    this.current = undefined;
    try {
      await this.kv.delete(LEADER_KEY, { previousSeq: this.revision });
      return true;
    } catch {
      return false;
    }
  }
}

function encode(record: LeaderRecord): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(record));
}
