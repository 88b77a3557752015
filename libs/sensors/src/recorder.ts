import { setTimeout as sleep } from 'node:timers/promises';
import type { PowerSummary, SensorInfo, ThermalSummary, Unmeasured } from '@benchfarm/protocol';
import { summarizePower } from './energy';
import type { PowerReading, PowerSource, SensorContext } from './power.types';
import { readPiThrottled, readPowerMode, summarizeThermal, type ThermalReader, type ThermalSnapshot } from './thermal';

/** Options of a {@link JobRecorder}. */
export interface RecorderOptions {
  /** Power sampling rate; defaults to the source's own (10 Hz files, 1 Hz processes). */
  powerRateHz?: number;
  /** Thermal/clock sampling rate (default 1 Hz: temperatures move slowly). */
  thermalRateHz?: number;
  /** Sensors looked for, named in the reason when there is no power sensor. */
  sensors?: readonly SensorInfo[];
}

/** What a job's result gets from the recorder. */
export interface RecordedSensors {
  power?: PowerSummary;
  thermal: ThermalSummary;
  /** Result-level `unmeasured` entries (no power sensor at all). */
  unmeasured: Unmeasured[];
}

/**
 * Samples one job's sensors: an idle baseline before the suite starts, then power (at the
 * source's rate) and thermal/clocks (1 Hz) only between the suite's BEGIN and END marks,
 * with one extra reading on each mark so the window is covered end to end. Runs in the
 * agent, never in the measured process. Reads never overlap: a tick that finds the previous
 * read still running is skipped and counted.
 */
export class JobRecorder {
  private readonly idle: PowerReading[] = [];
  private idleWindowMs = 0;
  private readonly window: PowerReading[] = [];
  private readonly snapshots: ThermalSnapshot[] = [];
  private beginMs: number | undefined;
  private endMs: number | undefined;
  private powerTimer: NodeJS.Timeout | undefined;
  private thermalTimer: NodeJS.Timeout | undefined;
  private reading: Promise<void> = Promise.resolve();
  private busy = false;
  private powerMode: Promise<string | undefined> = Promise.resolve(undefined);
  private endReasons: Promise<string[]> = Promise.resolve([]);
  /** Ticks skipped because the previous read had not finished. */
  skippedTicks = 0;
  /** Reads that failed (the sampler goes on). */
  failedReads = 0;

  constructor(
    private readonly ctx: SensorContext,
    private readonly source: PowerSource | undefined,
    private readonly thermal: ThermalReader,
    private readonly options: RecorderOptions = {},
  ) {}

  private get powerRateHz(): number {
    return this.options.powerRateHz ?? (this.source?.info.sampleRateHz || 1);
  }

  private async readPower(into: PowerReading[]): Promise<void> {
    if (!this.source) return;
    this.busy = true;
    try {
      into.push(await this.source.read());
    } catch {
      this.failedReads++;
    } finally {
      this.busy = false;
    }
  }

  /** Serialised read: waits for a read in flight, then reads (used on the marks). */
  private readNow(into: PowerReading[]): Promise<void> {
    this.reading = this.reading.then(() => this.readPower(into));
    return this.reading;
  }

  /** Samples the idle device for `durationMs` before the suite starts (skipped without a power source). */
  async idleBaseline(durationMs: number): Promise<void> {
    if (!this.source || durationMs <= 0) return;
    const periodMs = 1000 / this.powerRateHz;
    const start = this.ctx.nowMs();
    await this.readNow(this.idle);
    while (this.ctx.nowMs() - start < durationMs) {
      await sleep(Math.min(periodMs, Math.max(1, durationMs - (this.ctx.nowMs() - start))));
      await this.readNow(this.idle);
    }
    this.idleWindowMs = this.ctx.nowMs() - start;
  }

  /** The suite's BEGIN mark: reads at once, then samples until {@link markEnd}. */
  markBegin(): void {
    if (this.beginMs !== undefined) return;
    this.beginMs = this.ctx.nowMs();
    this.powerMode = readPowerMode(this.ctx);
    this.snapshots.push(this.thermal.snapshot());
    void this.readNow(this.window);
    if (this.source) {
      this.powerTimer = setInterval(() => {
        if (this.busy) {
          this.skippedTicks++;
          return;
        }
        this.reading = this.reading.then(() => this.readPower(this.window));
      }, 1000 / this.powerRateHz);
    }
    this.thermalTimer = setInterval(() => this.snapshots.push(this.thermal.snapshot()), 1000 / (this.options.thermalRateHz ?? 1));
  }

  /** The suite's END mark: stops sampling and takes the closing readings. */
  markEnd(): void {
    if (this.beginMs === undefined || this.endMs !== undefined) return;
    this.endMs = this.ctx.nowMs();
    this.stopTimers();
    this.snapshots.push(this.thermal.snapshot());
    void this.readNow(this.window);
    this.endReasons = readPiThrottled(this.ctx);
  }

  /** Whether both marks were seen. */
  get complete(): boolean {
    return this.beginMs !== undefined && this.endMs !== undefined;
  }

  /**
   * The job's power and thermal summaries. `inferences` is queries x batch of the measured
   * phase. Without marks (a suite that never reached its measured phase) nothing is measured.
   */
  async finish(inferences: number): Promise<RecordedSensors> {
    this.stopTimers();
    await this.reading;
    const unmeasured: Unmeasured[] = [];
    const thermal = summarizeThermal(this.snapshots, { powerMode: (await this.powerMode) ?? '', toolThrottleReasons: await this.endReasons });
    if (!this.source) {
      const looked = (this.options.sensors ?? []).filter((s) => s.kind === 'power').map((s) => s.id);
      unmeasured.push({ field: 'power', reason: `no power sensor on this device${looked.length > 0 ? ` (looked for ${looked.join(', ')}; see the agent's sensor_details for why each is unavailable)` : ''}` });
      return { thermal, unmeasured };
    }
    if (this.beginMs === undefined || this.endMs === undefined) {
      unmeasured.push({ field: 'power', reason: 'the suite did not report both BEGIN and END marks of its measured phase' });
      return { thermal, unmeasured };
    }
    const power = summarizePower({
      sensor: this.source.info,
      window: this.window,
      windowMs: this.endMs - this.beginMs,
      idle: this.idle,
      idleWindowMs: this.idleWindowMs,
      inferences,
    });
    return { power, thermal, unmeasured };
  }

  /** Stops sampling; safe to call at any time, more than once. */
  stop(): void {
    this.stopTimers();
  }

  private stopTimers(): void {
    clearInterval(this.powerTimer);
    clearInterval(this.thermalTimer);
    this.powerTimer = undefined;
    this.thermalTimer = undefined;
  }
}
