import nx from '@nx/eslint-plugin';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

/**
 * Who may import what, by the Nx tags in each project's package.json:
 * - type:app (apps/*) may import libraries only: never another app, never type:test-only;
 *   type:lib may import type:lib only; type:test-only (libs/testing) may import both.
 * - scope:agent (apps/agent, libs/sensors: what runs on a device), scope:coordinator,
 *   scope:cli, scope:rest (libs/contract: the coordinator's REST contract, shared by the
 *   coordinator and the CLI, not the agent), scope:shared (the rest). The coordinator and the
 *   CLI do not ship agent code (libs/sensors); the agent does not speak REST (libs/contract); a
 *   shared lib reaches neither.
 * - layer:contract (libs/protocol) and layer:pure (libs/numerics) depend on nothing of ours.
 * Test files (specs, fixtures, testing/ folders) may also import type:test-only libraries, and
 * an app's tests any scope (the CLI's int-specs drive the agent's sensors).
 */
function moduleBoundaries(testFiles) {
  const testOnly = testFiles ? ['type:test-only'] : [];
  const appScopes = (...scopes) => (testFiles ? ['scope:shared', 'scope:rest', 'scope:agent'] : scopes);
  return {
    enforceBuildableLibDependency: false,
    allow: [],
    banTransitiveDependencies: false,
    depConstraints: [
      { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:lib', ...testOnly] },
      { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:lib', ...testOnly] },
      { sourceTag: 'type:test-only', onlyDependOnLibsWithTags: ['type:lib', 'type:test-only'] },
      // The wire contract and the pure libraries depend on nothing of ours.
      { sourceTag: 'layer:contract', onlyDependOnLibsWithTags: [] },
      { sourceTag: 'layer:pure', onlyDependOnLibsWithTags: [] },
      // The agent is a plain Node daemon: no NestJS on devices.
      { sourceTag: 'scope:agent', onlyDependOnLibsWithTags: appScopes('scope:shared', 'scope:agent'), bannedExternalImports: ['@nestjs/*', 'express', 'better-sqlite3'] },
      // The coordinator reaches onnxruntime only through libs/onnx.
      { sourceTag: 'scope:coordinator', onlyDependOnLibsWithTags: appScopes('scope:shared', 'scope:rest'), bannedExternalImports: ['onnxruntime-node'] },
      { sourceTag: 'scope:cli', onlyDependOnLibsWithTags: appScopes('scope:shared', 'scope:rest'), bannedExternalImports: ['@nestjs/*', 'onnxruntime-node', 'better-sqlite3'] },
      { sourceTag: 'scope:rest', onlyDependOnLibsWithTags: ['scope:shared'] },
      { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:shared'], bannedExternalImports: ['@nestjs/*'] },
    ],
  };
}

/** Files that only tests load: they may import libs/testing (type:test-only). */
const TEST_FILES = ['**/*.spec.ts', '**/*.int-spec.ts', '**/*.fixture.ts', '**/testing/**/*.ts'];

export default [
  { ignores: ['**/node_modules/**', '**/dist/**', '.benchfarm/**', '.nx/**', 'libs/protocol/src/gen/**', 'deploy/**'] },
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {
      // Every NATS and gRPC promise is awaited or explicitly handled (STYLE.md rule 11).
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@nx/enforce-module-boundaries': ['error', moduleBoundaries(false)],
    },
  },
  {
    // No import cycles between files (STYLE.md): a cycle makes module start-up order decide
    // whether a binding is initialised yet. Type-only imports are not followed (they vanish at
    // run time); workspace packages resolve through node_modules/@benchfarm to their src files,
    // so a cycle that crosses libraries is found too.
    files: ['**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/extensions': ['.ts', '.js', '.mjs'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js', '.json'] })],
    },
    rules: { 'import-x/no-cycle': 'error' },
  },
  {
    files: ['**/*.ts'],
    rules: {
      // nats-server 2.9 (what benchfarm ships) ignores `+TERM <reason>`: the message stays pending
      // until AckWait and comes back.
      'no-restricted-syntax': [
        'error',
        {
          selector: "CallExpression[callee.property.name='term'][arguments.length>0]",
          message: 'nats-server 2.9 ignores a term with a reason: use termConfirmed(nc, msg) from @benchfarm/messaging and log the reason yourself.',
        },
      ],
    },
  },
  {
    // Repositories are async (SQLite or PostgreSQL behind one interface): a promise returned from
    // inside try escapes its catch / finally unless awaited, and an await on a non-promise hides a
    // call that was meant to be async.
    files: ['apps/coordinator/**/*.ts'],
    rules: {
      '@typescript-eslint/return-await': ['error', 'in-try-catch'],
      '@typescript-eslint/await-thenable': 'error',
    },
  },
  {
    files: TEST_FILES,
    rules: { '@nx/enforce-module-boundaries': ['error', moduleBoundaries(true)] },
  },
  {
    files: ['**/*.spec.ts', '**/*.int-spec.ts', 'scripts/**/*.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
];
