import { status, type ChannelCredentials, type ChannelOptions, type ServiceError } from '@grpc/grpc-js';
import { LeasesClient, ResultsClient } from '@benchfarm/protocol';

/**
 * Where calls of one kind go when there may be several coordinators (one leads, the others wait
 * as standbys and do not listen): the client of the coordinator to use now, and a way to say a
 * call on it failed, so that later calls go to the next one when that coordinator is unreachable.
 */
export interface CoordinatorClientSource<C> {
  /** The client calls go to now. */
  current(): C;
  /** A call made on `client` failed with `err`. */
  failed(client: C, err: unknown): void;
}

/** One coordinator's client (the single-address case), or a {@link CoordinatorClientSource}. */
export type CoordinatorTarget<C> = C | CoordinatorClientSource<C>;

/**
 * The client to call now, and where to report its failure. Pure.
 */
export function clientOf<C extends object>(target: CoordinatorTarget<C>): { client: C; failed: (err: unknown) => void } {
  if (typeof (target as Partial<CoordinatorClientSource<C>>).current === 'function' && typeof (target as Partial<CoordinatorClientSource<C>>).failed === 'function') {
    const source = target as CoordinatorClientSource<C>;
    const client = source.current();
    return { client, failed: (err) => source.failed(client, err) };
  }
  return { client: target as C, failed: () => undefined };
}

/**
 * gRPC codes that say the coordinator behind a channel is not there: refused or dropped
 * connection (a standby does not listen; a killed leader's connections reset), or no answer
 * before the deadline (a frozen or cut-off host).
 */
const UNREACHABLE = new Set<status>([status.UNAVAILABLE, status.DEADLINE_EXCEEDED]);

/** Splits `BENCHFARM_GRPC_ADDRESS` (host:port, or several comma-separated) into addresses. Pure. */
export function splitGrpcAddresses(text: string): string[] {
  return text.split(',').map((a) => a.trim());
}

/**
 * Channel options when there are several coordinators: a channel to a standby that starts
 * serving must be tried again within a second, not after grpc-js's default backoff (1 s growing
 * 1.6 times per failure, up to 120 s), which after a takeover of several seconds would add
 * seconds more.
 */
export const FAILOVER_CHANNEL_OPTIONS: ChannelOptions = {
  'grpc.initial_reconnect_backoff_ms': 200,
  'grpc.max_reconnect_backoff_ms': 1_000,
};

/** What {@link CoordinatorChannels} tells whoever started it. */
export type ChannelLog = (level: 'info' | 'warn', message: string, fields: Record<string, unknown>) => void;

/**
 * The agent's gRPC clients of every configured coordinator address, one channel per address
 * (each with its own TLS server name). Calls go to the current address; when a call on it fails
 * as unreachable, the next address becomes current (in order, round the list). With one address
 * nothing ever moves, exactly as a single client.
 */
export class CoordinatorChannels {
  private index = 0;
  private readonly leaseClients: LeasesClient[];
  private readonly resultClients: ResultsClient[];
  /** Source of lease calls (acquire, renew, upload status). */
  readonly leases: CoordinatorClientSource<LeasesClient>;
  /** Source of result uploads. */
  readonly results: CoordinatorClientSource<ResultsClient>;

  constructor(
    readonly addresses: readonly string[],
    credentials: ChannelCredentials,
    options: ChannelOptions,
    private readonly log: ChannelLog = () => undefined,
  ) {
    if (addresses.length === 0) throw new Error('CoordinatorChannels needs at least one address');
    const channelOptions = addresses.length > 1 ? { ...options, ...FAILOVER_CHANNEL_OPTIONS } : options;
    this.leaseClients = addresses.map((a) => new LeasesClient(a, credentials, channelOptions));
    this.resultClients = addresses.map((a) => new ResultsClient(a, credentials, channelOptions));
    this.leases = { current: () => this.at(this.leaseClients), failed: (client, err) => this.failed(this.leaseClients.indexOf(client), err) };
    this.results = { current: () => this.at(this.resultClients), failed: (client, err) => this.failed(this.resultClients.indexOf(client), err) };
  }

  /** The address calls go to now. */
  get currentAddress(): string {
    return this.at(this.addresses);
  }

  /** Closes every channel. */
  close(): void {
    for (const c of [...this.leaseClients, ...this.resultClients]) c.close();
  }

  private at<T>(list: readonly T[]): T {
    const item = list[this.index];
    // The index only ever moves within the list (the constructor refused an empty one).
    if (item === undefined) throw new Error(`no coordinator address at index ${this.index}`);
    return item;
  }

  private failed(at: number, err: unknown): void {
    const code = (err as Partial<ServiceError>)?.code;
    // Only the current address moves on: the same failure reported twice (a stream's error event
    // and its callback), or a late failure of an address already left, changes nothing.
    if (this.addresses.length < 2 || at !== this.index || code === undefined || !UNREACHABLE.has(code)) return;
    const from = this.addresses[at];
    this.index = (at + 1) % this.addresses.length;
    this.log('warn', 'coordinator unreachable; calls go to the next address', { from, to: this.addresses[this.index], code: status[code], error: (err as Error).message });
  }
}
