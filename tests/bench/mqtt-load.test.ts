/**
 * The MQTT load tools: the fan-in publish schedule (devices spread over the period, as independent devices are), a
 * short real fan-in run (device processes and all) against an embedded Warren, and a small idle-sessions run. No
 * timing assertions.
 */
import { startEmbeddedBroker, type RunningBroker } from '@warren/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEVICE_PERIOD_US, PhaseSchedule, devicesOfProcess } from '../../bench/src/mqtt/fanin-schedule.js';

describe('fan-in publish schedule', () => {
  it('deals devices round-robin to processes', () => {
    expect(devicesOfProcess(10, 4, 0)).toEqual([0, 4, 8]);
    expect(devicesOfProcess(10, 4, 3)).toEqual([3, 7]);
    const all = [0, 1, 2, 3].flatMap((k) => devicesOfProcess(500, 4, k)).sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: 500 }, (_, i) => i));
  });

  it('publishes every device 10 times a second, spread evenly instead of in bursts', () => {
    const devices = 500;
    const nproc = 4;
    const start = 1_000_000;
    const perMs = new Map<number, number>();
    const perDevice = new Array<number>(devices).fill(0);
    for (let k = 0; k < nproc; k++) {
      const ids = devicesOfProcess(devices, nproc, k);
      const s = new PhaseSchedule(ids, devices, start);
      // One second of 1 ms ticks, as the device process runs it.
      for (let t = 0; t < 1_000_000; t += 1000) {
        s.due(start + t, (j) => {
          perDevice[ids[j] as number]!++;
          perMs.set(t, (perMs.get(t) ?? 0) + 1);
        });
      }
    }
    // Ticks at 0, 1, …, 999 ms: a device whose phase is in the last ms of the period is due at 1,000 ms, just after.
    const perSecond = 1_000_000 / DEVICE_PERIOD_US;
    expect(perDevice.every((n) => n === perSecond || n === perSecond - 1)).toBe(true);
    expect(perDevice.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(devices * perSecond - 5);
    // 5,000 messages a second over 1,000 ticks: 5 per ms across the fleet, never a lockstep burst.
    expect(Math.max(...perMs.values())).toBeLessThanOrEqual(6);
  });

  it('catches up when a tick comes late, in time order, without sending anything twice', () => {
    const s = new PhaseSchedule([0, 1, 2, 3], 4, 0, 100);
    const sent: number[] = [];
    s.due(10, (j) => sent.push(j));
    expect(sent).toEqual([0]);
    s.due(260, (j) => sent.push(j)); // 2.6 periods late
    expect(sent).toEqual([0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2]);
    s.due(260, (j) => sent.push(j));
    expect(sent).toHaveLength(11);
  });
});

describe('fan-in scenario against an embedded Warren', () => {
  let running: RunningBroker;
  beforeAll(async () => {
    running = await startEmbeddedBroker({ host: '127.0.0.1', log: { level: 'silent' } });
  });
  afterAll(async () => {
    await running.stop();
  });

  it('device processes publish and the subscriber receives every device', async () => {
    // The scenario forks bench/dist/mqtt/fanin-worker.js, so it runs from the build.
    const { MQTT_SCENARIOS, runMqttScenario } = await import('../../bench/dist/mqtt/mqtt-load.js');
    const spec = MQTT_SCENARIOS.find((s) => s.id === 'm-fanin');
    if (spec === undefined) throw new Error('no m-fanin scenario');
    const r = await runMqttScenario(spec, {
      host: '127.0.0.1',
      port: (running.ports as Record<string, number>)['mqtt'] as number,
      durationS: 1,
      warmupS: 0.3,
      bodySize: 100,
      devices: 20,
      deviceProcesses: 2,
    });
    expect(r.error).toBeUndefined();
    // 20 devices × 10/s; the window is 1 s, so about 200 (timers may run a little late, never early).
    expect(r.deliveredPerS).toBeGreaterThan(100);
    expect(r.deliveredPerS).toBeLessThan(260);
    expect(r.totalDelivered).toBeGreaterThan(0);
    expect(r.totalPublished).toBeGreaterThanOrEqual(r.totalDelivered);
    expect(r.p99Ms).not.toBeNaN();
  }, 30_000);
});

describe('idle MQTT sessions over in-memory streams (the 100,000-session run, small)', () => {
  it('accepts every session, counts its heap, and keep-alive closes every one', async () => {
    const { runIdleSessions } = await import('../../bench/src/mqtt/idle-sessions.js');
    const r = await runIdleSessions(300, 1);
    expect(r.accepted).toBe(300);
    expect(r.closedByKeepAlive).toBe(300);
    expect(r.heapPerSession).toBeGreaterThan(0);
  }, 20_000);
});
