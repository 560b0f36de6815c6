import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Broker, silentLogger } from '@warren/core';
import { fakeConnectionInfo, SlowDefinitionsStore } from '@warren/core/testing';
import { PauseReason } from '@warren/transport';
import { MemoryIo, raw } from '../testing/memory-io.js';
import { StompSession } from './stomp-session.js';

let store: SlowDefinitionsStore;
let broker: Broker;
beforeEach(() => {
  store = new SlowDefinitionsStore();
  broker = new Broker({ definitions: store });
});
afterEach(() => broker.close());

function connected(): { io: MemoryIo; s: StompSession } {
  const io = new MemoryIo();
  const s = new StompSession(io, fakeConnectionInfo(), broker, silentLogger, { maxFrameSize: 1 << 20, connectTimeoutMs: 0, errorCloseDelayMs: 0 });
  s.receive(raw('CONNECT\naccept-version:1.2\nlogin:guest\npasscode:guest\nhost:/\n\n\0'));
  expect(io.frames().map((f) => f.command)).toEqual(['CONNECTED']);
  return { io, s };
}

describe('STOMP reading pauses for separate reasons', () => {
  it('a durable declare pauses for Definitions; its release lifts only that reason', async () => {
    const { io, s } = connected();
    s.receive(raw('SEND\ndestination:/queue/q\nreceipt:r1\n\nhello\0'));
    expect(io.pauseReasons).toBe(PauseReason.Definitions);
    await store.release();
    expect(io.pauseReasons).toBe(0);
  });

  it('an alarm raised while a durable reply waits keeps the publisher paused for Alarm after the release', async () => {
    const { io, s } = connected();
    s.receive(raw('SEND\ndestination:/queue/q\nreceipt:r1\n\nhello\0'));
    broker.setAlarm('memory', true);
    expect(io.pauseReasons).toBe(PauseReason.Definitions | PauseReason.Alarm);
    await store.release();
    expect(io.pauseReasons).toBe(PauseReason.Alarm);
    broker.setAlarm('memory', false);
    expect(io.pauseReasons).toBe(0);
  });

  it('a slice of 50 SUBSCRIBE frames pauses for Turn until the next event-loop turn', async () => {
    const { io, s } = connected();
    let frames = '';
    for (let i = 0; i < 51; i++) frames += `SUBSCRIBE\ndestination:/topic/t${i}\nid:${i}\nreceipt:s${i}\n\n\0`;
    s.receive(raw(frames));
    expect(io.pauseReasons).toBe(PauseReason.Turn);
    expect(io.frames()).toHaveLength(50);
    await new Promise((resolve) => setImmediate(resolve));
    expect(io.pauseReasons).toBe(0);
    expect(io.frames().map((f) => f.headers.get('receipt-id'))).toEqual(['s50']);
  });
});
