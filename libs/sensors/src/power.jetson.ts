import { PowerDomain } from '@benchfarm/protocol';
import { SensorFormatError, SensorPermissionError, messageOf } from './errors';
import { parseIntOrUndefined } from './io';
import { FILE_SENSOR_RATE_HZ, polledOutcome, sensorInfo, sumDefined, unavailable, type ChannelReading, type Measurement, type ProbeOutcome, type SensorContext } from './power.types';

/** Rails that measure the whole module's input; when one is present it is the total. */
const TOTAL_RAILS = new Set(['VDD_IN', 'POM_5V_IN', 'VIN_SYS_5V0', 'VDD_5V_IN']);

/** A channel label that is not a rail: unconnected ("NC") or the chip's sum of shunt voltages. */
export function isSkippedRail(label: string): boolean {
  return label === '' || label.toUpperCase() === 'NC' || /^sum\b/i.test(label);
}

/**
 * The module total of a set of rails: the input rail (VDD_IN and friends) where there is
 * one, else the sum of the rails, which is then a lower bound of the module's draw.
 */
export function railsTotal(channels: readonly ChannelReading[]): { powerWatts: number | undefined; covers: string } {
  const input = channels.find((c) => TOTAL_RAILS.has(c.name));
  if (input) return { powerWatts: input.powerWatts, covers: `${input.name} (module input)` };
  return { powerWatts: sumDefined(channels.map((c) => c.powerWatts)), covers: `sum of ${channels.map((c) => c.name).join(' + ')} (no input rail: a lower bound)` };
}

interface HwmonRail {
  label: string;
  voltagePath: string;
  currentPath: string;
}

const HWMON_DRIVER = '/sys/bus/i2c/drivers/ina3221';
const IIO_DRIVER = '/sys/bus/i2c/drivers/ina3221x';

function hwmonRails(ctx: SensorContext): HwmonRail[] {
  const rails: HwmonRail[] = [];
  for (const device of ctx.sysfs.list(HWMON_DRIVER)) {
    if (!/^\d+-[0-9a-f]{4}$/.test(device)) continue;
    const hwmonDir = `${HWMON_DRIVER}/${device}/hwmon`;
    for (const hwmon of ctx.sysfs.list(hwmonDir)) {
      if (!/^hwmon\d+$/.test(hwmon)) continue;
      const dir = `${hwmonDir}/${hwmon}`;
      for (const file of ctx.sysfs.list(dir)) {
        const m = /^in(\d+)_label$/.exec(file);
        if (!m) continue;
        const label = ctx.sysfs.read(`${dir}/${file}`) ?? '';
        if (isSkippedRail(label)) continue;
        const n = m[1]!;
        const voltagePath = `${dir}/in${n}_input`;
        const currentPath = `${dir}/curr${n}_input`;
        // The sum channel and some unpopulated inputs have a voltage but no current.
        if (ctx.sysfs.read(currentPath) === undefined || ctx.sysfs.read(voltagePath) === undefined) continue;
        rails.push({ label, voltagePath, currentPath });
      }
    }
  }
  return rails;
}

function guarded(id: string, domain: PowerDomain, body: () => ProbeOutcome): ProbeOutcome {
  try {
    return body();
  } catch (err) {
    if (err instanceof SensorPermissionError) return unavailable(id, `${messageOf(err)} (add the agent's user to the group that owns the INA3221 files, or run it as root)`, domain);
    throw err;
  }
}

/**
 * Jetson INA3221 through hwmon (JetPack 5+): `inN_label`, `inN_input` (mV), `currN_input`
 * (mA); P = mV * mA / 1000 mW. "NC" and the sum channel are skipped; the total is VDD_IN.
 */
export function probeJetsonHwmon(ctx: SensorContext): ProbeOutcome {
  const id = 'ina3221-hwmon';
  return guarded(id, PowerDomain.POWER_DOMAIN_MODULE, () => {
    const rails = hwmonRails(ctx);
    if (rails.length === 0) return unavailable(id, `no INA3221 rails under ${HWMON_DRIVER} (not a Jetson on JetPack 5+)`, PowerDomain.POWER_DOMAIN_MODULE);
    const measure = (): Measurement => {
      const channels = rails.map((rail) => {
        const mV = parseIntOrUndefined(ctx.sysfs.read(rail.voltagePath));
        const mA = parseIntOrUndefined(ctx.sysfs.read(rail.currentPath));
        if (mV === undefined || mA === undefined) throw new SensorFormatError(rail.voltagePath, 'rail reading vanished');
        return { name: rail.label, powerWatts: (mV * mA) / 1e6 };
      });
      return { powerWatts: railsTotal(channels).powerWatts, channels };
    };
    const first = measure();
    const info = sensorInfo({
      id,
      kind: 'power',
      available: true,
      domain: PowerDomain.POWER_DOMAIN_MODULE,
      covers: railsTotal(first.channels).covers,
      sampleRateHz: FILE_SENSOR_RATE_HZ,
    });
    return polledOutcome(info, ctx.nowMs, measure);
  });
}

interface IioRail {
  label: string;
  powerPath: string;
}

function iioRails(ctx: SensorContext): IioRail[] {
  const rails: IioRail[] = [];
  for (const device of ctx.sysfs.list(IIO_DRIVER)) {
    if (!/^\d+-[0-9a-f]{4}$/.test(device)) continue;
    for (const iio of ctx.sysfs.list(`${IIO_DRIVER}/${device}`)) {
      if (!/^iio:device\d+$/.test(iio)) continue;
      const dir = `${IIO_DRIVER}/${device}/${iio}`;
      for (const file of ctx.sysfs.list(dir)) {
        const m = /^rail_name_(\d+)$/.exec(file);
        if (!m) continue;
        const label = ctx.sysfs.read(`${dir}/${file}`) ?? '';
        if (isSkippedRail(label)) continue;
        const powerPath = `${dir}/in_power${m[1]}_input`;
        if (ctx.sysfs.read(powerPath) === undefined) continue;
        rails.push({ label, powerPath });
      }
    }
  }
  return rails;
}

/** Jetson INA3221 through iio (JetPack 4): `rail_name_N`, `in_powerN_input` (mW). */
export function probeJetsonIio(ctx: SensorContext): ProbeOutcome {
  const id = 'ina3221-iio';
  return guarded(id, PowerDomain.POWER_DOMAIN_MODULE, () => {
    const rails = iioRails(ctx);
    if (rails.length === 0) return unavailable(id, `no INA3221x rails under ${IIO_DRIVER} (not a Jetson on JetPack 4)`, PowerDomain.POWER_DOMAIN_MODULE);
    const measure = (): Measurement => {
      const channels = rails.map((rail) => {
        const mW = parseIntOrUndefined(ctx.sysfs.read(rail.powerPath));
        if (mW === undefined) throw new SensorFormatError(rail.powerPath, 'rail reading vanished');
        return { name: rail.label, powerWatts: mW / 1000 };
      });
      return { powerWatts: railsTotal(channels).powerWatts, channels };
    };
    const first = measure();
    const info = sensorInfo({ id, kind: 'power', available: true, domain: PowerDomain.POWER_DOMAIN_MODULE, covers: railsTotal(first.channels).covers, sampleRateHz: FILE_SENSOR_RATE_HZ });
    return polledOutcome(info, ctx.nowMs, measure);
  });
}

/**
 * Rails of one tegrastats line, instantaneous values: `VDD_IN 5263mW/5263mW` (JetPack 5+)
 * or `POM_5V_IN 2124/2124` (JetPack 4). Other `a/b` pairs on the line (RAM 2114/7765MB,
 * EMC_FREQ 0%@1600) are not rails and are left out.
 */
export function parseTegrastatsLine(line: string): ChannelReading[] {
  const channels: ChannelReading[] = [];
  const pattern = /\b([A-Z][A-Z0-9_]*) (\d+)(mW)?\/(\d+)(mW)?(?=\s|$)/g;
  for (const m of line.matchAll(pattern)) {
    const name = m[1]!;
    const withUnit = m[3] === 'mW';
    if (!withUnit && !/^(POM_|VDD_|VIN_)/.test(name)) continue;
    if (isSkippedRail(name)) continue;
    channels.push({ name, powerWatts: Number(m[2]) / 1000 });
  }
  return channels;
}

/** Options of {@link probeTegrastats}. */
export interface TegrastatsOptions {
  /** Where tegrastats --logfile writes (a real path; read through `logReader`). */
  readonly logPath: string;
  /** Reads the log file; the real file system in production, a fake tree in tests. */
  readonly logReader: { read(path: string): string | undefined };
}

/**
 * Jetson power through tegrastats, for when the INA3221 files cannot be read: started as a
 * daemon (`--start --interval 100 --logfile`) and sampled by reading its last line; stopped
 * with `--stop` when the source closes. Every line carries instant/average mW per rail.
 */
export async function probeTegrastats(ctx: SensorContext, options: TegrastatsOptions): Promise<ProbeOutcome> {
  const id = 'tegrastats';
  if (!ctx.commands.which('tegrastats')) return unavailable(id, 'tegrastats is not installed (not a Jetson)', PowerDomain.POWER_DOMAIN_MODULE);
  try {
    await ctx.commands.run('tegrastats', ['--start', '--interval', '100', '--logfile', options.logPath]);
  } catch (err) {
    return unavailable(id, `tegrastats --start failed: ${messageOf(err)}`, PowerDomain.POWER_DOMAIN_MODULE);
  }
  const lastChannels = (): ChannelReading[] => {
    const text = options.logReader.read(options.logPath) ?? '';
    const lines = text.split('\n').filter((l) => l.trim() !== '');
    return lines.length === 0 ? [] : parseTegrastatsLine(lines[lines.length - 1]!);
  };
  const info = sensorInfo({ id, kind: 'power', available: true, domain: PowerDomain.POWER_DOMAIN_MODULE, covers: 'VDD_IN (module input) from tegrastats', sampleRateHz: FILE_SENSOR_RATE_HZ });
  return {
    info,
    source: {
      info,
      read() {
        const atMs = ctx.nowMs();
        const channels = lastChannels();
        if (channels.length === 0) return Promise.reject(new SensorFormatError(options.logPath, 'no tegrastats line with rails yet'));
        return Promise.resolve({ atMs, powerWatts: railsTotal(channels).powerWatts, channels });
      },
      async close() {
        await ctx.commands.run('tegrastats', ['--stop']);
      },
    },
  };
}
