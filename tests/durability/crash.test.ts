/**
 * Crash test, short version for CI: a few SIGKILL rounds of the broker child while a confirming publisher sends
 * numbered persistent messages (see crash-harness.ts; the long run is scripts/crash-test.mjs).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCrashRounds } from './crash-harness.js';

describe('SIGKILL at random moments', () => {
  it('every confirmed message is there after the restart, exactly once, in order; acked ones never come back (queue and stream)', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'warren-crash-'));
    try {
      const seed = Date.now() & 0xffff;
      const report = await runCrashRounds({ dataDir, rounds: 4, seed, minKillMs: 150, maxKillMs: 700, queueMemoryBudget: 256 * 1024 });
      expect(report.violations, `seed ${seed}`).toEqual([]);
      expect(report.confirmed).toBeGreaterThan(0);
      expect(report.recovered).toBeGreaterThanOrEqual(report.confirmed);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
