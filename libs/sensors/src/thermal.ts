import type { ThermalSummary, ThermalZoneReading, Unmeasured } from '@benchfarm/protocol';
import { messageOf } from './errors';
import { parseIntOrUndefined, type SysfsReader } from './io';
import type { SensorContext } from './power.types';

/** One thermal zone at one instant. */
export interface ZoneSample {
  zone: string;
  type: string;
  celsius: number;
  /** Lowest passive / hot / critical trip point, when the zone has one. */
  tripCelsius?: number;
}

/** Temperatures and clocks at one instant. */
export interface ThermalSnapshot {
  atMs: number;
  zones: ZoneSample[];
  /** scaling_cur_freq of every core that has cpufreq, MHz. */
  cpuFreqMhz: number[];
  /** scaling_max_freq of every core, MHz: thermal capping lowers it. */
  cpuMaxFreqMhz: number[];
  governors: string[];
  /** Sum of core_throttle_count + package_throttle_count (x86), when present. */
  throttleEvents?: number;
  /** GPU clocks from devfreq (Jetson), MHz. */
  gpuClockMhz: number[];
}

const CPU_DIR = '/sys/devices/system/cpu';
const THERMAL_DIR = '/sys/class/thermal';
const DEVFREQ_DIR = '/sys/class/devfreq';

function zoneTrip(sysfs: SysfsReader, dir: string): number | undefined {
  let lowest: number | undefined;
  for (const file of sysfs.list(dir)) {
    const m = /^trip_point_(\d+)_type$/.exec(file);
    if (!m) continue;
    const type = sysfs.read(`${dir}/${file}`);
    if (type !== 'passive' && type !== 'hot' && type !== 'critical') continue;
    const milli = parseIntOrUndefined(sysfs.read(`${dir}/trip_point_${m[1]}_temp`));
    // Some drivers park unused trips at 0 or at absurd values; only real temperatures count.
    if (milli === undefined || milli <= 0 || milli > 200_000) continue;
    lowest = lowest === undefined ? milli / 1000 : Math.min(lowest, milli / 1000);
  }
  return lowest;
}

/** Lists the thermal zones with their trip points once; temperatures are then read per sample. */
export function findThermalZones(sysfs: SysfsReader): Array<{ zone: string; type: string; tripCelsius?: number }> {
  return sysfs
    .list(THERMAL_DIR)
    .filter((z) => /^thermal_zone\d+$/.test(z))
    .map((zone) => {
      const dir = `${THERMAL_DIR}/${zone}`;
      const trip = zoneTrip(sysfs, dir);
      return { zone, type: sysfs.read(`${dir}/type`) ?? 'unknown', ...(trip !== undefined && { tripCelsius: trip }) };
    });
}

/** The online CPUs that have cpufreq. */
export function findCpufreqCpus(sysfs: SysfsReader): string[] {
  return sysfs.list(CPU_DIR).filter((c) => /^cpu\d+$/.test(c) && sysfs.read(`${CPU_DIR}/${c}/cpufreq/scaling_cur_freq`) !== undefined);
}

function safeRead(sysfs: SysfsReader, path: string): string | undefined {
  try {
    return sysfs.read(path);
  } catch {
    // A permission-denied thermal file is left out of the snapshot rather than failing the run.
    return undefined;
  }
}

/** Reads thermal zones, cpufreq, throttle counters and GPU devfreq clocks. */
export class ThermalReader {
  private readonly zones: Array<{ zone: string; type: string; tripCelsius?: number }>;
  private readonly cpus: string[];
  private readonly throttleFiles: string[];
  private readonly gpuFreqFiles: string[];

  constructor(private readonly ctx: SensorContext) {
    const sysfs = ctx.sysfs;
    this.zones = findThermalZones(sysfs);
    this.cpus = findCpufreqCpus(sysfs);
    this.throttleFiles = sysfs
      .list(CPU_DIR)
      .filter((c) => /^cpu\d+$/.test(c))
      .flatMap((c) => [`${CPU_DIR}/${c}/thermal_throttle/core_throttle_count`, `${CPU_DIR}/${c}/thermal_throttle/package_throttle_count`])
      .filter((p) => safeRead(sysfs, p) !== undefined);
    this.gpuFreqFiles = sysfs
      .list(DEVFREQ_DIR)
      .filter((d) => /gpu|ga10b|gv11b|gp10b/i.test(d) || /gpu/i.test(safeRead(sysfs, `${DEVFREQ_DIR}/${d}/device/of_node/name`) ?? ''))
      .map((d) => `${DEVFREQ_DIR}/${d}/cur_freq`)
      .filter((p) => safeRead(sysfs, p) !== undefined);
  }

  /** What this device lets the reader see, for the capabilities and for `unmeasured`. */
  coverage(): { zones: number; cpufreqCpus: number; throttleCounters: boolean; gpuDevfreq: boolean } {
    return { zones: this.zones.length, cpufreqCpus: this.cpus.length, throttleCounters: this.throttleFiles.length > 0, gpuDevfreq: this.gpuFreqFiles.length > 0 };
  }

  /** Reads everything once. */
  snapshot(): ThermalSnapshot {
    const sysfs = this.ctx.sysfs;
    const num = (p: string): number | undefined => parseIntOrUndefined(safeRead(sysfs, p));
    const zones: ZoneSample[] = [];
    for (const z of this.zones) {
      const milli = num(`${THERMAL_DIR}/${z.zone}/temp`);
      if (milli !== undefined) zones.push({ ...z, celsius: milli / 1000 });
    }
    const cpuFreqMhz: number[] = [];
    const cpuMaxFreqMhz: number[] = [];
    const governors = new Set<string>();
    for (const cpu of this.cpus) {
      const dir = `${CPU_DIR}/${cpu}/cpufreq`;
      const cur = num(`${dir}/scaling_cur_freq`);
      const max = num(`${dir}/scaling_max_freq`);
      const gov = safeRead(sysfs, `${dir}/scaling_governor`);
      if (cur !== undefined) cpuFreqMhz.push(cur / 1000);
      if (max !== undefined) cpuMaxFreqMhz.push(max / 1000);
      if (gov) governors.add(gov);
    }
    let throttleEvents: number | undefined;
    for (const file of this.throttleFiles) {
      const v = num(file);
      if (v !== undefined) throttleEvents = (throttleEvents ?? 0) + v;
    }
    const gpuClockMhz = this.gpuFreqFiles.map((f) => num(f)).filter((v): v is number => v !== undefined).map((hz) => hz / 1e6);
    return { atMs: this.ctx.nowMs(), zones, cpuFreqMhz, cpuMaxFreqMhz, governors: [...governors], ...(throttleEvents !== undefined && { throttleEvents }), gpuClockMhz };
  }
}

/**
 * Jetson power mode from `nvpmodel -q`, whose first line reads `NV Power Mode: MAXN`
 * (older releases print the mode number on the next line). Undefined when it is not there.
 */
export function parseNvpmodelQuery(text: string): string | undefined {
  const m = /NV Power Mode:\s*(\S.*?)\s*$/m.exec(text);
  return m ? m[1] : undefined;
}

/** Raspberry Pi `vcgencmd get_throttled` (`throttled=0x50005`): the reasons its "now" bits give. */
export function parseGetThrottled(text: string): string[] {
  const m = /throttled=(0x[0-9a-fA-F]+)/.exec(text);
  if (!m) return [];
  const bits = Number.parseInt(m[1]!, 16);
  const reasons: string[] = [];
  if (bits & 0x1) reasons.push('under-voltage detected (vcgencmd get_throttled bit 0)');
  if (bits & 0x2) reasons.push('ARM frequency capped (vcgencmd get_throttled bit 1)');
  if (bits & 0x4) reasons.push('currently throttled (vcgencmd get_throttled bit 2)');
  if (bits & 0x8) reasons.push('soft temperature limit active (vcgencmd get_throttled bit 3)');
  return reasons;
}

/** Reads the Jetson power mode once (nvpmodel is a process: once per job, not per sample). */
export async function readPowerMode(ctx: SensorContext): Promise<string | undefined> {
  if (!ctx.commands.which('nvpmodel')) return undefined;
  try {
    return parseNvpmodelQuery((await ctx.commands.run('nvpmodel', ['-q'])).stdout);
  } catch {
    return undefined;
  }
}

/** Reads the Raspberry Pi's throttling flags once, at the END mark. */
export async function readPiThrottled(ctx: SensorContext): Promise<string[]> {
  if (!ctx.commands.which('vcgencmd')) return [];
  try {
    return parseGetThrottled((await ctx.commands.run('vcgencmd', ['get_throttled'])).stdout);
  } catch (err) {
    return [`vcgencmd get_throttled failed: ${messageOf(err)}`];
  }
}

/** What {@link summarizeThermal} needs besides the snapshots. */
export interface ThermalExtras {
  powerMode?: string;
  /** Reasons read from a device tool at the end (Raspberry Pi get_throttled). */
  toolThrottleReasons?: string[];
}

/** A run under a performance governor whose clock falls below this share of its start is throttled. */
export const CLOCK_DROP_RATIO = 0.85;

const r1 = (v: number): number => Math.round(v * 10) / 10;

/**
 * Temperatures, clocks and throttling over the measured window. Throttled when a zone
 * reaches its trip point, the kernel counted thermal throttle events, scaling_max_freq was
 * lowered (thermal capping), the clock fell under a performance governor, or a device tool
 * says so. Missing facts are listed in `unmeasured`, never shown as 0.
 */
export function summarizeThermal(snapshots: readonly ThermalSnapshot[], extras: ThermalExtras = {}): ThermalSummary {
  const unmeasured: Unmeasured[] = [];
  const reasons: string[] = [...(extras.toolThrottleReasons ?? [])];
  const zones: ThermalZoneReading[] = [];
  const zoneNames = [...new Set(snapshots.flatMap((s) => s.zones.map((z) => z.zone)))];
  for (const zone of zoneNames) {
    const samples = snapshots.flatMap((s) => s.zones.filter((z) => z.zone === zone));
    const first = samples[0]!;
    const maxCelsius = Math.max(...samples.map((z) => z.celsius));
    zones.push({ zone, type: first.type, startCelsius: r1(first.celsius), maxCelsius: r1(maxCelsius), ...(first.tripCelsius !== undefined && { tripCelsius: first.tripCelsius }) });
    if (first.tripCelsius !== undefined && maxCelsius >= first.tripCelsius) reasons.push(`${zone} (${first.type}) reached ${r1(maxCelsius)} °C, at or above its trip point ${first.tripCelsius} °C`);
  }
  if (zoneNames.length === 0) unmeasured.push({ field: 'zones', reason: 'no readable thermal zone under /sys/class/thermal' });

  const freqs = snapshots.flatMap((s) => s.cpuFreqMhz);
  const summary: ThermalSummary = { zones, cpuGovernor: [...new Set(snapshots.flatMap((s) => s.governors))].join(','), powerMode: extras.powerMode ?? '', throttled: false, throttleReasons: [], sampleCount: snapshots.length, unmeasured };
  if (freqs.length > 0) {
    summary.cpuFreqMinMhz = r1(Math.min(...freqs));
    summary.cpuFreqMaxMhz = r1(Math.max(...freqs));
    summary.cpuFreqMeanMhz = r1(freqs.reduce((a, b) => a + b, 0) / freqs.length);
    const firstMax = snapshots[0]?.cpuMaxFreqMhz ?? [];
    const lowestMax = Math.min(...snapshots.flatMap((s) => s.cpuMaxFreqMhz));
    if (firstMax.length > 0 && lowestMax < Math.min(...firstMax)) reasons.push(`CPU scaling_max_freq lowered from ${r1(Math.min(...firstMax))} to ${r1(lowestMax)} MHz during the run (thermal capping)`);
    const startFreq = Math.min(...(snapshots[0]?.cpuFreqMhz ?? [Number.POSITIVE_INFINITY]));
    if (summary.cpuGovernor === 'performance' && Number.isFinite(startFreq) && summary.cpuFreqMinMhz < startFreq * CLOCK_DROP_RATIO) {
      reasons.push(`CPU clock fell to ${summary.cpuFreqMinMhz} MHz from ${r1(startFreq)} MHz under the performance governor`);
    }
  } else {
    unmeasured.push({ field: 'cpu_freq_mean_mhz', reason: 'no cpufreq under /sys/devices/system/cpu (a VM, or the driver is not loaded)' });
  }
  const counts = snapshots.map((s) => s.throttleEvents).filter((v): v is number => v !== undefined);
  if (counts.length >= 2 && counts[counts.length - 1]! > counts[0]!) reasons.push(`kernel counted ${counts[counts.length - 1]! - counts[0]!} thermal throttle events (thermal_throttle/*_throttle_count)`);
  const gpu = snapshots.flatMap((s) => s.gpuClockMhz);
  if (gpu.length > 0) {
    summary.gpuClockMinMhz = r1(Math.min(...gpu));
    summary.gpuClockMaxMhz = r1(Math.max(...gpu));
  }
  summary.throttled = reasons.length > 0;
  summary.throttleReasons = reasons;
  return summary;
}
