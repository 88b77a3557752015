import { PowerDomain, type SensorInfo } from '@benchfarm/protocol';
import type { CommandRunner, SysfsReader } from './io';

/** One power or energy reading of one rail or domain. */
export interface ChannelReading {
  readonly name: string;
  /** Instantaneous power, for sensors without an energy counter. */
  readonly powerWatts?: number;
  /** Energy since the source opened, wrap-corrected, for sensors with a counter. */
  readonly energyJoules?: number;
}

/** One reading of a power source: its total and its channels at one instant. */
export interface PowerReading {
  /** Monotonic clock, milliseconds. */
  readonly atMs: number;
  /** Total instantaneous power (sources without an energy counter). */
  readonly powerWatts?: number;
  /** Total energy since the source opened (sources with a counter). */
  readonly energyJoules?: number;
  readonly channels: readonly ChannelReading[];
}

/** An open power sensor the agent samples. */
export interface PowerSource {
  readonly info: SensorInfo;
  /** Reads the sensor now. Throws when the read fails (the sampler counts and skips it). */
  read(): Promise<PowerReading>;
  /** Releases what it holds (a streaming tool's process). */
  close(): Promise<void>;
}

/** What a probe found: always the sensor's description, a source only when it is usable here. */
export interface ProbeOutcome {
  readonly info: SensorInfo;
  readonly source?: PowerSource;
}

/** Everything a probe may touch, injected so probes run against fake trees and recorded outputs. */
export interface SensorContext {
  readonly sysfs: SysfsReader;
  readonly commands: CommandRunner;
  /** Monotonic milliseconds (performance.now in production). */
  readonly nowMs: () => number;
}

/** Sampling rate of sensors read from files. */
export const FILE_SENSOR_RATE_HZ = 10;
/** Sampling rate of sensors whose every read spawns a process. */
export const PROCESS_SENSOR_RATE_HZ = 1;

/** A SensorInfo with the defaults filled in. */
export function sensorInfo(fields: Partial<SensorInfo> & Pick<SensorInfo, 'id' | 'kind' | 'available'>): SensorInfo {
  return {
    reason: '',
    domain: PowerDomain.POWER_DOMAIN_UNSPECIFIED,
    covers: '',
    sampleRateHz: 0,
    cumulativeEnergy: false,
    ...fields,
  };
}

/** What one read of a polled source measured: a {@link PowerReading} without its timestamp. */
export type Measurement = Omit<PowerReading, 'atMs'>;

/**
 * A usable probe outcome for a sensor that is measured on each read and holds nothing open.
 * The read is stamped with the clock as it begins, so a slow command does not shift it later.
 */
export function polledOutcome(info: SensorInfo, nowMs: () => number, measure: () => Measurement | Promise<Measurement>): ProbeOutcome {
  return {
    info,
    source: {
      info,
      async read() {
        const atMs = nowMs();
        return { atMs, ...(await measure()) };
      },
      close: () => Promise.resolve(),
    },
  };
}

/** An unavailable power sensor, with the reason. */
export function unavailable(id: string, reason: string, domain: PowerDomain = PowerDomain.POWER_DOMAIN_UNSPECIFIED): ProbeOutcome {
  return { info: sensorInfo({ id, kind: 'power', available: false, reason, domain }) };
}

/** Sum of defined numbers, or undefined when none is defined. */
export function sumDefined(values: ReadonlyArray<number | undefined>): number | undefined {
  let total: number | undefined;
  for (const v of values) if (v !== undefined) total = (total ?? 0) + v;
  return total;
}
