import { Writable } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it, vi } from 'vitest';
import { OutboundWriter } from './outbound-writer.js';

/**
 * An in-memory sink: records every chunk the writer hands to it. With `hold` set it does not complete writes until
 * `release()` is called, like a socket whose peer does not read, so writableLength grows and write() returns false.
 */
class Sink extends Writable {
  readonly chunks: Buffer[] = [];
  hold = false;
  #pending: Array<() => void> = [];
  constructor(highWaterMark = 16) {
    super({ highWaterMark });
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.chunks.push(chunk);
    if (this.hold) this.#pending.push(() => callback());
    else callback();
  }
  /** Complete every held write (each completion lets the stream pass the next buffered chunk to _write). */
  release(): void {
    this.hold = false;
    while (this.#pending.length > 0) this.#pending.shift()?.();
  }
  get received(): string {
    return Buffer.concat(this.chunks).toString();
  }
}

const b = (s: string): Buffer => Buffer.from(s);

describe('OutboundWriter batching', () => {
  it('coalesces the writes of one tick into a single stream write', async () => {
    const sink = new Sink(1024);
    const writer = new OutboundWriter(sink);
    writer.write(b('a'));
    writer.write(b('bc'));
    writer.write(b('def'));
    expect(sink.chunks).toHaveLength(0);
    expect(writer.pendingBytes).toBe(6);
    await nextTurn();
    expect(sink.chunks).toHaveLength(1);
    expect(sink.received).toBe('abcdef');
    expect(writer.pendingBytes).toBe(0);
  });

  it('writes in separate ticks go out as separate writes, in order', async () => {
    const sink = new Sink(1024);
    const writer = new OutboundWriter(sink);
    writer.write(b('one'));
    await nextTurn();
    writer.write(b('two'));
    await nextTurn();
    expect(sink.chunks.map(String)).toEqual(['one', 'two']);
  });

  it('many writers written in one turn each send one write at its end; one flushed early is not written twice', async () => {
    const sinks = [new Sink(1024), new Sink(1024), new Sink(1024)];
    const writers = sinks.map((s) => new OutboundWriter(s));
    writers.forEach((w, i) => w.write(b(`w${i}`)));
    writers[0]!.write(b('+'));
    writers[1]!.flush();
    expect(sinks.map((s) => s.chunks.length)).toEqual([0, 1, 0]);
    await nextTurn();
    expect(sinks.map((s) => s.chunks.map(String))).toEqual([['w0+'], ['w1'], ['w2']]);
    // The next turn starts a new list.
    writers[2]!.write(b('again'));
    await nextTurn();
    expect(sinks[2]!.chunks.map(String)).toEqual(['w2', 'again']);
  });

  it('a writer closed after its write is skipped at the end of the turn', async () => {
    const sink = new Sink(1024);
    const writer = new OutboundWriter(sink);
    writer.write(b('lost'));
    writer.destroy();
    await nextTurn();
    expect(sink.chunks).toHaveLength(0);
  });

  it('flushes at once when the batch reaches maxBatchBytes', () => {
    const sink = new Sink(1024);
    const writer = new OutboundWriter(sink, { maxBatchBytes: 8 });
    writer.write(b('1234'));
    expect(sink.chunks).toHaveLength(0);
    writer.write(b('5678'));
    expect(sink.chunks.map(String)).toEqual(['12345678']);
  });

  it('flush() writes the batch synchronously', () => {
    const sink = new Sink(1024);
    const writer = new OutboundWriter(sink);
    writer.write(b('x'));
    writer.flush();
    expect(sink.received).toBe('x');
  });

  it('ignores empty buffers', async () => {
    const sink = new Sink(1024);
    const writer = new OutboundWriter(sink);
    writer.write(Buffer.alloc(0));
    await nextTurn();
    expect(sink.chunks).toHaveLength(0);
  });
});

describe('OutboundWriter backpressure', () => {
  it('stops writing after write() returned false and resumes on drain, keeping order', async () => {
    const sink = new Sink(4);
    sink.hold = true;
    const writer = new OutboundWriter(sink);
    writer.write(b('first-'));
    writer.flush(); // 6 bytes > stream highWaterMark 4: write() returns false
    expect(sink.writableLength).toBe(6);
    writer.write(b('second-'));
    writer.write(b('third'));
    await nextTurn();
    // Still stalled: nothing more was handed to the stream.
    expect(sink.chunks.map(String)).toEqual(['first-']);
    expect(writer.pendingBytes).toBe(6 + 12);
    sink.release(); // completes the write; the stream emits 'drain' and the writer flushes its batch
    await nextTurn();
    expect(sink.received).toBe('first-second-third');
    expect(sink.chunks).toHaveLength(2);
  });

  it('pendingBytes counts the stream buffer; writable flips at the high-water mark; onDrain fires below the low', async () => {
    const sink = new Sink(4);
    sink.hold = true;
    const writer = new OutboundWriter(sink, { highWaterMark: 100, lowWaterMark: 40, maxBatchBytes: 1000 });
    let drains = 0;
    writer.onDrain(() => drains++);
    writer.write(Buffer.alloc(60));
    writer.flush();
    expect(writer.pendingBytes).toBe(60); // all in the stream's writableLength now
    expect(writer.writable).toBe(true);
    writer.write(Buffer.alloc(50));
    expect(writer.pendingBytes).toBe(110);
    expect(writer.writable).toBe(false);
    sink.release();
    await nextTurn();
    await nextTurn();
    expect(writer.pendingBytes).toBe(0);
    expect(writer.writable).toBe(true);
    expect(drains).toBe(1);
  });

  it('does not call onDrain when the high-water mark was never reached', async () => {
    const sink = new Sink(4);
    sink.hold = true;
    const writer = new OutboundWriter(sink, { highWaterMark: 100, lowWaterMark: 40 });
    let drains = 0;
    writer.onDrain(() => drains++);
    writer.write(Buffer.alloc(50));
    writer.flush();
    sink.release();
    await nextTurn();
    expect(drains).toBe(0);
  });

  it('calls onDrain each time it goes over and back under', async () => {
    const sink = new Sink(4);
    const writer = new OutboundWriter(sink, { highWaterMark: 10, lowWaterMark: 5 });
    let drains = 0;
    writer.onDrain(() => drains++);
    for (let round = 1; round <= 3; round++) {
      sink.hold = true;
      writer.write(Buffer.alloc(20));
      expect(writer.writable).toBe(false);
      writer.flush();
      sink.release();
      await nextTurn();
      expect(drains).toBe(round);
    }
  });
});

describe('OutboundWriter end and destroy', () => {
  it('end() flushes the batch and the last buffer, then ends the stream; later writes are dropped', async () => {
    const sink = new Sink(1024);
    const writer = new OutboundWriter(sink);
    let finished = false;
    sink.on('finish', () => (finished = true));
    writer.write(b('abc'));
    writer.end(b('-bye'));
    writer.write(b('late'));
    await nextTurn();
    expect(sink.received).toBe('abc-bye');
    expect(finished).toBe(true);
    expect(writer.writable).toBe(false);
  });

  it('end() hands over the batch even while stalled', async () => {
    const sink = new Sink(4);
    sink.hold = true;
    const writer = new OutboundWriter(sink);
    writer.write(b('12345'));
    writer.flush();
    writer.write(b('6789'));
    writer.end(b('!'));
    sink.release();
    await nextTurn();
    expect(sink.received).toBe('123456789!');
  });

  it('end() destroys the stream after the grace period when it does not finish', async () => {
    const sink = new Sink(4);
    sink.hold = true; // the "peer" never reads: the stream can never finish
    const writer = new OutboundWriter(sink);
    writer.write(b('stuck-data'));
    writer.end(undefined, 5);
    expect(sink.destroyed).toBe(false);
    await new Promise<void>((resolve) => sink.once('close', () => resolve()));
    expect(sink.destroyed).toBe(true);
  });

  it('destroy() drops the batch and destroys the stream', async () => {
    const sink = new Sink(1024);
    const writer = new OutboundWriter(sink);
    writer.write(b('never'));
    writer.destroy();
    writer.write(b('dropped'));
    await nextTurn();
    expect(sink.chunks).toHaveLength(0);
    expect(sink.destroyed).toBe(true);
    expect(() => writer.flush()).not.toThrow();
  });

  it('stops writing once the stream closes by itself', async () => {
    const sink = new Sink(1024);
    const writer = new OutboundWriter(sink);
    writer.write(b('x'));
    sink.destroy();
    await nextTurn();
    expect(() => writer.write(b('y'))).not.toThrow();
    await nextTurn();
    expect(sink.chunks).toHaveLength(0);
    expect(writer.writable).toBe(false);
  });
});

describe('OutboundWriter on an idle connection', () => {
  it('listens to its stream only once the stream refuses a write, and holds no closure or array before', async () => {
    const sink = new Sink(4);
    const before = OutboundWriter.counters();
    const writer = new OutboundWriter(sink, { stallTimeoutMs: 1000 });
    writer.setHost({ onWritable() {}, onStalled() {} });
    expect(sink.listenerCount('drain')).toBe(0);
    expect(sink.listenerCount('close')).toBe(0);
    writer.write(b('ok'));
    await nextTurn();
    expect(sink.received).toBe('ok');
    expect(sink.listenerCount('drain')).toBe(0);
    expect(OutboundWriter.counters()).toEqual({ ...before, created: before.created + 1 });
    // Two frames in one turn: the batch array is made, once.
    writer.write(b('a'));
    writer.write(b('b'));
    await nextTurn();
    expect(OutboundWriter.counters().batchArrays).toBe(before.batchArrays + 1);
    sink.hold = true;
    writer.write(b('longer than four bytes'));
    writer.flush();
    expect(sink.listenerCount('drain')).toBe(1);
    expect(OutboundWriter.counters().drainListeners).toBe(before.drainListeners + 1);
  });

  it('tells its host when it drains below the low-water mark', async () => {
    const sink = new Sink();
    sink.hold = true;
    const writer = new OutboundWriter(sink, { highWaterMark: 100, lowWaterMark: 10, maxBatchBytes: 1 });
    let writable = 0;
    writer.setHost({ onWritable: () => writable++ });
    writer.write(Buffer.alloc(150));
    expect(writer.writable).toBe(false);
    sink.release();
    await new Promise<void>((resolve) => process.nextTick(resolve));
    await nextTurn();
    expect(writable).toBe(1);
    expect(writer.writable).toBe(true);
  });
});

describe('OutboundWriter stall timeout (slow consumers)', () => {
  const options = (onStalled: () => void) => ({
    highWaterMark: 100,
    lowWaterMark: 10,
    maxBatchBytes: 1,
    stallTimeoutMs: 1000,
    onStalled,
  });

  it('calls onStalled once when the output stays over the high-water mark for the timeout', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const sink = new Sink();
      sink.hold = true;
      let stalled = 0;
      const writer = new OutboundWriter(sink, options(() => stalled++));
      writer.write(Buffer.alloc(150));
      expect(writer.writable).toBe(false);
      vi.advanceTimersByTime(999);
      expect(stalled).toBe(0);
      writer.write(Buffer.alloc(10));
      vi.advanceTimersByTime(1);
      expect(stalled).toBe(1);
      writer.write(Buffer.alloc(10));
      vi.advanceTimersByTime(5000);
      expect(stalled).toBe(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it('does not fire when the writer drains below the low-water mark in time, and re-arms after the drain', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const sink = new Sink();
      sink.hold = true;
      let stalled = 0;
      let drained = 0;
      const writer = new OutboundWriter(sink, options(() => stalled++));
      writer.onDrain(() => drained++);
      writer.write(Buffer.alloc(150));
      vi.advanceTimersByTime(500);
      sink.release();
      await new Promise<void>((resolve) => process.nextTick(resolve));
      await nextTurn();
      expect(drained).toBe(1);
      vi.advanceTimersByTime(5000);
      expect(stalled).toBe(0);
      // Over the mark again: a new wait, which fires.
      sink.hold = true;
      writer.write(Buffer.alloc(150));
      vi.advanceTimersByTime(1000);
      expect(stalled).toBe(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it('clears its timer on end, destroy and when the stream closes', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      for (const close of ['end', 'destroy'] as const) {
        const sink = new Sink();
        sink.hold = true;
        let stalled = 0;
        const writer = new OutboundWriter(sink, options(() => stalled++));
        writer.write(Buffer.alloc(150));
        if (close === 'end') writer.end(undefined, 60_000);
        else writer.destroy();
        vi.advanceTimersByTime(2000);
        expect(stalled).toBe(0);
      }
    } finally {
      vi.useRealTimers();
    }
  });

  it('without stallTimeoutMs (or 0) never calls onStalled', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const sink = new Sink();
      sink.hold = true;
      let stalled = 0;
      const writer = new OutboundWriter(sink, { ...options(() => stalled++), stallTimeoutMs: 0 });
      writer.write(Buffer.alloc(150));
      expect(vi.getTimerCount()).toBe(0);
      vi.advanceTimersByTime(10_000);
      expect(stalled).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});
