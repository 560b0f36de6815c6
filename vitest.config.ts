import { defineConfig } from 'vitest/config';

// Resolve @warren/* workspace packages to their TypeScript sources (the "source" export condition), so tests always
// run the code in the tree and need no build. Vite applies `resolve.conditions` to browser-style resolution only;
// tests run in Node (SSR), hence the same list under `ssr.resolve`. Vitest also passes that list to the test workers
// as `node --conditions`, so it must not name `import`: Node would then resolve a CommonJS `require()` of a dual
// package to its ESM build (protobufjs's require('long') gets a namespace object, and etcd3's 64-bit lease ids lose
// precision). Vite and Node both add `import`/`require` and `default` by themselves.
const conditions = ['source', 'module', 'node'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'tests/**/*.test.ts', 'bench/src/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
});
