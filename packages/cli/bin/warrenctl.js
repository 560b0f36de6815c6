#!/usr/bin/env node
// The committed entry point npm links as node_modules/.bin/warrenctl. It runs the compiled CLI; in a fresh checkout
// where `npm run build` has not run yet, it compiles this package first (it has no workspace dependencies, so that is
// one quick `tsc -b`), so `npm install && npx warrenctl ...` works without a build step.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const pkg = fileURLToPath(new URL('..', import.meta.url));
const main = new URL('../dist/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  let tsc;
  try {
    tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  } catch {
    process.stderr.write('warrenctl is not built: run `npm run build` in the Warren checkout.\n');
    process.exit(70);
  }
  const r = spawnSync(process.execPath, [tsc, '-b', pkg], { stdio: ['ignore', 2, 2] });
  if (r.status !== 0) process.exit(70);
}
const { run } = await import(main.href);
process.exitCode = await run(process.argv.slice(2));
