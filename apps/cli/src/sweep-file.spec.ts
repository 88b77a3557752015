import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSweepFile, mergeSweepSettings, resolveSweepSettings, SweepFileError } from './sweep-file';

const dir = mkdtempSync(join(tmpdir(), 'bf-sweepfile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

describe('loadSweepFile', () => {
  it('reads YAML with lists and shapes as the REST fields', async () => {
    const path = file('s.yaml', 'variants: [fp32, ort-basic]\nscenario: server\ntargetQps: 50\nlatencyBoundMs: 20\nminQueries: 700\nsearchPeakQps: true\nshapes: {x: [1, 3, 48, 192]}\n');
    expect(await loadSweepFile(path)).toEqual({ variants: 'fp32,ort-basic', scenario: 'server', targetQps: 50, latencyBoundMs: 20, minQueries: 700, searchPeakQps: true, shapes: '{"x":[1,3,48,192]}' });
  });

  it('reads JSON', async () => {
    expect(await loadSweepFile(file('s.json', '{"scenario": "offline", "batchSizes": [1, 2], "concurrency": "1,4"}'))).toEqual({ scenario: 'offline', batchSizes: '1,2', concurrency: '1,4' });
  });

  it.each([
    ['bad.yaml', 'scenario: server\ntargetQPS: 50\n', /unknown key\(s\) "targetQPS"/],
    ['bad2.yaml', 'minQueries: lots\nprofile: maybe\n', /minQueries: .*; profile: /],
    ['bad3.json', '{"scenario": ', /not valid JSON/],
  ])('refuses %s naming the key', async (name, text, message) => {
    await expect(loadSweepFile(file(name, text))).rejects.toThrow(message);
    await expect(loadSweepFile(file(name, text))).rejects.toBeInstanceOf(SweepFileError);
  });

  it('refuses a missing file', async () => {
    await expect(loadSweepFile(join(dir, 'nope.yaml'))).rejects.toThrow(/cannot read the sweep file/);
  });
});

describe('mergeSweepSettings / resolveSweepSettings', () => {
  it('lets typed flags win and defaults yield to the file', () => {
    const merged = mergeSweepSettings({ variants: 'fp32', minQueries: 700 }, { variants: 'fp32,ort-basic', minQueries: 10, threads: 2 }, new Set(['minQueries']));
    expect(merged).toEqual({ variants: 'fp32', minQueries: 10, threads: 2 });
  });

  it('reads --file and knows which flags were typed', async () => {
    const path = file('r.yaml', 'variants: fp32\nscenario: cold_start\n');
    const cmd = { getOptionValueSource: (key: string) => (key === 'scenario' ? 'cli' : 'default') } as never;
    const settings = await resolveSweepSettings({ variants: 'fp32,ort-basic' }, { file: path, scenario: 'offline' }, cmd);
    expect(settings).toMatchObject({ variants: 'fp32', scenario: 'offline' });
  });
});

describe('the checked-in example sweep files', () => {
  it.each(['server-slo.sweep.yaml', 'offline-batches.sweep.json'])('%s is valid', async (name) => {
    const settings = await loadSweepFile(join(import.meta.dirname, '../../../examples', name));
    expect(settings.variants).toMatch(/^fp32,/);
    expect(['server', 'offline']).toContain(settings.scenario);
  });
});
