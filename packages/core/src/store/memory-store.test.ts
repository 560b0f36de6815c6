import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { QueueEntry } from './store.js';
import { MemoryMessageStore, MemoryQueueStore } from './memory-store.js';

function entry(seq: number, priority = 0, size = 1): QueueEntry {
  return {
    message: { exchange: '', routingKey: 'q', properties: {}, rawProperties: undefined, body: Buffer.alloc(size) },
    seq,
    expiresAt: 0,
    priority,
    redelivered: false,
    deliveryCount: 0,
  };
}

describe('MemoryQueueStore', () => {
  it('keeps seq order through any mix of push, shift and requeue (model check)', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('push', 'shift', 'requeue'), { maxLength: 3000 }), (ops) => {
        const store = new MemoryQueueStore();
        const model: number[] = [];
        const out: QueueEntry[] = [];
        let seq = 0;
        for (const op of ops) {
          if (op === 'push') {
            store.push(entry(++seq));
            model.push(seq);
          } else if (op === 'shift') {
            const e = store.shift();
            expect(e?.seq).toBe(model.shift());
            if (e !== undefined) out.push(e);
          } else if (out.length > 0) {
            const e = out.splice(Math.floor(out.length / 2), 1)[0]!;
            store.requeue(e);
            model.push(e.seq);
            model.sort((a, b) => a - b);
          }
          expect(store.messageCount).toBe(model.length);
          expect(store.peek()?.seq).toBe(model[0]);
        }
      }),
      { numRuns: 50 },
    );
  });

  it('stays ordered across compaction of a long-running FIFO', () => {
    const s = new MemoryQueueStore();
    for (let i = 1; i <= 5000; i++) s.push(entry(i));
    const taken: QueueEntry[] = [];
    for (let i = 0; i < 3000; i++) taken.push(s.shift()!);
    s.requeue(taken[2999]!);
    s.requeue(taken[10]!);
    s.requeue(taken[1500]!);
    const order: number[] = [];
    for (let e = s.shift(); e !== undefined; e = s.shift()) order.push(e.seq);
    expect(order.slice(0, 4)).toEqual([11, 1501, 3000, 3001]);
    expect(order).toHaveLength(2003);
  });

  it('serves higher priorities first and counts bytes', () => {
    const s = new MemoryQueueStore(3);
    s.push(entry(1, 0, 10));
    s.push(entry(2, 3, 5));
    s.push(entry(3, 1, 1));
    expect(s.byteCount).toBe(16);
    expect([s.shift()!.seq, s.shift()!.seq, s.shift()!.seq]).toEqual([2, 3, 1]);
    expect(s.byteCount).toBe(0);
    s.push(entry(4));
    expect(s.purge()).toBe(1);
    expect(s.shift()).toBeUndefined();
  });

  it('the in-memory message store confirms at once', () => {
    const got: [number, boolean][] = [];
    new MemoryMessageStore().confirm({ confirm: (n, ack) => got.push([n, ack]) }, 7, false);
    expect(got).toEqual([[7, false]]);
  });
});
