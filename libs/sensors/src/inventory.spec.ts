// Inventory and configuration parsers, on FIXTURE files shaped like the real ones.
import { describe, expect, it } from 'vitest';
import { PowerDomain } from '@benchfarm/protocol';
import { sensorsConfigFromEnv } from './config';
import { jetsonOrinHwmonTree, memorySysfs, recordedCommands } from './fake-device.fixture';
import { collectInventory, findExternalRuntimes, jetpackForL4t, parseCpuFlags, parseNvTegraRelease, parseOsRelease } from './inventory';
import { JobRecorder } from './recorder';
import { ThermalReader } from './thermal';
import { sensorInfo, type PowerSource } from './power.types';

describe('inventory parsers', () => {
  it('reads CPU flags on x86 and ARM, the OS name and the L4T / JetPack release', () => {
    expect(parseCpuFlags('processor\t: 0\nflags\t\t: fpu vme avx2 avx512f\n')).toEqual(['fpu', 'vme', 'avx2', 'avx512f']);
    expect(parseCpuFlags('processor\t: 0\nFeatures\t: fp asimd evtstrm aes crc32 atomics\n')).toContain('asimd');
    expect(parseOsRelease('NAME="Ubuntu"\nPRETTY_NAME="Ubuntu 22.04.4 LTS"\n')).toBe('Ubuntu 22.04.4 LTS');
    expect(parseNvTegraRelease('# R35 (release), REVISION: 4.1, GCID: 33958178, BOARD: t186ref, EABI: aarch64, DATE: Tue Aug  1 19:57:35 UTC 2023')).toBe('35.4.1');
    expect(parseNvTegraRelease('# R32 (release), REVISION: 7.1, GCID: 29818004, BOARD: t210ref, EABI: aarch64, DATE: Sat Feb 19 17:05:08 UTC 2022')).toBe('32.7.1');
    expect(jetpackForL4t('35.4.1')).toBe('5.1.2');
    expect(jetpackForL4t('99.0.0')).toBe('');
  });

  it('collects a Jetson inventory from a fake tree, with nvpmodel and trtexec from JetPack', async () => {
    const files = { ...jetsonOrinHwmonTree(), '/usr/src/tensorrt/bin/trtexec': 'ELF', '/etc/os-release': 'PRETTY_NAME="Ubuntu 20.04.6 LTS"' };
    const commands = recordedCommands({ 'nvpmodel -q': 'NV Power Mode: 15W\n0\n' });
    const ctx = { sysfs: memorySysfs(files), commands, nowMs: () => 0 };
    const inv = await collectInventory(ctx);
    expect(inv).toMatchObject({ boardModel: 'NVIDIA Jetson Orin Nano Developer Kit', l4tRelease: '35.4.1', jetpackRelease: '5.1.2', powerMode: '15W', osPrettyName: 'Ubuntu 20.04.6 LTS', gpuModel: 'NVIDIA Tegra integrated GPU' });
    expect(findExternalRuntimes(ctx)).toEqual([{ tool: 'trtexec', path: '/usr/src/tensorrt/bin/trtexec' }]);
  });
});

describe('sensor configuration', () => {
  it('defaults, and reports every bad key by name', () => {
    expect(sensorsConfigFromEnv({})).toMatchObject({ sysfsRoot: '/', sampling: true, idleBaselineMs: 2000, powerRateHz: undefined, externalMeter: undefined });
    expect(sensorsConfigFromEnv({ BENCHFARM_POWER_METER_COMMAND: 'meter --read -q' }).externalMeter).toEqual({ kind: 'command', command: 'meter', args: ['--read', '-q'] });
    expect(() => sensorsConfigFromEnv({ BENCHFARM_SENSORS: 'maybe', BENCHFARM_IDLE_BASELINE_MS: '-5' })).toThrow(/BENCHFARM_SENSORS[\s\S]*BENCHFARM_IDLE_BASELINE_MS/);
    expect(() => sensorsConfigFromEnv({ BENCHFARM_POWER_METER_COMMAND: 'a', BENCHFARM_POWER_METER_LOG: '/x' })).toThrow(/set one meter, not both/);
  });
});

describe('JobRecorder (fake source, real timers; no timing assertions)', () => {
  it('samples only between the marks, takes a reading on each mark, and records an idle baseline', async () => {
    let watts = 3;
    const reads: string[] = [];
    let clock = 0;
    const info = sensorInfo({ id: 'fake', kind: 'power', available: true, domain: PowerDomain.POWER_DOMAIN_BOARD, sampleRateHz: 50 });
    const source: PowerSource = {
      info,
      read: async () => {
        reads.push(String(watts));
        clock += 20;
        return { atMs: clock, powerWatts: watts, channels: [] };
      },
      close: async () => undefined,
    };
    const ctx = { sysfs: memorySysfs({}), commands: recordedCommands({}, []), nowMs: () => clock };
    const recorder = new JobRecorder(ctx, source, new ThermalReader(ctx));
    await recorder.idleBaseline(60);
    const idleReads = reads.length;
    watts = 8;
    recorder.markBegin();
    await new Promise((r) => setTimeout(r, 120));
    recorder.markEnd();
    const afterEnd = reads.length;
    await new Promise((r) => setTimeout(r, 100));
    const result = await recorder.finish(50);
    expect(idleReads).toBeGreaterThanOrEqual(2);
    // No interval read after END: at most the END mark's own reading was still pending.
    expect(reads.slice(afterEnd).length).toBeLessThanOrEqual(1);
    expect(result.power?.idlePowerWatts).toBe(3);
    expect(result.power?.averagePowerWatts).toBe(8);
    expect(result.power?.sampleCount).toBeGreaterThanOrEqual(2);
    expect(result.power?.energyPerInferenceAboveIdleJoules).toBeCloseTo(((8 - 3) * (result.power!.windowMs / 1000)) / 50, 9);
    expect(result.unmeasured).toEqual([]);
  });

  it('without marks reports power as unmeasured with the reason', async () => {
    const info = sensorInfo({ id: 'fake', kind: 'power', available: true });
    const source: PowerSource = { info, read: async () => ({ atMs: 0, powerWatts: 1, channels: [] }), close: async () => undefined };
    const ctx = { sysfs: memorySysfs({}), commands: recordedCommands({}, []), nowMs: () => 0 };
    const result = await new JobRecorder(ctx, source, new ThermalReader(ctx)).finish(10);
    expect(result.power).toBeUndefined();
    expect(result.unmeasured[0]?.reason).toMatch(/BEGIN and END marks/);
  });
});
