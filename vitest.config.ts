import { defineConfig } from 'vitest/config';

// Resolve @warren/* workspace packages to their TypeScript sources (the "source" export condition), so tests always
// run the code in the tree and need no build. Vite applies `resolve.conditions` to browser-style resolution only;
// tests run in Node (SSR), hence the same list under `ssr.resolve`.
const conditions = ['source', 'import', 'module', 'node', 'default'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'tests/**/*.test.ts', 'bench/src/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
});
