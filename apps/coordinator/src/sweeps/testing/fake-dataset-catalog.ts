// A dataset catalog in memory, for tests of sweep planning (labelled fake: no object store,
// no upload; the datasets module's own tests cover those). Images are real JPEG bytes
// written to disk on materialize, so the checks that decode them run for real.
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { DomainError, DomainErrorCode } from '../../common/domain-error';
import { DatasetCatalog, type DatasetImageRecord, type DatasetLabelsRecord, type DatasetRecord } from '../../datasets/dataset.types';

/** A small JPEG (a gradient with a dark band that moves with `seed`), encoded for real. */
export function syntheticJpeg(seed: number, width = 32, height = 24): Buffer {
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    const dark = (Math.floor(i / width) + seed * 5) % 12 < 3;
    rgba.set(dark ? [20, 20, 20, 255] : [(120 + seed * 17) % 256, (i % width) * 4, 150, 255], i * 4);
  }
  return Buffer.from(jpeg.encode({ width, height, data: rgba }, 90).data);
}

/** {@link DatasetCatalog} over datasets held in memory (fake). */
export class FakeDatasetCatalog extends DatasetCatalog {
  private readonly datasets: DatasetRecord[] = [];
  private readonly bytes = new Map<string, Buffer>();
  /** Every image materialize() was asked for, by digest, in order. */
  readonly materialized: string[] = [];

  /** Adds a dataset of the given images (name -> bytes) and returns its record. */
  add(name: string, images: Readonly<Record<string, Buffer>>, extra: { labels?: DatasetLabelsRecord; preprocess?: DatasetRecord['preprocess'] } = {}): DatasetRecord {
    const records: DatasetImageRecord[] = Object.entries(images)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([imageName, data]) => {
        const sha256 = createHash('sha256').update(data).digest('hex');
        this.bytes.set(sha256, data);
        return { name: imageName, sha256, sizeBytes: data.length, width: 32, height: 24 };
      });
    const id = createHash('sha256').update(JSON.stringify({ name, records, extra })).digest('hex');
    const record: DatasetRecord = { id, name, createdAtMs: 0, images: records, ...extra, totalBytes: records.reduce((n, r) => n + r.sizeBytes, 0) };
    this.datasets.push(record);
    return record;
  }

  async resolve(idOrName: string, field: string): Promise<DatasetRecord> {
    const found = this.datasets.find((d) => d.name === idOrName || d.id === idOrName || (idOrName.length >= 8 && d.id.startsWith(idOrName)));
    if (!found) throw new DomainError(DomainErrorCode.DatasetNotFound, `no dataset ${JSON.stringify(idOrName)}`, { field });
    return Promise.resolve(found);
  }

  async materialize(images: readonly DatasetImageRecord[], dir: string): Promise<string[]> {
    await mkdir(dir, { recursive: true });
    const paths: string[] = [];
    for (const image of images) {
      const data = this.bytes.get(image.sha256);
      if (!data) throw new DomainError(DomainErrorCode.InvalidArgument, `no object ${image.sha256}`);
      this.materialized.push(image.sha256);
      const path = join(dir, image.name);
      await writeFile(path, data);
      paths.push(path);
    }
    return paths;
  }

  async readLabels(): Promise<unknown> {
    return undefined;
  }
}
