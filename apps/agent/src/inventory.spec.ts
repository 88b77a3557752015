// Physical cores from a FAKE sysfs tree written to a temp directory (the real one is read by
// collectCapabilities on the machine itself, checked last against Node's logical count).
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { collectCapabilities, physicalCoreCount } from './inventory';

let root: string | undefined;
afterEach(async () => {
  if (root) await rm(root, { recursive: true, force: true });
  root = undefined;
});

/** A fake /sys/devices/system/cpu: one entry per logical CPU, [package, core] or null for no topology. */
async function fakeSysfs(cpuTopology: ([number, number] | null)[], extra: string[] = []): Promise<string> {
  root = await mkdtemp(join(tmpdir(), 'fake-sysfs-cpu-'));
  for (const [i, topo] of cpuTopology.entries()) {
    const dir = join(root, `cpu${i}`);
    await mkdir(dir, { recursive: true });
    if (!topo) continue;
    await mkdir(join(dir, 'topology'));
    await writeFile(join(dir, 'topology', 'physical_package_id'), `${topo[0]}\n`);
    await writeFile(join(dir, 'topology', 'core_id'), `${topo[1]}\n`);
  }
  for (const name of extra) await mkdir(join(root, name), { recursive: true });
  return root;
}

describe('physicalCoreCount (fake sysfs)', () => {
  it.each([
    ['2 cores with 2 SMT threads each', [[0, 0], [0, 1], [0, 0], [0, 1]] as [number, number][], 2],
    ['two sockets numbering their cores alike', [[0, 0], [0, 1], [1, 0], [1, 1]] as [number, number][], 4],
    ['no SMT, sparse core ids', [[0, 0], [0, 4], [0, 8]] as [number, number][], 3],
  ])('%s', async (_name, topology, expected) => {
    expect(physicalCoreCount(await fakeSysfs(topology, ['cpufreq', 'cpuidle']))).toBe(expected);
  });

  it('skips a CPU without topology (offline) and answers undefined without any', async () => {
    expect(physicalCoreCount(await fakeSysfs([[0, 0], null, [0, 1]]))).toBe(2);
    await rm(root ?? '', { recursive: true, force: true });
    expect(physicalCoreCount(await fakeSysfs([null, null]))).toBeUndefined();
  });

  it('answers undefined where the directory does not exist or a file is not a number', async () => {
    expect(physicalCoreCount('/nonexistent/sys/cpu')).toBeUndefined();
    const dir = await fakeSysfs([[0, 0]]);
    await writeFile(join(dir, 'cpu0', 'topology', 'core_id'), 'garbage\n');
    expect(physicalCoreCount(dir)).toBeUndefined();
  });

  it('reports this machine’s physical cores, never more than its logical ones', () => {
    const caps = collectCapabilities();
    if (process.platform !== 'linux') return;
    expect(caps.cpuPhysicalCores).toBeGreaterThanOrEqual(1);
    expect(caps.cpuPhysicalCores).toBeLessThanOrEqual(cpus().length);
  });
});
