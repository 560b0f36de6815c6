/**
 * Crash test for MQTT state, short version for CI: a few SIGKILL rounds while retained messages are set
 * and cleared and persistent sessions are created (see mqtt-crash-harness.ts). Everything acknowledged is there after
 * the restart.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runMqttCrashRounds } from './mqtt-crash-harness.js';

describe('SIGKILL while MQTT state changes', () => {
  it('every acknowledged retained message and persistent session survives the kill', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'warren-mqtt-crash-'));
    try {
      const seed = Date.now() & 0xffff;
      const report = await runMqttCrashRounds({ dataDir, rounds: 3, seed, minKillMs: 300, maxKillMs: 1200 });
      expect(report.violations, `seed ${seed}`).toEqual([]);
      expect(report.retainedAcked).toBeGreaterThan(0);
      expect(report.sessionsAcked).toBeGreaterThan(0);
      expect(report.sessionsChecked).toBe(report.sessionsAcked);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});
