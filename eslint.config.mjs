import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

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
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allow: [],
          banTransitiveDependencies: false,
          depConstraints: [
            { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:lib'] },
            { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:lib'] },
            // The wire contract and the pure libraries depend on nothing of ours.
            { sourceTag: 'layer:contract', onlyDependOnLibsWithTags: [] },
            // The agent is a plain Node daemon: no NestJS on devices.
            { sourceTag: 'scope:agent', bannedExternalImports: ['@nestjs/*', 'express', 'better-sqlite3'] },
            // The coordinator reaches onnxruntime only through libs/onnx.
            { sourceTag: 'scope:coordinator', bannedExternalImports: ['onnxruntime-node'] },
            { sourceTag: 'scope:cli', bannedExternalImports: ['@nestjs/*', 'onnxruntime-node', 'better-sqlite3'] },
            { sourceTag: 'scope:shared', bannedExternalImports: ['@nestjs/*'] },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.ts'],
    rules: {
      // nats-server 2.9 (what benchfarm ships) ignores `+TERM <reason>`: the message stays pending
      // until AckWait and comes back (issue 13 item 1).
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
    files: ['**/*.spec.ts', '**/*.int-spec.ts', 'scripts/**/*.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
];
