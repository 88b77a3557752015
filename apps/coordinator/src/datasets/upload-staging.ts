import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Thrown when the request body broke off (the client went away); what arrived is kept. */
export class UploadInterruptedError extends Error {
  override name = 'UploadInterruptedError';
  constructor(
    readonly receivedBytes: number,
    options: { cause?: unknown },
  ) {
    super(`the request body broke off after ${receivedBytes} bytes of the file`, options);
  }
}

/** Thrown when a chunk would make a file longer than it was declared. */
export class UploadOverflowError extends Error {
  override name = 'UploadOverflowError';
}

/**
 * Where the bytes of open dataset uploads wait on the coordinator's disk until the dataset is
 * complete: one folder per session, one file per digest (`<sha256>.part` while bytes arrive,
 * `<sha256>` once verified). Names are upload ids and digests, never a client's file name.
 */
export abstract class UploadStaging {
  /** Bytes received so far of a file (a verified file counts whole). */
  abstract receivedBytes(uploadId: string, sha256: string): Promise<number>;
  /**
   * Writes `source` at `offset` (0 starts the file again; otherwise it must be where the part
   * ends), at most up to `sizeBytes` in all; returns the bytes now received. What arrived before a
   * broken connection stays, so the client resumes from there. Thrown: {@link UploadOverflowError}.
   */
  abstract write(uploadId: string, sha256: string, source: AsyncIterable<Uint8Array>, offset: number, sizeBytes: number): Promise<number>;
  /** Writes a whole verified file at once (inline labels). */
  abstract writeVerified(uploadId: string, sha256: string, bytes: Uint8Array): Promise<void>;
  /** SHA-256 of the part received. */
  abstract hashPart(uploadId: string, sha256: string): Promise<string>;
  /** The bytes of the part (or verified file). */
  abstract read(uploadId: string, sha256: string): Promise<Buffer>;
  /** Marks the part verified; returns the verified file's path. */
  abstract markVerified(uploadId: string, sha256: string): Promise<string>;
  /** Path of a verified file. */
  abstract verifiedPath(uploadId: string, sha256: string): string;
  /** Drops the bytes of one file. */
  abstract removeFile(uploadId: string, sha256: string): Promise<void>;
  /** Drops a session's folder. */
  abstract removeUpload(uploadId: string): Promise<void>;
  /** Ids of the sessions that have a folder. */
  abstract uploadIds(): Promise<string[]>;
}

/** {@link UploadStaging} under `<dataDir>/dataset-uploads` (kept across restarts: uploads resume). */
export class LocalUploadStaging extends UploadStaging {
  readonly root: string;

  constructor(dataDir: string) {
    super();
    this.root = join(dataDir, 'dataset-uploads');
  }

  private dir(uploadId: string): string {
    return join(this.root, uploadId);
  }

  private partPath(uploadId: string, sha256: string): string {
    return join(this.dir(uploadId), `${sha256}.part`);
  }

  verifiedPath(uploadId: string, sha256: string): string {
    return join(this.dir(uploadId), sha256);
  }

  async receivedBytes(uploadId: string, sha256: string): Promise<number> {
    for (const path of [this.verifiedPath(uploadId, sha256), this.partPath(uploadId, sha256)]) {
      try {
        return (await stat(path)).size;
      } catch {
        // not there
      }
    }
    return 0;
  }

  async write(uploadId: string, sha256: string, source: AsyncIterable<Uint8Array>, offset: number, sizeBytes: number): Promise<number> {
    await mkdir(this.dir(uploadId), { recursive: true });
    const path = this.partPath(uploadId, sha256);
    const file = await open(path, offset === 0 ? 'w' : 'r+');
    let position = offset;
    try {
      // A part longer than the offset (a chunk that half-arrived and is sent again) is cut back.
      if (offset > 0) await file.truncate(offset);
      const chunks = source[Symbol.asyncIterator]();
      for (;;) {
        let next: IteratorResult<Uint8Array>;
        try {
          next = await chunks.next();
        } catch (err) {
          throw new UploadInterruptedError(position, { cause: err });
        }
        if (next.done) break;
        const chunk = next.value;
        if (position + chunk.length > sizeBytes) {
          const fits = sizeBytes - position;
          if (fits > 0) await file.write(chunk.subarray(0, fits), 0, fits, position);
          throw new UploadOverflowError(`more bytes than the ${sizeBytes} declared`);
        }
        await file.write(chunk, 0, chunk.length, position);
        position += chunk.length;
      }
    } finally {
      await file.close();
    }
    return position;
  }

  async writeVerified(uploadId: string, sha256: string, bytes: Uint8Array): Promise<void> {
    await mkdir(this.dir(uploadId), { recursive: true });
    await writeFile(this.verifiedPath(uploadId, sha256), bytes);
  }

  async hashPart(uploadId: string, sha256: string): Promise<string> {
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(this.partPath(uploadId, sha256))) hash.update(chunk as Buffer);
    return hash.digest('hex');
  }

  async read(uploadId: string, sha256: string): Promise<Buffer> {
    try {
      return await readFile(this.verifiedPath(uploadId, sha256));
    } catch {
      return readFile(this.partPath(uploadId, sha256));
    }
  }

  async markVerified(uploadId: string, sha256: string): Promise<string> {
    const target = this.verifiedPath(uploadId, sha256);
    await rename(this.partPath(uploadId, sha256), target);
    return target;
  }

  async removeFile(uploadId: string, sha256: string): Promise<void> {
    await rm(this.partPath(uploadId, sha256), { force: true });
    await rm(this.verifiedPath(uploadId, sha256), { force: true });
  }

  async removeUpload(uploadId: string): Promise<void> {
    await rm(this.dir(uploadId), { recursive: true, force: true });
  }

  async uploadIds(): Promise<string[]> {
    try {
      return await readdir(this.root);
    } catch {
      return [];
    }
  }
}
