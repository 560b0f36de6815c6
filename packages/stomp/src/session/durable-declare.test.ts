/**
 * STOMP's implicit declare of the durable queue q (SEND or SUBSCRIBE to /queue/q) holds its RECEIPT, and
 * every later frame, until the definitions are fsynced; frames that declare nothing durable answer at once.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Broker, silentLogger } from '@warren/core';
import { fakeConnectionInfo, SlowDefinitionsStore } from '@warren/core/testing';
import { MemoryIo, raw } from '../testing/memory-io.js';
import { StompSession } from './stomp-session.js';

let store: SlowDefinitionsStore;
let broker: Broker;
beforeEach(() => {
  store = new SlowDefinitionsStore();
  broker = new Broker({ definitions: store });
});
afterEach(() => broker.close());

function connected(): { io: MemoryIo; send: (t: string) => string[] } {
  const io = new MemoryIo();
  const s = new StompSession(io, fakeConnectionInfo(), broker, silentLogger, { maxFrameSize: 1 << 20, connectTimeoutMs: 0, errorCloseDelayMs: 0 });
  const send = (t: string): string[] => {
    s.receive(raw(t));
    return io.frames().map((f) => `${f.command}${f.headers.has('receipt-id') ? ` ${f.headers.get('receipt-id')}` : ''}`);
  };
  expect(send('CONNECT\naccept-version:1.2\nlogin:guest\npasscode:guest\nhost:/\n\n\0')).toEqual(['CONNECTED']);
  io.version = '1.2';
  return { io, send };
}

describe('STOMP implicit durable declares wait for the definitions fsync', () => {
  it('SEND to a new /queue/q: RECEIPT and the frames after it wait; then all in order', async () => {
    const { io, send } = connected();
    expect(send('SEND\ndestination:/queue/q\nreceipt:r1\n\nhello\0SEND\ndestination:/topic/t\nreceipt:r2\n\nx\0')).toEqual([]);
    expect(io.paused).toBe(true);
    expect(broker.vhost('/')!.queues.get('q')!.messageCount).toBe(1);
    await store.release();
    expect(io.frames().map((f) => f.headers.get('receipt-id'))).toEqual(['r1', 'r2']);
    expect(io.paused).toBe(false);
    // Declared once per connection: the next SEND answers at once.
    const flushes = store.flushes;
    expect(send('SEND\ndestination:/queue/q\nreceipt:r3\n\nagain\0')).toEqual(['RECEIPT r3']);
    expect(store.flushes).toBe(flushes);
  });

  it('SUBSCRIBE to a new /queue/q holds its RECEIPT; a /topic subscription (transient) does not wait', async () => {
    const { send } = connected();
    expect(send('SUBSCRIBE\nid:1\ndestination:/topic/news\nreceipt:t\n\n\0')).toEqual(['RECEIPT t']);
    expect(send('SUBSCRIBE\nid:2\ndestination:/queue/work\nreceipt:w\n\n\0')).toEqual([]);
    await store.release();
    // (An empty read just collects what was written meanwhile.)
    expect(send('')).toEqual(['RECEIPT w']);
  });
});
