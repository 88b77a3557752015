// The generated evaluation set of the accuracy benchmarks (scripts/bench-evaluation.ts and
// scripts/bench-agent-eval-rss.ts): N distinct JPEGs made from the 10 labelled photos of
// examples/yolox-nano, with their COCO boxes moved with each crop and flip.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import jpeg from 'jpeg-js';
import { mulberry32 } from '@benchfarm/numerics';
import { decodeJpeg, sha256Hex } from '@benchfarm/onnx';

const EXAMPLE = join(resolve(fileURLToPath(new URL('..', import.meta.url))), 'examples/yolox-nano');

/** Thrown when the generator would write an image it wrote already (the set must be distinct). */
export class ImageSetError extends Error {
  override name = 'ImageSetError';
}

interface CocoLabels {
  images: { id: number; file_name: string; width: number; height: number }[];
  annotations: { id: number; image_id: number; category_id: number; bbox: number[]; area?: number; iscrowd?: number }[];
  categories: { id: number; name: string }[];
}


/**
 * Writes `count` distinct JPEGs made from the labelled example photos into `dir`, with COCO
 * labels whose boxes follow each crop and flip (a box keeping under half its area is dropped).
 * Variant k of a photo: flipped when k is odd, cropped to 100/94/88/82/76% of each side at a
 * seeded offset, re-encoded at quality 92 - 7 * floor(k / 10).
 */
export async function makeImageSet(count: number, dir: string): Promise<{ files: string[]; labelsPath: string }> {
  const labels = JSON.parse(await readFile(join(EXAMPLE, 'labels.coco.json'), 'utf8')) as CocoLabels;
  const sources = [...labels.images].sort((a, b) => a.file_name.localeCompare(b.file_name));
  const decoded = new Map<string, ReturnType<typeof decodeJpeg>>();
  for (const s of sources) decoded.set(s.file_name, decodeJpeg(await readFile(join(EXAMPLE, 'images', s.file_name))));
  await mkdir(dir, { recursive: true });
  const random = mulberry32(count); // seeded: the same set every run
  const out: CocoLabels = { images: [], annotations: [], categories: labels.categories };
  const files: string[] = [];
  const digests = new Set<string>();
  for (let i = 0; i < count; i++) {
    const source = sources[i % sources.length]!;
    const k = Math.floor(i / sources.length);
    const image = decoded.get(source.file_name)!;
    const flip = k % 2 === 1;
    const keep = 1 - 0.06 * (Math.floor(k / 2) % 5);
    const cw = Math.max(32, Math.round(image.width * keep));
    const ch = Math.max(32, Math.round(image.height * keep));
    const cx = Math.floor(random() * (image.width - cw + 1));
    const cy = Math.floor(random() * (image.height - ch + 1));
    const rgba = Buffer.alloc(cw * ch * 4);
    for (let y = 0; y < ch; y++) {
      for (let x = 0; x < cw; x++) {
        const sx = cx + (flip ? cw - 1 - x : x);
        const s = ((cy + y) * image.width + sx) * 3;
        const d = (y * cw + x) * 4;
        rgba[d] = image.rgb[s]!;
        rgba[d + 1] = image.rgb[s + 1]!;
        rgba[d + 2] = image.rgb[s + 2]!;
        rgba[d + 3] = 255;
      }
    }
    const quality = 92 - 7 * (Math.floor(k / 10) % 8);
    const bytes = jpeg.encode({ data: rgba, width: cw, height: ch }, quality).data;
    const digest = sha256Hex(bytes);
    if (digests.has(digest)) throw new ImageSetError(`generated image ${i} repeats an earlier one (sha256 ${digest.slice(0, 12)}); the set must be distinct`);
    digests.add(digest);
    const name = `${String(i).padStart(4, '0')}-${basename(source.file_name, '.jpg')}-k${k}.jpg`;
    await writeFile(join(dir, name), bytes);
    files.push(join(dir, name));
    const id = i + 1;
    out.images.push({ id, file_name: name, width: cw, height: ch });
    for (const a of labels.annotations.filter((a) => a.image_id === source.id)) {
      const [bx = 0, by = 0, bw = 0, bh = 0] = a.bbox;
      const x1 = Math.max(0, bx - cx);
      const y1 = Math.max(0, by - cy);
      const x2 = Math.min(cw, bx + bw - cx);
      const y2 = Math.min(ch, by + bh - cy);
      if (x2 <= x1 || y2 <= y1 || (x2 - x1) * (y2 - y1) < 0.5 * bw * bh) continue;
      const fx1 = flip ? cw - x2 : x1;
      out.annotations.push({ id: out.annotations.length + 1, image_id: id, category_id: a.category_id, bbox: [fx1, y1, x2 - x1, y2 - y1], area: (x2 - x1) * (y2 - y1), iscrowd: 0 });
    }
  }
  const labelsPath = join(dir, 'labels.coco.json');
  await writeFile(labelsPath, JSON.stringify(out));
  return { files, labelsPath };
}

