// Every probe against FIXTURES: fake sysfs trees and recorded tool outputs (no real sensor here).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PowerDomain } from '@benchfarm/protocol';
import { choosePowerSource, detectSensors } from './detect';
import { jetsonOrinHwmonTree, memorySysfs, raplTree, recordedCommands, type FakeFile } from './fake-device.fixture';
import { probeAmdGpuHwmon, probeNvidiaSmi, probeVcgencmdPmic, parsePmicReadAdc, parseNvidiaSmiCsv } from './power.devices';
import { parseMeterLogTail, parseMeterWatts, probeExternalMeter } from './power.external';
import { parseTegrastatsLine, probeJetsonHwmon, probeJetsonIio, probeTegrastats } from './power.jetson';
import { WrappingCounter, probeRapl } from './power.rapl';
import type { SensorContext } from './power.types';

const fixture = (name: string): string => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

function ctx(files: Record<string, FakeFile>, commands = recordedCommands({}, [])): SensorContext & { files: Record<string, FakeFile>; t: { ms: number } } {
  const t = { ms: 0 };
  return { sysfs: memorySysfs(files), commands, nowMs: () => t.ms, files, t };
}

describe('RAPL (fixture tree)', () => {
  it('wraps a counter that passes max_energy_range_uj', () => {
    const c = new WrappingCounter(1_000_000);
    expect(c.update(900_000)).toBe(0);
    expect(c.update(950_000)).toBeCloseTo(0.05);
    // wrapped: 950000 -> 1000000 (0.05 J) then 0 -> 30000 (0.03 J)
    expect(c.update(30_000)).toBeCloseTo(0.13);
  });

  it('sums package zones, skips psys and sub-zones, reads deltas across a wrap', async () => {
    const c = ctx(raplTree(262143328850 - 1_000_000));
    const outcome = probeRapl(c);
    expect(outcome.info).toMatchObject({ available: true, domain: PowerDomain.POWER_DOMAIN_CPU_PACKAGE, covers: 'package-0', cumulativeEnergy: true });
    const first = await outcome.source!.read();
    expect(first.energyJoules).toBe(0);
    c.files['/sys/class/powercap/intel-rapl:0/energy_uj'] = '4000000'; // wrapped past max
    c.t.ms = 1000;
    const second = await outcome.source!.read();
    expect(second.energyJoules).toBeCloseTo(5, 6);
    expect(second.channels.map((ch) => ch.name)).toEqual(['package-0']);
  });

  it('says root-only when energy_uj is permission denied', () => {
    const files: Record<string, FakeFile> = raplTree(1);
    files['/sys/class/powercap/intel-rapl:0/energy_uj'] = { denied: true };
    const outcome = probeRapl(ctx(files));
    expect(outcome.source).toBeUndefined();
    expect(outcome.info.available).toBe(false);
    expect(outcome.info.reason).toMatch(/permission denied.*root-only since Linux 5.10/);
  });

  it('is unavailable without powercap, saying why', () => {
    const outcome = probeRapl(ctx({}));
    expect(outcome.info).toMatchObject({ available: false });
    expect(outcome.info.reason).toMatch(/no RAPL package zones/);
  });
});

describe('Jetson INA3221 (fixture trees and recorded tegrastats lines)', () => {
  it('hwmon: mV x mA per rail, skips NC and the sum channel, total = VDD_IN', async () => {
    const outcome = probeJetsonHwmon(ctx(jetsonOrinHwmonTree({ vddInMilliamps: 1000 })));
    expect(outcome.info).toMatchObject({ available: true, domain: PowerDomain.POWER_DOMAIN_MODULE, covers: 'VDD_IN (module input)' });
    const r = await outcome.source!.read();
    expect(r.channels.map((c) => c.name)).toEqual(['VDD_IN', 'VDD_CPU_GPU_CV', 'VDD_SOC']);
    expect(r.powerWatts).toBeCloseTo(5.072, 6);
    expect(r.channels[2]!.powerWatts).toBeCloseTo(1.5192, 6);
  });

  it('hwmon: without an input rail the total is the sum, flagged as a lower bound', async () => {
    const tree = jetsonOrinHwmonTree();
    const dir = '/sys/bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon3';
    tree[`${dir}/in1_label`] = 'NC';
    const outcome = probeJetsonHwmon(ctx(tree));
    expect(outcome.info.covers).toMatch(/lower bound/);
    expect((await outcome.source!.read()).powerWatts).toBeCloseTo(5.064 * 0.5, 6);
  });

  it('hwmon: a rail whose files vanish fails the read instead of reading 0', async () => {
    const c = ctx(jetsonOrinHwmonTree());
    const outcome = probeJetsonHwmon(c);
    delete c.files['/sys/bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon3/curr1_input'];
    await expect(outcome.source!.read()).rejects.toThrow(/vanished/);
  });

  it('hwmon: permission denied makes it unavailable with the reason', () => {
    const tree: Record<string, FakeFile> = jetsonOrinHwmonTree();
    tree['/sys/bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon3/curr1_input'] = { denied: true };
    const outcome = probeJetsonHwmon(ctx(tree));
    expect(outcome.info.available).toBe(false);
    expect(outcome.info.reason).toMatch(/permission denied/);
  });

  it('iio (JetPack 4): in_powerN_input mW, total = POM_5V_IN', async () => {
    const dir = '/sys/bus/i2c/drivers/ina3221x/6-0040/iio:device0';
    const outcome = probeJetsonIio(
      ctx({
        [`${dir}/rail_name_0`]: 'POM_5V_IN',
        [`${dir}/in_power0_input`]: '2124',
        [`${dir}/rail_name_1`]: 'POM_5V_GPU',
        [`${dir}/in_power1_input`]: '0',
        [`${dir}/rail_name_2`]: 'POM_5V_CPU',
        [`${dir}/in_power2_input`]: '333',
      }),
    );
    expect(outcome.info.covers).toBe('POM_5V_IN (module input)');
    const r = await outcome.source!.read();
    expect(r.powerWatts).toBeCloseTo(2.124, 6);
    expect(r.channels).toHaveLength(3);
  });

  it('tegrastats lines: JetPack 5 mW pairs and JetPack 4 bare pairs; RAM/SWAP are not rails', () => {
    expect(parseTegrastatsLine(fixture('tegrastats-jp5-orin-nano.txt'))).toEqual([
      { name: 'VDD_IN', powerWatts: 5.263 },
      { name: 'VDD_CPU_GPU_CV', powerWatts: 0.717 },
      { name: 'VDD_SOC', powerWatts: 1.794 },
    ]);
    expect(parseTegrastatsLine(fixture('tegrastats-jp4-nano.txt'))).toEqual([
      { name: 'POM_5V_IN', powerWatts: 2.124 },
      { name: 'POM_5V_GPU', powerWatts: 0 },
      { name: 'POM_5V_CPU', powerWatts: 0.333 },
    ]);
  });

  it('tegrastats source: started as a daemon, reads the last log line, stopped on close', async () => {
    const commands = recordedCommands({ 'tegrastats --start --interval 100 --logfile /tmp/t.log': '', 'tegrastats --stop': '' });
    const log = { '/tmp/t.log': `${fixture('tegrastats-jp4-nano.txt')}${fixture('tegrastats-jp5-orin-nano.txt')}` };
    const outcome = await probeTegrastats(ctx({}, commands), { logPath: '/tmp/t.log', logReader: memorySysfs(log) });
    expect((await outcome.source!.read()).powerWatts).toBeCloseTo(5.263, 6);
    await outcome.source!.close();
    expect(commands.calls).toEqual(['tegrastats --start --interval 100 --logfile /tmp/t.log', 'tegrastats --stop']);
  });
});

describe('Raspberry Pi 5 vcgencmd pmic_read_adc (recorded output)', () => {
  it('sums A x V over rails with both; EXT5V and BATT (volt only) are left out', () => {
    const channels = parsePmicReadAdc(fixture('pmic_read_adc-pi5.txt'));
    expect(channels.map((c) => c.name)).not.toContain('EXT5V');
    expect(channels).toHaveLength(12);
    expect(channels.find((c) => c.name === 'VDD_CORE')!.powerWatts).toBeCloseTo(0.74 * 0.88, 9);
  });

  it('probes at 1 Hz (a process per read) and says what it does not cover', async () => {
    const outcome = await probeVcgencmdPmic(ctx({}, recordedCommands({ 'vcgencmd pmic_read_adc': fixture('pmic_read_adc-pi5.txt') })));
    expect(outcome.info).toMatchObject({ available: true, sampleRateHz: 1, domain: PowerDomain.POWER_DOMAIN_BOARD });
    expect(outcome.info.reason).toMatch(/external meter/);
    // Sum of the 12 A x V products of the recorded output (VDD_CORE 0.651 W, 0V8_SW 0.290 W, ...).
    expect((await outcome.source!.read()).powerWatts).toBeCloseTo(1.780364, 5);
  });

  it('a Pi without the PMIC ADC is unavailable', async () => {
    const outcome = await probeVcgencmdPmic(ctx({}, recordedCommands({ 'vcgencmd pmic_read_adc': 'error=1 error_msg="Command not registered"\n' })));
    expect(outcome.info.available).toBe(false);
  });
});

describe('nvidia-smi (recorded CSV)', () => {
  it('parses power and mJ energy; [N/A] is absent, not 0', () => {
    expect(parseNvidiaSmiCsv('0, NVIDIA A100-SXM4-40GB, 61.52, 123456789\n1, NVIDIA A100-SXM4-40GB, [N/A], [N/A]\n', true)).toEqual([
      { index: 0, name: 'NVIDIA A100-SXM4-40GB', powerWatts: 61.52, energyJoules: 123456.789 },
      { index: 1, name: 'NVIDIA A100-SXM4-40GB' },
    ]);
  });

  it('uses the energy counter where nvidia-smi offers it, as deltas from the first read', async () => {
    let mj = 1_000_000;
    const commands = recordedCommands({
      'nvidia-smi --help-query-gpu': '"total_energy_consumption"\nTotal energy consumption for the GPU in millijoules (mJ) since the driver was last reloaded.',
      'nvidia-smi --query-gpu=index,name,power.draw,total_energy_consumption --format=csv,noheader,nounits': () => `0, Tesla V100-PCIE-16GB, 40.1, ${(mj += 5000)}\n`,
    });
    const outcome = await probeNvidiaSmi(ctx({}, commands));
    expect(outcome.info).toMatchObject({ available: true, cumulativeEnergy: true, sampleRateHz: 1 });
    expect((await outcome.source!.read()).energyJoules).toBeCloseTo(5, 6);
    expect((await outcome.source!.read()).energyJoules).toBeCloseTo(10, 6);
  });

  it('falls back to power.draw without the counter; unavailable when power is [N/A]', async () => {
    const ok = await probeNvidiaSmi(ctx({}, recordedCommands({ 'nvidia-smi --help-query-gpu': 'power.draw', 'nvidia-smi --query-gpu=index,name,power.draw --format=csv,noheader,nounits': '0, NVIDIA GeForce GTX 1080, 38.20\n' })));
    expect(ok.info.cumulativeEnergy).toBe(false);
    expect((await ok.source!.read()).powerWatts).toBeCloseTo(38.2);
    const na = await probeNvidiaSmi(ctx({}, recordedCommands({ 'nvidia-smi --help-query-gpu': '', 'nvidia-smi --query-gpu=index,name,power.draw --format=csv,noheader,nounits': '0, NVIDIA T400, [N/A]\n' })));
    expect(na.info.available).toBe(false);
    expect(na.info.reason).toMatch(/N\/A/);
  });

  it('REAL recording (H200, driver 580): no energy field in --help-query-gpu, so power.draw is used', async () => {
    const commands = recordedCommands({
      'nvidia-smi --help-query-gpu': fixture('nvidia-smi-580-help-query-gpu-power.txt'),
      'nvidia-smi --query-gpu=index,name,power.draw --format=csv,noheader,nounits': fixture('nvidia-smi-580-h200-power.csv'),
      'nvidia-smi --query-gpu=index,name,power.draw,total_energy_consumption --format=csv,noheader,nounits': new Error(fixture('nvidia-smi-580-energy-field-error.txt')),
    });
    const outcome = await probeNvidiaSmi(ctx({}, commands));
    expect(outcome.info).toMatchObject({ available: true, cumulativeEnergy: false, covers: 'gpu0 NVIDIA H200' });
    expect((await outcome.source!.read()).powerWatts).toBe(119.33);
    expect(commands.calls.some((c) => c.includes('total_energy_consumption'))).toBe(false);
  });

  it('is unavailable when not installed', async () => {
    expect((await probeNvidiaSmi(ctx({}))).info.reason).toMatch(/not installed/);
  });
});

describe('AMD GPU hwmon (fixture tree)', () => {
  it('reads power1_average in µW; power1_input on newer kernels', async () => {
    const avg = probeAmdGpuHwmon(ctx({ '/sys/class/drm/card0/device/hwmon/hwmon2/name': 'amdgpu', '/sys/class/drm/card0/device/hwmon/hwmon2/power1_average': '35000000' }));
    expect((await avg.source!.read()).powerWatts).toBe(35);
    const input = probeAmdGpuHwmon(ctx({ '/sys/class/drm/card1/device/hwmon/hwmon5/name': 'amdgpu', '/sys/class/drm/card1/device/hwmon/hwmon5/power1_input': '12500000' }));
    expect((await input.source!.read()).powerWatts).toBe(12.5);
    expect(probeAmdGpuHwmon(ctx({ '/sys/class/drm/card0/device/hwmon/hwmon2/name': 'nouveau' })).info.available).toBe(false);
  });
});

describe('external meter', () => {
  it('parses a command reading and a log tail; bad output names the field', () => {
    expect(parseMeterWatts('12.5 W\n')).toBe(12.5);
    expect(parseMeterWatts('7\n')).toBe(7);
    expect(() => parseMeterWatts('ERR')).toThrow(/external meter output/);
    expect(parseMeterLogTail('# unix_ms,watts\n1000,3.5\n2000,4.25\n')).toEqual({ atUnixMs: 2000, powerWatts: 4.25 });
    expect(() => parseMeterLogTail('1000;3.5\n')).toThrow(/external meter log line/);
  });

  it('a stale log is not taken for a steady draw', async () => {
    const now = { ms: 10_000 };
    const reader = memorySysfs({ '/var/log/meter.csv': '9000,30.0\n' });
    const fresh = await probeExternalMeter(ctx({}), { kind: 'log', path: '/var/log/meter.csv', maxAgeMs: 2000, nowUnixMs: () => now.ms }, reader);
    expect((await fresh.source!.read()).powerWatts).toBe(30);
    now.ms = 20_000;
    await expect(fresh.source!.read()).rejects.toThrow(/old/);
  });

  it('a command meter is sampled at 1 Hz and covers the wall', async () => {
    const outcome = await probeExternalMeter(ctx({}, recordedCommands({ 'meter --read': '42.0 W' })), { kind: 'command', command: 'meter', args: ['--read'] }, memorySysfs({}));
    expect(outcome.info).toMatchObject({ available: true, domain: PowerDomain.POWER_DOMAIN_WALL, sampleRateHz: 1 });
  });
});

describe('detectSensors and the choice of source', () => {
  it('on an empty machine (like this VM) finds no power sensor and says why for each', async () => {
    const found = await detectSensors(ctx({}), { tegrastatsLogPath: '/tmp/x', logReader: memorySysfs({}) });
    expect(found.powerSources).toEqual([]);
    const power = found.sensors.filter((s) => s.kind === 'power');
    expect(power.map((s) => s.id)).toEqual(['external-meter', 'ina3221-hwmon', 'ina3221-iio', 'tegrastats', 'vcgencmd-pmic', 'rapl', 'nvidia-smi', 'amdgpu-hwmon']);
    for (const s of power) expect(s.reason).not.toBe('');
  });

  it('on a Jetson prefers the module rail; GPU jobs on a GPU server get the GPU sensor', async () => {
    const jetson = await detectSensors(ctx(jetsonOrinHwmonTree()), { tegrastatsLogPath: '/tmp/x', logReader: memorySysfs({}) });
    expect(choosePowerSource(jetson.powerSources, 'cpu')?.info.id).toBe('ina3221-hwmon');
    const server = await detectSensors(
      ctx({ ...raplTree(1), '/sys/class/drm/card0/device/hwmon/hwmon2/name': 'amdgpu', '/sys/class/drm/card0/device/hwmon/hwmon2/power1_average': '1' }),
      { tegrastatsLogPath: '/tmp/x', logReader: memorySysfs({}) },
    );
    expect(choosePowerSource(server.powerSources, 'cpu')?.info.id).toBe('rapl');
    expect(choosePowerSource(server.powerSources, 'rocm')?.info.id).toBe('amdgpu-hwmon');
  });
});
