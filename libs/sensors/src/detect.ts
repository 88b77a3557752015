import { PowerDomain, type SensorInfo } from '@benchfarm/protocol';
import { messageOf } from './errors';
import { fileSysfsReader } from './io';
import { probeAmdGpuHwmon, probeNvidiaSmi, probeVcgencmdPmic } from './power.devices';
import { probeExternalMeter, type ExternalMeterConfig } from './power.external';
import { probeJetsonHwmon, probeJetsonIio, probeTegrastats } from './power.jetson';
import { probeRapl } from './power.rapl';
import { sensorInfo, unavailable, type PowerSource, type ProbeOutcome, type SensorContext } from './power.types';
import { ThermalReader } from './thermal';

/** Options of {@link detectSensors}. */
export interface DetectOptions {
  externalMeter?: ExternalMeterConfig;
  /** Where tegrastats writes its log when it has to be used. */
  tegrastatsLogPath: string;
  /** Reads files outside the sysfs root (meter log, tegrastats log); the real file system by default. */
  logReader?: { read(path: string): string | undefined };
}

/** Every sensor looked for, the usable power sources, and the thermal reader. */
export interface DetectedSensors {
  /** One entry per sensor looked for, available or not, with the reason. */
  readonly sensors: SensorInfo[];
  /** Usable power sources, best first (see {@link POWER_PREFERENCE}). */
  readonly powerSources: PowerSource[];
  readonly thermal: ThermalReader;
}

/** Which power source a result reports when several exist: the widest coverage first. */
export const POWER_PREFERENCE: readonly PowerDomain[] = [
  PowerDomain.POWER_DOMAIN_WALL,
  PowerDomain.POWER_DOMAIN_MODULE,
  PowerDomain.POWER_DOMAIN_BOARD,
  PowerDomain.POWER_DOMAIN_CPU_PACKAGE,
  PowerDomain.POWER_DOMAIN_GPU,
];

/**
 * The source a job's result reports: a GPU sensor for a job on a GPU execution provider
 * (cuda, tensorrt, rocm, migraphx) unless a wall/module/board sensor covers the whole
 * device; otherwise the first in {@link POWER_PREFERENCE}. Undefined when there is none.
 */
export function choosePowerSource(sources: readonly PowerSource[], executionProvider: string): PowerSource | undefined {
  const rank = (s: PowerSource): number => {
    const i = POWER_PREFERENCE.indexOf(s.info.domain);
    return i < 0 ? POWER_PREFERENCE.length : i;
  };
  const sorted = [...sources].sort((a, b) => rank(a) - rank(b));
  const whole = sorted.find((s) => rank(s) <= 2);
  if (whole) return whole;
  if (/^(cuda|tensorrt|rocm|migraphx)/i.test(executionProvider)) {
    const gpu = sorted.find((s) => s.info.domain === PowerDomain.POWER_DOMAIN_GPU);
    if (gpu) return gpu;
  }
  return sorted[0];
}

async function safely(id: string, probe: () => ProbeOutcome | Promise<ProbeOutcome>): Promise<ProbeOutcome> {
  try {
    return await probe();
  } catch (err) {
    return unavailable(id, `probe failed: ${messageOf(err)}`);
  }
}

/**
 * Probes every power sensor benchfarm knows (external meter, Jetson INA3221 hwmon / iio /
 * tegrastats, Raspberry Pi 5 PMIC, RAPL, nvidia-smi, amdgpu hwmon) and the thermal/clock
 * files. tegrastats is only started when neither INA3221 interface is readable.
 */
export async function detectSensors(ctx: SensorContext, options: DetectOptions): Promise<DetectedSensors> {
  const logReader = options.logReader ?? fileSysfsReader('/');
  const outcomes: ProbeOutcome[] = [];
  outcomes.push(await safely('external-meter', () => probeExternalMeter(ctx, options.externalMeter, logReader)));
  const hwmon = await safely('ina3221-hwmon', () => probeJetsonHwmon(ctx));
  const iio = await safely('ina3221-iio', () => probeJetsonIio(ctx));
  outcomes.push(hwmon, iio);
  if (hwmon.source || iio.source) outcomes.push(unavailable('tegrastats', 'not needed: the INA3221 files are readable'));
  else outcomes.push(await safely('tegrastats', () => probeTegrastats(ctx, { logPath: options.tegrastatsLogPath, logReader })));
  outcomes.push(await safely('vcgencmd-pmic', () => probeVcgencmdPmic(ctx)));
  outcomes.push(await safely('rapl', () => probeRapl(ctx)));
  outcomes.push(await safely('nvidia-smi', () => probeNvidiaSmi(ctx)));
  outcomes.push(await safely('amdgpu-hwmon', () => probeAmdGpuHwmon(ctx)));

  const thermal = new ThermalReader(ctx);
  const coverage = thermal.coverage();
  const sensors = outcomes.map((o) => o.info);
  sensors.push(
    sensorInfo({ id: 'thermal-zones', kind: 'thermal', available: coverage.zones > 0, reason: coverage.zones > 0 ? '' : 'no thermal zones under /sys/class/thermal', covers: `${coverage.zones} zones` }),
    sensorInfo({ id: 'cpufreq', kind: 'clock', available: coverage.cpufreqCpus > 0, reason: coverage.cpufreqCpus > 0 ? '' : 'no cpufreq under /sys/devices/system/cpu/cpu*/cpufreq', covers: `${coverage.cpufreqCpus} CPUs` }),
  );
  const powerSources = outcomes.flatMap((o) => (o.source ? [o.source] : []));
  const rank = (s: PowerSource): number => POWER_PREFERENCE.indexOf(s.info.domain);
  powerSources.sort((a, b) => rank(a) - rank(b));
  return { sensors, powerSources, thermal };
}

/** One line on the sensors a device has, for logs and the capabilities' `sensors` list. */
export function availableSensorNames(sensors: readonly SensorInfo[]): string[] {
  return sensors.filter((s) => s.available).map((s) => (s.kind === 'power' ? `${s.id} (${s.covers})` : s.id));
}
