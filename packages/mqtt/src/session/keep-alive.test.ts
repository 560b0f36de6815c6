import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { KEEP_ALIVE_BUDGET, KeepAliveWheel, type KeepAliveTarget } from './keep-alive.js';

function target(log: string[], name: string, then?: () => void): KeepAliveTarget {
  return {
    keepAliveDue() {
      log.push(`${name}@${Date.now()}`);
      then?.();
    },
  };
}

describe('KeepAliveWheel', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(0);
  });
  afterEach(() => vi.useRealTimers());

  it('calls a target once, in the first tick at or after its deadline rounded up to the slot', () => {
    const wheel = new KeepAliveWheel(100);
    const log: string[] = [];
    wheel.schedule(target(log, 'a'), 250);
    wheel.schedule(target(log, 'b'), 1000);
    vi.advanceTimersByTime(299);
    expect(log).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(log).toEqual(['a@300']);
    vi.advanceTimersByTime(2000);
    expect(log).toEqual(['a@300', 'b@1000']);
    expect(wheel.size).toBe(0);
  });

  it('a cancelled target is not called, and the timer stops when nothing waits', () => {
    const wheel = new KeepAliveWheel(100);
    const log: string[] = [];
    const a = target(log, 'a');
    const slot = wheel.schedule(a, 500);
    expect(vi.getTimerCount()).toBe(1);
    wheel.cancel(a, slot);
    expect(wheel.size).toBe(0);
    vi.advanceTimersByTime(1000);
    expect(log).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a target may reschedule itself from its callback (a connection that was active meanwhile)', () => {
    const wheel = new KeepAliveWheel(100);
    const log: string[] = [];
    let rounds = 0;
    const a: KeepAliveTarget = target(log, 'a', () => {
      if (++rounds < 3) wheel.schedule(a, Date.now() + 400);
    });
    wheel.schedule(a, 400);
    vi.advanceTimersByTime(5000);
    expect(log).toEqual(['a@400', 'a@800', 'a@1200']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('one interval timer serves any number of targets', () => {
    const wheel = new KeepAliveWheel(100);
    const log: string[] = [];
    for (let i = 0; i < 1000; i++) wheel.schedule(target(log, String(i)), 100 + (i % 50) * 100);
    expect(vi.getTimerCount()).toBe(1);
    expect(wheel.size).toBe(1000);
    vi.advanceTimersByTime(5000);
    expect(log).toHaveLength(1000);
  });

  it('handles at most KEEP_ALIVE_BUDGET due targets per turn and the rest in the next turns', () => {
    const wheel = new KeepAliveWheel(100);
    let calls = 0;
    const n = KEEP_ALIVE_BUDGET * 2 + KEEP_ALIVE_BUDGET / 2;
    for (let i = 0; i < n; i++) wheel.schedule({ keepAliveDue: () => void calls++ }, 100);
    vi.advanceTimersToNextTimer(); // the wheel's tick
    expect(calls).toBe(KEEP_ALIVE_BUDGET);
    vi.advanceTimersToNextTimer(); // its continuation (setImmediate)
    expect(calls).toBe(KEEP_ALIVE_BUDGET * 2);
    vi.advanceTimersToNextTimer();
    expect(calls).toBe(n);
    expect(wheel.size).toBe(0);
  });
});
