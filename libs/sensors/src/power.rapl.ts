import { PowerDomain } from '@benchfarm/protocol';
import { SensorPermissionError, messageOf } from './errors';
import { parseIntOrUndefined } from './io';
import { FILE_SENSOR_RATE_HZ, polledOutcome, sensorInfo, sumDefined, unavailable, type ProbeOutcome, type SensorContext } from './power.types';

const POWERCAP = '/sys/class/powercap';
const ID = 'rapl';

/**
 * A RAPL energy counter in microjoules that wraps at `max_energy_range_uj`. Feed it raw
 * readings in order; it returns the energy since the first one.
 */
export class WrappingCounter {
  private last: number | undefined;
  private totalUj = 0;

  constructor(private readonly maxRangeUj: number) {}

  /** Energy since the first reading, in joules. A drop means the counter wrapped once. */
  update(rawUj: number): number {
    if (this.last !== undefined) {
      let delta = rawUj - this.last;
      // Sampled at 10 Hz, a counter spanning minutes of full load can wrap at most once between reads.
      if (delta < 0) delta += this.maxRangeUj;
      this.totalUj += delta;
    }
    this.last = rawUj;
    return this.totalUj / 1e6;
  }
}

interface RaplZone {
  dir: string;
  name: string;
  maxRangeUj: number;
}

/** The package-level RAPL zones (intel-rapl:N), psys left out: it overlaps the packages. */
function findZones(ctx: SensorContext): RaplZone[] {
  const zones: RaplZone[] = [];
  for (const entry of ctx.sysfs.list(POWERCAP)) {
    if (!/^intel-rapl:\d+$/.test(entry)) continue;
    const dir = `${POWERCAP}/${entry}`;
    const name = ctx.sysfs.read(`${dir}/name`) ?? entry;
    if (name === 'psys') continue;
    const maxRangeUj = parseIntOrUndefined(ctx.sysfs.read(`${dir}/max_energy_range_uj`));
    if (maxRangeUj === undefined || maxRangeUj <= 0) continue;
    zones.push({ dir, name, maxRangeUj });
  }
  return zones;
}

/**
 * Intel/AMD RAPL through powercap: cumulative package energy (µJ), read as deltas with wrap
 * handling. On kernels since 5.10 energy_uj is readable by root only; the probe then says so.
 */
export function probeRapl(ctx: SensorContext): ProbeOutcome {
  const zones = findZones(ctx);
  if (zones.length === 0) return unavailable(ID, `no RAPL package zones under ${POWERCAP} (not x86, or the intel_rapl driver is not loaded)`, PowerDomain.POWER_DOMAIN_CPU_PACKAGE);
  try {
    for (const zone of zones) {
      if (parseIntOrUndefined(ctx.sysfs.read(`${zone.dir}/energy_uj`)) === undefined) {
        return unavailable(ID, `${zone.dir}/energy_uj is missing or not a number`, PowerDomain.POWER_DOMAIN_CPU_PACKAGE);
      }
    }
  } catch (err) {
    if (err instanceof SensorPermissionError) {
      return unavailable(ID, `${messageOf(err)}: RAPL energy is root-only since Linux 5.10 (run the agent as root, or grant read access with a udev rule / chmod o+r on energy_uj)`, PowerDomain.POWER_DOMAIN_CPU_PACKAGE);
    }
    throw err;
  }
  const info = sensorInfo({
    id: ID,
    kind: 'power',
    available: true,
    domain: PowerDomain.POWER_DOMAIN_CPU_PACKAGE,
    covers: zones.map((z) => z.name).join(' + '),
    sampleRateHz: FILE_SENSOR_RATE_HZ,
    cumulativeEnergy: true,
  });
  const counters = zones.map((z) => new WrappingCounter(z.maxRangeUj));
  return polledOutcome(info, ctx.nowMs, () => {
    const channels = zones.map((zone, i) => {
      const raw = parseIntOrUndefined(ctx.sysfs.read(`${zone.dir}/energy_uj`));
      if (raw === undefined) throw new Error(`${zone.dir}/energy_uj vanished`);
      return { name: zone.name, energyJoules: counters[i]!.update(raw) };
    });
    return { energyJoules: sumDefined(channels.map((c) => c.energyJoules)), channels };
  });
}
