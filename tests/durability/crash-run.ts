/**
 * Command-line entry of the long crash test (scripts/crash-test.mjs runs it with vite-node):
 *   crash-run.ts -- [--rounds N] [--seed S] [--budget BYTES] [--min-kill MS] [--max-kill MS] [--data-dir D]
 * Exits 1 and lists the violations when any round lost a confirmed message, duplicated one or resurrected an ack.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCrashRounds } from './crash-harness.js';

const argv = process.argv.slice(2).filter((a) => a !== '--');
function opt(name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
}
const num = (name: string, dflt: number): number => Number(opt(name) ?? dflt);
const given = opt('data-dir');
const dataDir = given ?? mkdtempSync(join(tmpdir(), 'warren-crash-'));
const seed = num('seed', Date.now() & 0xffffff);
const started = Date.now();
console.log(`crash test: seed ${seed}, data dir ${dataDir}`);
const report = await runCrashRounds({
  dataDir,
  rounds: num('rounds', 50),
  seed,
  minKillMs: num('min-kill', 100),
  maxKillMs: num('max-kill', 1500),
  queueMemoryBudget: num('budget', 1024 * 1024),
  log: (line) => console.log(line),
});
console.log(
  `${report.rounds} rounds in ${((Date.now() - started) / 1000).toFixed(1)} s: ${report.published} published, ` +
    `${report.confirmed} confirmed, ${report.recovered} recovered after restarts`,
);
if (given === undefined) rmSync(dataDir, { recursive: true, force: true });
if (report.violations.length > 0) {
  console.error(`FAILED (seed ${seed}):\n  ${report.violations.join('\n  ')}`);
  process.exit(1);
}
console.log('OK: every confirmed message survived exactly once, in order; no acked message came back');
