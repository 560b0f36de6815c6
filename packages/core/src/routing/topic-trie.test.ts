import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TopicTrie } from './topic-trie.js';

/** The naive reference: every word is prefixed with '.', so '#' is `(\.[^.]*)*` and zero words is ''. */
function naiveMatch(pattern: string, key: string): boolean {
  const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const words = pattern === '' ? [] : pattern.split('.');
  const re = words.map((w) => (w === '*' ? '\\.[^.]*' : w === '#' ? '(?:\\.[^.]*)*' : '\\.' + esc(w))).join('');
  const subject = key === '' ? '' : '.' + key;
  return new RegExp('^' + re + '$').test(subject);
}

function matches(pattern: string, key: string): boolean {
  const t = new TopicTrie<string>();
  t.add(pattern, 'x');
  return t.match(key).length > 0;
}

describe('TopicTrie', () => {
  it.each([
    ['#', '', true],
    ['#', 'a.b.c', true],
    ['*', '', false],
    ['*', 'a', true],
    ['*', 'a.b', false],
    ['a.#', 'a', true],
    ['a.#', 'a.b.c', true],
    ['a.#.b', 'a.b', true],
    ['a.#.b', 'a.x.y.b', true],
    ['a.#.b', 'a.x.y', false],
    ['a.*.b', 'a..b', true],
    ['a.*', 'a.', true],
    ['*.*', '.', true],
    ['', '', true],
    ['', 'a', false],
    ['#.#', 'a', true],
    ['a.b', 'a.b', true],
    ['a.b', 'a.c', false],
    ['#.a', 'a', true],
    ['*.#', '', false],
  ])('pattern %j vs key %j → %s', (pattern, key, expected) => {
    expect(matches(pattern, key)).toBe(expected);
    expect(naiveMatch(pattern, key)).toBe(expected);
  });

  it('returns each entry once even when several # paths reach it', () => {
    const t = new TopicTrie<string>();
    t.add('#.#.#', 'q');
    expect(t.match('a.b.c')).toEqual(['q']);
  });

  it('remove takes away exactly one entry and prunes', () => {
    const t = new TopicTrie<string>();
    t.add('a.*', 'q');
    t.add('a.*', 'q');
    t.add('a.b', 'q');
    expect(t.match('a.b')).toHaveLength(3);
    expect(t.remove('a.*', 'q')).toBe(true);
    expect(t.match('a.b')).toHaveLength(2);
    expect(t.remove('a.*', 'q')).toBe(true);
    expect(t.remove('a.*', 'q')).toBe(false);
    expect(t.match('a.b')).toEqual(['q']);
    expect(t.remove('a.b', 'q')).toBe(true);
    expect(t.match('a.b')).toEqual([]);
    expect(t.size).toBe(0);
  });

  it('agrees with the naive regex matcher on random patterns and keys', () => {
    const word = fc.constantFrom('a', 'b', 'c', '');
    const pword = fc.constantFrom('a', 'b', 'c', '', '*', '#');
    const key = fc.array(word, { maxLength: 5 }).map((w) => w.join('.'));
    const pattern = fc.array(pword, { maxLength: 5 }).map((w) => w.join('.'));
    fc.assert(
      fc.property(fc.array(pattern, { minLength: 1, maxLength: 12 }), fc.array(key, { maxLength: 8 }), (patterns, keys) => {
        const t = new TopicTrie<number>(4);
        patterns.forEach((p, i) => t.add(p, i));
        // Remove every third entry to exercise pruning and cache invalidation.
        for (let i = 0; i < patterns.length; i += 3) t.remove(patterns[i]!, i);
        for (const k of keys) {
          const got = [...t.match(k)].sort((x, y) => x - y);
          const want = patterns.map((p, i) => (i % 3 !== 0 && naiveMatch(p, k) ? i : -1)).filter((i) => i >= 0);
          expect(got).toEqual(want);
          expect([...t.match(k)].sort((x, y) => x - y)).toEqual(want); // cached path
        }
      }),
      { numRuns: 300 },
    );
  });

  it('routing cost does not grow with bindings that cannot match', () => {
    const t = new TopicTrie<number>();
    for (let i = 0; i < 10_000; i++) t.add(i % 2 === 0 ? `s${i}.*.x` : `s${i}.#`, i);
    t.add('target.*', -1);
    // A key that shares no first word with the 10,000 bindings touches only the 'target' branch.
    expect(t.match('target.k')).toEqual([-1]);
    expect(t.match('s2.y.x')).toEqual([2]);
    expect(t.match('s3')).toEqual([3]);
  });
});
