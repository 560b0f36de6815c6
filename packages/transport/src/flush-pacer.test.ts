import { describe, expect, it } from 'vitest';
import { FlushPacer } from './flush-pacer.js';

describe('FlushPacer (bounded output delay within one event-loop turn)', () => {
  it('flushes every connection written to once the oldest write has waited the threshold, not before', () => {
    let now = 0;
    const pacer = new FlushPacer(() => now, 0.25);
    const flushed: string[] = [];
    const a = { flush: () => flushed.push('a'), pacerMark: 0 };
    const b = { flush: () => flushed.push('b'), pacerMark: 0 };
    pacer.written(a);
    now = 0.1;
    pacer.written(b);
    pacer.afterRead();
    expect(flushed).toEqual([]);
    now = 0.3;
    pacer.afterRead();
    expect(flushed).toEqual(['a', 'b']);
    // Nothing batched since: a later read flushes nothing.
    now = 1;
    pacer.afterRead();
    expect(flushed).toEqual(['a', 'b']);
    // A new batch starts its own clock.
    pacer.written(a);
    now = 1.2;
    pacer.afterRead();
    expect(flushed).toEqual(['a', 'b']);
    now = 1.3;
    pacer.afterRead();
    expect(flushed).toEqual(['a', 'b', 'a']);
  });

  it('leaves a turn with a single read alone (one busy publisher keeps one write per turn)', () => {
    let now = 0;
    const pacer = new FlushPacer(() => now, 0.25);
    const flushed: string[] = [];
    pacer.written({ flush: () => flushed.push('a'), pacerMark: 0 });
    now = 10;
    pacer.afterRead();
    expect(flushed).toEqual([]);
    pacer.afterRead();
    expect(flushed).toEqual(['a']);
  });

  it('forgets its batch at the end of the turn (the writers flushed on their own)', async () => {
    let now = 0;
    const pacer = new FlushPacer(() => now, 0.25);
    const flushed: string[] = [];
    pacer.written({ flush: () => flushed.push('a'), pacerMark: 0 });
    await new Promise((r) => setImmediate(r));
    now = 5;
    pacer.afterRead();
    expect(flushed).toEqual([]);
  });

  it('lists a writer once per batch however often it writes, and again in the next batch', () => {
    let now = 0;
    const pacer = new FlushPacer(() => now, 0.25);
    const flushed: string[] = [];
    const a = { flush: () => flushed.push('a'), pacerMark: 0 };
    const b = { flush: () => flushed.push('b'), pacerMark: 0 };
    pacer.written(a);
    pacer.written(b);
    pacer.written(a);
    pacer.written(a);
    now = 1;
    pacer.afterRead();
    pacer.afterRead();
    expect(flushed).toEqual(['a', 'b']);
    pacer.written(b);
    pacer.written(a);
    now = 2;
    pacer.afterRead();
    pacer.afterRead();
    expect(flushed).toEqual(['a', 'b', 'b', 'a']);
  });
});
