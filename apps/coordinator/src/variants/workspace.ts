import { randomUUID } from 'node:crypto';
import { mkdir, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/** The coordinator's scratch files: uploads and per-sweep work folders. */
export abstract class Workspace {
  /** Folder multer writes uploaded models to. */
  abstract readonly uploadDir: string;
  /** Empties the scratch folders (at start-up: files left by a crash are of no use). */
  abstract reset(): Promise<void>;
  /** A new, empty folder for one sweep's working files. */
  abstract createWorkDir(): Promise<string>;
  /** Removes a file or folder; missing is fine. */
  abstract remove(path: string): Promise<void>;
  /** Size of a regular file in bytes, or undefined when the path is not one. */
  abstract regularFileSize(path: string): Promise<number | undefined>;
}

/** {@link Workspace} under the coordinator's data folder; names are random, never user input. */
export class LocalWorkspace extends Workspace {
  readonly uploadDir: string;
  private readonly workRoot: string;

  constructor(dataDir: string) {
    super();
    this.uploadDir = join(dataDir, 'uploads');
    this.workRoot = join(dataDir, 'work');
  }

  async reset(): Promise<void> {
    for (const dir of [this.uploadDir, this.workRoot]) {
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir, { recursive: true });
    }
  }

  async createWorkDir(): Promise<string> {
    const dir = join(this.workRoot, randomUUID());
    await mkdir(dir, { recursive: true });
    return dir;
  }

  async remove(path: string): Promise<void> {
    await rm(path, { recursive: true, force: true });
  }

  async regularFileSize(path: string): Promise<number | undefined> {
    try {
      const info = await stat(resolve(path));
      return info.isFile() ? info.size : undefined;
    } catch {
      return undefined;
    }
  }
}
