import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { DefinitionsBarrier } from './definitions-barrier.js';

/** A deferred promise the test resolves or rejects. */
function deferred(): { promise: Promise<void>; resolve: () => void; reject: (err: Error) => void } {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A connection stand-in: records the hook calls in order; its backlog replays through `onReplay`. */
function connection(onReplay: (b: DefinitionsBarrier) => void = () => {}) {
  const log: string[] = [];
  const failures: unknown[] = [];
  const barrier: DefinitionsBarrier = new DefinitionsBarrier({
    pause: () => log.push('pause'),
    resume: () => log.push('resume'),
    write: (buf) => log.push(`write ${buf.toString()}`),
    replay: () => {
      log.push('replay');
      onReplay(barrier);
    },
    failed: (err) => failures.push(err),
  });
  return { barrier, log, failures };
}

const b = (s: string): Buffer => Buffer.from(s);

describe('DefinitionsBarrier', () => {
  it('pauses on the first wait, holds replies in order, and after the last wait writes them, replays, then resumes', async () => {
    const { barrier, log } = connection();
    const first = deferred();
    const second = deferred();
    barrier.holdUntil(first.promise, b('declare-ok 1'));
    barrier.holdUntil(second.promise, [b('declare-ok 2'), b('bind-ok')]);
    barrier.hold(b('basic.deliver'));
    expect(barrier.waiting).toBe(true);
    expect(barrier.pending).toBe(2);
    expect(log).toEqual(['pause']);
    // The second flush may finish first: nothing goes out until both have.
    second.resolve();
    await nextTurn();
    expect(log).toEqual(['pause']);
    first.resolve();
    await nextTurn();
    expect(log).toEqual(['pause', 'write declare-ok 1', 'write declare-ok 2', 'write bind-ok', 'write basic.deliver', 'replay', 'resume']);
    expect(barrier.waiting).toBe(false);
  });

  it('hold() writes at once when nothing is pending', () => {
    const { barrier, log } = connection();
    barrier.hold(b('x'));
    expect(log).toEqual(['write x']);
  });

  it('a replayed frame that starts another wait keeps reading paused', async () => {
    const next = deferred();
    let replays = 0;
    const { barrier, log } = connection((bar) => {
      if (replays++ === 0) bar.holdUntil(next.promise, b('second reply'));
    });
    const first = deferred();
    barrier.holdUntil(first.promise, b('first reply'));
    first.resolve();
    await nextTurn();
    expect(log).toEqual(['pause', 'write first reply', 'replay', 'pause']);
    next.resolve();
    await nextTurn();
    expect(log.slice(4)).toEqual(['write second reply', 'replay', 'resume']);
  });

  it('enter/leave waits for the adapter (an auth backend, a slice of work), and yieldTurn for the next turn', async () => {
    const { barrier, log } = connection();
    barrier.enter();
    barrier.hold(b('held'));
    barrier.leave();
    expect(log).toEqual(['pause', 'write held', 'replay', 'resume']);
    // An extra leave is ignored.
    barrier.leave();
    expect(log).toHaveLength(4);
    barrier.yieldTurn();
    expect(barrier.waiting).toBe(true);
    await nextTurn();
    expect(barrier.waiting).toBe(false);
    expect(log.slice(4)).toEqual(['pause', 'replay', 'resume']);
  });

  it('a capture is written at once, or held until the flush when the frame changed definitions', async () => {
    const { barrier, log } = connection();
    barrier.beginCapture();
    expect(barrier.capturing).toBe(true);
    barrier.capture(b('receipt 1'));
    barrier.endCapture();
    expect(barrier.capturing).toBe(false);
    expect(log).toEqual(['write receipt 1']);
    const flushed = deferred();
    barrier.beginCapture();
    barrier.capture(b('receipt 2'));
    barrier.endCapture(flushed.promise);
    expect(log).toEqual(['write receipt 1', 'pause']);
    flushed.resolve();
    await nextTurn();
    expect(log).toEqual(['write receipt 1', 'pause', 'write receipt 2', 'replay', 'resume']);
  });

  it('a capture ended without a flush while a wait is pending stays behind the held replies', async () => {
    const { barrier, log } = connection();
    const flushed = deferred();
    barrier.holdUntil(flushed.promise, b('declare-ok'));
    barrier.beginCapture();
    barrier.capture(b('later'));
    barrier.endCapture();
    flushed.resolve();
    await nextTurn();
    expect(log).toEqual(['pause', 'write declare-ok', 'write later', 'replay', 'resume']);
  });

  it('holdUntilDurable waits for the broker’s flush, or for nothing without one', async () => {
    const { barrier, log } = connection();
    const flushed = deferred();
    barrier.holdUntilDurable({ flushDefinitions: () => flushed.promise }, b('ok'));
    await nextTurn();
    expect(log).toEqual(['pause']);
    flushed.resolve();
    await nextTurn();
    expect(log).toEqual(['pause', 'write ok', 'replay', 'resume']);
    barrier.holdUntilDurable({}, b('ok 2'));
    await nextTurn();
    expect(log.slice(4)).toEqual(['pause', 'write ok 2', 'replay', 'resume']);
  });

  it('a failed flush calls failed and releases nothing', async () => {
    const { barrier, log, failures } = connection();
    const flushed = deferred();
    barrier.holdUntil(flushed.promise, b('declare-ok'));
    const err = new Error('disk full');
    flushed.reject(err);
    await nextTurn();
    expect(failures).toEqual([err]);
    expect(log).toEqual(['pause']);
  });

  it('after close nothing is written, replayed or resumed, and failures are not reported', async () => {
    const { barrier, log, failures } = connection();
    const ok = deferred();
    const bad = deferred();
    barrier.holdUntil(ok.promise, b('declare-ok'));
    barrier.holdUntil(bad.promise);
    barrier.close();
    ok.resolve();
    bad.reject(new Error('late'));
    await nextTurn();
    barrier.hold(b('x'));
    barrier.enter();
    expect(log).toEqual(['pause']);
    expect(failures).toEqual([]);
  });

  it('dropHeld drops the replies but the waits still end (the connection reads its close-ok)', async () => {
    const { barrier, log } = connection();
    const flushed = deferred();
    barrier.holdUntil(flushed.promise, b('declare-ok'));
    barrier.dropHeld();
    flushed.resolve();
    await nextTurn();
    expect(log).toEqual(['pause', 'replay', 'resume']);
  });
});
