import { execFile } from 'node:child_process';
import { accessSync, constants, readFileSync, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { SensorCommandError, SensorPermissionError } from './errors';

/**
 * Reads the kernel's files (/sys, /proc, /etc) under a root, so that every probe runs
 * against a fake tree in tests (and under BENCHFARM_SYSFS_ROOT in the end-to-end fixture).
 * Reads are synchronous on purpose: sysfs files are tiny and answer from memory, and a
 * 10 Hz sampler is cheaper without a thread-pool round trip per file.
 */
export interface SysfsReader {
  /** The root every absolute path is resolved under ("/" on a real device). */
  readonly root: string;
  /** The file's text, trimmed; undefined when it does not exist. Throws SensorPermissionError on EACCES/EPERM. */
  read(path: string): string | undefined;
  /** Names in a directory, sorted; empty when it does not exist. */
  list(dir: string): string[];
}

/** Result of one command run. */
export interface CommandOutput {
  stdout: string;
  stderr: string;
}

/** Runs external tools; a fake replays recorded outputs in tests. */
export interface CommandRunner {
  /** Absolute path of `command` on PATH, or undefined when it is not installed. */
  which(command: string): string | undefined;
  /** Runs it to completion. Throws SensorCommandError on spawn failure, non-zero exit or timeout. */
  run(command: string, args: readonly string[], options?: { timeoutMs?: number }): Promise<CommandOutput>;
}

function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

/** {@link SysfsReader} on the real file system under `root` (default "/"). */
export function fileSysfsReader(root = '/'): SysfsReader {
  const resolve = (path: string): string => (root === '/' ? path : join(root, path));
  return {
    root,
    read(path) {
      try {
        return readFileSync(resolve(path), 'utf8').trim();
      } catch (err) {
        const code = errnoCode(err);
        if (code === 'EACCES' || code === 'EPERM') throw new SensorPermissionError(path, { cause: err });
        // ENODATA/EIO: a sysfs attribute that exists but whose driver has nothing to say.
        if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ENODATA' || code === 'EIO' || code === 'EINVAL') return undefined;
        throw err;
      }
    },
    list(dir) {
      try {
        return readdirSync(resolve(dir)).sort();
      } catch (err) {
        const code = errnoCode(err);
        if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EACCES') return [];
        throw err;
      }
    },
  };
}

/** {@link CommandRunner} with child_process.execFile; PATH comes from `env`. */
export function processCommandRunner(env: NodeJS.ProcessEnv = process.env): CommandRunner {
  const cache = new Map<string, string | undefined>();
  return {
    which(command) {
      if (cache.has(command)) return cache.get(command);
      let found: string | undefined;
      for (const dir of (env.PATH ?? '').split(delimiter).filter(Boolean)) {
        const candidate = join(dir, command);
        try {
          accessSync(candidate, constants.X_OK);
          found = candidate;
          break;
        } catch {
          // not in this PATH entry
        }
      }
      cache.set(command, found);
      return found;
    },
    run(command, args, options = {}) {
      return new Promise((resolve, reject) => {
        execFile(command, [...args], { timeout: options.timeoutMs ?? 5_000, maxBuffer: 8 * 1024 * 1024, env, encoding: 'utf8' }, (err, stdout, stderr) => {
          if (err) {
            const detail = stderr.trim().split('\n').slice(-3).join(' | ');
            reject(new SensorCommandError(command, `${err.message}${detail ? `: ${detail}` : ''}`, { cause: err }));
            return;
          }
          resolve({ stdout, stderr });
        });
      });
    },
  };
}

/** Parses a sysfs integer; undefined when absent or not a number. */
export function parseIntOrUndefined(text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  const value = Number(text);
  return Number.isFinite(value) ? value : undefined;
}
