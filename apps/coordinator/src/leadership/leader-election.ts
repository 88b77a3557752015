import { describeHolder, type LeaderLease, type LeaderRecord, type LeaseHolder } from './leader-lease';

/** What a {@link LeaderElection} reports. */
export interface LeaderElectionEvents {
  /** While waiting: the holder changed (undefined: nobody holds it, this instance is about to try). */
  standby?(holder: LeaseHolder | undefined): void;
  /** This instance took the lease. */
  acquired?(record: LeaderRecord): void;
  /**
   * This instance no longer leads (the lease was taken or expired, or no renewal was confirmed
   * before the fence). Called once; whoever receives it must stop every write at once.
   */
  lost(reason: string): void;
  /** Something worth a log line that changes nothing (a failed renewal that will be tried again). */
  warn?(message: string): void;
}

/** Thrown by {@link LeaderElection.waitUntilLeader} when it was stopped before this instance led. */
export class LeaderElectionStoppedError extends Error {
  override name = 'LeaderElectionStoppedError';
}

/**
 * Thrown by {@link LeaderElection.assertLeading} (and so instead of a store statement) when this
 * instance may no longer act as leader.
 */
export class LeadershipLostError extends Error {
  override name = 'LeadershipLostError';
}

/** Timing of a {@link LeaderElection}; defaults derive from the lease TTL. */
export interface LeaderElectionTiming {
  /** How often a standby reads the lease. */
  pollIntervalMs: number;
  /** How often the leader renews (default a third of the TTL: two renewals may fail before the fence). */
  renewIntervalMs?: number;
  /** How often the leader checks its fence (default min(250 ms, TTL / 10)). */
  fenceCheckMs?: number;
}

/**
 * Waits for the leader lease, then keeps it: renews every third of the TTL and checks its fence
 * (the latest time it may still act, {@link LeaderLease.fenceAtMs}) several times a second, so
 * that a leader cut off from NATS stops before a standby can take the lease. Any loss is
 * reported once through `events.lost` and is final: a deposed instance never leads again (its
 * process exits and a supervisor restarts it as a standby).
 */
export class LeaderElection {
  private stopped = false;
  private leading = false;
  private lostReason: string | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private fenceTimer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  /** The renewal in flight; renewals never overlap. */
  private renewing: Promise<void> = Promise.resolve();
  private patch: Partial<Pick<LeaderRecord, 'state' | 'httpUrl' | 'grpcAddress'>> = {};
  private readonly renewIntervalMs: number;
  private readonly fenceCheckMs: number;

  constructor(
    private readonly lease: LeaderLease,
    private readonly timing: LeaderElectionTiming,
    private readonly events: LeaderElectionEvents,
    private readonly now: () => number = Date.now,
  ) {
    this.renewIntervalMs = timing.renewIntervalMs ?? Math.floor(lease.ttlMs / 3);
    this.fenceCheckMs = timing.fenceCheckMs ?? Math.min(250, Math.floor(lease.ttlMs / 10));
  }

  /** Whether this instance leads now (it took the lease and has not lost it). */
  get isLeader(): boolean {
    return this.leading && this.lostReason === undefined;
  }

  /**
   * Returns when this instance may act as leader now; otherwise throws. The fence is checked
   * against the clock at this call, not at the fence timer's last run: a process that was paused
   * past its fence handles the I/O that waited before its timers run, so every write asks here
   * first (fencedDatabase). A fence found passed is reported through `events.lost` first (the
   * process exits there).
   *
   * Thrown errors: {@link LeadershipLostError} naming why.
   */
  assertLeading(): void {
    if (this.lostReason === undefined && this.leading && this.now() >= this.lease.fenceAtMs) {
      this.lose(`the fence passed ${this.now() - this.lease.fenceAtMs} ms ago (no renewal confirmed for ${this.now() - this.lease.confirmedAtMs} ms, lease TTL ${this.lease.ttlMs} ms; was this process paused?): another coordinator may lead by now`);
    }
    if (this.lostReason !== undefined) throw new LeadershipLostError(`this coordinator no longer leads: ${this.lostReason}`);
    if (!this.leading) throw new LeadershipLostError('this coordinator does not lead');
  }

  /**
   * Polls until this instance holds the lease, then starts renewing it. NATS errors while
   * waiting are reported through `events.warn` and the poll goes on.
   *
   * Thrown errors: {@link LeaderElectionStoppedError} when {@link stop} was called first.
   */
  async waitUntilLeader(): Promise<LeaderRecord> {
    let lastSeen: string | undefined;
    while (!this.stopped) {
      try {
        const holder = await this.lease.holder();
        // Reported when who leads, or their state, changes; not on every renewal.
        const seen = holder ? describeHolder({ ...holder, revision: 0 }) : '';
        if (seen !== lastSeen) {
          lastSeen = seen;
          this.events.standby?.(holder);
        }
        if (!holder && (await this.lease.tryAcquire())) {
          const record = this.lease.record;
          if (!record) throw new Error('the lease was taken but holds no record');
          if (this.stopped) {
            await this.lease.release();
            break;
          }
          this.leading = true;
          this.events.acquired?.(record);
          this.startRenewing();
          return record;
        }
      } catch (err) {
        this.events.warn?.(`reading the leader lease failed; trying again: ${(err as Error).message}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.timing.pollIntervalMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
    throw new LeaderElectionStoppedError('leader election stopped before this instance led');
  }

  /**
   * Writes the addresses this instance serves into the lease at once (and into every later
   * renewal). Resolves once a renewal carrying them was confirmed, or the lease was lost.
   */
  async announce(patch: Partial<Pick<LeaderRecord, 'state' | 'httpUrl' | 'grpcAddress'>>): Promise<void> {
    this.patch = { ...this.patch, ...patch };
    await this.renewNow();
  }

  /**
   * Stops polling or renewing. With `release`, a leader gives the lease up so that a standby
   * takes over at once (a clean stop, after the coordinator closed).
   */
  async stop(options: { release: boolean }): Promise<void> {
    this.stopped = true;
    this.wake?.();
    clearTimeout(this.renewTimer);
    clearInterval(this.fenceTimer);
    await this.renewing;
    if (options.release && this.isLeader) await this.lease.release();
    this.leading = false;
  }

  private startRenewing(): void {
    this.fenceTimer = setInterval(() => {
      if (this.lostReason !== undefined || this.stopped) return;
      const nowMs = this.now();
      if (nowMs >= this.lease.fenceAtMs) {
        this.lose(`no renewal of the leader lease was confirmed by NATS for ${nowMs - this.lease.confirmedAtMs} ms (lease TTL ${this.lease.ttlMs} ms): another coordinator may lead by now`);
      }
    }, this.fenceCheckMs);
    this.scheduleRenewal(this.renewIntervalMs);
  }

  private scheduleRenewal(delayMs: number): void {
    if (this.stopped || this.lostReason !== undefined) return;
    this.renewTimer = setTimeout(() => {
      const startedAt = this.now();
      void this.renewNow().finally(() => this.scheduleRenewal(Math.max(0, startedAt + this.renewIntervalMs - this.now())));
    }, delayMs);
  }

  private renewNow(): Promise<void> {
    const run = this.renewing.then(async () => {
      if (this.lostReason !== undefined || !this.leading) return;
      try {
        // A renewal still unanswered after one interval is given up and the next one sent.
        const outcome = await this.lease.renew(this.patch, this.renewIntervalMs);
        if (!outcome.held) this.lose(outcome.reason);
      } catch (err) {
        if (this.lostReason === undefined) this.events.warn?.(`renewing the leader lease failed; trying again (fence in ${this.lease.fenceAtMs - this.now()} ms): ${(err as Error).message}`);
      }
    });
    this.renewing = run;
    return run;
  }

  private lose(reason: string): void {
    if (this.lostReason !== undefined) return;
    this.lostReason = reason;
    clearTimeout(this.renewTimer);
    clearInterval(this.fenceTimer);
    this.events.lost(reason);
  }
}
