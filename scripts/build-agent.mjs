// Bundles the agent daemon into one plain-JavaScript file, dist/agent/main.mjs, so that a
// device runs it with plain `node` (no TypeScript loader thread, no compile at start-up:
// about 30 MB less resident memory than `node --import tsx`). Third-party packages stay
// external (node_modules); the @benchfarm/* libraries are bundled. Every `import.meta.url`
// is replaced by the URL of its source file, so the suite and probe child processes, which
// the agent starts by path (child.main.ts under tsx), resolve to the installed source tree.
//
//   node scripts/build-agent.mjs
import { build } from 'esbuild';
import { dirname, resolve } from 'node:path';
import { readFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** @type {import('esbuild').Plugin} */
const sourceUrls = {
  name: 'source-import-meta-url',
  setup(b) {
    // onnxruntime-node runs only in the suite and probe processes; declared free of side
    // effects, its imports vanish with the unused library code that holds them.
    b.onResolve({ filter: /^[^./]/ }, (args) =>
      args.path.startsWith('@benchfarm/') ? undefined : { path: args.path, external: true, ...(args.path === 'onnxruntime-node' && { sideEffects: false }) },
    );
    b.onLoad({ filter: /\.ts$/ }, async (args) => {
      const text = await readFile(args.path, 'utf8');
      return { contents: text.replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href)), loader: 'ts' };
    });
  },
};

const result = await build({
  entryPoints: [resolve(root, 'apps/agent/src/main.ts')],
  outfile: resolve(root, 'dist/agent/main.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  plugins: [sourceUrls],
  metafile: true,
  logLevel: 'warning',
  // Bundled CommonJS helpers call require(); give the ESM bundle one.
  banner: { js: "import { createRequire as __bfCreateRequire } from 'node:module'; const require = __bfCreateRequire(import.meta.url);" },
});
const externals = new Set(Object.values(result.metafile.outputs).flatMap((o) => o.imports.filter((i) => i.external).map((i) => i.path)));
process.stdout.write(`dist/agent/main.mjs (externals: ${[...externals].sort().join(', ')})\n`);
