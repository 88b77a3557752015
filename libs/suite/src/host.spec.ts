import { describe, expect, it } from 'vitest';
import { hostFacts, type HostProbe } from './host';

/** FAKE file tree (pure logic, labelled): the host's sysfs/procfs as a map. */
function fakeHost(files: Record<string, string>): HostProbe {
  return {
    read: (path) => files[path],
    list: (dir) => [...new Set(Object.keys(files).filter((p) => p.startsWith(`${dir}/`)).map((p) => p.slice(dir.length + 1).split('/')[0]!))],
    logicalCpus: () => 6,
    totalMemoryBytes: () => 8 * 2 ** 30,
    arch: () => 'arm64',
  };
}

describe('hostFacts', () => {
  it('reads a Jetson: governor, nvpmodel mode, L4T release, thermal zones, INA3221', () => {
    const facts = hostFacts('abc', fakeHost({
      '/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor': 'schedutil',
      '/var/lib/nvpmodel/status': 'pmode:0002 fmode:quiet',
      '/etc/nv_tegra_release': '# R35 (release), REVISION: 4.1, GCID: 33958178, BOARD: t186ref',
      '/sys/class/thermal/thermal_zone0/type': 'CPU-therm',
      '/sys/class/thermal/thermal_zone1/type': 'GPU-therm',
      '/sys/bus/i2c/drivers/ina3221/1-0040/name': 'ina3221',
    }));
    expect(facts).toMatchObject({
      logicalCpus: 6,
      cpuGovernor: 'schedutil',
      powerMode: '0002',
      driverVersions: 'l4t R35 (release)',
      sensors: ['thermal:CPU-therm', 'thermal:GPU-therm', 'ina3221'],
      modelSha256: 'abc',
      arch: 'arm64',
      unmeasured: [],
    });
  });

  it('reads an NVIDIA driver and RAPL on x86', () => {
    const facts = hostFacts('abc', fakeHost({
      '/proc/driver/nvidia/version': 'NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  Sat Aug 19 01:15:15 UTC 2023',
      '/sys/class/powercap/intel-rapl:0/name': 'package-0',
    }));
    expect(facts.driverVersions).toBe('nvidia 535.104.05');
    expect(facts.sensors).toEqual(['rapl:package-0', 'nvidia-smi']);
  });

  it('leaves what it cannot read empty and says why (never a made-up value)', () => {
    const facts = hostFacts(undefined, fakeHost({}));
    expect(facts).toMatchObject({ cpuGovernor: '', powerMode: '', driverVersions: '', sensors: [] });
    expect(facts.unmeasured.map((u) => u.field)).toEqual(['cpu_governor', 'power_mode', 'driver_versions', 'sensors', 'model_sha256']);
    for (const u of facts.unmeasured) expect(u.reason.length).toBeGreaterThan(10);
  });
});
