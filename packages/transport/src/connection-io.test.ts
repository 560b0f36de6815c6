import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { OutboundWriter, type OutboundStream } from './outbound-writer.js';
import { ConnectionIo, PauseReason } from './connection-io.js';
import { streamPair } from './stream-pair.js';

describe('ConnectionIo', () => {
  it('writes through the batching writer, pauses and resumes reading, and destroys the stream', async () => {
    const [server, client] = streamPair();
    const io = new ConnectionIo(server, new OutboundWriter(server as unknown as OutboundStream));
    const got: string[] = [];
    client.on('data', (c: Buffer) => got.push(c.toString()));
    io.write(Buffer.from('a'));
    io.write(Buffer.from('b'));
    expect(io.writable).toBe(true);
    await nextTurn();
    expect(got).toEqual(['ab']);
    io.pause(PauseReason.Backpressure);
    expect(server.isPaused()).toBe(true);
    io.resume(PauseReason.Backpressure);
    expect(server.isPaused()).toBe(false);
    const closed = new Promise((r) => client.once('close', r));
    io.destroy();
    await closed;
    expect(server.destroyed).toBe(true);
  });

  it('end() sends what is batched plus the last bytes, then half-closes', async () => {
    const [server, client] = streamPair();
    const io = new ConnectionIo(server, new OutboundWriter(server as unknown as OutboundStream));
    const got: string[] = [];
    client.on('data', (c: Buffer) => got.push(c.toString()));
    const ended = new Promise((r) => client.once('end', r));
    io.write(Buffer.from('x'));
    io.end(Buffer.from('bye'));
    await ended;
    expect(got.join('')).toBe('xbye');
  });
});

describe('ConnectionIo pause reasons', () => {
  it('reads again only once every reason is gone (a definitions release does not lift an alarm)', () => {
    const [server] = streamPair();
    server.on('data', () => {});
    const io = new ConnectionIo(server, new OutboundWriter(server as unknown as OutboundStream));
    io.pause(PauseReason.Alarm);
    io.pause(PauseReason.Definitions);
    expect(server.isPaused()).toBe(true);
    expect(io.pauseReasons).toBe(PauseReason.Alarm | PauseReason.Definitions);
    io.resume(PauseReason.Definitions);
    expect(server.isPaused()).toBe(true);
    // A reason resumed twice, or never set, changes nothing.
    io.resume(PauseReason.Definitions);
    io.resume(PauseReason.Auth);
    expect(server.isPaused()).toBe(true);
    io.resume(PauseReason.Alarm);
    expect(server.isPaused()).toBe(false);
    expect(io.pauseReasons).toBe(0);
  });

  it('a reason set twice is one reason', () => {
    const [server] = streamPair();
    server.on('data', () => {});
    const io = new ConnectionIo(server, new OutboundWriter(server as unknown as OutboundStream));
    io.pause(PauseReason.Backpressure);
    io.pause(PauseReason.Backpressure);
    io.resume(PauseReason.Backpressure);
    expect(server.isPaused()).toBe(false);
  });

  it('is overloaded at 4 × the high-water mark of pending output by default, or at readPauseBytes', () => {
    const [server] = streamPair();
    const writer = { highWaterMark: 100, pendingBytes: 0 } as unknown as OutboundWriter;
    const io = new ConnectionIo(server, writer);
    const pending = (n: number): void => {
      (writer as unknown as { pendingBytes: number }).pendingBytes = n;
    };
    pending(399);
    expect(io.overloaded).toBe(false);
    pending(400);
    expect(io.overloaded).toBe(true);
    const io2 = new ConnectionIo(server, writer, { readPauseBytes: 50 });
    pending(49);
    expect(io2.overloaded).toBe(false);
    pending(50);
    expect(io2.overloaded).toBe(true);
  });

  it('counts received chunks and reads the writer’s counters', async () => {
    const [server, client] = streamPair();
    client.on('data', () => {});
    const io = new ConnectionIo(server, new OutboundWriter(server as unknown as OutboundStream));
    io.received(10);
    io.received(5);
    io.write(Buffer.from('abc'));
    expect(io.traffic().sendPend).toBe(3);
    io.flush();
    expect(io.traffic()).toMatchObject({ recvOct: 15, recvCnt: 2, sendOct: 3, sendCnt: 1, sendPend: 0 });
  });
});
