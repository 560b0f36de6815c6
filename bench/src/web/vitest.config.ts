// The bench is not part of `npm test` (vitest.config.ts includes packages/ and tests/ only): this config runs the
// web load tool's own tests, `npx vitest run --config bench/src/web/vitest.config.ts`.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: fileURLToPath(new URL('../../..', import.meta.url)),
  test: { include: ['bench/src/web/**/*.test.ts'], testTimeout: 20_000 },
});
