import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger, type AlarmResource } from '@warren/core';
import { describe, expect, it } from 'vitest';
import { freeDiskBytes, memoryLimitBytes, ResourceMonitor } from './resource-monitor.js';

function recorder(): { calls: string[]; setAlarm(r: AlarmResource, on: boolean): void } {
  const calls: string[] = [];
  return { calls, setAlarm: (r, on) => calls.push(`${r}:${on ? 'on' : 'off'}`) };
}

describe('ResourceMonitor', () => {
  it('raises and clears the memory alarm against a fraction of total memory', async () => {
    let rss = 100;
    const target = recorder();
    const m = new ResourceMonitor(target, {
      dataDir: '/',
      diskFreeLimit: 0,
      memoryHighWatermark: 0.4,
      logger: silentLogger,
      rssBytes: () => rss,
      totalMemoryBytes: () => 1000,
      freeDiskBytes: async () => 1e12,
    });
    expect(m.memoryLimit).toBe(400);
    await m.check();
    expect(target.calls).toEqual([]);
    rss = 401;
    await m.check();
    await m.check(); // no repeat while it stays on
    expect(target.calls).toEqual(['memory:on']);
    expect(m.memoryAlarm).toBe(true);
    rss = 399;
    await m.check();
    expect(target.calls).toEqual(['memory:on', 'memory:off']);
  });

  it('an absolute watermark (> 1) is bytes', () => {
    expect(memoryLimitBytes(2_000_000_000, 8e9)).toBe(2_000_000_000);
    expect(memoryLimitBytes(1, 8e9)).toBe(8e9);
  });

  it('raises and clears the disk alarm against the free-space limit', async () => {
    let free = 60_000_000;
    const target = recorder();
    const m = new ResourceMonitor(target, {
      dataDir: '/data',
      diskFreeLimit: 50_000_000,
      memoryHighWatermark: 1,
      logger: silentLogger,
      rssBytes: () => 0,
      freeDiskBytes: async (dir) => {
        expect(dir).toBe('/data');
        return free;
      },
    });
    await m.check();
    free = 49_999_999;
    await m.check();
    expect(m.diskAlarm).toBe(true);
    free = 50_000_000;
    await m.check();
    expect(target.calls).toEqual(['disk:on', 'disk:off']);
  });

  it('a failing disk probe leaves the alarm as it was', async () => {
    const target = recorder();
    const m = new ResourceMonitor(target, {
      dataDir: '/x',
      diskFreeLimit: 10,
      memoryHighWatermark: 1,
      logger: silentLogger,
      rssBytes: () => 0,
      freeDiskBytes: async () => {
        throw new Error('EIO');
      },
    });
    await m.check();
    expect(target.calls).toEqual([]);
  });

  it('reads real free space with statfs', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'warren-statfs-'));
    try {
      expect(await freeDiskBytes(dir)).toBeGreaterThan(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
