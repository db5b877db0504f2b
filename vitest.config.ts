import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration tests start real servers; two cores do not gain from more parallel files.
    fileParallelism: true,
    maxWorkers: 2,
    reporters: ['default'],
  },
});
