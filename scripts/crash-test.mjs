#!/usr/bin/env node
// Long crash test: many rounds of SIGKILL at random moments while a confirming publisher sends numbered persistent
// messages (tests/durability/crash-harness.ts). Options are passed through, e.g.
//   node scripts/crash-test.mjs --rounds 200 --seed 42 --budget 262144 --max-kill 3000
// Runs the TypeScript sources through vite-node, so no build is needed.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const result = spawnSync(
  join(root, 'node_modules/.bin/vite-node'),
  ['-c', join(root, 'vitest.config.ts'), join(root, 'tests/durability/crash-run.ts'), '--', ...process.argv.slice(2)],
  { cwd: root, stdio: 'inherit' },
);
process.exit(result.status ?? 1);
