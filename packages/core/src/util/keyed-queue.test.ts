import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeyedQueue } from './keyed-queue.js';

/** Operations on a KeyedQueue, replayed on a Map (which keeps insertion order too) as the model. */
type Op = { t: 'push' } | { t: 'delete'; pick: number } | { t: 'get'; pick: number } | { t: 'shift'; pick: number } | { t: 'clear' };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.constant({ t: 'push' as const }) },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('delete' as const), pick: fc.nat(1000) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('get' as const), pick: fc.nat(1000) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('shift' as const), pick: fc.nat(1000) }) },
  { weight: 1, arbitrary: fc.constant({ t: 'clear' as const }) },
);

function replay(sorted: boolean, ops: Op[], nextKey: (n: number) => number): void {
  const q = new KeyedQueue<string>(sorted);
  const model = new Map<number, string>();
  let n = 0;
  for (const o of ops) {
    const keys = [...model.keys()];
    // Mostly keys that are present; sometimes one that is not.
    const pickKey = (pick: number): number => (keys.length > 0 && pick % 5 !== 0 ? (keys[pick % keys.length] as number) : -7 - pick);
    if (o.t === 'push') {
      const k = nextKey(n++);
      if (model.has(k)) continue;
      q.push(k, `v${k}`);
      model.set(k, `v${k}`);
    } else if (o.t === 'delete') {
      const k = pickKey(o.pick);
      const expected = model.get(k);
      model.delete(k);
      expect(q.delete(k)).toBe(expected);
    } else if (o.t === 'get') {
      const k = pickKey(o.pick);
      expect(q.get(k)).toBe(model.get(k));
      expect(q.has(k)).toBe(model.has(k));
    } else if (o.t === 'shift') {
      const limit = keys.length > 0 ? (keys[o.pick % keys.length] as number) : 0;
      const got: number[] = [];
      q.shiftWhile((k) => k !== limit, (_v, k) => got.push(k));
      const want: number[] = [];
      for (const k of model.keys()) {
        if (k === limit) break;
        want.push(k);
      }
      for (const k of want) model.delete(k);
      expect(got).toEqual(want);
    } else {
      q.clear();
      model.clear();
    }
    expect(q.size).toBe(model.size);
    expect(q.firstKey).toBe(model.keys().next().value);
    const seen: Array<[number, string]> = [];
    q.forEach((v, k) => seen.push([k, v]));
    expect(seen).toEqual([...model.entries()]);
  }
}

describe('KeyedQueue', () => {
  it('behaves as an insertion-ordered map under any mix of operations (ascending keys, binary search)', () => {
    fc.assert(fc.property(fc.array(op, { maxLength: 300 }), (ops) => replay(true, ops, (n) => 3 * n + 1)));
  });

  it('behaves as an insertion-ordered map with keys that wrap and repeat (MQTT packet ids, linear search)', () => {
    fc.assert(fc.property(fc.array(op, { maxLength: 300 }), (ops) => replay(false, ops, (n) => (n % 17) + 1)));
  });

  it('reuses its arrays: a long in-order churn stays within a small capacity', () => {
    const q = new KeyedQueue<number>(true);
    for (let tag = 1; tag <= 100_000; tag++) {
      q.push(tag, tag);
      if (tag > 3) expect(q.delete(tag - 3)).toBe(tag - 3);
    }
    expect(q.size).toBe(3);
    expect(q.firstKey).toBe(99_998);
  });

  it('keeps a stuck oldest entry while thousands after it come and go', () => {
    const q = new KeyedQueue<number>(true);
    q.push(1, 1);
    for (let tag = 2; tag < 10_000; tag++) {
      q.push(tag, tag);
      q.delete(tag);
    }
    expect(q.size).toBe(1);
    expect(q.get(1)).toBe(1);
    expect(q.values()).toEqual([1]);
  });
});
