import { Duplex } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it, vi } from 'vitest';
import { ConnectionIo } from './connection-io.js';
import { ConnectionRegistry } from './connection-registry.js';
import { serveStream, type StreamSession } from './serve-stream.js';
import { streamPair } from './stream-pair.js';

class RecordingSession implements StreamSession {
  readonly chunks: string[] = [];
  closed: Array<Error | undefined> = [];
  writable = 0;
  stalled = 0;
  constructor(readonly io: ConnectionIo) {}
  receive(chunk: Buffer): void {
    this.chunks.push(chunk.toString());
    this.io.write(Buffer.from(`echo:${chunk.toString()}`));
  }
  onWritable(): void {
    this.writable++;
  }
  transportClosed(err?: Error): void {
    this.closed.push(err);
  }
  onStalled(): void {
    this.stalled++;
  }
  shutdown(): Promise<void> {
    this.io.end();
    return Promise.resolve();
  }
}

/** A duplex whose writes never complete: a peer that does not read. */
function stuckStream(): Duplex {
  return new Duplex({ read() {}, write() {} });
}

describe('serveStream', () => {
  it('feeds chunks to the session, counts them, runs afterRead, and writes through the batching writer', async () => {
    const [server, client] = streamPair();
    const got: string[] = [];
    client.on('data', (c: Buffer) => got.push(c.toString()));
    const reads: number[] = [];
    const { session, io } = serveStream(server, {
      createSession: (io) => new RecordingSession(io),
      afterRead: (_s, bytes) => reads.push(bytes),
    });
    client.write('abc');
    client.write('de');
    await nextTurn();
    await nextTurn();
    expect(session.chunks).toEqual(['abc', 'de']);
    expect(reads).toEqual([3, 2]);
    expect(io.recvOct).toBe(5);
    expect(io.recvCnt).toBe(2);
    expect(got.join('')).toBe('echo:abcecho:de');
  });

  it('keeps the session in the registry until its stream closes; a half-close is answered with our FIN', async () => {
    const [server, client] = streamPair();
    client.on('data', () => {});
    const registry = new ConnectionRegistry<RecordingSession>();
    const { session } = serveStream(server, { createSession: (io) => new RecordingSession(io), registry });
    expect(registry.size).toBe(1);
    const ended = new Promise((r) => client.once('end', r));
    const closed = new Promise((r) => server.once('close', r));
    client.end();
    await ended;
    expect(session.closed.length).toBeGreaterThan(0);
    await closed;
    expect(registry.size).toBe(0);
  });

  it('a session factory that throws destroys the stream and rethrows', () => {
    const [server] = streamPair();
    expect(() => serveStream(server, { createSession: () => { throw new Error('nope'); } })).toThrow('nope');
    expect(server.destroyed).toBe(true);
  });

  it('the stall timeout reaches the session’s onStalled when the peer does not read', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const stream = stuckStream();
      const { session, io } = serveStream(stream, {
        createSession: (io) => new RecordingSession(io),
        writer: { highWaterMark: 100, lowWaterMark: 10, maxBatchBytes: 1, stallTimeoutMs: 5000 },
      });
      io.write(Buffer.alloc(200));
      expect(io.writable).toBe(false);
      vi.advanceTimersByTime(4999);
      expect(session.stalled).toBe(0);
      vi.advanceTimersByTime(1);
      expect(session.stalled).toBe(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it('uses the adapter’s own ConnectionIo subclass when given', () => {
    class CountingIo extends ConnectionIo {
      writes = 0;
      override write(buf: Buffer): void {
        this.writes++;
        super.write(buf);
      }
    }
    const [server] = streamPair();
    const { io } = serveStream(server, {
      createIo: (stream, writer) => new CountingIo(stream, writer),
      createSession: (io) => new RecordingSession(io),
    });
    io.write(Buffer.from('x'));
    expect(io.writes).toBe(1);
  });
});

describe('ConnectionRegistry', () => {
  it('closeAll waits for every shutdown, at most the timeout', async () => {
    const registry = new ConnectionRegistry<{ shutdown(): Promise<void> }>();
    let done = 0;
    registry.add({ shutdown: async () => { done++; } });
    registry.add({ shutdown: () => new Promise<void>(() => {}) });
    expect(registry.size).toBe(2);
    await registry.closeAll(20);
    expect(done).toBe(1);
    await new ConnectionRegistry().closeAll(1_000_000);
  });
});
