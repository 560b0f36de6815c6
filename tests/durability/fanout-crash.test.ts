/**
 * Crash test for fan-out (shared message bodies): SIGKILL rounds while a confirming publisher sends numbered
 * persistent messages to a fanout exchange bound to 10 durable queues (see fanout-crash-harness.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runFanoutCrashRounds } from './fanout-crash-harness.js';

describe('SIGKILL at random moments, fan-out to 10 durable queues', () => {
  it('every queue has every confirmed message after the restart, once, in order; acked ones never come back', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'warren-fanout-crash-'));
    try {
      const seed = Date.now() & 0xffff;
      const report = await runFanoutCrashRounds({ dataDir, rounds: 4, seed, minKillMs: 150, maxKillMs: 700, queueMemoryBudget: 256 * 1024 });
      expect(report.violations, `seed ${seed}`).toEqual([]);
      expect(report.confirmed).toBeGreaterThan(0);
      expect(report.recovered).toBeGreaterThanOrEqual(report.confirmed * 10);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});
