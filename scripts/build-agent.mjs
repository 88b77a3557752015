// Bundles the agent daemon into plain JavaScript under dist/agent/, so that a device runs it
// with plain `node` (no TypeScript loader thread, no compile at start-up: about 30 MB less
// resident memory than `node --import tsx`). Third-party packages stay external
// (node_modules); the @benchfarm/* libraries are bundled.
//
// Child processes (the suite, the health check, the execution-provider probe) and the suite's
// image loader thread are entry points of their own: every `childEntry(new URL('./x.ts', import.meta.url))` (@benchfarm/isolate) in
// the bundled code becomes dist/agent/x.mjs, and childEntry, seeing itself run from a .mjs,
// starts that file with plain node. `import.meta.url` is left alone: in the bundle it names the
// bundle's file, which is how childEntry finds its siblings.
//
//   node scripts/build-agent.mjs
import { build } from 'esbuild';
import { readFile } from 'node:fs/promises';
import { basename, dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = resolve(root, 'dist/agent');
const isolateLib = resolve(root, 'libs/isolate/src');

/** The one call shape the build understands; childEntry's JSDoc asks for it. */
const CHILD_ENTRY = /childEntry\(\s*new URL\(\s*(['"])(\.{1,2}\/[^'"]+?\.ts)\1\s*,\s*import\.meta\.url\s*\)\s*\)/g;
const ANY_CALL = /\bchildEntry\(/g;

/** @param {boolean} dropUnusedOrt @returns {import('esbuild').Plugin} */
const externals = (dropUnusedOrt) => ({
  name: 'externals',
  setup(b) {
    // onnxruntime-node runs only in the child processes: declared free of side effects for the
    // daemon, its imports vanish with the unused library code that holds them. The children
    // keep it (idle.main imports it for its side effect alone).
    b.onResolve({ filter: /^[^./]/ }, (args) =>
      args.path.startsWith('@benchfarm/') ? undefined : { path: args.path, external: true, ...(dropUnusedOrt && args.path === 'onnxruntime-node' && { sideEffects: false }) },
    );
  },
});

const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outdir,
  outExtension: { '.js': '.mjs' },
  metafile: true,
  logLevel: 'warning',
  // Bundled CommonJS helpers call require(); give the ESM bundle one.
  banner: { js: "import { createRequire as __bfCreateRequire } from 'node:module'; const require = __bfCreateRequire(import.meta.url);" },
};

/** Child entries named in the source files that made it into `metafile`'s outputs. */
async function childEntriesOf(metafile) {
  const found = new Map();
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const path = resolve(root, input);
      if (bytesInOutput === 0 || !path.endsWith('.ts') || path.startsWith(isolateLib)) continue;
      const text = await readFile(path, 'utf8');
      const shaped = [...text.matchAll(CHILD_ENTRY)];
      if (shaped.length !== (text.match(ANY_CALL) ?? []).length) {
        throw new Error(`${relative(root, path)}: call childEntry exactly as childEntry(new URL('./x.ts', import.meta.url)), so that the build can find the entry`);
      }
      for (const m of shaped) found.set(resolve(dirname(path), m[2]), relative(root, path));
    }
  }
  return found;
}

const main = await build({ ...common, entryPoints: { main: resolve(root, 'apps/agent/src/main.ts') }, plugins: [externals(true)] });

// Children may start children: follow until no new entry appears.
const children = new Map();
let pending = await childEntriesOf(main.metafile);
let built;
while ([...pending.keys()].some((p) => !children.has(p))) {
  for (const [path, from] of pending) {
    const name = basename(path, '.ts');
    const clash = [...children.keys()].find((p) => p !== path && basename(p, '.ts') === name);
    if (clash) throw new Error(`child entries ${relative(root, clash)} and ${relative(root, path)} (from ${from}) would both be dist/agent/${name}.mjs: rename one`);
    if (name === 'main') throw new Error(`child entry ${relative(root, path)} (from ${from}) would overwrite dist/agent/main.mjs: rename it`);
    children.set(path, from);
  }
  built = await build({ ...common, entryPoints: Object.fromEntries([...children.keys()].map((p) => [basename(p, '.ts'), p])), plugins: [externals(false)] });
  pending = await childEntriesOf(built.metafile);
}

const outputs = [main, ...(built ? [built] : [])];
const external = new Set(outputs.flatMap((r) => Object.values(r.metafile.outputs).flatMap((o) => o.imports.filter((i) => i.external).map((i) => i.path))));
const files = outputs.flatMap((r) => Object.keys(r.metafile.outputs)).map((p) => relative(root, resolve(root, p)));
process.stdout.write(`${files.sort().join(', ')} (externals: ${[...external].sort().join(', ')})\n`);
