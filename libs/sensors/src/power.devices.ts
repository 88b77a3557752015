import { PowerDomain } from '@benchfarm/protocol';
import { SensorFormatError, SensorPermissionError, messageOf } from './errors';
import { parseIntOrUndefined } from './io';
import { FILE_SENSOR_RATE_HZ, PROCESS_SENSOR_RATE_HZ, polledOutcome, sensorInfo, sumDefined, unavailable, type ChannelReading, type ProbeOutcome, type SensorContext } from './power.types';

/**
 * Raspberry Pi 5 PMIC rails from `vcgencmd pmic_read_adc`: lines such as
 * `VDD_CORE_A current(7)=1.23400000A` and `VDD_CORE_V volt(15)=0.88000000V`. Power is
 * A * V over the rails that have both; EXT5V_V (the 5 V input) has no current and is left out.
 */
export function parsePmicReadAdc(text: string): ChannelReading[] {
  const amps = new Map<string, number>();
  const volts = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^\s*(\S+)_([AV])\s+(?:current|volt)\(\d+\)=([0-9.eE+-]+)[AV]\s*$/.exec(line);
    if (!m) continue;
    const value = Number(m[3]);
    if (!Number.isFinite(value)) throw new SensorFormatError(`pmic_read_adc ${m[1]}_${m[2]}`, `not a number: ${m[3]}`);
    (m[2] === 'A' ? amps : volts).set(m[1]!, value);
  }
  const channels: ChannelReading[] = [];
  for (const [rail, a] of amps) {
    const v = volts.get(rail);
    if (v !== undefined) channels.push({ name: rail, powerWatts: a * v });
  }
  return channels;
}

/** Raspberry Pi 5 through `vcgencmd pmic_read_adc` (one process per read, so 1 Hz). */
export async function probeVcgencmdPmic(ctx: SensorContext): Promise<ProbeOutcome> {
  const id = 'vcgencmd-pmic';
  if (!ctx.commands.which('vcgencmd')) return unavailable(id, 'vcgencmd is not installed (not a Raspberry Pi)', PowerDomain.POWER_DOMAIN_BOARD);
  let first: ChannelReading[];
  try {
    first = parsePmicReadAdc((await ctx.commands.run('vcgencmd', ['pmic_read_adc'])).stdout);
  } catch (err) {
    return unavailable(id, `vcgencmd pmic_read_adc failed: ${messageOf(err)}`, PowerDomain.POWER_DOMAIN_BOARD);
  }
  if (first.length === 0) return unavailable(id, 'vcgencmd pmic_read_adc reports no rail with both current and voltage (a Raspberry Pi before the 5 has no PMIC ADC)', PowerDomain.POWER_DOMAIN_BOARD);
  const info = sensorInfo({
    id,
    kind: 'power',
    available: true,
    reason: 'PMIC rails only: the 5 V input (USB devices, conversion losses) needs an external meter',
    domain: PowerDomain.POWER_DOMAIN_BOARD,
    covers: `sum of ${first.length} PMIC rails`,
    sampleRateHz: PROCESS_SENSOR_RATE_HZ,
  });
  return polledOutcome(info, ctx.nowMs, async () => {
    const channels = parsePmicReadAdc((await ctx.commands.run('vcgencmd', ['pmic_read_adc'])).stdout);
    return { powerWatts: sumDefined(channels.map((c) => c.powerWatts)), channels };
  });
}

/** One GPU as `nvidia-smi --query-gpu=index,name,power.draw[,total_energy_consumption]` prints it. */
export interface NvidiaSmiGpu {
  index: number;
  name: string;
  powerWatts?: number;
  /** Energy since the driver loaded, in joules (Volta+; printed in mJ). */
  energyJoules?: number;
}

/** Parses `--format=csv,noheader,nounits` lines; "[N/A]" and "[Not Supported]" become absent. */
export function parseNvidiaSmiCsv(text: string, withEnergy: boolean): NvidiaSmiGpu[] {
  const num = (s: string | undefined): number | undefined => {
    if (s === undefined) return undefined;
    const v = Number(s.trim());
    return s.trim() === '' || !Number.isFinite(v) ? undefined : v;
  };
  const gpus: NvidiaSmiGpu[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const cols = line.split(',').map((c) => c.trim());
    const index = num(cols[0]);
    if (index === undefined || cols.length < 3) throw new SensorFormatError('nvidia-smi csv', `unexpected line: ${JSON.stringify(line)}`);
    const powerWatts = num(cols[2]);
    const energyMj = withEnergy ? num(cols[3]) : undefined;
    gpus.push({ index, name: cols[1] ?? '', ...(powerWatts !== undefined && { powerWatts }), ...(energyMj !== undefined && { energyJoules: energyMj / 1000 }) });
  }
  return gpus;
}

/**
 * NVIDIA GPUs through nvidia-smi (one process per read, so 1 Hz). Uses the total-energy
 * counter where this nvidia-smi offers it (`--help-query-gpu` lists total_energy_consumption)
 * and every GPU reports it; otherwise instant power.draw.
 */
export async function probeNvidiaSmi(ctx: SensorContext): Promise<ProbeOutcome> {
  const id = 'nvidia-smi';
  if (!ctx.commands.which('nvidia-smi')) return unavailable(id, 'nvidia-smi is not installed (no NVIDIA driver)', PowerDomain.POWER_DOMAIN_GPU);
  let withEnergy = false;
  try {
    withEnergy = (await ctx.commands.run('nvidia-smi', ['--help-query-gpu'])).stdout.includes('total_energy_consumption');
  } catch {
    // An old nvidia-smi without the help page: instant power only.
  }
  const query = async (energy: boolean): Promise<NvidiaSmiGpu[]> => {
    const fields = energy ? 'index,name,power.draw,total_energy_consumption' : 'index,name,power.draw';
    return parseNvidiaSmiCsv((await ctx.commands.run('nvidia-smi', [`--query-gpu=${fields}`, '--format=csv,noheader,nounits'])).stdout, energy);
  };
  let gpus: NvidiaSmiGpu[];
  try {
    gpus = await query(withEnergy);
  } catch (err) {
    return unavailable(id, `nvidia-smi failed: ${messageOf(err)}`, PowerDomain.POWER_DOMAIN_GPU);
  }
  if (gpus.length === 0) return unavailable(id, 'nvidia-smi lists no GPU', PowerDomain.POWER_DOMAIN_GPU);
  const useEnergy = withEnergy && gpus.every((g) => g.energyJoules !== undefined);
  if (!useEnergy && gpus.some((g) => g.powerWatts === undefined)) return unavailable(id, 'nvidia-smi reports power.draw as [N/A] on this GPU', PowerDomain.POWER_DOMAIN_GPU);
  const base = useEnergy ? gpus.map((g) => g.energyJoules!) : [];
  const info = sensorInfo({
    id,
    kind: 'power',
    available: true,
    domain: PowerDomain.POWER_DOMAIN_GPU,
    covers: gpus.map((g) => `gpu${g.index} ${g.name}`).join(' + '),
    sampleRateHz: PROCESS_SENSOR_RATE_HZ,
    cumulativeEnergy: useEnergy,
  });
  return polledOutcome(info, ctx.nowMs, async () => {
    const now = await query(useEnergy);
    const channels: ChannelReading[] = now.map((g, i) => (useEnergy ? { name: `gpu${g.index}`, energyJoules: (g.energyJoules ?? Number.NaN) - (base[i] ?? 0) } : { name: `gpu${g.index}`, powerWatts: g.powerWatts ?? Number.NaN }));
    if (channels.some((c) => Number.isNaN(c.energyJoules ?? c.powerWatts))) throw new SensorFormatError('nvidia-smi', 'a GPU stopped reporting power');
    return useEnergy ? { energyJoules: sumDefined(channels.map((c) => c.energyJoules)), channels } : { powerWatts: sumDefined(channels.map((c) => c.powerWatts)), channels };
  });
}

/** AMD GPUs through the amdgpu hwmon: `power1_average` (µW), or `power1_input` on newer kernels. */
export function probeAmdGpuHwmon(ctx: SensorContext): ProbeOutcome {
  const id = 'amdgpu-hwmon';
  const files: Array<{ name: string; path: string }> = [];
  try {
    for (const card of ctx.sysfs.list('/sys/class/drm')) {
      if (!/^card\d+$/.test(card)) continue;
      const hwmonDir = `/sys/class/drm/${card}/device/hwmon`;
      for (const hwmon of ctx.sysfs.list(hwmonDir)) {
        const dir = `${hwmonDir}/${hwmon}`;
        if (ctx.sysfs.read(`${dir}/name`) !== 'amdgpu') continue;
        const path = [`${dir}/power1_average`, `${dir}/power1_input`].find((p) => ctx.sysfs.read(p) !== undefined);
        if (path) files.push({ name: card, path });
      }
    }
  } catch (err) {
    if (err instanceof SensorPermissionError) return unavailable(id, messageOf(err), PowerDomain.POWER_DOMAIN_GPU);
    throw err;
  }
  if (files.length === 0) return unavailable(id, 'no amdgpu hwmon with power1_average or power1_input under /sys/class/drm', PowerDomain.POWER_DOMAIN_GPU);
  const info = sensorInfo({ id, kind: 'power', available: true, domain: PowerDomain.POWER_DOMAIN_GPU, covers: files.map((f) => f.name).join(' + '), sampleRateHz: FILE_SENSOR_RATE_HZ });
  return polledOutcome(info, ctx.nowMs, () => {
    const channels = files.map((f) => {
      const uW = parseIntOrUndefined(ctx.sysfs.read(f.path));
      if (uW === undefined) throw new SensorFormatError(f.path, 'reading vanished');
      return { name: f.name, powerWatts: uW / 1e6 };
    });
    return { powerWatts: sumDefined(channels.map((c) => c.powerWatts)), channels };
  });
}
