import { createRequire } from 'node:module';
import { basename } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ChildEntryError } from './errors';

/** A child process entry: the file node runs and the flags it needs. */
export interface ChildEntry {
  /** Absolute path of the file node runs. */
  readonly path: string;
  /** Node flags for it: the tsx loader for a TypeScript source, none for a bundled .mjs. */
  readonly execArgv: readonly string[];
  /** File name of the entry in a bundle (`child.main.ts` -> `child.main.mjs`): unique per bundle. */
  readonly bundleName: string;
}

/**
 * Whether this module runs from a bundle (scripts/build-agent.mjs) rather than from its
 * TypeScript source under tsx or vitest: a bundle is plain .mjs, and the bundler leaves
 * `import.meta.url` alone, so it names the bundle's file.
 */
export const runningBundled = !import.meta.url.endsWith('.ts');

let tsxLoader: string | undefined;

/**
 * File URL of tsx's ESM loader, for `node --import`: the one way a child is given it. Resolved
 * through require, which works the same under tsx, vitest and plain node.
 * Thrown ({@link ChildEntryError}) when tsx is not installed.
 */
export function tsxLoaderUrl(): string {
  if (tsxLoader === undefined) {
    try {
      tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
    } catch (err) {
      throw new ChildEntryError('cannot find the tsx loader (package tsx) to start a TypeScript child entry: is node_modules installed?', { cause: err });
    }
  }
  return tsxLoader;
}

/**
 * Names a child entry by its TypeScript source, written next to the code that starts it:
 * `childEntry(new URL('./child.main.ts', import.meta.url))`. From source (tsx, vitest) the
 * child runs that file under the tsx loader; from the agent bundle it runs the entry the
 * bundler built from it, `<name>.mjs` next to the bundle, with plain node. The build script
 * finds entries by this exact call shape.
 * Thrown ({@link ChildEntryError}) for a URL that is not a file: URL of a .ts file.
 */
export function childEntry(source: URL | string): ChildEntry {
  const url = typeof source === 'string' ? source : source.href;
  if (!url.startsWith('file:')) throw new ChildEntryError(`child entry ${url} is not a file: URL (write childEntry(new URL('./x.child.ts', import.meta.url)))`);
  const name = basename(fileURLToPath(url));
  if (!name.endsWith('.ts')) throw new ChildEntryError(`child entry ${url} is not a TypeScript source file (.ts)`);
  const bundleName = `${name.slice(0, -'.ts'.length)}.mjs`;
  if (runningBundled) return { path: fileURLToPath(new URL(`./${bundleName}`, import.meta.url)), execArgv: [], bundleName };
  return { path: fileURLToPath(url), execArgv: ['--import', tsxLoaderUrl()], bundleName };
}
