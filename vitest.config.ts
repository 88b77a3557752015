import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['apps/*/src/**/*.spec.ts', 'libs/*/src/**/*.spec.ts', 'apps/*/src/**/*.int-spec.ts', 'libs/*/src/**/*.int-spec.ts', 'test/**/*.int-spec.ts'],
    environment: 'node',
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start real servers and onnxruntime sessions; on 2 cores, running
    // them all at once would distort their timings and starve their deadlines.
    maxWorkers: 2,
  },
});
