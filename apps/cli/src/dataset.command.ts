// `benchfarm dataset add|list|show|rm`: evaluation and calibration images (with COCO labels)
// uploaded from this machine to the coordinator, stored once by content.
import { basename, resolve } from 'node:path';
import type { Command } from 'commander';
import { CoordinatorClient, type DatasetView } from './client';
import { DatasetUploadError, uploadDatasetDir } from './dataset-upload';
import { table } from './format';
import { SweepFlagError } from './sweep-file';

const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(2)} MB`;

/** A folder name as a dataset name (A-Z a-z 0-9 . _ -, from a letter or digit); undefined when nothing usable is left. */
function nameFromFolder(dir: string): string | undefined {
  const name = basename(resolve(dir))
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 100);
  // Hex-only names read as id prefixes; the coordinator refuses them.
  return name === '' || /^[0-9a-f]{8,64}$/.test(name) ? undefined : name;
}

function preprocessText(p: DatasetView['preprocess']): string {
  return p === undefined ? '-' : typeof p === 'string' ? p : JSON.stringify(p);
}

function labelsText(d: DatasetView): string {
  return d.labels ? `${d.labels.labelledImages} images, ${d.labels.annotations} boxes, ${d.labels.categories.length} categories` : '-';
}

/** The `dataset list` table. */
export function datasetsTable(datasets: readonly DatasetView[]): string {
  if (datasets.length === 0) return 'no datasets (add one with `benchfarm dataset add <dir>`)';
  return table(
    ['ID', 'NAME', 'IMAGES', 'SIZE', 'LABELS', 'PREPROCESS', 'CREATED'],
    datasets.map((d) => [d.id.slice(0, 12), d.name, String(d.imageCount), mb(d.totalBytes), labelsText(d), preprocessText(d.preprocess), d.createdAt]),
  );
}

/** The `dataset show` text: the record and its images. */
export function datasetText(d: DatasetView): string {
  const lines = [
    `dataset ${d.name}`,
    `  id          ${d.id}`,
    `  created     ${d.createdAt}`,
    `  images      ${d.imageCount} (${mb(d.totalBytes)} with labels)`,
    `  preprocess  ${preprocessText(d.preprocess)}`,
    `  labels      ${labelsText(d)}`,
  ];
  if (d.labels) lines.push(`  categories  ${d.labels.categories.map((c) => `${c.id}:${c.name}`).join(', ')}`);
  if (d.images && d.images.length > 0) {
    lines.push('', table(['IMAGE', 'SIZE', 'PIXELS', 'SHA256'], d.images.map((i) => [i.name, `${(i.sizeBytes / 1024).toFixed(1)} KB`, `${i.width}x${i.height}`, i.sha256.slice(0, 16)])));
  }
  return lines.join('\n');
}

/** Runs a command body; bad local input (a folder, a file, a flag) is exit 2 with its message, not a stack trace. */
async function guarded(body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (err) {
    if (!(err instanceof DatasetUploadError || err instanceof SweepFlagError)) throw err;
    process.stderr.write(`error: ${err.message}\n`);
    process.exitCode = 2;
  }
}

/** Adds `dataset add|list|show|rm`; `coordinatorUrl` resolves the program's --coordinator/--dir at run time. */
export function registerDatasetCommand(program: Command, coordinatorUrl: () => string): void {
  const dataset = program.command('dataset').description('datasets of images (and COCO labels) on the coordinator, for calibration and accuracy; stored once by content');
  const client = (): CoordinatorClient => new CoordinatorClient(coordinatorUrl());

  dataset
    .command('add')
    .description('upload the .jpg/.jpeg images of a folder (resumable: run it again after an interruption)')
    .argument('<dir>', 'folder of JPEG images on this machine')
    .option('--labels <file>', 'COCO JSON labels of (some of) the images')
    .option('--preprocess <preset|file.json>', 'how images become the model input: yolox, yolo, imagenet, JSON text or a .json file')
    .option('--name <name>', 'dataset name (default: the folder name)')
    .option('--json', 'print the dataset as JSON')
    .action((dir: string, flags: { labels?: string; preprocess?: string; name?: string; json?: boolean }) =>
      guarded(async () => {
        const name = flags.name ?? nameFromFolder(dir);
        const progress = flags.json ? undefined : (line: string): void => void process.stdout.write(`${line}\n`);
        const result = await uploadDatasetDir(client(), dir, { ...(name !== undefined ? { name } : {}), ...(flags.labels ? { labelsPath: flags.labels } : {}), ...(flags.preprocess ? { preprocess: flags.preprocess } : {}) }, progress);
        if (flags.json) process.stdout.write(`${JSON.stringify(await client().getDataset(result.id), null, 2)}\n`);
        else if (result.reused && name !== undefined && result.name !== name) process.stdout.write(`note: the same images, labels and preprocessing are stored as ${result.name}; use that name or id\n`);
      }),
    );

  dataset
    .command('list')
    .description('list the datasets, newest first')
    .option('--json', 'print JSON')
    .action(async (flags: { json?: boolean }) => {
      const datasets = await client().listDatasets();
      process.stdout.write(flags.json ? `${JSON.stringify(datasets, null, 2)}\n` : `${datasetsTable(datasets)}\n`);
    });

  dataset
    .command('show')
    .description('a dataset with its images')
    .argument('<idOrName>', 'id, a unique id prefix (8+ hex digits) or name')
    .option('--json', 'print JSON')
    .action(async (idOrName: string, flags: { json?: boolean }) => {
      const d = await client().getDataset(idOrName);
      process.stdout.write(flags.json ? `${JSON.stringify(d, null, 2)}\n` : `${datasetText(d)}\n`);
    });

  dataset
    .command('rm')
    .description('remove a dataset; its files stay in the object store while another dataset, upload or sweep uses them')
    .argument('<idOrName>', 'id, a unique id prefix (8+ hex digits) or name')
    .action(async (idOrName: string) => {
      const r = await client().deleteDataset(idOrName);
      process.stdout.write(`removed dataset ${r.name} (${r.id.slice(0, 12)}): ${r.deletedObjects} files deleted, ${r.keptObjects} kept (in use)${r.failedObjects > 0 ? `, ${r.failedObjects} could not be deleted (object store unavailable)` : ''}\n`);
    });
}
