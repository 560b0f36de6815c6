import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // Resolve @warren/* workspace packages to their TypeScript sources, so tests need no build.
    conditions: ['source'],
  },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'tests/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
});
