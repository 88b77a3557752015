import { AXIS_ALIASES, checkDimensions } from '@benchfarm/suite';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { Command } from 'commander';
import {
  collectDimension,
  datasetFlagSettings,
  loadSweepFile,
  mergeSweepSettings,
  preprocessFlag,
  resolveSweepSettings,
  scenarioFlags,
  scenarioFlagSettings,
  SweepFileError,
  SweepFlagError,
  type DatasetUploader,
  type ScenarioFlagValues,
} from './sweep-file';

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
  it('threads-search.sweep.yaml is valid, and its dimensions pass the checks the coordinator applies', async () => {
    const settings = await loadSweepFile(join(import.meta.dirname, '../../../examples', 'threads-search.sweep.yaml'));
    expect(settings).toMatchObject({ variants: 'fp32,ort-extended', search: 'quick', budgetMinutes: 20 });
    const dimensions = typeof settings.dimensions === 'string' ? (JSON.parse(settings.dimensions) as Record<string, string[]>) : (settings.dimensions as unknown as Record<string, string[]>);
    const request = Object.fromEntries(Object.entries(dimensions).map(([k, v]) => [AXIS_ALIASES[k] ?? k, Array.isArray(v) ? v : String(v).split(',')]));
    expect(checkDimensions(request, 'single_stream').map((a) => `${a.name}=${a.values.join(',')}`)).toEqual([
      'provider=cpu,cuda',
      'intra_op_threads=auto',
      'graph_optimization_level=basic,extended,all',
      'execution_mode=sequential,parallel',
    ]);
  });
});

describe('dataset flags', () => {
  // A recording uploader (fake: the real one, dataset-upload.ts, is tested against a real coordinator).
  const recorder = () => {
    const calls: { dir: string; options: Parameters<DatasetUploader>[1] }[] = [];
    const upload: DatasetUploader = async (folder, options) => {
      calls.push({ dir: folder, options });
      return { id: `${'0'.repeat(60)}${String(calls.length).padStart(4, '0')}`, name: `set${calls.length}`, images: 3, reused: calls.length > 1 };
    };
    return { calls, upload };
  };
  const folder = (name: string): string => {
    const path = join(dir, name);
    mkdirSync(path, { recursive: true });
    return path;
  };

  it('uploads --calibration and --eval folders (labels with --eval) and sends the dataset ids', async () => {
    const { calls, upload } = recorder();
    const lines: string[] = [];
    const settings = await datasetFlagSettings({ calibration: folder('cal'), eval: folder('ev'), labels: 'l.json', preprocess: 'yolox', task: 'detection', evalImages: 20 }, upload, (l) => lines.push(l));
    expect(calls).toEqual([
      { dir: join(dir, 'cal'), options: { preprocess: 'yolox' } },
      { dir: join(dir, 'ev'), options: { labelsPath: join(process.cwd(), 'l.json'), preprocess: 'yolox' } },
    ]);
    expect(settings).toEqual({ calibrationDataset: `${'0'.repeat(60)}0001`, evaluationDataset: `${'0'.repeat(60)}0002`, preprocess: 'yolox', task: 'detection', evaluationImages: 20 });
    expect(lines[1]).toMatch(/--eval .*ev: dataset set2 \(000000000000\), 3 images, already stored/);
  });

  it('uploads --dataset <dir> with its labels, and passes a stored dataset name through', async () => {
    const { calls, upload } = recorder();
    expect(await datasetFlagSettings({ dataset: folder('both'), labels: 'l.json' }, upload)).toEqual({ dataset: `${'0'.repeat(60)}0001` });
    expect(calls[0]?.options.labelsPath).toBe(join(process.cwd(), 'l.json'));
    expect(await datasetFlagSettings({ dataset: 'photos-v2' }, upload)).toEqual({ dataset: 'photos-v2' });
    expect(calls).toHaveLength(1);
  });

  it('keeps a folder on the coordinator as calibrationDir', async () => {
    const { calls, upload } = recorder();
    expect(await datasetFlagSettings({ calibrationOnCoordinator: '/lab/cal', preprocess: 'yolo' }, upload)).toEqual({ calibrationDir: '/lab/cal', preprocess: 'yolo' });
    expect(calls).toEqual([]);
  });

  it.each<[string, Parameters<typeof datasetFlagSettings>[0], RegExp]>([
    ['--dataset with --eval', { dataset: 'photos', eval: '/x' }, /either --dataset .* or --calibration \/ --eval/],
    ['both calibration folders', { calibration: '/x', calibrationOnCoordinator: '/y' }, /either --calibration <dir> .* or --calibration-on-coordinator/],
    ['--labels without evaluation images', { calibration: '/x', labels: 'l.json' }, /--labels labels the evaluation images/],
    ['--eval that is no folder', { eval: '/no/such/folder' }, /--eval: \/no\/such\/folder is not a folder on this machine/],
  ])('refuses %s before uploading anything', async (_name, flags, message) => {
    const { calls, upload } = recorder();
    await expect(datasetFlagSettings(flags, upload)).rejects.toThrow(message);
    await expect(datasetFlagSettings(flags, upload)).rejects.toBeInstanceOf(SweepFlagError);
    expect(calls).toEqual([]);
  });

  it('reads --preprocess as a preset, JSON text or a .json file, naming the file it cannot read', async () => {
    expect(await preprocessFlag('yolox')).toBe('yolox');
    expect(await preprocessFlag('{"resize":"stretch"}')).toEqual({ resize: 'stretch' });
    expect(await preprocessFlag(file('pre.json', '{"resize":"letterbox","scale":1}'))).toEqual({ resize: 'letterbox', scale: 1 });
    await expect(preprocessFlag(join(dir, 'missing.json'))).rejects.toThrow(/--preprocess: cannot read .*missing\.json/);
    await expect(preprocessFlag(file('bad.json', '{'))).rejects.toThrow(/--preprocess: .*bad\.json is not valid JSON/);
  });

  it('takes the dataset fields in a sweep file', async () => {
    expect(await loadSweepFile(file('d.yaml', 'dataset: photos\ntask: detection\nevaluationImages: 50\npreprocess: {resize: letterbox, channelOrder: BGR, scale: 1}\n'))).toEqual({
      dataset: 'photos',
      task: 'detection',
      evaluationImages: 50,
      preprocess: '{"resize":"letterbox","channelOrder":"BGR","scale":1}',
    });
  });
});

describe('runtime-settings search in sweep files and flags', () => {
  it('takes dimensions as a map of axis -> values and the search settings, sending the map as JSON text', async () => {
    const path = file('search.yaml', 'variants: [fp32, int8-static]\ndimensions:\n  threads: [1, 2, auto]\n  level: [basic, all]\n  provider: [cpu, "tensorrt:fp16,workspace_mb=2048"]\nsearch: quick\nbudgetMinutes: 20\npointDurationMs: 1500\npointWarmupMs: 300\npointMinQueries: 20\nconfirmRounds: 8\n');
    expect(await loadSweepFile(path)).toEqual({
      variants: 'fp32,int8-static',
      dimensions: '{"threads":[1,2,"auto"],"level":["basic","all"],"provider":["cpu","tensorrt:fp16,workspace_mb=2048"]}',
      search: 'quick',
      budgetMinutes: 20,
      pointDurationMs: 1500,
      pointWarmupMs: 300,
      pointMinQueries: 20,
      confirmRounds: 8,
    });
  });

  it('takes dimensions as the compact text too', async () => {
    expect(await loadSweepFile(file('search-text.yaml', 'dimensions: "threads=1,2;level=basic,all"\n'))).toEqual({ dimensions: 'threads=1,2;level=basic,all' });
  });

  it.each([
    ['an unknown axis', 'dimensions:\n  colour: [red]\n', /dimensions: unknown axis "colour" \(axes: provider, intra_op_threads/],
    ['an axis without values', 'dimensions:\n  threads: []\n', /dimensions.threads: must list at least one value/],
    ['a nested map', 'dimensions:\n  threads: {a: 1}\n', /dimensions: threads: must be a list of values/],
    ['a misspelt search key', 'dimensions: {threads: [1]}\nbudget: 3\n', /unknown key\(s\) "budget"/],
    ['a budget that is no number', 'dimensions: {threads: [1]}\nbudgetMinutes: soon\n', /budgetMinutes: /],
  ])('refuses %s, naming the key', async (_case, text, message) => {
    await expect(loadSweepFile(file('bad-search.yaml', text))).rejects.toThrow(message);
  });

  it('collects repeated --dim flags into the compact text, with the search flags as REST fields', () => {
    const cmd = scenarioFlags(new Command().exitOverride());
    cmd.parse(['--dim', 'threads=1,2', '--dim', 'level=basic,all', '--search', 'quick', '--budget-minutes', '5', '--point-ms', '800'], { from: 'user' });
    const settings = scenarioFlagSettings(cmd.opts<ScenarioFlagValues>());
    expect(settings).toMatchObject({ dimensions: 'threads=1,2;level=basic,all', search: 'quick', budgetMinutes: '5', pointDurationMs: '800' });
    expect(scenarioFlagSettings({}).dimensions).toBeUndefined();
  });

  it.each([
    ['threads', /is not axis=v1,v2/],
    ['threads=', /is not axis=v1,v2/],
    ['colour=red', /unknown axis "colour"/],
  ])('refuses --dim %s naming the problem', (value, message) => {
    expect(() => collectDimension(value)).toThrow(message);
  });

  it('lets a typed --dim win over the file and the file win over no flag', async () => {
    const path = file('search-merge.yaml', 'dimensions: {threads: [1, 2]}\nsearch: quick\n');
    const typed = { getOptionValueSource: (key: string) => (key === 'dim' ? 'cli' : 'default') } as never;
    expect(await resolveSweepSettings({}, { file: path, dim: ['level=basic,all'] }, typed)).toMatchObject({ dimensions: 'level=basic,all', search: 'quick' });
    const none = { getOptionValueSource: () => undefined } as never;
    expect(await resolveSweepSettings({}, { file: path }, none)).toMatchObject({ dimensions: '{"threads":[1,2]}', search: 'quick' });
  });
});
